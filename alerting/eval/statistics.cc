#include "alerting/eval/statistics.h"

#include <algorithm>
#include <vector>

namespace vigil::alerting {
namespace {

// Nearest-rank percentile: the value at rank ceil(p / 100 * n) of the sorted values (1-based).
// Integer arithmetic, so that 95% of 20 is rank 19 exactly, not 20 through rounding.
double NearestRankOfSorted(const std::vector<double>& sorted, int percent) {
  const size_t n = sorted.size();
  size_t rank = (static_cast<size_t>(percent) * n + 99) / 100;
  if (rank < 1) rank = 1;
  return sorted[rank - 1];
}

double NearestRank(absl::Span<const TimedValue> points, int percent) {
  std::vector<double> sorted;
  sorted.reserve(points.size());
  for (const TimedValue& p : points) sorted.push_back(p.value);
  std::sort(sorted.begin(), sorted.end());
  return NearestRankOfSorted(sorted, percent);
}

int PercentOf(Statistic stat) {
  switch (stat) {
    case Statistic::kP50:
      return 50;
    case Statistic::kP90:
      return 90;
    case Statistic::kP95:
      return 95;
    case Statistic::kP99:
      return 99;
    default:
      return 0;
  }
}

bool ByTime(const TimedValue& a, const TimedValue& b) { return a.timestamp_ms < b.timestamp_ms; }

std::optional<double> Rate(absl::Span<const TimedValue> points,
                           const std::optional<TimedValue>& previous) {
  const TimedValue* last = previous ? &*previous : nullptr;
  const TimedValue* first = last;
  double increase = 0;
  for (const TimedValue& p : points) {
    if (last != nullptr) {
      // A drop is a counter reset: the counter restarted from 0, so its value is the increase.
      increase += p.value >= last->value ? p.value - last->value : p.value;
    } else {
      first = &p;
    }
    last = &p;
  }
  if (first == nullptr || first == last) return std::nullopt;
  const int64_t span_ms = last->timestamp_ms - first->timestamp_ms;
  if (span_ms <= 0) return std::nullopt;
  return increase * 1000.0 / static_cast<double>(span_ms);
}

}  // namespace

std::optional<double> ComputeStatistic(Statistic stat, absl::Span<const TimedValue> points,
                                       std::optional<TimedValue> previous) {
  if (points.empty()) return std::nullopt;
  switch (stat) {
    case Statistic::kAvg: {
      double sum = 0;
      for (const TimedValue& p : points) sum += p.value;
      return sum / static_cast<double>(points.size());
    }
    case Statistic::kSum: {
      double sum = 0;
      for (const TimedValue& p : points) sum += p.value;
      return sum;
    }
    case Statistic::kMin: {
      double m = points[0].value;
      for (const TimedValue& p : points) m = std::min(m, p.value);
      return m;
    }
    case Statistic::kMax: {
      double m = points[0].value;
      for (const TimedValue& p : points) m = std::max(m, p.value);
      return m;
    }
    case Statistic::kCount:
      return static_cast<double>(points.size());
    case Statistic::kP50:
      return NearestRank(points, 50);
    case Statistic::kP90:
      return NearestRank(points, 90);
    case Statistic::kP95:
      return NearestRank(points, 95);
    case Statistic::kP99:
      return NearestRank(points, 99);
    case Statistic::kRate:
      return Rate(points, previous);
  }
  return std::nullopt;
}

// An open period keeps one per series in a contiguous column: two per cache line.
static_assert(sizeof(void*) != 8 || sizeof(StatAccumulator) == 32);

namespace {

bool KeepsPoints(Statistic stat) { return PercentOf(stat) != 0 || stat == Statistic::kRate; }

bool ByValue(const TimedValue& a, const TimedValue& b) { return a.value < b.value; }

}  // namespace

void StatAccumulator::Add(TimedValue point) {
  switch (stat_) {
    case Statistic::kAvg:
    case Statistic::kSum:
      running_ += point.value;
      break;
    case Statistic::kMin:
      running_ = count_ == 0 ? point.value : std::min(running_, point.value);
      break;
    case Statistic::kMax:
      running_ = count_ == 0 ? point.value : std::max(running_, point.value);
      break;
    default:
      break;
  }
  ++count_;
  if (KeepsPoints(stat_)) {
    if (points_ == nullptr) points_ = std::make_unique<std::vector<TimedValue>>();
    points_->push_back(point);
  }
}

void StatAccumulator::Merge(const StatAccumulator& other) {
  if (other.count_ == 0) return;
  switch (stat_) {
    case Statistic::kAvg:
    case Statistic::kSum:
      running_ += other.running_;
      break;
    case Statistic::kMin:
      running_ = count_ == 0 ? other.running_ : std::min(running_, other.running_);
      break;
    case Statistic::kMax:
      running_ = count_ == 0 ? other.running_ : std::max(running_, other.running_);
      break;
    default:
      break;
  }
  count_ += other.count_;
  if (other.points_ != nullptr && !other.points_->empty()) {
    if (points_ == nullptr) points_ = std::make_unique<std::vector<TimedValue>>();
    points_->insert(points_->end(), other.points_->begin(), other.points_->end());
  }
}

std::optional<double> StatAccumulator::KeptPointsValue(std::optional<TimedValue> previous) {
  std::vector<TimedValue>& points = *points_;
  if (stat_ == Statistic::kRate) {
    // Points usually arrive in time order; stable_sort would allocate a buffer even then.
    if (!std::is_sorted(points.begin(), points.end(), ByTime)) {
      std::stable_sort(points.begin(), points.end(), ByTime);
    }
    return Rate(points, previous);
  }
  std::sort(points.begin(), points.end(), ByValue);
  const size_t rank = (static_cast<size_t>(PercentOf(stat_)) * points.size() + 99) / 100;
  return points[std::max<size_t>(rank, 1) - 1].value;
}

std::optional<TimedValue> StatAccumulator::Last() const {
  if (stat_ != Statistic::kRate || points_ == nullptr || points_->empty()) return std::nullopt;
  TimedValue last = (*points_)[0];
  for (const TimedValue& p : *points_) {
    if (p.timestamp_ms >= last.timestamp_ms) last = p;
  }
  return last;
}

std::optional<double> ComputeAggregate(Aggregate agg, absl::Span<const double> values) {
  if (agg == Aggregate::kCount) return static_cast<double>(values.size());
  if (values.empty()) return std::nullopt;
  switch (agg) {
    case Aggregate::kNone:
      // No aggregate means one series per instance; several values have no defined combination.
      if (values.size() != 1) return std::nullopt;
      return values[0];
    case Aggregate::kSum:
    case Aggregate::kAvg: {
      double sum = 0;
      for (double v : values) sum += v;
      if (agg == Aggregate::kSum) return sum;
      return sum / static_cast<double>(values.size());
    }
    case Aggregate::kMin:
      return *std::min_element(values.begin(), values.end());
    case Aggregate::kMax:
      return *std::max_element(values.begin(), values.end());
    case Aggregate::kCount:
      break;
  }
  return std::nullopt;
}

}  // namespace vigil::alerting
