#ifndef VIGIL_ALERTING_EVAL_STATISTICS_H_
#define VIGIL_ALERTING_EVAL_STATISTICS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/types/span.h"
#include "alerting/rules/types.h"

namespace vigil::alerting {

struct TimedValue {
  int64_t timestamp_ms = 0;
  double value = 0;
};

// The statistic of one period's datapoints (in time order). nullopt when there are none.
// Percentiles use the nearest-rank method on the sorted values (p50 of {1,2,3,4} is 2).
// kRate is the per-second increase of a counter: the sum of non-negative deltas between
// consecutive points (a drop is a counter reset: the new value counts as the increase),
// starting from `previous` (the last point before the period) when given, divided by the time
// from the first point used to the last; nullopt with fewer than two points, or when they span
// no time (equal timestamps).
std::optional<double> ComputeStatistic(Statistic stat, absl::Span<const TimedValue> points,
                                       std::optional<TimedValue> previous = std::nullopt);

// The running form of ComputeStatistic for one series in one period: datapoints are added as
// they arrive and the statistic is read when the period closes. Keeps count, sum, min and max;
// the values only for percentiles and the points only for `rate`, so a steady average costs no
// allocation. Value() equals ComputeStatistic over the same points (sums in arrival order).
class StatAccumulator {
 public:
  explicit StatAccumulator(Statistic stat = Statistic::kAvg) : stat_(stat) {}

  void Add(TimedValue point);
  // Adds another accumulator's datapoints (same statistic): a rule's instance made of several
  // series takes its statistic over all of them.
  void Merge(const StatAccumulator& other);
  bool empty() const { return count_ == 0; }
  // The statistic; `previous` is the series' last point before the period (rate only).
  // Sorts the kept values or points in place.
  std::optional<double> Value(std::optional<TimedValue> previous = std::nullopt);
  // The newest point added (by timestamp); only kept for rate, nullopt otherwise.
  std::optional<TimedValue> Last() const;

 private:
  Statistic stat_;
  int64_t count_ = 0;
  double sum_ = 0;
  double min_ = 0;
  double max_ = 0;
  std::vector<double> values_;      // percentiles only
  std::vector<TimedValue> points_;  // rate only
};

// Combines per-series values with a fleet aggregate; nullopt when `values` is empty (kCount: 0).
// kNone returns the single value, and nullopt for more than one (no combination is defined).
std::optional<double> ComputeAggregate(Aggregate agg, absl::Span<const double> values);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_EVAL_STATISTICS_H_
