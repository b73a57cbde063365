#ifndef VIGIL_ALERTING_EVAL_STATISTICS_H_
#define VIGIL_ALERTING_EVAL_STATISTICS_H_

#include <cstdint>
#include <optional>

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

// Combines per-series values with a fleet aggregate; nullopt when `values` is empty (kCount: 0).
// kNone returns the single value, and nullopt for more than one (no combination is defined).
std::optional<double> ComputeAggregate(Aggregate agg, absl::Span<const double> values);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_EVAL_STATISTICS_H_
