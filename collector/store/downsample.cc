#include "collector/store/downsample.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace vigil::collector {
namespace {

// Start of the epoch-aligned bucket holding t_ms (floor division, also for negative t_ms).
int64_t BucketStart(int64_t t_ms, int64_t step_ms) {
  int64_t remainder = t_ms % step_ms;
  if (remainder < 0) remainder += step_ms;
  return t_ms - remainder;
}

// Running reduction of one bucket.
struct Accumulator {
  double sum = 0;
  double min = 0;
  double max = 0;
  double last = 0;
  int64_t count = 0;

  void Add(double v) {
    if (count == 0) {
      min = max = v;
    } else {
      min = std::min(min, v);
      max = std::max(max, v);
    }
    sum += v;
    last = v;
    ++count;
  }

  double Result(Statistic stat) const {
    switch (stat) {
      case Statistic::kAvg:
        return sum / static_cast<double>(count);
      case Statistic::kMin:
        return min;
      case Statistic::kMax:
        return max;
      case Statistic::kSum:
        return sum;
      case Statistic::kCount:
        return static_cast<double>(count);
      case Statistic::kLast:
        return last;
    }
    return 0;
  }
};

constexpr struct {
  Statistic stat;
  absl::string_view name;
} kStatistics[] = {
    {Statistic::kAvg, "avg"}, {Statistic::kMin, "min"},     {Statistic::kMax, "max"},
    {Statistic::kSum, "sum"}, {Statistic::kCount, "count"}, {Statistic::kLast, "last"},
};

}  // namespace

absl::StatusOr<Statistic> ParseStatistic(absl::string_view name) {
  for (const auto& s : kStatistics) {
    if (s.name == name) return s.stat;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown statistic '", name, "' (expected one of avg, min, max, sum, count, last)"));
}

absl::string_view StatisticName(Statistic stat) {
  for (const auto& s : kStatistics) {
    if (s.stat == stat) return s.name;
  }
  return "unknown";
}

std::vector<DataPoint> Downsample(absl::Span<const DataPoint> points, int64_t step_ms,
                                  Statistic stat) {
  if (step_ms <= 0) return std::vector<DataPoint>(points.begin(), points.end());
  std::vector<DataPoint> out;
  Accumulator bucket;
  int64_t bucket_start = 0;
  for (const DataPoint& p : points) {
    int64_t start = BucketStart(p.timestamp_ms, step_ms);
    if (bucket.count > 0 && start != bucket_start) {
      out.push_back(DataPoint{bucket_start, bucket.Result(stat)});
      bucket = Accumulator();
    }
    bucket_start = start;
    bucket.Add(p.value);
  }
  if (bucket.count > 0) out.push_back(DataPoint{bucket_start, bucket.Result(stat)});
  return out;
}

}  // namespace vigil::collector
