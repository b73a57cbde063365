#include "agent/batcher.h"

#include "common/log.h"

namespace vigil::agent {

Batcher::Batcher(Spool* spool, Labels host_labels, size_t max_points, AgentMetrics* metrics,
                 std::function<void()> on_sealed)
    : spool_(spool),
      host_labels_(std::move(host_labels)),
      max_points_(max_points),
      metrics_(metrics),
      on_sealed_(std::move(on_sealed)) {}

void Batcher::Add(int64_t timestamp_ms, const std::vector<Sample>& samples) {
  bool sealed = false;
  {
    absl::MutexLock lock(&mu_);
    for (const Sample& s : samples) {
      SeriesKey key;
      key.metric = s.metric;
      key.labels = s.labels;
      // Host labels are added last so that Normalize keeps them: a check cannot rename its host.
      key.labels.insert(key.labels.end(), host_labels_.begin(), host_labels_.end());
      key.Normalize();
      std::string name = key.ToString();
      auto [it, inserted] = ids_.try_emplace(std::move(name), ids_.size() + 1);
      if (inserted) {
        v1::SeriesDefinition* def = pending_.add_series();
        def->set_id(it->second);
        def->set_metric(key.metric);
        for (const auto& [k, v] : key.labels) {
          v1::Label* l = def->add_labels();
          l->set_name(k);
          l->set_value(v);
        }
      }
      v1::Point* p = pending_.add_points();
      p->set_series_id(it->second);
      p->set_timestamp_ms(timestamp_ms);
      p->set_value(s.value);
    }
    metrics_->points_collected.Increment(static_cast<double>(samples.size()));
    if (static_cast<size_t>(pending_.points_size()) >= max_points_) {
      sealed = SealLocked().ok();
    }
  }
  if (sealed && on_sealed_) on_sealed_();
}

absl::Status Batcher::Flush() {
  absl::Status s;
  {
    absl::MutexLock lock(&mu_);
    if (pending_.points_size() == 0) return absl::OkStatus();
    s = SealLocked();
  }
  if (s.ok() && on_sealed_) on_sealed_();
  return s;
}

absl::Status Batcher::SealLocked() {
  absl::StatusOr<uint64_t> seq = spool_->Append(pending_);
  if (!seq.ok()) {
    // Keep the points and try again at the next flush; log once per change of state.
    if (!last_seal_failed_) {
      VIGIL_LOG(Error) << "cannot write batch to the spool (keeping " << pending_.points_size()
                       << " points in memory and retrying): " << seq.status();
    }
    last_seal_failed_ = true;
    return seq.status();
  }
  if (last_seal_failed_) VIGIL_LOG(Info) << "spool writable again";
  last_seal_failed_ = false;
  pending_.Clear();
  ids_.clear();
  return absl::OkStatus();
}

}  // namespace vigil::agent
