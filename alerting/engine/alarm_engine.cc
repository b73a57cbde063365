#include "alerting/engine/alarm_engine.h"

#include <algorithm>
#include <cmath>

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

int64_t FloorTo(int64_t t, int64_t step) {
  int64_t q = t / step;
  if (t % step != 0 && t < 0) --q;
  return q * step;
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

AlarmEngine::AlarmEngine(std::shared_ptr<const RuleSet> rules, Options options)
    : rules_(std::move(rules)), options_(options) {
  Build(nullptr);
}

AlarmEngine::AlarmEngine(std::shared_ptr<const RuleSet> rules, Options options,
                         const std::vector<AlarmRecord>& restored)
    : rules_(std::move(rules)), options_(options) {
  Build(&restored);
}

void AlarmEngine::Build(const std::vector<AlarmRecord>* restored) {
  runtimes_.clear();
  composites_.clear();
  by_metric_.clear();
  targets_.clear();
  for (const Rule& r : rules_->rules) {
    if (r.kind == Rule::Kind::kComposite) {
      composites_.push_back({&r, AlarmState::kInsufficientData, 0, ""});
      continue;
    }
    RuleRuntime rt;
    rt.rule = &r;
    rt.params = ParamsOf(r);
    rt.range = EvaluationRange(rt.params);
    rt.period_ms = Ms(r.period);
    for (size_t q = 0; q < r.queries.size(); ++q) {
      by_metric_[r.queries[q].metric].emplace_back(runtimes_.size(), q);
    }
    runtimes_.push_back(std::move(rt));
  }
  if (restored == nullptr) return;
  for (const AlarmRecord& rec : *restored) {
    const Rule* r = rules_->Find(rec.rule);
    if (r == nullptr || r->fingerprint != rec.rule_fingerprint) continue;
    if (r->kind == Rule::Kind::kComposite) {
      for (Composite& c : composites_) {
        if (c.rule == r) {
          c.state = rec.state;
          c.since_ms = rec.state_since_ms;
        }
      }
      continue;
    }
    for (RuleRuntime& rt : runtimes_) {
      if (rt.rule != r) continue;
      std::shared_ptr<Instance>& slot = rt.instances[rec.instance];
      slot = std::make_shared<Instance>();
      Instance& inst = *slot;
      inst.key = rec.instance;
      inst.labels = ParseLabels(rec.instance);
      inst.state = rec.state;
      inst.since_ms = rec.state_since_ms;
      inst.last_data_ms = rec.last_data_ms;
      inst.closed = DecodePeriods(rec.periods);
      if (!inst.closed.empty()) {
        rt.next_end_ms = std::max(rt.next_end_ms, inst.closed.back().start_ms + 2 * Ms(r->period));
      }
    }
  }
}

int64_t AlarmEngine::Delay(const Rule& r) const {
  return options_.zero_evaluation_delay ? 0 : Ms(r.evaluation_delay);
}

std::string AlarmEngine::InstanceKey(const Rule& r, const SeriesKey& key, Labels* labels) const {
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

const std::vector<AlarmEngine::Target>& AlarmEngine::TargetsOf(
    const SeriesKey& key, const std::vector<std::pair<size_t, size_t>>& selectors) {
  // A bound against series churn (short-lived label values): the cache is only a shortcut,
  // so it is dropped whole and rebuilt from the datapoints that follow.
  constexpr size_t kMaxCachedSeries = 4'000'000;
  if (targets_.size() >= kMaxCachedSeries && !targets_.contains(key)) targets_.clear();
  auto [it, inserted] = targets_.try_emplace(key);
  if (inserted) {
    for (const auto& [rt_index, q] : selectors) {
      const MetricQuery& query = runtimes_[rt_index].rule->queries[q];
      bool match = true;
      for (const LabelMatcher& m : query.where) match = match && m.Matches(key);
      if (match) {
        it->second.push_back(
            {static_cast<uint32_t>(rt_index), static_cast<uint32_t>(q), nullptr, 0});
      }
    }
  }
  return it->second;
}

void AlarmEngine::Resolve(RuleRuntime& rt, Target& t, const SeriesKey& key, int64_t ts,
                          int64_t start) {
  const Rule& r = *rt.rule;
  Labels labels;
  std::string ik = InstanceKey(r, key, &labels);
  std::shared_ptr<Instance>& inst = rt.instances[ik];
  if (inst == nullptr) {
    inst = std::make_shared<Instance>();
    inst->key = std::move(ik);
    inst->labels = std::move(labels);
    inst->since_ms = ts;
    inst->first_period_ms = start;
  }
  std::string series = key.ToString();
  uint32_t slot = 0;
  while (slot < inst->series.size() &&
         !(inst->series[slot].query == t.query && inst->series[slot].series == series)) {
    ++slot;
  }
  if (slot == inst->series.size()) inst->series.push_back({t.query, std::move(series), {}});
  t.instance = inst;
  t.slot = slot;
}

void AlarmEngine::Observe(const SeriesKey& key, int64_t ts, double value) {
  auto it = by_metric_.find(key.metric);
  if (it == by_metric_.end()) return;
  for (Target& t : const_cast<std::vector<Target>&>(TargetsOf(key, it->second))) {
    RuleRuntime& rt = runtimes_[t.runtime];
    const int64_t period = rt.period_ms;
    const int64_t start = FloorTo(ts, period);
    if (rt.next_end_ms != 0 && start + period < rt.next_end_ms) {
      ++late_points_;
      continue;
    }
    if (rt.next_end_ms == 0) rt.next_end_ms = start + period;
    if (t.instance == nullptr || t.instance->retired) Resolve(rt, t, key, ts, start);
    Instance& inst = *t.instance;
    inst.last_data_ms = std::max(inst.last_data_ms, ts);
    // The open period: almost always the newest one.
    auto op = inst.open.end();
    while (op != inst.open.begin() && (op - 1)->start_ms >= start) --op;
    if (op == inst.open.end() || op->start_ms != start) {
      op = inst.open.insert(op, OpenPeriod{start, {}});
    }
    while (op->series.size() <= t.slot) {
      op->series.emplace_back(rt.rule->queries[inst.series[op->series.size()].query].statistic);
    }
    op->series[t.slot].Add({ts, value});
  }
}

std::optional<double> AlarmEngine::PeriodValueOf(const Rule& r, Instance& inst, int64_t start) {
  absl::InlinedVector<std::optional<double>, 2> values(r.queries.size());
  auto it = std::find_if(inst.open.begin(), inst.open.end(),
                         [&](const OpenPeriod& p) { return p.start_ms == start; });
  if (it != inst.open.end()) {
    for (size_t q = 0; q < r.queries.size(); ++q) {
      const MetricQuery& query = r.queries[q];
      if (query.aggregate != Aggregate::kNone || query.statistic == Statistic::kRate) {
        // Per series first: a fleet aggregate combines the series' statistics, and counters
        // add up (an instance's rate is the sum of its series' rates).
        absl::InlinedVector<double, 4> per_series;
        for (size_t slot = 0; slot < it->series.size(); ++slot) {
          SeriesSlot& ss = inst.series[slot];
          StatAccumulator& acc = it->series[slot];
          if (ss.query != q || acc.empty()) continue;
          if (std::optional<double> v = acc.Value(ss.previous)) per_series.push_back(*v);
          if (query.statistic == Statistic::kRate) ss.previous = acc.Last();
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
        for (size_t slot = 0; slot < it->series.size(); ++slot) {
          if (inst.series[slot].query != q || it->series[slot].empty()) continue;
          if (first == nullptr) {
            first = &it->series[slot];
          } else {
            first->Merge(it->series[slot]);
          }
        }
        if (first != nullptr) values[q] = first->Value();
      }
    }
  } else {
    for (size_t q = 0; q < r.queries.size(); ++q) {
      // A fleet count over no series is 0, not missing: no healthy host is a value.
      if (r.queries[q].aggregate == Aggregate::kCount) values[q] = 0;
    }
  }
  // Drop this period and any older one still open.
  auto keep = std::find_if(inst.open.begin(), inst.open.end(),
                           [&](const OpenPeriod& p) { return p.start_ms > start; });
  inst.open.erase(inst.open.begin(), keep);
  if (!r.math) return values.empty() ? std::nullopt : values[0];
  return r.math->Evaluate([&](absl::string_view id) -> std::optional<double> {
    for (size_t q = 0; q < r.queries.size(); ++q) {
      if (r.queries[q].id == id) return values[q];
    }
    return std::nullopt;
  });
}

void AlarmEngine::ClosePeriod(RuleRuntime& rt, int64_t end, std::vector<Transition>* out) {
  const size_t first_new = out->size();
  ClosePeriodUnordered(rt, end, out);
  // Instances live in a hash map: order this period's transitions by instance, so the history
  // (and rule tests) do not depend on hashing.
  std::stable_sort(
      out->begin() + first_new, out->end(),
      [](const Transition& a, const Transition& b) { return a.instance < b.instance; });
}

void AlarmEngine::ClosePeriodUnordered(RuleRuntime& rt, int64_t end, std::vector<Transition>* out) {
  const Rule& r = *rt.rule;
  const int64_t start = end - rt.period_ms;
  const WindowParams& params = rt.params;
  for (auto it = rt.instances.begin(); it != rt.instances.end();) {
    Instance& inst = *it->second;
    if (inst.last_data_ms + Ms(r.retire_after) <= end && inst.open.empty()) {
      out->push_back({r.name,
                      it->first,
                      inst.labels,
                      end,
                      inst.state,
                      AlarmState::kInsufficientData,
                      absl::StrCat("Retired: no data since ", FormatTime(inst.last_data_ms),
                                   " (retire_after ", absl::FormatDuration(r.retire_after), ")"),
                      {}});
      inst.retired = true;
      rt.instances.erase(it++);
      continue;
    }
    if (start < inst.first_period_ms) {
      ++it;
      continue;
    }
    inst.closed.push_back({start, PeriodValueOf(r, inst, start)});
    if (static_cast<int>(inst.closed.size()) > rt.range) {
      inst.closed.erase(inst.closed.begin(), inst.closed.end() - rt.range);
    }
    Decision d = Decide(params, inst.closed, inst.state, /*explain=*/false);
    if (d.state != inst.state) {
      d = Decide(params, inst.closed, inst.state, /*explain=*/true);
      out->push_back(
          {r.name, it->first, inst.labels, end, inst.state, d.state, d.reason, d.datapoints});
      inst.state = d.state;
      inst.since_ms = end;
      inst.reason = d.reason;
    }
    ++it;
  }
}

AlarmState AlarmEngine::StateOf(absl::string_view name) const {
  for (const Composite& c : composites_) {
    if (c.rule->name == name) return c.state;
  }
  for (const RuleRuntime& rt : runtimes_) {
    if (rt.rule->name != name) continue;
    AlarmState s = AlarmState::kInsufficientData;
    for (const auto& [key, inst] : rt.instances) {
      if (inst->state == AlarmState::kAlarm) return AlarmState::kAlarm;
      if (inst->state == AlarmState::kOk) s = AlarmState::kOk;
    }
    return s;
  }
  return AlarmState::kInsufficientData;
}

void AlarmEngine::EvaluateComposites(int64_t at_ms, std::vector<Transition>* out) {
  // Composites may reference composites (cycles are rejected at load): iterate to a fixpoint.
  for (size_t round = 0; round <= composites_.size(); ++round) {
    bool changed = false;
    for (Composite& c : composites_) {
      const bool value =
          c.rule->composite_expr->Evaluate([&](absl::string_view name) { return StateOf(name); });
      const AlarmState s = value ? AlarmState::kAlarm : AlarmState::kOk;
      if (s == c.state) continue;
      std::string children;
      for (const std::string& ref : c.rule->composite_expr->References()) {
        absl::StrAppend(&children, children.empty() ? "" : ", ", ref, "=", StateName(StateOf(ref)));
      }
      std::string reason = absl::StrCat("Composite expression ", c.rule->composite, " is ",
                                        value ? "TRUE" : "FALSE", " (", children, ")");
      out->push_back({c.rule->name, "{}", {}, at_ms, c.state, s, reason, {}});
      c.state = s;
      c.since_ms = at_ms;
      c.reason = std::move(reason);
      changed = true;
    }
    if (!changed) break;
  }
}

std::vector<Transition> AlarmEngine::AdvanceTo(int64_t now_ms) {
  std::vector<Transition> out;
  for (;;) {
    int64_t next = 0;
    for (const RuleRuntime& rt : runtimes_) {
      if (rt.next_end_ms == 0 || rt.next_end_ms + Delay(*rt.rule) > now_ms) continue;
      if (next == 0 || rt.next_end_ms < next) next = rt.next_end_ms;
    }
    if (next == 0) break;
    for (RuleRuntime& rt : runtimes_) {
      if (rt.next_end_ms != next || rt.next_end_ms + Delay(*rt.rule) > now_ms) continue;
      ClosePeriod(rt, next, &out);
      rt.next_end_ms += Ms(rt.rule->period);
    }
    EvaluateComposites(next, &out);
  }
  return out;
}

std::vector<Transition> AlarmEngine::Reload(std::shared_ptr<const RuleSet> rules, int64_t now_ms) {
  std::vector<Transition> out;
  // The old runtimes point into the old rule set: keep it alive until they are gone.
  std::shared_ptr<const RuleSet> old_rules = rules_;
  std::vector<RuleRuntime> old_runtimes = std::move(runtimes_);
  std::vector<Composite> old_composites = std::move(composites_);
  rules_ = std::move(rules);
  Build(nullptr);
  for (RuleRuntime& old : old_runtimes) {
    const Rule* now_rule = rules_->Find(old.rule->name);
    RuleRuntime* keep = nullptr;
    for (RuleRuntime& rt : runtimes_) {
      if (now_rule != nullptr && rt.rule == now_rule &&
          now_rule->fingerprint == old.rule->fingerprint) {
        keep = &rt;
      }
    }
    if (keep != nullptr) {
      keep->instances = std::move(old.instances);
      keep->next_end_ms = old.next_end_ms;
      continue;
    }
    const std::string why = now_rule == nullptr
                                ? "Rule removed from the rule set"
                                : "Rule changed; evaluation restarts from INSUFFICIENT_DATA";
    for (const auto& [key, inst] : old.instances) {
      out.push_back({old.rule->name,
                     key,
                     inst->labels,
                     now_ms,
                     inst->state,
                     AlarmState::kInsufficientData,
                     why,
                     {}});
    }
  }
  for (Composite& old : old_composites) {
    for (Composite& c : composites_) {
      if (c.rule->name == old.rule->name && c.rule->fingerprint == old.rule->fingerprint) {
        c.state = old.state;
        c.since_ms = old.since_ms;
        c.reason = old.reason;
      }
    }
  }
  return out;
}

std::optional<int64_t> AlarmEngine::NextDueMs() const {
  std::optional<int64_t> due;
  for (const RuleRuntime& rt : runtimes_) {
    if (rt.next_end_ms == 0) continue;
    const int64_t t = rt.next_end_ms + Delay(*rt.rule);
    if (!due || t < *due) due = t;
  }
  return due;
}

std::vector<AlarmView> AlarmEngine::Alarms() const {
  std::vector<AlarmView> out;
  for (const RuleRuntime& rt : runtimes_) {
    for (const auto& [key, inst] : rt.instances) {
      AlarmView v{rt.rule->name,      key,          inst->labels, inst->state, inst->since_ms,
                  inst->last_data_ms, std::nullopt, inst->reason};
      if (!inst->closed.empty()) v.last_value = inst->closed.back().value;
      out.push_back(std::move(v));
    }
  }
  for (const Composite& c : composites_) {
    out.push_back({c.rule->name, "{}", {}, c.state, c.since_ms, 0, std::nullopt, c.reason});
  }
  std::sort(out.begin(), out.end(), [](const AlarmView& a, const AlarmView& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.instance < b.instance;
  });
  return out;
}

std::vector<AlarmRecord> AlarmEngine::Snapshot() const {
  std::vector<AlarmRecord> out;
  for (const RuleRuntime& rt : runtimes_) {
    for (const auto& [key, inst] : rt.instances) {
      out.push_back({rt.rule->name, key, inst->state, inst->since_ms, rt.rule->fingerprint,
                     inst->last_data_ms, EncodePeriods(inst->closed)});
    }
  }
  for (const Composite& c : composites_) {
    out.push_back({c.rule->name, "{}", c.state, c.since_ms, c.rule->fingerprint, 0, ""});
  }
  return out;
}

}  // namespace vigil::alerting
