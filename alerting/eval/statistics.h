#ifndef VIGIL_ALERTING_EVAL_STATISTICS_H_
#define VIGIL_ALERTING_EVAL_STATISTICS_H_

#include <cstdint>
#include <memory>
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
// they arrive and the statistic is read when the period closes. Keeps the count and one running
// value (the sum, the minimum or the maximum, as the statistic needs); the points only for
// percentiles and `rate`, so a steady average costs no allocation. Value() equals
// ComputeStatistic over the same points (sums in arrival order). 32 bytes, so that an engine can
// keep one per series in a contiguous array (a column per open period) and read them in order.
class StatAccumulator {
 public:
  explicit StatAccumulator(Statistic stat = Statistic::kAvg) : stat_(stat) {}

  void Add(TimedValue point);
  // Adds another accumulator's datapoints (same statistic): a rule's instance made of several
  // series takes its statistic over all of them.
  void Merge(const StatAccumulator& other);
  bool empty() const { return count_ == 0; }
  Statistic statistic() const { return stat_; }
  // The statistic; `previous` is the series' last point before the period (rate only).
  // Sorts the kept points in place. Inline for the running statistics: a period close reads
  // one per series.
  std::optional<double> Value(std::optional<TimedValue> previous = std::nullopt) {
    if (count_ == 0) return std::nullopt;
    switch (stat_) {
      case Statistic::kAvg:
        return running_ / static_cast<double>(count_);
      case Statistic::kSum:
      case Statistic::kMin:
      case Statistic::kMax:
        return running_;
      case Statistic::kCount:
        return static_cast<double>(count_);
      default:
        return KeptPointsValue(previous);
    }
  }
  // The newest point added (by timestamp); only kept for rate, nullopt otherwise.
  std::optional<TimedValue> Last() const;
  // Empties it for the next period; keeps its statistic and the memory of its kept points.
  void Clear() {
    count_ = 0;
    running_ = 0;
    if (points_ != nullptr) points_->clear();
  }

 private:
  std::optional<double> KeptPointsValue(std::optional<TimedValue> previous);

  int64_t count_ = 0;
  double running_ = 0;  // sum (avg, sum), minimum (min) or maximum (max); unused otherwise
  // Percentiles and rate only; allocated on their first point.
  std::unique_ptr<std::vector<TimedValue>> points_;
  Statistic stat_;
};

// Combines per-series values with a fleet aggregate; nullopt when `values` is empty (kCount: 0).
// kNone returns the single value, and nullopt for more than one (no combination is defined).
std::optional<double> ComputeAggregate(Aggregate agg, absl::Span<const double> values);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_EVAL_STATISTICS_H_
