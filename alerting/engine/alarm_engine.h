#ifndef VIGIL_ALERTING_ENGINE_ALARM_ENGINE_H_
#define VIGIL_ALERTING_ENGINE_ALARM_ENGINE_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "alerting/eval/statistics.h"
#include "alerting/eval/window.h"
#include "alerting/rules/rule.h"
#include "alerting/state/alarm_store.h"
#include "common/series_key.h"

namespace vigil::alerting {

// A change of an alarm instance's state (or its retirement), with the reason in words.
struct Transition {
  std::string rule;
  std::string instance;  // canonical labels, `{host="db1"}`; "{}" for a single instance
  Labels labels;
  int64_t at_ms = 0;  // when the deciding period closed (its end)
  AlarmState from = AlarmState::kInsufficientData;
  AlarmState to = AlarmState::kInsufficientData;
  std::string reason;
  std::vector<PeriodValue> datapoints;
};

// What an operator sees of one alarm instance.
struct AlarmView {
  std::string rule;
  std::string instance;
  Labels labels;
  AlarmState state = AlarmState::kInsufficientData;
  int64_t state_since_ms = 0;
  int64_t last_data_ms = 0;
  std::optional<double> last_value;  // the newest closed period's value
  std::string reason;                // of the last transition
};

struct AlarmEngineOptions {
  bool zero_evaluation_delay = false;  // rule unit tests evaluate as soon as a period closes
};

// Turns datapoints into alarm states for one rule set. Rules are indexed by metric name, so a
// datapoint touches only the rules that select its metric. Periods are aligned to the epoch;
// a period [s, s+period) is evaluated once now >= s + period + evaluation_delay, in time order
// across rules, and composites are re-evaluated right after their children.
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
  // One series of an instance (per query, for a series selected by two queries of a rule).
  struct SeriesSlot {
    size_t query = 0;
    std::string series;                  // SeriesKey::ToString(), to find the slot again
    std::optional<TimedValue> previous;  // last point before the open periods (rate only)
  };
  // The datapoints of one period not yet evaluated, as running statistics per series slot.
  struct OpenPeriod {
    int64_t start_ms = 0;
    absl::InlinedVector<StatAccumulator, 1> series;  // by slot
  };
  struct Instance {
    std::string key;  // canonical instance labels, `{host="db1"}`
    Labels labels;
    AlarmState state = AlarmState::kInsufficientData;
    int64_t since_ms = 0;
    int64_t last_data_ms = 0;
    // Start of the period of the instance's first datapoint: earlier periods are not its own
    // (a new host is not judged on a period that closed before it existed).
    int64_t first_period_ms = 0;
    bool retired = false;  // removed from its rule; series that still point here re-resolve
    std::string reason;
    std::vector<SeriesSlot> series;
    absl::InlinedVector<OpenPeriod, 2> open;  // ascending start; usually one or two
    std::vector<PeriodValue> closed;          // the evaluation range, oldest first
  };
  struct RuleRuntime {
    const Rule* rule = nullptr;
    absl::flat_hash_map<std::string, std::shared_ptr<Instance>> instances;
    int64_t next_end_ms = 0;  // end of the next period to evaluate; 0 until the first data
    int range = 1;
    int64_t period_ms = 60000;
    WindowParams params;
  };
  // Where a series' datapoints go for one (rule, query) that selects it. Resolved once per
  // series; `instance` is null until the first datapoint that is not late creates it.
  struct Target {
    uint32_t runtime = 0;
    uint32_t query = 0;
    std::shared_ptr<Instance> instance;
    uint32_t slot = 0;
  };
  struct Composite {
    const Rule* rule = nullptr;
    AlarmState state = AlarmState::kInsufficientData;
    int64_t since_ms = 0;
    std::string reason;
  };

  void Build(const std::vector<AlarmRecord>* restored);
  int64_t Delay(const Rule& r) const;
  std::string InstanceKey(const Rule& r, const SeriesKey& key, Labels* labels) const;
  const std::vector<Target>& TargetsOf(const SeriesKey& key,
                                       const std::vector<std::pair<size_t, size_t>>& selectors);
  void Resolve(RuleRuntime& rt, Target& t, const SeriesKey& key, int64_t ts, int64_t start);
  void ClosePeriod(RuleRuntime& rt, int64_t end_ms, std::vector<Transition>* out);
  void ClosePeriodUnordered(RuleRuntime& rt, int64_t end_ms, std::vector<Transition>* out);
  std::optional<double> PeriodValueOf(const Rule& r, Instance& inst, int64_t start_ms);
  void EvaluateComposites(int64_t at_ms, std::vector<Transition>* out);
  AlarmState StateOf(absl::string_view rule) const;

  std::shared_ptr<const RuleSet> rules_;
  Options options_;
  std::vector<RuleRuntime> runtimes_;  // threshold rules, same order as in the set
  std::vector<Composite> composites_;
  // metric -> (runtime index, query index)
  absl::flat_hash_map<std::string, std::vector<std::pair<size_t, size_t>>> by_metric_;
  // series -> where its datapoints go: matchers and instance keys are worked out once per
  // series, so a datapoint costs one hash lookup. Cleared on reload and when it grows past a
  // bound (series churn).
  absl::flat_hash_map<SeriesKey, std::vector<Target>> targets_;
  uint64_t late_points_ = 0;
};

// Serialized recent periods of an instance (AlarmRecord::periods) and back.
std::string EncodePeriods(const std::vector<PeriodValue>& periods);
std::vector<PeriodValue> DecodePeriods(const std::string& data);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_ENGINE_ALARM_ENGINE_H_
