#include "collector/ingest/batch_decoder.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace vigil::collector {

void Rejections::Add(const std::string& reason, const std::string& example_text, uint32_t n) {
  count[reason] += n;
  example.emplace(reason, example_text);
}

uint32_t Rejections::Total() const {
  uint32_t total = 0;
  for (const auto& [reason, n] : count) total += n;
  return total;
}

void Rejections::MergeFrom(const Rejections& other) {
  for (const auto& [reason, n] : other.count) {
    auto ex = other.example.find(reason);
    Add(reason, ex == other.example.end() ? "" : ex->second, n);
  }
}

void BatchDecoder::Define(const v1::SeriesDefinition& def, Entry* entry) const {
  entry->key.metric = def.metric();
  entry->key.labels.clear();
  for (const auto& l : def.labels()) entry->key.labels.emplace_back(l.name(), l.value());
  entry->key.Normalize();
  const std::string name = entry->key.ToString();
  auto invalid = [&](const char* reason, std::string detail) {
    entry->invalid_reason = reason;
    entry->invalid_detail = std::move(detail);
  };
  if (!IsValidMetricName(def.metric())) {
    return invalid("invalid_metric_name",
                   absl::StrCat("metric name '", def.metric(), "' is not dotted lowercase"));
  }
  if (static_cast<uint32_t>(def.labels_size()) > limits_.max_labels_per_series) {
    return invalid("too_many_labels",
                   absl::StrCat(name, " has ", def.labels_size(), " labels (limit ",
                                limits_.max_labels_per_series, ")"));
  }
  if (entry->key.labels.size() != static_cast<size_t>(def.labels_size())) {
    return invalid("duplicate_label_name", absl::StrCat(name, " repeats a label name"));
  }
  for (const auto& [k, v] : entry->key.labels) {
    if (k.size() > limits_.max_label_name_length) {
      return invalid("label_name_too_long",
                     absl::StrCat("label name of ", k.size(), " bytes (limit ",
                                  limits_.max_label_name_length, ") in ", def.metric()));
    }
    if (!IsValidLabelName(k)) {
      return invalid("invalid_label_name", absl::StrCat("label name '", k, "' in ", def.metric(),
                                                        " is not [a-z_][a-z0-9_]*"));
    }
    if (v.size() > limits_.max_label_value_length) {
      return invalid("label_value_too_long",
                     absl::StrCat("value of label '", k, "' is ", v.size(), " bytes (limit ",
                                  limits_.max_label_value_length, ") in ", def.metric()));
    }
  }
}

absl::Status BatchDecoder::Decode(const v1::Batch& batch, int64_t now_ms, DecodedBatch* out) {
  if (batch.sequence() == 0) {
    return absl::InvalidArgumentError("batch sequence must start at 1");
  }
  if (batch.replay()) {
    // Replays come first, in their own increasing order, and keep their old sequences.
    if (last_sequence_ > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("replay batch ", batch.sequence(), " after new batch ", last_sequence_));
    }
    if (batch.sequence() <= last_replay_sequence_) {
      return absl::InvalidArgumentError(absl::StrCat("replay batch sequence ", batch.sequence(),
                                                     " does not increase (previous ",
                                                     last_replay_sequence_, ")"));
    }
  } else if (batch.sequence() <= last_sequence_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch sequence ", batch.sequence(), " does not increase (previous ", last_sequence_, ")"));
  }
  for (const auto& def : batch.series()) {
    auto [it, inserted] = dictionary_.try_emplace(def.id());
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("series id ", def.id(), " is defined twice on this stream"));
    }
    Define(def, &it->second);
  }

  out->sequence = batch.sequence();
  out->replay = batch.replay();
  out->series.clear();
  out->point_count = 0;
  out->rejections = Rejections();
  const int64_t max_ts = now_ms + absl::ToInt64Milliseconds(limits_.max_future_skew);
  const int64_t min_ts = now_ms - absl::ToInt64Milliseconds(limits_.max_past_age);
  absl::flat_hash_map<uint32_t, size_t> slot;  // series id -> index in out->series
  for (const auto& p : batch.points()) {
    auto it = dictionary_.find(p.series_id());
    if (it == dictionary_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("point refers to undefined series id ", p.series_id()));
    }
    const Entry& e = it->second;
    auto example = [&] {
      return absl::StrCat(e.key.ToString(), " ", p.value(), " @", p.timestamp_ms());
    };
    if (!e.invalid_reason.empty()) {
      out->rejections.Add(e.invalid_reason, e.invalid_detail);
      continue;
    }
    if (!std::isfinite(p.value())) {
      out->rejections.Add("value_not_finite", example());
      continue;
    }
    if (p.timestamp_ms() > max_ts) {
      out->rejections.Add("timestamp_too_new", example());
      continue;
    }
    if (p.timestamp_ms() < min_ts) {
      out->rejections.Add("timestamp_too_old", example());
      continue;
    }
    auto [s, inserted] = slot.try_emplace(p.series_id(), out->series.size());
    if (inserted) out->series.push_back({e.key, {}});
    out->series[s->second].points.push_back({p.timestamp_ms(), p.value()});
    ++out->point_count;
  }
  (batch.replay() ? last_replay_sequence_ : last_sequence_) = batch.sequence();
  return absl::OkStatus();
}

}  // namespace vigil::collector
