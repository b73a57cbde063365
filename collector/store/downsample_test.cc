#include "collector/store/downsample.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::collector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Two buckets of 10 s: [0, 10000) holds 3 points, [20000, 30000) holds 2; [10000, 20000) is
// empty and yields no point.
const std::vector<DataPoint> kPoints = {
    {0, 4}, {3000, 1}, {9999, 7}, {20000, 10}, {29999, -2},
};

std::vector<DataPoint> DownsampleBy10s(Statistic stat) { return Downsample(kPoints, 10000, stat); }

TEST(Downsample, AvgOfEachBucket) {
  EXPECT_THAT(DownsampleBy10s(Statistic::kAvg), ElementsAre(DataPoint{0, 4}, DataPoint{20000, 4}));
}

TEST(Downsample, MinOfEachBucket) {
  EXPECT_THAT(DownsampleBy10s(Statistic::kMin), ElementsAre(DataPoint{0, 1}, DataPoint{20000, -2}));
}

TEST(Downsample, MaxOfEachBucket) {
  EXPECT_THAT(DownsampleBy10s(Statistic::kMax), ElementsAre(DataPoint{0, 7}, DataPoint{20000, 10}));
}

TEST(Downsample, SumOfEachBucket) {
  EXPECT_THAT(DownsampleBy10s(Statistic::kSum), ElementsAre(DataPoint{0, 12}, DataPoint{20000, 8}));
}

TEST(Downsample, CountOfEachBucket) {
  EXPECT_THAT(DownsampleBy10s(Statistic::kCount),
              ElementsAre(DataPoint{0, 3}, DataPoint{20000, 2}));
}

TEST(Downsample, LastOfEachBucket) {
  EXPECT_THAT(DownsampleBy10s(Statistic::kLast),
              ElementsAre(DataPoint{0, 7}, DataPoint{20000, -2}));
}

TEST(Downsample, BucketsAreAlignedToTheEpochNotToTheFirstPoint) {
  std::vector<DataPoint> points = {{61000, 1}, {119000, 2}, {121000, 3}};
  EXPECT_THAT(Downsample(points, 60000, Statistic::kSum),
              ElementsAre(DataPoint{60000, 3}, DataPoint{120000, 3}));
}

TEST(Downsample, NegativeTimestampsUseFloorBuckets) {
  // -1 belongs to [-10, 0), not to [0, 10) as truncating division would say.
  std::vector<DataPoint> points = {{-11, 1}, {-10, 2}, {-1, 3}, {0, 4}, {9, 5}};
  EXPECT_THAT(Downsample(points, 10, Statistic::kSum),
              ElementsAre(DataPoint{-20, 1}, DataPoint{-10, 5}, DataPoint{0, 9}));
}

TEST(Downsample, NonPositiveStepReturnsInputUnchanged) {
  EXPECT_EQ(Downsample(kPoints, 0, Statistic::kAvg), kPoints);
  EXPECT_EQ(Downsample(kPoints, -5, Statistic::kCount), kPoints);
}

TEST(Downsample, EmptyInputGivesEmptyOutput) {
  EXPECT_THAT(Downsample({}, 1000, Statistic::kAvg), IsEmpty());
}

TEST(ParseStatistic, AcceptsEveryName) {
  for (Statistic stat : {Statistic::kAvg, Statistic::kMin, Statistic::kMax, Statistic::kSum,
                         Statistic::kCount, Statistic::kLast}) {
    absl::StatusOr<Statistic> parsed = ParseStatistic(StatisticName(stat));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, stat);
  }
  EXPECT_EQ(*ParseStatistic("avg"), Statistic::kAvg);
  EXPECT_EQ(*ParseStatistic("last"), Statistic::kLast);
}

TEST(ParseStatistic, RejectsUnknownName) {
  absl::StatusOr<Statistic> parsed = ParseStatistic("median");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("unknown statistic 'median'"));
  EXPECT_FALSE(ParseStatistic("AVG").ok());
}

}  // namespace
}  // namespace vigil::collector
