#ifndef VIGIL_ALERTING_ENGINE_ALARM_ENGINE_H_
#define VIGIL_ALERTING_ENGINE_ALARM_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "alerting/engine/rule_instances.h"
#include "alerting/eval/window.h"
#include "alerting/rules/rule.h"
#include "alerting/state/alarm_store.h"
#include "common/series_key.h"

namespace vigil::alerting {

struct AlarmEngineOptions {
  bool zero_evaluation_delay = false;  // rule unit tests evaluate as soon as a period closes
};

// Turns datapoints into alarm states for one rule set. Rules are indexed by metric name, so a
// datapoint touches only the rules that select its metric. Periods are aligned to the epoch;
// a period [s, s+period) is evaluated once now >= s + period + evaluation_delay, in time order
// across rules, and composites are re-evaluated right after their children. Each threshold
// rule's instances are a RuleInstances: a period close is one linear pass over them.
// Not thread-safe: one owner thread calls every method (the collector's evaluation thread, or
// a rule test).
class AlarmEngine {
 public:
  using Options = AlarmEngineOptions;
  explicit AlarmEngine(std::shared_ptr<const RuleSet> rules, Options options = {});
  AlarmEngine(std::shared_ptr<const RuleSet> rules, Options options,
              const std::vector<AlarmRecord>& restored);

  // Feeds one datapoint. Points for periods already evaluated are late and counted, not used.
  void Observe(const SeriesKey& key, int64_t timestamp_ms, double value);

  // Evaluates every period that closed by now_ms; returns the transitions in time order.
  std::vector<Transition> AdvanceTo(int64_t now_ms);

  // Swaps in a new rule set. Instances of rules whose fingerprint is unchanged keep their
  // state; a changed rule's instances restart from INSUFFICIENT_DATA (returned as transitions
  // whose reason says why); removed rules' instances are dropped (also returned).
  std::vector<Transition> Reload(std::shared_ptr<const RuleSet> rules, int64_t now_ms);

  // When the next period becomes due (its end + evaluation_delay), or nullopt with no data yet:
  // the owner wakes then, so a transition is decided when its period closes, not at a tick.
  std::optional<int64_t> NextDueMs() const;

  std::vector<AlarmView> Alarms() const;
  // Persistent form of every instance, for the AlarmStore.
  std::vector<AlarmRecord> Snapshot() const;

  const RuleSet& rules() const { return *rules_; }
  uint64_t late_points() const { return late_points_; }

 private:
  // Where a series' datapoints go for one (rule, query) that selects it. Resolved once per
  // series; `ref` is invalid until the first datapoint that is not late creates the instance.
  struct Target {
    uint32_t runtime = 0;
    uint32_t query = 0;
    RuleInstances::SeriesRef ref;
  };
  struct Composite {
    const Rule* rule = nullptr;
    AlarmState state = AlarmState::kInsufficientData;
    int64_t since_ms = 0;
    std::string reason;
  };

  void Build(const std::vector<AlarmRecord>* restored);
  int64_t Delay(const Rule& r) const;
  std::vector<Target>& TargetsOf(const SeriesKey& key,
                                 const std::vector<std::pair<size_t, size_t>>& selectors);
  void EvaluateComposites(int64_t at_ms, std::vector<Transition>* out);
  AlarmState StateOf(absl::string_view rule) const;

  std::shared_ptr<const RuleSet> rules_;
  Options options_;
  std::vector<RuleInstances> runtimes_;  // threshold rules, same order as in the set
  std::vector<Composite> composites_;
  // metric -> (runtime index, query index)
  absl::flat_hash_map<std::string, std::vector<std::pair<size_t, size_t>>> by_metric_;
  // series -> where its datapoints go: matchers and instance keys are worked out once per
  // series, so a datapoint costs one hash lookup. Cleared on reload and when it grows past a
  // bound (series churn).
  absl::flat_hash_map<SeriesKey, std::vector<Target>> targets_;
  uint64_t late_points_ = 0;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_ENGINE_ALARM_ENGINE_H_
