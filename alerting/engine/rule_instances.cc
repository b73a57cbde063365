#include "alerting/engine/rule_instances.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace vigil::alerting {

namespace {

int64_t Ms(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

std::string LabelsString(const Labels& labels) {
  if (labels.empty()) return "{}";
  SeriesKey k{"x", labels};
  return k.ToString().substr(1);
}

Labels ParseLabels(const std::string& instance) {
  absl::StatusOr<SeriesKey> k = ParseSeriesKey("x" + (instance == "{}" ? "" : instance));
  return k.ok() ? k->labels : Labels{};
}

WindowParams ParamsOf(const Rule& r) {
  WindowParams p;
  p.evaluation_periods = r.evaluation_periods;
  p.datapoints_to_alarm = r.datapoints_to_alarm;
  p.comparison = r.comparison;
  p.threshold = r.threshold;
  p.recovery_threshold = r.recovery_threshold;
  p.treat_missing_data = r.treat_missing_data;
  p.period_ms = Ms(r.period);
  return p;
}

std::string FormatTime(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

bool IsSimple(const Rule& r) {
  return r.queries.size() == 1 && r.math == nullptr && r.queries[0].aggregate == Aggregate::kNone &&
         r.queries[0].statistic != Statistic::kRate;
}

}  // namespace

std::string EncodePeriods(const std::vector<PeriodValue>& periods) {
  std::string out;
  for (const PeriodValue& p : periods) {
    absl::StrAppend(&out, out.empty() ? "" : ";", p.start_ms, ":");
    if (p.value) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.17g", *p.value);
      out += buf;
    } else {
      out += "_";
    }
  }
  return out;
}

std::vector<PeriodValue> DecodePeriods(const std::string& data) {
  std::vector<PeriodValue> out;
  for (absl::string_view item : absl::StrSplit(data, ';', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, ':');
    PeriodValue p;
    double v = 0;
    if (!absl::SimpleAtoi(kv.first, &p.start_ms)) continue;
    if (kv.second != "_" && absl::SimpleAtod(kv.second, &v)) p.value = v;
    out.push_back(p);
  }
  return out;
}

RuleInstances::RuleInstances(const Rule& rule) { Rebind(rule); }

void RuleInstances::Rebind(const Rule& rule) {
  // An equal rule may list its queries in another order (the fingerprint sorts them): series
  // slots follow their query by id.
  if (rule_ != nullptr) {
    for (size_t s = 0; s < series_.size(); ++s) {
      if (series_[s].instance == kNoSlot) continue;
      const std::string& id = rule_->queries[series_query_[s]].id;
      for (size_t q = 0; q < rule.queries.size(); ++q) {
        if (rule.queries[q].id == id) series_query_[s] = static_cast<uint32_t>(q);
      }
    }
  }
  rule_ = &rule;
  params_ = ParamsOf(rule);
  range_ = EvaluationRange(params_);
  period_ms_ = Ms(rule.period);
  simple_ = IsSimple(rule);
  plain_ = std::all_of(rule.queries.begin(), rule.queries.end(), [](const MetricQuery& q) {
    return q.aggregate == Aggregate::kNone && q.statistic != Statistic::kRate;
  });
  decider_.reset();
  if (WindowBitsDecider::Fits(params_)) decider_.emplace(params_);
  math_arg_.clear();
  if (rule.math) {
    const std::vector<std::string>& ids = rule.math->Identifiers();
    for (const MetricQuery& query : rule.queries) {
      math_arg_.push_back(
          static_cast<uint32_t>(std::lower_bound(ids.begin(), ids.end(), query.id) - ids.begin()));
    }
  }
  if (ring_.size() != static_cast<size_t>(range_)) {
    ring_.assign(range_, std::vector<std::optional<double>>(hot_.size()));
  }
}

std::string RuleInstances::InstanceKey(const SeriesKey& key, Labels* labels) const {
  const Rule& r = *rule_;
  labels->clear();
  if (!r.group_by.empty()) {
    for (const std::string& name : r.group_by) {
      labels->emplace_back(name, std::string(key.Label(name)));
    }
    std::sort(labels->begin(), labels->end());
  } else {
    bool fleet = std::any_of(r.queries.begin(), r.queries.end(),
                             [](const MetricQuery& q) { return q.aggregate != Aggregate::kNone; });
    if (!fleet) *labels = key.labels;
  }
  return LabelsString(*labels);
}

void RuleInstances::SetState(InstanceHot& h, AlarmState state) {
  --by_state_[static_cast<int>(h.state)];
  ++by_state_[static_cast<int>(state)];
  h.state = state;
}

uint32_t RuleInstances::NewInstance(std::string key, Labels labels, int64_t since_ms,
                                    int64_t first_period_ms, AlarmState state) {
  uint32_t slot;
  if (!free_instances_.empty()) {
    slot = free_instances_.back();
    free_instances_.pop_back();
  } else {
    slot = static_cast<uint32_t>(hot_.size());
    hot_.emplace_back();
    info_.emplace_back();
    for (std::vector<std::optional<double>>& row : ring_) row.emplace_back();
  }
  InstanceHot& h = hot_[slot];
  const uint32_t generation = h.generation;
  h = InstanceHot{};
  h.generation = generation;
  h.live = true;
  h.state = state;
  ++by_state_[static_cast<int>(state)];
  InstanceInfo& info = info_[slot];
  info = InstanceInfo{};
  info.key = std::move(key);
  info.labels = std::move(labels);
  info.since_ms = since_ms;
  info.first_period_ms = first_period_ms;
  by_key_[info.key] = slot;
  return slot;
}

Statistic RuleInstances::StatisticOf(uint32_t series) const {
  return series_[series].instance == kNoSlot ? Statistic::kAvg
                                             : rule_->queries[series_query_[series]].statistic;
}

uint32_t RuleInstances::NewSeries(uint32_t instance, uint32_t query, std::string series) {
  uint32_t slot;
  if (!free_series_.empty()) {
    slot = free_series_.back();
    free_series_.pop_back();
  } else {
    slot = static_cast<uint32_t>(series_.size());
    series_.emplace_back();
    series_query_.emplace_back();
  }
  series_[slot] = SeriesSlot{instance, std::move(series), std::nullopt};
  series_query_[slot] = query;
  // A reused slot's accumulators are empty (its instance had no open data when retired) but
  // may be for another statistic.
  for (std::vector<OpenColumn>* columns : {&open_, &spare_}) {
    for (OpenColumn& c : *columns) {
      if (slot < c.acc.size()) c.acc[slot] = StatAccumulator(StatisticOf(slot));
    }
  }
  InstanceInfo& info = info_[instance];
  info.series.push_back(slot);
  InstanceHot& h = hot_[instance];
  if (info.series.size() <= InstanceHot::kSeries) h.series[info.series.size() - 1] = slot;
  h.series_count = static_cast<uint8_t>(std::min<size_t>(info.series.size(), 255));
  h.direct = simple_ && info.series.size() == 1;
  return slot;
}

void RuleInstances::FreeInstance(uint32_t slot) {
  InstanceHot& h = hot_[slot];
  --by_state_[static_cast<int>(h.state)];
  h.live = false;
  ++h.generation;
  InstanceInfo& info = info_[slot];
  by_key_.erase(info.key);
  for (uint32_t s : info.series) {
    series_[s] = SeriesSlot{};
    free_series_.push_back(s);
  }
  info = InstanceInfo{};
  free_instances_.push_back(slot);
}

RuleInstances::SeriesRef RuleInstances::Resolve(const SeriesKey& key, size_t query, int64_t ts,
                                                int64_t period_start) {
  Labels labels;
  std::string ik = InstanceKey(key, &labels);
  uint32_t instance;
  auto it = by_key_.find(ik);
  if (it != by_key_.end()) {
    instance = it->second;
  } else {
    instance = NewInstance(std::move(ik), std::move(labels), ts, period_start,
                           AlarmState::kInsufficientData);
  }
  std::string series = key.ToString();
  uint32_t slot = kNoSlot;
  for (uint32_t s : info_[instance].series) {
    if (series_query_[s] == query && series_[s].series == series) slot = s;
  }
  if (slot == kNoSlot) slot = NewSeries(instance, static_cast<uint32_t>(query), std::move(series));
  return {instance, slot, hot_[instance].generation};
}

void RuleInstances::Grow(OpenColumn& column) const {
  for (size_t s = column.acc.size(); s < series_.size(); ++s) {
    column.acc.emplace_back(StatisticOf(static_cast<uint32_t>(s)));
  }
}

RuleInstances::OpenColumn& RuleInstances::ColumnFor(int64_t start_ms) {
  // Almost always the newest column, or the one before it while its period awaits evaluation.
  auto it = open_.end();
  while (it != open_.begin() && (it - 1)->start_ms >= start_ms) --it;
  if (it != open_.end() && it->start_ms == start_ms) return *it;
  OpenColumn column;
  if (!spare_.empty()) {
    column = std::move(spare_.back());
    spare_.pop_back();
  }
  column.start_ms = start_ms;
  return *open_.insert(it, std::move(column));
}

void RuleInstances::Add(const SeriesRef& ref, int64_t period_start, TimedValue point) {
  InstanceHot& h = hot_[ref.instance];
  h.last_data_ms = std::max(h.last_data_ms, point.timestamp_ms);
  OpenColumn& column = ColumnFor(period_start);
  if (ref.series >= column.acc.size()) Grow(column);
  column.acc[ref.series].Add(point);
}

absl::Span<const uint32_t> RuleInstances::SeriesOf(uint32_t slot) const {
  const InstanceHot& h = hot_[slot];
  if (h.series_count <= InstanceHot::kSeries) return {h.series, h.series_count};
  return info_[slot].series;
}

bool RuleInstances::HasOpenData(uint32_t slot) const {
  for (const OpenColumn& c : open_) {
    for (uint32_t s : SeriesOf(slot)) {
      if (s < c.acc.size() && !c.acc[s].empty()) return true;
    }
  }
  return false;
}

void RuleInstances::ClearOpenData(OpenColumn& column, uint32_t slot) {
  for (uint32_t s : SeriesOf(slot)) {
    if (s < column.acc.size()) column.acc[s].Clear();
  }
}

std::optional<double> RuleInstances::PeriodValueOf(OpenColumn* column, uint32_t slot) {
  const Rule& r = *rule_;
  const absl::Span<const uint32_t> series = SeriesOf(slot);
  auto data = [&](uint32_t s) -> StatAccumulator* {
    if (column == nullptr || s >= column->acc.size() || column->acc[s].empty()) return nullptr;
    return &column->acc[s];
  };
  if (plain_ && r.queries.size() <= kPlainQueries) {
    // One pass over the series: a query's value is the statistic over all datapoints of its
    // series, merged into the first series that has any.
    StatAccumulator* first[kPlainQueries] = {};
    std::optional<double> args[kPlainQueries];
    for (uint32_t s : series) {
      StatAccumulator* acc = data(s);
      if (acc == nullptr) continue;
      StatAccumulator*& f = first[series_query_[s]];
      if (f == nullptr) {
        f = acc;
      } else {
        f->Merge(*acc);
        acc->Clear();
      }
    }
    for (size_t q = 0; q < r.queries.size(); ++q) {
      if (first[q] == nullptr) continue;
      args[r.math ? math_arg_[q] : q] = first[q]->Value();
      first[q]->Clear();
    }
    if (!r.math) return args[0];
    return r.math->Evaluate(absl::MakeConstSpan(args, r.queries.size()));
  }
  // A query with no datapoint in the period has no value, except a fleet count, which is 0:
  // no healthy host is a value.
  absl::InlinedVector<std::optional<double>, 2> values(r.queries.size());
  for (size_t q = 0; q < r.queries.size(); ++q) {
    const MetricQuery& query = r.queries[q];
    if (query.aggregate != Aggregate::kNone || query.statistic == Statistic::kRate) {
      // Per series first: a fleet aggregate combines the series' statistics, and counters
      // add up (an instance's rate is the sum of its series' rates).
      absl::InlinedVector<double, 4> per_series;
      for (uint32_t s : series) {
        StatAccumulator* acc = data(s);
        if (series_query_[s] != q || acc == nullptr) continue;
        if (std::optional<double> v = acc->Value(series_[s].previous)) per_series.push_back(*v);
        if (query.statistic == Statistic::kRate) series_[s].previous = acc->Last();
        acc->Clear();
      }
      if (query.aggregate != Aggregate::kNone) {
        values[q] = ComputeAggregate(query.aggregate, per_series);
      } else if (!per_series.empty()) {
        double sum = 0;
        for (double v : per_series) sum += v;
        values[q] = sum;
      }
    } else {
      // The statistic over all datapoints of all the instance's series.
      StatAccumulator* first = nullptr;
      for (uint32_t s : series) {
        StatAccumulator* acc = data(s);
        if (series_query_[s] != q || acc == nullptr) continue;
        if (first == nullptr) {
          first = acc;
        } else {
          first->Merge(*acc);
          acc->Clear();
        }
      }
      if (first != nullptr) {
        values[q] = first->Value();
        first->Clear();
      }
    }
  }
  // Every series is one query's, so its data for the period is now cleared.
  if (!r.math) return values.empty() ? std::nullopt : values[0];
  // The loader requires the expression's identifiers to be exactly the query ids.
  absl::InlinedVector<std::optional<double>, 2> args(values.size());
  for (size_t q = 0; q < values.size(); ++q) args[math_arg_[q]] = values[q];
  return r.math->Evaluate(args);
}

void RuleInstances::Window(uint32_t slot, int64_t newest_start_ms,
                           std::vector<PeriodValue>* out) const {
  out->clear();
  for (uint32_t age = hot_[slot].closed; age-- > 0;) {
    const int row = static_cast<int>((head_ + range_ - static_cast<int>(age)) % range_);
    out->push_back({newest_start_ms - static_cast<int64_t>(age) * period_ms_, ring_[row][slot]});
  }
}

void RuleInstances::ClosePeriod(std::vector<Transition>* out) {
  const Rule& r = *rule_;
  const int64_t end = next_end_ms_;
  const int64_t start = end - period_ms_;
  const int64_t retire_ms = Ms(r.retire_after);
  next_end_ms_ += period_ms_;
  // Late points are refused, so no open column is older than this period.
  OpenColumn* column = !open_.empty() && open_.front().start_ms == start ? &open_.front() : nullptr;
  StatAccumulator* acc = column != nullptr ? column->acc.data() : nullptr;
  const size_t acc_size = column != nullptr ? column->acc.size() : 0;
  head_ = head_ + 1 == range_ ? 0 : head_ + 1;
  std::optional<double>* row = ring_[head_].data();
  const size_t first_new = out->size();

  const uint32_t slots = static_cast<uint32_t>(hot_.size());
  for (uint32_t i = 0; i < slots; ++i) {
    InstanceHot& h = hot_[i];
    if (!h.live) continue;
    if (h.last_data_ms + retire_ms <= end && !HasOpenData(i)) {
      const InstanceInfo& info = info_[i];
      out->push_back({r.name,
                      info.key,
                      info.labels,
                      end,
                      h.state,
                      AlarmState::kInsufficientData,
                      absl::StrCat("Retired: no data since ", FormatTime(h.last_data_ms),
                                   " (retire_after ", absl::FormatDuration(r.retire_after), ")"),
                      {}});
      FreeInstance(i);
      continue;
    }
    std::optional<double> value;
    if (h.closed == 0 && start < info_[i].first_period_ms) {
      // A period before the instance existed is not its own: its data, if any, is dropped.
      if (column != nullptr) ClearOpenData(*column, i);
      continue;
    }
    if (h.direct) {
      const uint32_t s = h.series[0];
      if (s < acc_size && !acc[s].empty()) {
        value = acc[s].Value();
        acc[s].Clear();
      }
    } else {
      value = PeriodValueOf(column, i);
    }
    row[i] = value;
    if (h.closed < static_cast<uint32_t>(range_)) ++h.closed;
    AlarmState next;
    if (decider_) {
      decider_->Push(h.bits, value);
      next = decider_->Decide(h.bits, h.state);
    } else {
      Window(i, start, &scratch_);
      next = Decide(params_, scratch_, h.state, /*explain=*/false).state;
    }
    if (next == h.state) continue;
    Window(i, start, &scratch_);
    Decision d = Decide(params_, scratch_, h.state, /*explain=*/true);
    InstanceInfo& info = info_[i];
    out->push_back(
        {r.name, info.key, info.labels, end, h.state, d.state, d.reason, std::move(d.datapoints)});
    SetState(h, d.state);
    info.since_ms = end;
    info.reason = std::move(d.reason);
  }

  if (column != nullptr) {
    if (spare_.size() < 2) spare_.push_back(std::move(*column));
    open_.erase(open_.begin());
  }
  // Order this period's transitions by instance, so the history (and rule tests) do not depend
  // on slot order. Indexes are sorted, not transitions: a fleet-wide change moves each of its
  // (large) transitions once instead of at every merge step. Instance keys are unique here.
  const size_t count = out->size() - first_new;
  if (count < 2) return;
  Transition* const changed = out->data() + first_new;
  std::vector<uint32_t> order(count);
  for (uint32_t k = 0; k < count; ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [changed](uint32_t a, uint32_t b) {
    return changed[a].instance < changed[b].instance;
  });
  std::vector<Transition> sorted;
  sorted.reserve(count);
  for (uint32_t k : order) sorted.push_back(std::move(changed[k]));
  std::move(sorted.begin(), sorted.end(), changed);
}

AlarmState RuleInstances::Summary() const {
  if (by_state_[static_cast<int>(AlarmState::kAlarm)] > 0) return AlarmState::kAlarm;
  if (by_state_[static_cast<int>(AlarmState::kOk)] > 0) return AlarmState::kOk;
  return AlarmState::kInsufficientData;
}

int64_t RuleInstances::RestoredNextEnd(const Rule& rule, const std::vector<PeriodValue>& periods) {
  return periods.empty() ? 0 : periods.back().start_ms + 2 * Ms(rule.period);
}

void RuleInstances::Restore(const AlarmRecord& record, const std::vector<PeriodValue>& periods) {
  auto it = by_key_.find(record.instance);
  if (it != by_key_.end()) FreeInstance(it->second);
  const uint32_t slot = NewInstance(record.instance, ParseLabels(record.instance),
                                    record.state_since_ms, 0, record.state);
  InstanceHot& h = hot_[slot];
  h.last_data_ms = record.last_data_ms;
  // Periods go where their start says, relative to the rule's last closed period; a period
  // between saved ones (or after the instance's last) is missing.
  const int64_t last_start = next_end_ms_ - 2 * period_ms_;
  std::vector<std::optional<double>> by_age(range_);
  for (const PeriodValue& p : periods) {
    const int64_t age = (last_start - p.start_ms) / period_ms_;
    if (p.start_ms > last_start || (last_start - p.start_ms) % period_ms_ != 0 || age >= range_) {
      continue;
    }
    by_age[age] = p.value;
    h.closed = std::max(h.closed, static_cast<uint32_t>(age + 1));
  }
  for (int age = range_ - 1; age >= 0; --age) {
    if (static_cast<uint32_t>(age) >= h.closed) continue;
    ring_[(head_ + range_ - age) % range_][slot] = by_age[age];
    if (decider_) decider_->Push(h.bits, by_age[age]);
  }
}

void RuleInstances::AppendViews(std::vector<AlarmView>* out) const {
  for (uint32_t i = 0; i < hot_.size(); ++i) {
    const InstanceHot& h = hot_[i];
    if (!h.live) continue;
    const InstanceInfo& info = info_[i];
    AlarmView v{rule_->name,   info.key,       info.labels,  h.state,
                info.since_ms, h.last_data_ms, std::nullopt, info.reason};
    if (h.closed > 0) v.last_value = ring_[head_][i];
    out->push_back(std::move(v));
  }
}

void RuleInstances::AppendRecords(std::vector<AlarmRecord>* out) const {
  std::vector<PeriodValue> window;
  for (uint32_t i = 0; i < hot_.size(); ++i) {
    const InstanceHot& h = hot_[i];
    if (!h.live) continue;
    Window(i, next_end_ms_ - 2 * period_ms_, &window);
    out->push_back({rule_->name, info_[i].key, h.state, info_[i].since_ms, rule_->fingerprint,
                    h.last_data_ms, EncodePeriods(window)});
  }
}

void RuleInstances::AppendDropped(const std::string& reason, int64_t at_ms,
                                  std::vector<Transition>* out) const {
  const size_t first_new = out->size();
  for (uint32_t i = 0; i < hot_.size(); ++i) {
    const InstanceHot& h = hot_[i];
    if (!h.live) continue;
    out->push_back({rule_->name,
                    info_[i].key,
                    info_[i].labels,
                    at_ms,
                    h.state,
                    AlarmState::kInsufficientData,
                    reason,
                    {}});
  }
  std::sort(out->begin() + first_new, out->end(),
            [](const Transition& a, const Transition& b) { return a.instance < b.instance; });
}

}  // namespace vigil::alerting
