#include "alerting/eval/statistics.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

// Points one second apart from t=0, in the order given.
std::vector<TimedValue> Points(const std::vector<double>& values) {
  std::vector<TimedValue> out;
  for (size_t i = 0; i < values.size(); ++i) {
    out.push_back({static_cast<int64_t>(i) * 1000, values[i]});
  }
  return out;
}

std::vector<double> OneTo(int n) {
  std::vector<double> out;
  for (int i = 1; i <= n; ++i) out.push_back(i);
  return out;
}

struct StatisticCase {
  std::string name;
  Statistic stat;
  std::vector<double> values;
  std::optional<double> expected;
};

class StatisticTable : public ::testing::TestWithParam<StatisticCase> {};

TEST_P(StatisticTable, ComputesExactValue) {
  const StatisticCase& c = GetParam();
  std::vector<TimedValue> points = Points(c.values);
  EXPECT_EQ(ComputeStatistic(c.stat, points), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Statistics, StatisticTable,
    ::testing::Values(
        StatisticCase{"AvgOfFive", Statistic::kAvg, {3, 1, 4, 1, 5}, 2.8},
        StatisticCase{"SumOfFive", Statistic::kSum, {3, 1, 4, 1, 5}, 14},
        StatisticCase{"MinOfFive", Statistic::kMin, {3, 1, 4, 1, 5}, 1},
        StatisticCase{"MaxOfFive", Statistic::kMax, {3, 1, 4, 1, 5}, 5},
        StatisticCase{"CountOfFive", Statistic::kCount, {3, 1, 4, 1, 5}, 5},
        StatisticCase{"MinOfNegatives", Statistic::kMin, {-2, -7, 3}, -7},
        StatisticCase{"MaxOfNegatives", Statistic::kMax, {-2, -7, -3}, -2},
        // Nearest rank: p50 of {1,2,3,4} is the 2nd value, not the interpolated 2.5.
        StatisticCase{"P50OfFourIsSecond", Statistic::kP50, {4, 1, 3, 2}, 2},
        StatisticCase{"P50OfFiveIsThird", Statistic::kP50, {3, 1, 4, 1, 5}, 3},
        StatisticCase{"P90OfFiveIsFifth", Statistic::kP90, {3, 1, 4, 1, 5}, 5},
        StatisticCase{"P50OfTwenty", Statistic::kP50, OneTo(20), 10},
        StatisticCase{"P90OfTwenty", Statistic::kP90, OneTo(20), 18},
        StatisticCase{"P95OfTwentyIsRank19", Statistic::kP95, OneTo(20), 19},
        StatisticCase{"P99OfTwentyIsLast", Statistic::kP99, OneTo(20), 20},
        StatisticCase{"P99OfHundred", Statistic::kP99, OneTo(100), 99},
        StatisticCase{"P95OfHundred", Statistic::kP95, OneTo(100), 95},
        StatisticCase{"OnePointAvg", Statistic::kAvg, {7.5}, 7.5},
        StatisticCase{"OnePointSum", Statistic::kSum, {7.5}, 7.5},
        StatisticCase{"OnePointMin", Statistic::kMin, {7.5}, 7.5},
        StatisticCase{"OnePointMax", Statistic::kMax, {7.5}, 7.5},
        StatisticCase{"OnePointCount", Statistic::kCount, {7.5}, 1},
        StatisticCase{"OnePointP50", Statistic::kP50, {7.5}, 7.5},
        StatisticCase{"OnePointP99", Statistic::kP99, {7.5}, 7.5},
        StatisticCase{"OnePointRateIsMissing", Statistic::kRate, {7.5}, std::nullopt},
        StatisticCase{"EmptyAvg", Statistic::kAvg, {}, std::nullopt},
        StatisticCase{"EmptySum", Statistic::kSum, {}, std::nullopt},
        StatisticCase{"EmptyMin", Statistic::kMin, {}, std::nullopt},
        StatisticCase{"EmptyMax", Statistic::kMax, {}, std::nullopt},
        StatisticCase{"EmptyCount", Statistic::kCount, {}, std::nullopt},
        StatisticCase{"EmptyP50", Statistic::kP50, {}, std::nullopt},
        StatisticCase{"EmptyP90", Statistic::kP90, {}, std::nullopt},
        StatisticCase{"EmptyP95", Statistic::kP95, {}, std::nullopt},
        StatisticCase{"EmptyP99", Statistic::kP99, {}, std::nullopt},
        StatisticCase{"EmptyRate", Statistic::kRate, {}, std::nullopt},
        // 10 -> 20 -> 40 over two seconds: 30 / 2 s.
        StatisticCase{"RateOfIncreasingCounter", Statistic::kRate, {10, 20, 40}, 15},
        // 100 -> 120 (+20) -> 10 (reset: +10) -> 40 (+30) over three seconds: 60 / 3 s.
        StatisticCase{"RateCountsResetAsIncrease", Statistic::kRate, {100, 120, 10, 40}, 20},
        StatisticCase{"RateOfFlatCounterIsZero", Statistic::kRate, {5, 5, 5}, 0}),
    [](const ::testing::TestParamInfo<StatisticCase>& info) { return info.param.name; });

TEST(Rate, StartsFromPreviousPoint) {
  // 10 at t=0 before the period, 40 at t=10s in it: 30 / 10 s.
  std::vector<TimedValue> points = {{10000, 40}};
  EXPECT_EQ(ComputeStatistic(Statistic::kRate, points, TimedValue{0, 10}), 3.0);
}

TEST(Rate, ResetAfterPreviousPointCountsNewValue) {
  // 50 before the period, 20 in it: the counter restarted, so it rose by 20 in 10 s.
  std::vector<TimedValue> points = {{10000, 20}};
  EXPECT_EQ(ComputeStatistic(Statistic::kRate, points, TimedValue{0, 50}), 2.0);
}

TEST(Rate, PreviousAloneIsMissing) {
  EXPECT_EQ(ComputeStatistic(Statistic::kRate, {}, TimedValue{0, 50}), std::nullopt);
}

TEST(Rate, PointsAtTheSameTimeAreMissing) {
  std::vector<TimedValue> points = {{5000, 1}, {5000, 2}};
  EXPECT_EQ(ComputeStatistic(Statistic::kRate, points), std::nullopt);
}

TEST(Statistic, PreviousDoesNotChangeOtherStatistics) {
  std::vector<TimedValue> points = {{1000, 4}, {2000, 6}};
  EXPECT_EQ(ComputeStatistic(Statistic::kAvg, points, TimedValue{0, 100}), 5.0);
  EXPECT_EQ(ComputeStatistic(Statistic::kCount, points, TimedValue{0, 100}), 2.0);
}

struct AggregateCase {
  std::string name;
  Aggregate agg;
  std::vector<double> values;
  std::optional<double> expected;
};

class AggregateTable : public ::testing::TestWithParam<AggregateCase> {};

TEST_P(AggregateTable, ComputesExactValue) {
  const AggregateCase& c = GetParam();
  EXPECT_EQ(ComputeAggregate(c.agg, c.values), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Aggregates, AggregateTable,
    ::testing::Values(AggregateCase{"Sum", Aggregate::kSum, {3, 1, 2}, 6},
                      AggregateCase{"Avg", Aggregate::kAvg, {3, 1, 2}, 2},
                      AggregateCase{"Min", Aggregate::kMin, {3, 1, 2}, 1},
                      AggregateCase{"Max", Aggregate::kMax, {3, 1, 2}, 3},
                      AggregateCase{"Count", Aggregate::kCount, {3, 1, 2}, 3},
                      AggregateCase{"NoneOfOne", Aggregate::kNone, {4}, 4},
                      AggregateCase{"NoneOfTwoIsMissing", Aggregate::kNone, {1, 2}, std::nullopt},
                      AggregateCase{"EmptySum", Aggregate::kSum, {}, std::nullopt},
                      AggregateCase{"EmptyAvg", Aggregate::kAvg, {}, std::nullopt},
                      AggregateCase{"EmptyMin", Aggregate::kMin, {}, std::nullopt},
                      AggregateCase{"EmptyMax", Aggregate::kMax, {}, std::nullopt},
                      AggregateCase{"EmptyNone", Aggregate::kNone, {}, std::nullopt},
                      AggregateCase{"EmptyCountIsZero", Aggregate::kCount, {}, 0}),
    [](const ::testing::TestParamInfo<AggregateCase>& info) { return info.param.name; });

// The running accumulator gives what ComputeStatistic gives over the same points, for every
// statistic, whether the points arrive in order or not, added one by one or merged from parts.
TEST(StatAccumulator, EqualsComputeStatisticForEveryStatistic) {
  const std::vector<std::vector<TimedValue>> inputs = {
      {{0, 5}},
      {{0, 1}, {1000, 2}, {2000, 3}, {3000, 4}},
      {{3000, 40}, {0, 10}, {2000, 5}, {1000, 20}},  // out of order, with a counter reset
      {{0, -3.5}, {500, 7.25}, {1000, 7.25}, {1500, 0}, {2000, 100}, {2500, 1e9}},
  };
  const std::optional<TimedValue> previous = TimedValue{-1000, 2};
  for (Statistic stat : {Statistic::kAvg, Statistic::kSum, Statistic::kMin, Statistic::kMax,
                         Statistic::kCount, Statistic::kP50, Statistic::kP90, Statistic::kP95,
                         Statistic::kP99, Statistic::kRate}) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::vector<TimedValue> sorted = inputs[i];
      std::stable_sort(sorted.begin(), sorted.end(), [](const TimedValue& a, const TimedValue& b) {
        return a.timestamp_ms < b.timestamp_ms;
      });
      StatAccumulator one(stat), left(stat), right(stat);
      for (size_t k = 0; k < inputs[i].size(); ++k) {
        one.Add(inputs[i][k]);
        (k % 2 == 0 ? left : right).Add(inputs[i][k]);
      }
      left.Merge(right);
      std::optional<double> want = ComputeStatistic(stat, sorted, previous);
      EXPECT_EQ(one.Value(previous), want) << StatisticName(stat) << " input " << i;
      EXPECT_EQ(left.Value(previous), want) << StatisticName(stat) << " merged input " << i;
      if (stat == Statistic::kRate) {
        ASSERT_TRUE(one.Last().has_value());
        EXPECT_EQ(one.Last()->timestamp_ms, sorted.back().timestamp_ms);
        EXPECT_EQ(one.Last()->value, sorted.back().value);
      } else {
        EXPECT_FALSE(one.Last().has_value());
      }
    }
  }
  StatAccumulator empty(Statistic::kAvg);
  EXPECT_TRUE(empty.empty());
  EXPECT_FALSE(empty.Value().has_value());
}

}  // namespace
}  // namespace vigil::alerting
