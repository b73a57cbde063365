#include "alerting/engine/alarm_engine.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace vigil::alerting {
namespace {

int64_t Ms(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

int64_t FloorTo(int64_t t, int64_t step) {
  int64_t q = t / step;
  if (t % step != 0 && t < 0) --q;
  return q * step;
}

}  // namespace

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
    for (size_t q = 0; q < r.queries.size(); ++q) {
      by_metric_[r.queries[q].metric].emplace_back(runtimes_.size(), q);
    }
    runtimes_.emplace_back(r);
  }
  if (restored == nullptr) return;
  // Records of threshold rules whose fingerprint is unchanged, with their decoded periods.
  std::vector<std::pair<const AlarmRecord*, std::vector<PeriodValue>>> records;
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
    records.emplace_back(&rec, DecodePeriods(rec.periods));
  }
  // The rule's next period follows the newest saved one; each instance's periods are placed
  // relative to it.
  absl::flat_hash_map<absl::string_view, RuleInstances*> by_name;
  for (RuleInstances& rt : runtimes_) by_name[rt.rule().name] = &rt;
  for (const auto& [rec, periods] : records) {
    RuleInstances& rt = *by_name.at(rec->rule);
    rt.set_next_end_ms(
        std::max(rt.next_end_ms(), RuleInstances::RestoredNextEnd(rt.rule(), periods)));
  }
  for (const auto& [rec, periods] : records) by_name.at(rec->rule)->Restore(*rec, periods);
}

int64_t AlarmEngine::Delay(const Rule& r) const {
  return options_.zero_evaluation_delay ? 0 : Ms(r.evaluation_delay);
}

std::vector<AlarmEngine::Target>& AlarmEngine::TargetsOf(
    const SeriesKey& key, const std::vector<std::pair<size_t, size_t>>& selectors) {
  // A bound against series churn (short-lived label values): the cache is only a shortcut,
  // so it is dropped whole and rebuilt from the datapoints that follow.
  constexpr size_t kMaxCachedSeries = 4'000'000;
  if (targets_.size() >= kMaxCachedSeries && !targets_.contains(key)) targets_.clear();
  auto [it, inserted] = targets_.try_emplace(key);
  if (inserted) {
    for (const auto& [rt_index, q] : selectors) {
      const MetricQuery& query = runtimes_[rt_index].rule().queries[q];
      bool match = true;
      for (const LabelMatcher& m : query.where) match = match && m.Matches(key);
      if (match) {
        it->second.push_back({static_cast<uint32_t>(rt_index), static_cast<uint32_t>(q), {}});
      }
    }
  }
  return it->second;
}

void AlarmEngine::Observe(const SeriesKey& key, int64_t ts, double value) {
  auto it = by_metric_.find(key.metric);
  if (it == by_metric_.end()) return;
  for (Target& t : TargetsOf(key, it->second)) {
    RuleInstances& rt = runtimes_[t.runtime];
    const int64_t period = rt.period_ms();
    const int64_t start = FloorTo(ts, period);
    if (rt.next_end_ms() != 0 && start + period < rt.next_end_ms()) {
      ++late_points_;
      continue;
    }
    if (rt.next_end_ms() == 0) rt.set_next_end_ms(start + period);
    if (!rt.Valid(t.ref)) t.ref = rt.Resolve(key, t.query, ts, start);
    rt.Add(t.ref, start, {ts, value});
  }
}

AlarmState AlarmEngine::StateOf(absl::string_view name) const {
  for (const Composite& c : composites_) {
    if (c.rule->name == name) return c.state;
  }
  for (const RuleInstances& rt : runtimes_) {
    if (rt.rule().name == name) return rt.Summary();
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
    for (const RuleInstances& rt : runtimes_) {
      if (rt.next_end_ms() == 0 || rt.next_end_ms() + Delay(rt.rule()) > now_ms) continue;
      if (next == 0 || rt.next_end_ms() < next) next = rt.next_end_ms();
    }
    if (next == 0) break;
    for (RuleInstances& rt : runtimes_) {
      if (rt.next_end_ms() != next || rt.next_end_ms() + Delay(rt.rule()) > now_ms) continue;
      rt.ClosePeriod(&out);
    }
    EvaluateComposites(next, &out);
  }
  return out;
}

std::vector<Transition> AlarmEngine::Reload(std::shared_ptr<const RuleSet> rules, int64_t now_ms) {
  std::vector<Transition> out;
  // The old runtimes point into the old rule set: keep it alive until they are gone.
  std::shared_ptr<const RuleSet> old_rules = rules_;
  std::vector<RuleInstances> old_runtimes = std::move(runtimes_);
  std::vector<Composite> old_composites = std::move(composites_);
  rules_ = std::move(rules);
  Build(nullptr);
  for (RuleInstances& old : old_runtimes) {
    const Rule* now_rule = rules_->Find(old.rule().name);
    RuleInstances* keep = nullptr;
    for (RuleInstances& rt : runtimes_) {
      if (now_rule != nullptr && &rt.rule() == now_rule &&
          now_rule->fingerprint == old.rule().fingerprint) {
        keep = &rt;
      }
    }
    if (keep != nullptr) {
      *keep = std::move(old);
      keep->Rebind(*now_rule);
      continue;
    }
    old.AppendDropped(now_rule == nullptr
                          ? "Rule removed from the rule set"
                          : "Rule changed; evaluation restarts from INSUFFICIENT_DATA",
                      now_ms, &out);
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
  for (const RuleInstances& rt : runtimes_) {
    if (rt.next_end_ms() == 0) continue;
    const int64_t t = rt.next_end_ms() + Delay(rt.rule());
    if (!due || t < *due) due = t;
  }
  return due;
}

std::vector<AlarmView> AlarmEngine::Alarms() const {
  std::vector<AlarmView> out;
  for (const RuleInstances& rt : runtimes_) rt.AppendViews(&out);
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
  for (const RuleInstances& rt : runtimes_) rt.AppendRecords(&out);
  for (const Composite& c : composites_) {
    out.push_back({c.rule->name, "{}", c.state, c.since_ms, c.rule->fingerprint, 0, ""});
  }
  return out;
}

}  // namespace vigil::alerting
