#include "alerting/eval/window.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

constexpr int64_t kMinute = 60000;
constexpr int64_t k1201 = (12 * 60 + 1) * kMinute;  // 12:01 UTC on 1970-01-01

// Periods from a row written as in the AWS documentation's tables: "0" is a non-breaching
// datapoint (40.0), "X" a breaching one (90.0), "-" a missing one; one minute apart from 12:01.
std::vector<PeriodValue> Row(const std::string& row) {
  std::vector<PeriodValue> out;
  int64_t start = k1201;
  for (absl::string_view cell : absl::StrSplit(row, ' ', absl::SkipEmpty())) {
    PeriodValue p;
    p.start_ms = start;
    if (cell == "0") p.value = 40.0;
    if (cell == "X") p.value = 90.0;
    out.push_back(p);
    start += kMinute;
  }
  return out;
}

// Periods with the given values, nullopt for missing, one minute apart from 12:01.
std::vector<PeriodValue> Values(const std::vector<std::optional<double>>& values) {
  std::vector<PeriodValue> out;
  for (size_t i = 0; i < values.size(); ++i) {
    out.push_back({k1201 + static_cast<int64_t>(i) * kMinute, values[i]});
  }
  return out;
}

// "> 70" with N = 3, as in the AWS examples.
WindowParams Params(int m, MissingData treatment) {
  WindowParams p;
  p.evaluation_periods = 3;
  p.datapoints_to_alarm = m;
  p.comparison = Comparison::kGreaterThan;
  p.threshold = 70;
  p.treat_missing_data = treatment;
  p.period_ms = kMinute;
  return p;
}

constexpr AlarmState kAllStates[] = {AlarmState::kInsufficientData, AlarmState::kOk,
                                     AlarmState::kAlarm};

// One cell of the AWS documentation's example tables ("Configuring how CloudWatch alarms treat
// missing data", awsdocs/amazon-cloudwatch-user-guide doc_source/AlarmThatSendsEmail.md): the
// evaluation range of 5 periods, N = 3, M, the treatment, and the documented state (nullopt:
// "Retain current state").
struct AwsRow {
  std::string name;
  std::string row;
  int m;
  MissingData treatment;
  std::optional<AlarmState> expected;
};

class AwsMissingDataTable : public ::testing::TestWithParam<AwsRow> {};

TEST_P(AwsMissingDataTable, MatchesDocumentedState) {
  const AwsRow& r = GetParam();
  SCOPED_TRACE("row \"" + r.row + "\"");
  for (AlarmState current : kAllStates) {
    Decision d = Decide(Params(r.m, r.treatment), Row(r.row), current);
    EXPECT_EQ(d.state, r.expected.value_or(current))
        << "current " << StateName(current) << ": " << d.reason;
  }
}

constexpr MissingData kMissing = MissingData::kMissing;
constexpr MissingData kIgnore = MissingData::kIgnore;
constexpr MissingData kBreaching = MissingData::kBreaching;
constexpr MissingData kNotBreaching = MissingData::kNotBreaching;
constexpr AlarmState kOk = AlarmState::kOk;
constexpr AlarmState kAlarm = AlarmState::kAlarm;
constexpr AlarmState kInsufficient = AlarmState::kInsufficientData;
const std::optional<AlarmState> kRetain = std::nullopt;

INSTANTIATE_TEST_SUITE_P(
    ThreeOfThree, AwsMissingDataTable,
    ::testing::Values(
        // | 0 - X - X | 2 | OK | OK | OK | OK |
        AwsRow{"Row1_0_m_X_m_X_Missing", "0 - X - X", 3, kMissing, kOk},
        AwsRow{"Row1_0_m_X_m_X_Ignore", "0 - X - X", 3, kIgnore, kOk},
        AwsRow{"Row1_0_m_X_m_X_Breaching", "0 - X - X", 3, kBreaching, kOk},
        AwsRow{"Row1_0_m_X_m_X_NotBreaching", "0 - X - X", 3, kNotBreaching, kOk},
        // | 0 - - - - | 4 | OK | OK | OK | OK |
        AwsRow{"Row2_0_m_m_m_m_Missing", "0 - - - -", 3, kMissing, kOk},
        AwsRow{"Row2_0_m_m_m_m_Ignore", "0 - - - -", 3, kIgnore, kOk},
        AwsRow{"Row2_0_m_m_m_m_Breaching", "0 - - - -", 3, kBreaching, kOk},
        AwsRow{"Row2_0_m_m_m_m_NotBreaching", "0 - - - -", 3, kNotBreaching, kOk},
        // | - - - - - | 5 | Insufficient data | Retain current state | ALARM | OK |
        AwsRow{"Row3_m_m_m_m_m_Missing", "- - - - -", 3, kMissing, kInsufficient},
        AwsRow{"Row3_m_m_m_m_m_Ignore", "- - - - -", 3, kIgnore, kRetain},
        AwsRow{"Row3_m_m_m_m_m_Breaching", "- - - - -", 3, kBreaching, kAlarm},
        AwsRow{"Row3_m_m_m_m_m_NotBreaching", "- - - - -", 3, kNotBreaching, kOk},
        // | 0 X X - X | 1 | ALARM | ALARM | ALARM | ALARM |
        AwsRow{"Row4_0_X_X_m_X_Missing", "0 X X - X", 3, kMissing, kAlarm},
        AwsRow{"Row4_0_X_X_m_X_Ignore", "0 X X - X", 3, kIgnore, kAlarm},
        AwsRow{"Row4_0_X_X_m_X_Breaching", "0 X X - X", 3, kBreaching, kAlarm},
        AwsRow{"Row4_0_X_X_m_X_NotBreaching", "0 X X - X", 3, kNotBreaching, kAlarm},
        // | - - - - X | 4 | Insufficient data | Retain current state | ALARM | OK |
        AwsRow{"Row5_m_m_m_m_X_Missing", "- - - - X", 3, kMissing, kInsufficient},
        AwsRow{"Row5_m_m_m_m_X_Ignore", "- - - - X", 3, kIgnore, kRetain},
        AwsRow{"Row5_m_m_m_m_X_Breaching", "- - - - X", 3, kBreaching, kAlarm},
        AwsRow{"Row5_m_m_m_m_X_NotBreaching", "- - - - X", 3, kNotBreaching, kOk},
        // | X - - - - | 4 | ALARM | Retain current state | ALARM | OK |
        AwsRow{"Row6_X_m_m_m_m_Missing", "X - - - -", 3, kMissing, kAlarm},
        AwsRow{"Row6_X_m_m_m_m_Ignore", "X - - - -", 3, kIgnore, kRetain},
        AwsRow{"Row6_X_m_m_m_m_Breaching", "X - - - -", 3, kBreaching, kAlarm},
        AwsRow{"Row6_X_m_m_m_m_NotBreaching", "X - - - -", 3, kNotBreaching, kOk}),
    [](const ::testing::TestParamInfo<AwsRow>& info) { return info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    TwoOfThree, AwsMissingDataTable,
    ::testing::Values(
        // | 0 - X - X | 2 | ALARM | ALARM | ALARM | ALARM |
        AwsRow{"Row1_0_m_X_m_X_Missing", "0 - X - X", 2, kMissing, kAlarm},
        AwsRow{"Row1_0_m_X_m_X_Ignore", "0 - X - X", 2, kIgnore, kAlarm},
        AwsRow{"Row1_0_m_X_m_X_Breaching", "0 - X - X", 2, kBreaching, kAlarm},
        AwsRow{"Row1_0_m_X_m_X_NotBreaching", "0 - X - X", 2, kNotBreaching, kAlarm},
        // | 0 0 X 0 X | 0 | ALARM | ALARM | ALARM | ALARM |
        AwsRow{"Row2_0_0_X_0_X_Missing", "0 0 X 0 X", 2, kMissing, kAlarm},
        AwsRow{"Row2_0_0_X_0_X_Ignore", "0 0 X 0 X", 2, kIgnore, kAlarm},
        AwsRow{"Row2_0_0_X_0_X_Breaching", "0 0 X 0 X", 2, kBreaching, kAlarm},
        AwsRow{"Row2_0_0_X_0_X_NotBreaching", "0 0 X 0 X", 2, kNotBreaching, kAlarm},
        // | 0 - X - - | 3 | OK | OK | ALARM | OK |
        AwsRow{"Row3_0_m_X_m_m_Missing", "0 - X - -", 2, kMissing, kOk},
        AwsRow{"Row3_0_m_X_m_m_Ignore", "0 - X - -", 2, kIgnore, kOk},
        AwsRow{"Row3_0_m_X_m_m_Breaching", "0 - X - -", 2, kBreaching, kAlarm},
        AwsRow{"Row3_0_m_X_m_m_NotBreaching", "0 - X - -", 2, kNotBreaching, kOk},
        // | - - - - 0 | 4 | OK | OK | ALARM | OK |
        AwsRow{"Row4_m_m_m_m_0_Missing", "- - - - 0", 2, kMissing, kOk},
        AwsRow{"Row4_m_m_m_m_0_Ignore", "- - - - 0", 2, kIgnore, kOk},
        AwsRow{"Row4_m_m_m_m_0_Breaching", "- - - - 0", 2, kBreaching, kAlarm},
        AwsRow{"Row4_m_m_m_m_0_NotBreaching", "- - - - 0", 2, kNotBreaching, kOk},
        // | - - - - X | 4 | Insufficient data | Retain current state | ALARM | OK |
        AwsRow{"Row5_m_m_m_m_X_Missing", "- - - - X", 2, kMissing, kInsufficient},
        AwsRow{"Row5_m_m_m_m_X_Ignore", "- - - - X", 2, kIgnore, kRetain},
        AwsRow{"Row5_m_m_m_m_X_Breaching", "- - - - X", 2, kBreaching, kAlarm},
        AwsRow{"Row5_m_m_m_m_X_NotBreaching", "- - - - X", 2, kNotBreaching, kOk}),
    [](const ::testing::TestParamInfo<AwsRow>& info) { return info.param.name; });

TEST(EvaluationRange, IsNPlusTwo) {
  EXPECT_EQ(EvaluationRange(Params(3, kMissing)), 5);
  WindowParams one = Params(1, kMissing);
  one.evaluation_periods = 1;
  EXPECT_EQ(EvaluationRange(one), 3);
}

TEST(Decide, AllBreachingGivesAlarmWithExactReason) {
  std::vector<PeriodValue> recent = Values({82.1, 91.0, 77.4});
  Decision d = Decide(Params(3, kMissing), recent, kOk);
  EXPECT_EQ(d.state, kAlarm);
  EXPECT_EQ(d.reason,
            "Threshold crossed: 3 out of the last 3 datapoints [82.1 (12:01), 91.0 (12:02), "
            "77.4 (12:03)] were greater than the threshold (70.0).");
  ASSERT_EQ(d.datapoints.size(), 3u);
  EXPECT_EQ(d.datapoints[0].start_ms, k1201);
  EXPECT_EQ(d.datapoints[2].value, 77.4);
}

TEST(Decide, OneOfThreeBreachingGivesOkWithExactReason) {
  Decision d = Decide(Params(3, kMissing), Values({82.1, 40.0, 41.5}), kAlarm);
  EXPECT_EQ(d.state, kOk);
  EXPECT_EQ(d.reason,
            "Threshold not crossed: 1 out of the last 3 datapoints [82.1 (12:01), 40.0 (12:02), "
            "41.5 (12:03)] was greater than the threshold (70.0) (minimum 3 datapoints for "
            "ALARM).");
}

TEST(Decide, MOfNCountsNonConsecutiveBreaches) {
  Decision d = Decide(Params(2, kMissing), Values({90, 40, 95}), kOk);
  EXPECT_EQ(d.state, kAlarm);
  EXPECT_EQ(d.reason,
            "Threshold crossed: 2 out of the last 3 datapoints [90.0 (12:01), 40.0 (12:02), "
            "95.0 (12:03)] were greater than the threshold (70.0).");
}

TEST(Decide, MOfNBelowMGivesOk) {
  Decision d = Decide(Params(2, kMissing), Values({90, 40, 45}), kAlarm);
  EXPECT_EQ(d.state, kOk);
}

TEST(Decide, UsesTheNMostRecentRealDatapoints) {
  // Five real periods: only the last three count.
  Decision d = Decide(Params(3, kMissing), Values({40, 40, 90, 91, 92}), kOk);
  EXPECT_EQ(d.state, kAlarm);
  ASSERT_EQ(d.datapoints.size(), 3u);
  EXPECT_EQ(d.datapoints[0].value, 90.0);
}

TEST(Decide, PeriodsOlderThanTheRangeAreNotConsidered) {
  // "The next time this alarm is evaluated, if the data is still missing it will go to ALARM,
  // as that non-breaching data point will no longer be among the 5 most recent".
  Decision still = Decide(Params(3, kBreaching), Row("0 - - - -"), kOk);
  EXPECT_EQ(still.state, kOk);
  Decision next = Decide(Params(3, kBreaching), Row("0 - - - - -"), kOk);
  EXPECT_EQ(next.state, kAlarm);
  EXPECT_EQ(next.reason,
            "Threshold crossed: 3 out of the last 3 datapoints [- (12:04, missing, treated as "
            "breaching), - (12:05, missing, treated as breaching), - (12:06, missing, treated as "
            "breaching)] were greater than the threshold (70.0).");
}

TEST(Decide, FewerPeriodsThanNAtStartWithMissingIsInsufficientData) {
  // The instance has seen one breaching period: the earlier ones count as missing.
  Decision d = Decide(Params(3, kMissing), Values({90}), kInsufficient);
  EXPECT_EQ(d.state, kInsufficient);
  EXPECT_EQ(d.reason,
            "Insufficient Data: 2 out of the last 3 datapoints [- (11:59, missing), - (12:00, "
            "missing), 90.0 (12:01)] were unknown.");
}

TEST(Decide, FewerPeriodsThanNAtStartWithinThresholdIsOk) {
  Decision d = Decide(Params(3, kMissing), Values({40}), kInsufficient);
  EXPECT_EQ(d.state, kOk);
  EXPECT_EQ(d.reason,
            "Threshold not crossed: 0 out of the last 3 datapoints [- (11:59, missing), - (12:00, "
            "missing), 40.0 (12:01)] were greater than the threshold (70.0) (minimum 3 datapoints "
            "for ALARM).");
}

TEST(Decide, FewerPeriodsThanNAtStartFilledAsBreachingRaiseAlarm) {
  Decision d = Decide(Params(3, kBreaching), Values({90}), kInsufficient);
  EXPECT_EQ(d.state, kAlarm);
  EXPECT_EQ(d.reason,
            "Threshold crossed: 3 out of the last 3 datapoints [- (11:59, missing, treated as "
            "breaching), - (12:00, missing, treated as breaching), 90.0 (12:01)] were greater "
            "than the threshold (70.0).");
  ASSERT_EQ(d.datapoints.size(), 3u);
  EXPECT_EQ(d.datapoints[0].start_ms, k1201 - 2 * kMinute);
  EXPECT_EQ(d.datapoints[0].value, std::nullopt);
}

TEST(Decide, NoPeriodYetIsInsufficientData) {
  Decision d = Decide(Params(3, kBreaching), {}, kInsufficient);
  EXPECT_EQ(d.state, kInsufficient);
  EXPECT_EQ(d.reason, "Insufficient Data: no period has closed yet.");
}

TEST(Decide, AllMissingIsInsufficientDataWithExactReason) {
  Decision d = Decide(Params(3, kMissing), Row("- - - - -"), kAlarm);
  EXPECT_EQ(d.state, kInsufficient);
  EXPECT_EQ(d.reason, "Insufficient Data: 5 datapoints were unknown.");
  EXPECT_TRUE(d.datapoints.empty());
}

TEST(Decide, AllMissingFilledAsNotBreachingIsOk) {
  Decision d = Decide(Params(3, kNotBreaching), Row("- - - - -"), kAlarm);
  EXPECT_EQ(d.state, kOk);
  EXPECT_EQ(d.reason,
            "Threshold not crossed: 0 out of the last 3 datapoints [- (12:03, missing, treated as "
            "not breaching), - (12:04, missing, treated as not breaching), - (12:05, missing, "
            "treated as not breaching)] were greater than the threshold (70.0) (minimum 3 "
            "datapoints for ALARM).");
}

TEST(Decide, IgnoreKeepsEachStateWhenAllMissing) {
  for (AlarmState current : kAllStates) {
    Decision d = Decide(Params(3, kIgnore), Row("- - - - -"), current);
    EXPECT_EQ(d.state, current);
    EXPECT_EQ(d.reason, std::string("Missing data ignored: 5 datapoints were unknown; the state "
                                    "stays ") +
                            std::string(StateName(current)) + ".");
  }
}

TEST(Decide, IgnoreKeepsEachStateWhenOnlyBreachingDataIsTooFew) {
  for (AlarmState current : kAllStates) {
    Decision d = Decide(Params(3, kIgnore), Row("- - - - X"), current);
    EXPECT_EQ(d.state, current);
  }
  Decision d = Decide(Params(3, kIgnore), Row("- - - - X"), kOk);
  EXPECT_EQ(d.reason,
            "Missing data ignored: 2 out of the last 3 datapoints [- (12:03, missing), - (12:04, "
            "missing), 90.0 (12:05)] were unknown; the state stays OK.");
}

TEST(Decide, MissingAfterBreachingDataKeepsAlarmWithExactReason) {
  // The table's "X - - - -" row with `missing`.
  Decision d = Decide(Params(3, kMissing), Row("X - - - -"), kOk);
  EXPECT_EQ(d.state, kAlarm);
  EXPECT_EQ(d.reason,
            "Threshold crossed: 1 out of the last 3 datapoints [90.0 (12:01), - (12:04, missing), "
            "- (12:05, missing)] was greater than the threshold (70.0); missing datapoints are "
            "not considered and none was within the threshold.");
}

TEST(Decide, FilledAsNotBreachingShowsTheFill) {
  Decision d = Decide(Params(3, kNotBreaching), Row("0 - - - -"), kAlarm);
  EXPECT_EQ(d.state, kOk);
  EXPECT_EQ(d.reason,
            "Threshold not crossed: 0 out of the last 3 datapoints [40.0 (12:01), - (12:04, "
            "missing, treated as not breaching), - (12:05, missing, treated as not breaching)] "
            "were greater than the threshold (70.0) (minimum 3 datapoints for ALARM).");
}

TEST(Decide, FillsTheMostRecentMissingPeriods) {
  // "0 - X - -" with 2 of 3: the fill is the newest missing period (12:05), not 12:02.
  Decision d = Decide(Params(2, kBreaching), Row("0 - X - -"), kOk);
  EXPECT_EQ(d.state, kAlarm);
  EXPECT_EQ(d.reason,
            "Threshold crossed: 2 out of the last 3 datapoints [40.0 (12:01), 90.0 (12:03), "
            "- (12:05, missing, treated as breaching)] were greater than the threshold (70.0).");
}

TEST(Decide, RealBreachesReachingMGiveAlarmWithFewerThanNUnderMissingAndIgnore) {
  // 2 of 3 with two real datapoints, both breaching: no fill is needed to decide.
  for (MissingData t : {kMissing, kIgnore}) {
    Decision d = Decide(Params(2, t), Row("X - X - -"), kOk);
    EXPECT_EQ(d.state, kAlarm);
    EXPECT_EQ(d.reason,
              "Threshold crossed: 2 out of the last 3 datapoints [90.0 (12:01), 90.0 (12:03), "
              "- (12:05, missing)] were greater than the threshold (70.0).");
  }
}

TEST(Decide, NonBreachingRealDatapointGivesOkWithFewerThanNUnderIgnore) {
  Decision d = Decide(Params(3, kIgnore), Row("X - 0 - -"), kAlarm);
  EXPECT_EQ(d.state, kOk);
  EXPECT_EQ(d.reason,
            "Threshold not crossed: 1 out of the last 3 datapoints [90.0 (12:01), 40.0 (12:03), "
            "- (12:05, missing)] was greater than the threshold (70.0) (minimum 3 datapoints for "
            "ALARM).");
}

WindowParams Hysteresis() {
  WindowParams p = Params(3, kMissing);
  p.recovery_threshold = 60;
  return p;
}

TEST(Hysteresis, StaysAlarmBetweenThresholdAndRecovery) {
  Decision d = Decide(Hysteresis(), Values({65, 66, 64}), kAlarm);
  EXPECT_EQ(d.state, kAlarm);
  EXPECT_EQ(d.reason,
            "Threshold crossed: 3 out of the last 3 datapoints [65.0 (12:01), 66.0 (12:02), "
            "64.0 (12:03)] were greater than the recovery threshold (60.0).");
}

TEST(Hysteresis, GoesOkPastRecoveryThreshold) {
  Decision d = Decide(Hysteresis(), Values({65, 55, 66}), kAlarm);
  EXPECT_EQ(d.state, kOk);
  EXPECT_EQ(d.reason,
            "Threshold not crossed: 2 out of the last 3 datapoints [65.0 (12:01), 55.0 (12:02), "
            "66.0 (12:03)] were greater than the recovery threshold (60.0) (minimum 3 datapoints "
            "for ALARM).");
}

TEST(Hysteresis, ValueAtRecoveryThresholdRecovers) {
  // For ">", value <= recovery_threshold is on the OK side.
  Decision d = Decide(Hysteresis(), Values({65, 60, 66}), kAlarm);
  EXPECT_EQ(d.state, kOk);
}

TEST(Hysteresis, DoesNotApplyOutsideAlarm) {
  Decision d = Decide(Hysteresis(), Values({65, 66, 64}), kOk);
  EXPECT_EQ(d.state, kOk);
  EXPECT_EQ(d.reason,
            "Threshold not crossed: 0 out of the last 3 datapoints [65.0 (12:01), 66.0 (12:02), "
            "64.0 (12:03)] were greater than the threshold (70.0) (minimum 3 datapoints for "
            "ALARM).");
}

TEST(Hysteresis, LessThanRecoversAboveRecoveryThreshold) {
  WindowParams p = Params(1, kMissing);
  p.evaluation_periods = 1;
  p.comparison = Comparison::kLessThan;
  p.threshold = 10;
  p.recovery_threshold = 20;
  EXPECT_EQ(Decide(p, Values({15}), kAlarm).state, kAlarm);
  EXPECT_EQ(Decide(p, Values({20}), kAlarm).state, kOk);
  EXPECT_EQ(Decide(p, Values({15}), kOk).state, kOk);
}

TEST(Hysteresis, GreaterOrEqualRecoversBelowRecoveryThreshold) {
  WindowParams p = Params(1, kMissing);
  p.evaluation_periods = 1;
  p.comparison = Comparison::kGreaterThanOrEqual;
  p.recovery_threshold = 60;
  EXPECT_EQ(Decide(p, Values({60}), kAlarm).state, kAlarm);
  EXPECT_EQ(Decide(p, Values({59.5}), kAlarm).state, kOk);
}

TEST(Hysteresis, FilledPeriodsFollowTheirTreatment) {
  WindowParams p = Hysteresis();
  p.treat_missing_data = kBreaching;
  // Filled periods breach whatever the threshold in use: all filled stays ALARM; 50 (past the
  // recovery threshold) with two breaching fills is 2 of 3 breaching, so OK.
  Decision d = Decide(p, Row("- - - - -"), kAlarm);
  EXPECT_EQ(d.state, kAlarm);
  EXPECT_EQ(
      Decide(p, Values({50, std::nullopt, std::nullopt, std::nullopt, std::nullopt}), kAlarm).state,
      kOk);
}

struct BoundaryCase {
  std::string name;
  Comparison comparison;
  double value;
  AlarmState expected;
  std::string reason;
};

class ComparisonBoundary : public ::testing::TestWithParam<BoundaryCase> {};

TEST_P(ComparisonBoundary, DecidesAtTheThreshold) {
  const BoundaryCase& c = GetParam();
  WindowParams p = Params(1, kMissing);
  p.evaluation_periods = 1;
  p.comparison = c.comparison;
  Decision d = Decide(p, Values({c.value}), kInsufficient);
  EXPECT_EQ(d.state, c.expected);
  EXPECT_EQ(d.reason, c.reason);
}

INSTANTIATE_TEST_SUITE_P(
    Comparisons, ComparisonBoundary,
    ::testing::Values(
        BoundaryCase{"GreaterThanAtThresholdIsOk", Comparison::kGreaterThan, 70, kOk,
                     "Threshold not crossed: 0 out of the last 1 datapoints [70.0 (12:01)] were "
                     "greater than the threshold (70.0) (minimum 1 datapoint for ALARM)."},
        BoundaryCase{"GreaterThanAboveIsAlarm", Comparison::kGreaterThan, 70.5, kAlarm,
                     "Threshold crossed: 1 out of the last 1 datapoints [70.5 (12:01)] was "
                     "greater than the threshold (70.0)."},
        BoundaryCase{"GreaterOrEqualAtThresholdIsAlarm", Comparison::kGreaterThanOrEqual, 70,
                     kAlarm,
                     "Threshold crossed: 1 out of the last 1 datapoints [70.0 (12:01)] was "
                     "greater than or equal to the threshold (70.0)."},
        BoundaryCase{"GreaterOrEqualBelowIsOk", Comparison::kGreaterThanOrEqual, 69.5, kOk,
                     "Threshold not crossed: 0 out of the last 1 datapoints [69.5 (12:01)] were "
                     "greater than or equal to the threshold (70.0) (minimum 1 datapoint for "
                     "ALARM)."},
        BoundaryCase{"LessThanAtThresholdIsOk", Comparison::kLessThan, 70, kOk,
                     "Threshold not crossed: 0 out of the last 1 datapoints [70.0 (12:01)] were "
                     "less than the threshold (70.0) (minimum 1 datapoint for ALARM)."},
        BoundaryCase{"LessThanBelowIsAlarm", Comparison::kLessThan, 69.5, kAlarm,
                     "Threshold crossed: 1 out of the last 1 datapoints [69.5 (12:01)] was less "
                     "than the threshold (70.0)."},
        BoundaryCase{"LessOrEqualAtThresholdIsAlarm", Comparison::kLessThanOrEqual, 70, kAlarm,
                     "Threshold crossed: 1 out of the last 1 datapoints [70.0 (12:01)] was less "
                     "than or equal to the threshold (70.0)."},
        BoundaryCase{"LessOrEqualAboveIsOk", Comparison::kLessThanOrEqual, 70.5, kOk,
                     "Threshold not crossed: 0 out of the last 1 datapoints [70.5 (12:01)] were "
                     "less than or equal to the threshold (70.0) (minimum 1 datapoint for "
                     "ALARM)."}),
    [](const ::testing::TestParamInfo<BoundaryCase>& info) { return info.param.name; });

TEST(Reason, ShowsSecondsWhenThePeriodIsNotWholeMinutes) {
  WindowParams p = Params(1, kMissing);
  p.evaluation_periods = 1;
  p.period_ms = 30000;
  Decision d = Decide(p, {PeriodValue{k1201 + 30000, 90.0}}, kOk);
  EXPECT_EQ(d.reason,
            "Threshold crossed: 1 out of the last 1 datapoints [90.0 (12:01:30)] was greater than "
            "the threshold (70.0).");
}

TEST(Reason, TimesAreUtcTimeOfDayAcrossMidnightAndYears) {
  WindowParams p = Params(2, kMissing);
  p.evaluation_periods = 2;
  // 2026-11-22 23:59 and 2026-11-23 00:00 UTC (1795391940 s since the epoch is 23:59).
  const int64_t t2359 = int64_t{1795391940} * 1000;
  Decision d = Decide(p, {PeriodValue{t2359, 90.0}, PeriodValue{t2359 + kMinute, 95.5}}, kOk);
  EXPECT_EQ(d.reason,
            "Threshold crossed: 2 out of the last 2 datapoints [90.0 (23:59), 95.5 (00:00)] were "
            "greater than the threshold (70.0).");
  // Before the epoch: 1969-12-31 23:59:30.
  p.period_ms = 30000;
  d = Decide(p, {PeriodValue{-60000, 90.0}, PeriodValue{-30000, 91.0}}, kOk);
  EXPECT_EQ(d.reason,
            "Threshold crossed: 2 out of the last 2 datapoints [90.0 (23:59:00), 91.0 (23:59:30)] "
            "were greater than the threshold (70.0).");
}

TEST(FormatNumber, ShortestWithAtLeastOneDecimal) {
  EXPECT_EQ(FormatNumber(70), "70.0");
  EXPECT_EQ(FormatNumber(82.1), "82.1");
  EXPECT_EQ(FormatNumber(0.25), "0.25");
  EXPECT_EQ(FormatNumber(-3), "-3.0");
  EXPECT_EQ(FormatNumber(1e6), "1000000.0");
  EXPECT_EQ(FormatNumber(0.1 + 0.2), "0.30000000000000004");
}

}  // namespace
}  // namespace vigil::alerting

namespace vigil::alerting {
namespace {

TEST(Decide, WithoutExplainTheStateIsTheSameAndNothingIsExplained) {
  WindowParams p;
  p.evaluation_periods = 3;
  p.datapoints_to_alarm = 3;
  p.threshold = 70;
  const std::vector<PeriodValue> recent = {{0, 82.1}, {60000, 91.0}, {120000, 77.4}};
  Decision with = Decide(p, recent, AlarmState::kOk, /*explain=*/true);
  Decision without = Decide(p, recent, AlarmState::kOk, /*explain=*/false);
  EXPECT_EQ(with.state, AlarmState::kAlarm);
  EXPECT_EQ(without.state, AlarmState::kAlarm);
  EXPECT_FALSE(with.reason.empty());
  EXPECT_TRUE(without.reason.empty());
  EXPECT_EQ(with.datapoints.size(), 3u);
  EXPECT_TRUE(without.datapoints.empty());
}

}  // namespace
}  // namespace vigil::alerting
