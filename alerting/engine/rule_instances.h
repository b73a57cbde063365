#ifndef VIGIL_ALERTING_ENGINE_RULE_INSTANCES_H_
#define VIGIL_ALERTING_ENGINE_RULE_INSTANCES_H_

#include <array>
#include <cstdint>
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

// The alarm instances of one threshold rule and their open periods, laid out so that a period
// close is one linear pass over contiguous memory: each instance has a slot; what every close
// reads and writes (state, window summary, last datapoint time) is one small struct per slot in
// a vector; an open period is a column of running statistics indexed by series slot; closed
// period values are a ring of rows indexed by instance slot. Nothing is allocated, hashed or
// formatted per instance at a close unless its state changes. The semantics are AlarmEngine's
// (docs/rules.md); the window decision is Decide's (WindowBitsDecider's when the range fits 64
// bits, which gives the same state).
// Not thread-safe: the AlarmEngine's owner thread calls every method.
class RuleInstances {
 public:
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  // Where one series' datapoints go: its instance and series slots. Resolve() makes one;
  // it stays valid until the instance is retired (Valid() then returns false).
  struct SeriesRef {
    uint32_t instance = kNoSlot;
    uint32_t series = kNoSlot;
    uint32_t generation = 0;
  };

  // `rule` (a threshold rule) must outlive this object or be replaced with Rebind().
  explicit RuleInstances(const Rule& rule);

  // Points the instances at an equal rule (same fingerprint) of a new rule set.
  void Rebind(const Rule& rule);

  const Rule& rule() const { return *rule_; }
  int64_t period_ms() const { return period_ms_; }
  // End of the next period to evaluate; 0 until the first datapoint (or restored period).
  int64_t next_end_ms() const { return next_end_ms_; }
  void set_next_end_ms(int64_t end_ms) { next_end_ms_ = end_ms; }

  bool Valid(const SeriesRef& ref) const {
    return ref.instance != kNoSlot && hot_[ref.instance].generation == ref.generation;
  }
  // The instance of `key` (created, in INSUFFICIENT_DATA, if new; `ts` is its first datapoint
  // and `period_start` that datapoint's period) and the key's series slot for `query` in it.
  SeriesRef Resolve(const SeriesKey& key, size_t query, int64_t ts, int64_t period_start);
  // Adds a datapoint of period `period_start` (not yet evaluated) to a valid ref's series.
  void Add(const SeriesRef& ref, int64_t period_start, TimedValue point);

  // Evaluates the period ending at next_end_ms() for every instance (retiring those without
  // data for retire_after), appends the transitions ordered by instance, and moves
  // next_end_ms() one period on.
  void ClosePeriod(std::vector<Transition>* out);

  // ALARM if any instance is in ALARM, else OK if any is OK, else INSUFFICIENT_DATA.
  AlarmState Summary() const;

  // Restores a saved instance (its record's rule is this rule). Call RestoredNextEnd() for
  // every record first and set_next_end_ms() to the largest, so periods land in the ring
  // relative to the rule's last closed period.
  static int64_t RestoredNextEnd(const Rule& rule, const std::vector<PeriodValue>& periods);
  void Restore(const AlarmRecord& record, const std::vector<PeriodValue>& periods);

  void AppendViews(std::vector<AlarmView>* out) const;
  void AppendRecords(std::vector<AlarmRecord>* out) const;
  // One transition to INSUFFICIENT_DATA per instance, ordered by instance, with `reason` (the
  // rule was removed or changed on reload).
  void AppendDropped(const std::string& reason, int64_t at_ms, std::vector<Transition>* out) const;

 private:
  // What every period close reads and writes for one instance, one per slot, contiguous.
  struct InstanceHot {
    static constexpr int kSeries = 2;
    int64_t last_data_ms = 0;
    WindowBits bits;  // the evaluation range in summary (ranges up to 64 periods)
    // Its first series slots; with more than kSeries, all are in InstanceInfo::series.
    uint32_t series[kSeries] = {kNoSlot, kNoSlot};
    uint32_t closed = 0;       // its own closed periods in the ring, at most the range
    uint32_t generation = 0;   // changes when the slot is freed, so that old refs re-resolve
    uint8_t series_count = 0;  // up to 255
    AlarmState state = AlarmState::kInsufficientData;
    bool live = false;
    bool direct = false;  // simple rule and one series: the period value is its statistic
  };
  static_assert(sizeof(InstanceHot) <= 64, "a close reads one per instance: one cache line");
  // Read when an instance is created, changes state, is listed or saved.
  struct InstanceInfo {
    std::string key;  // canonical instance labels, `{host="db1"}`
    Labels labels;
    int64_t since_ms = 0;
    // Start of the period of the instance's first datapoint: earlier periods are not its own
    // (a new host is not judged on a period that closed before it existed).
    int64_t first_period_ms = 0;
    std::string reason;
    absl::InlinedVector<uint32_t, 1> series;  // series slots, in order of appearance
  };
  // One series of an instance (per query, for a series selected by two queries of a rule);
  // its query is in series_query_.
  struct SeriesSlot {
    uint32_t instance = kNoSlot;         // kNoSlot: free
    std::string series;                  // SeriesKey::ToString(), to find the slot again
    std::optional<TimedValue> previous;  // last point before the open periods (rate only)
  };
  // The datapoints of one period not yet evaluated, as running statistics by series slot;
  // slots past the end have none.
  struct OpenColumn {
    int64_t start_ms = 0;
    std::vector<StatAccumulator> acc;
  };

  std::string InstanceKey(const SeriesKey& key, Labels* labels) const;
  uint32_t NewInstance(std::string key, Labels labels, int64_t since_ms, int64_t first_period_ms,
                       AlarmState state);
  uint32_t NewSeries(uint32_t instance, uint32_t query, std::string series);
  void FreeInstance(uint32_t slot);
  Statistic StatisticOf(uint32_t series) const;
  void Grow(OpenColumn& column) const;
  OpenColumn& ColumnFor(int64_t start_ms);
  // The instance's series slots, in order of appearance.
  absl::Span<const uint32_t> SeriesOf(uint32_t slot) const;
  bool HasOpenData(uint32_t slot) const;
  void ClearOpenData(OpenColumn& column, uint32_t slot);
  std::optional<double> PeriodValueOf(OpenColumn* column, uint32_t slot);
  // The instance's closed periods, oldest first, the newest starting at `newest_start_ms`.
  void Window(uint32_t slot, int64_t newest_start_ms, std::vector<PeriodValue>* out) const;
  void SetState(InstanceHot& h, AlarmState state);

  const Rule* rule_ = nullptr;
  WindowParams params_;
  int range_ = 1;
  int64_t period_ms_ = 60000;
  bool simple_ = false;                       // one query, no math, no aggregate, no rate
  // Every query is a plain statistic (no fleet aggregate, no rate): PeriodValueOf's fast path.
  bool plain_ = false;
  static constexpr size_t kPlainQueries = 8;
  std::optional<WindowBitsDecider> decider_;  // when the range fits WindowBits
  std::vector<uint32_t> math_arg_;  // by query: its place among rule_->math->Identifiers()
  int64_t next_end_ms_ = 0;

  absl::flat_hash_map<std::string, uint32_t> by_key_;  // instance key -> slot
  std::vector<InstanceHot> hot_;                       // by instance slot
  std::vector<InstanceInfo> info_;                     // by instance slot
  std::vector<uint32_t> free_instances_;
  std::vector<SeriesSlot> series_;      // by series slot
  std::vector<uint32_t> series_query_;  // by series slot: read at every close
  std::vector<uint32_t> free_series_;
  std::vector<OpenColumn> open_;   // ascending start; usually one or two
  std::vector<OpenColumn> spare_;  // evaluated columns kept for reuse, every accumulator empty
  // Closed period values by age: ring_[head_][slot] is the newest closed period of the rule,
  // ring_[head_ - k] (mod range) the one k periods older; only an instance's `closed` newest
  // entries are its own.
  std::vector<std::vector<std::optional<double>>> ring_;
  int head_ = 0;
  std::array<uint32_t, 3> by_state_{};  // live instances per state
  std::vector<PeriodValue> scratch_;    // a window being decided or explained
};

// Serialized recent periods of an instance (AlarmRecord::periods) and back.
std::string EncodePeriods(const std::vector<PeriodValue>& periods);
std::vector<PeriodValue> DecodePeriods(const std::string& data);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_ENGINE_RULE_INSTANCES_H_
