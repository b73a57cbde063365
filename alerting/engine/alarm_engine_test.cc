#include "alerting/engine/alarm_engine.h"

#include "absl/strings/match.h"
#include "alerting/engine/rule_test_runner.h"
#include "alerting/rules/loader.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/alerting/engine/testdata";

std::shared_ptr<const RuleSet> Rules(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const RuleSet>> rs = ParseRuleSet({{"t.yaml", yaml}});
  EXPECT_TRUE(rs.ok()) << rs.status();
  return rs.ok() ? *rs : nullptr;
}

constexpr char kCpuRule[] = R"(rules:
  - name: cpu
    metric: system.cpu.utilization
    group_by: [host]
    period: 60s
    evaluation_periods: 2
    comparison: ">"
    threshold: 70
    retire_after: 5m
)";

SeriesKey Cpu(const std::string& host) { return {"system.cpu.utilization", {{"host", host}}}; }

TEST(AlarmEngine, RuleTestFileCoversGroupsMathFleetAndComposites) {
  absl::StatusOr<RuleTestResult> r = RunRuleTestFile(kTestData + "/engine_test.yaml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tests, 5);
  for (const std::string& f : r->failures) ADD_FAILURE() << f;
}

TEST(AlarmEngine, TransitionReasonNamesTheDatapoints) {
  AlarmEngine engine(Rules(kCpuRule), {true});
  engine.Observe(Cpu("a"), 0, 80);
  engine.Observe(Cpu("a"), 60000, 90);
  std::vector<Transition> t = engine.AdvanceTo(120000);
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t.back().to, AlarmState::kAlarm);
  EXPECT_EQ(t.back().at_ms, 120000);
  EXPECT_EQ(t.back().instance, "{host=\"a\"}");
  EXPECT_TRUE(absl::StrContains(t.back().reason, "80")) << t.back().reason;
  EXPECT_TRUE(absl::StrContains(t.back().reason, "90")) << t.back().reason;
  ASSERT_EQ(t.back().datapoints.size(), 2u);
}

TEST(AlarmEngine, UnrelatedMetricsCreateNoInstances) {
  AlarmEngine engine(Rules(kCpuRule), {true});
  engine.Observe({"system.load.1", {{"host", "a"}}}, 0, 99);
  engine.AdvanceTo(600000);
  EXPECT_TRUE(engine.Alarms().empty());
}

TEST(AlarmEngine, LatePointsForEvaluatedPeriodsAreCountedNotUsed) {
  AlarmEngine engine(Rules(kCpuRule), {true});
  engine.Observe(Cpu("a"), 0, 10);
  engine.AdvanceTo(180000);
  engine.Observe(Cpu("a"), 30000, 99);
  EXPECT_EQ(engine.late_points(), 1u);
}

TEST(AlarmEngine, InstanceWithoutDataIsRetiredAndRecorded) {
  AlarmEngine engine(Rules(kCpuRule), {true});
  engine.Observe(Cpu("a"), 0, 10);
  std::vector<Transition> t = engine.AdvanceTo(10 * 60000);
  ASSERT_FALSE(t.empty());
  EXPECT_TRUE(absl::StartsWith(t.back().reason, "Retired: no data since 1970-01-01T00:00:00Z"))
      << t.back().reason;
  EXPECT_TRUE(engine.Alarms().empty());
}

// A series whose instance was retired comes back: its datapoints go to a new instance (the
// engine's per-series shortcut to the old one is not used), which starts from nothing.
TEST(AlarmEngine, SeriesReturningAfterRetirementStartsANewInstance) {
  AlarmEngine engine(Rules(kCpuRule), {true});
  engine.Observe(Cpu("a"), 0, 90);
  engine.Observe(Cpu("a"), 60000, 90);
  ASSERT_EQ(engine.AdvanceTo(120000).back().to, AlarmState::kAlarm);
  std::vector<Transition> t = engine.AdvanceTo(20 * 60000);
  ASSERT_FALSE(t.empty());
  EXPECT_TRUE(absl::StartsWith(t.back().reason, "Retired")) << t.back().reason;
  ASSERT_TRUE(engine.Alarms().empty());

  engine.Observe(Cpu("a"), 20 * 60000, 10);
  engine.Observe(Cpu("a"), 21 * 60000, 20);
  t = engine.AdvanceTo(22 * 60000);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].from, AlarmState::kInsufficientData);
  EXPECT_EQ(t[0].to, AlarmState::kOk);
  std::vector<AlarmView> alarms = engine.Alarms();
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].last_value, 20);
}

// Open periods survive a reload of an unchanged rule: points observed before the reload count
// in the period that closes after it, together with points observed after it.
TEST(AlarmEngine, OpenPeriodDataSurvivesAReloadOfAnUnchangedRule) {
  constexpr char kAvg[] = R"(rules:
  - name: cpu
    metric: system.cpu.utilization
    group_by: [host]
    period: 60s
    evaluation_periods: 1
    comparison: ">"
    threshold: 70
)";
  AlarmEngine engine(Rules(kAvg), {true});
  engine.Observe(Cpu("a"), 0, 100);
  engine.Observe(Cpu("b"), 0, 10);
  EXPECT_TRUE(engine.Reload(Rules(std::string(kAvg) + "    description: edited\n"), 1000).empty());
  engine.Observe(Cpu("a"), 30000, 60);  // avg(100, 60) = 80 > 70
  engine.Observe(Cpu("b"), 30000, 50);  // avg(10, 50) = 30
  std::vector<Transition> t = engine.AdvanceTo(60000);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].instance, "{host=\"a\"}");
  EXPECT_EQ(t[0].to, AlarmState::kAlarm);
  ASSERT_EQ(t[0].datapoints.size(), 1u);
  EXPECT_EQ(t[0].datapoints[0].value, 80);
  EXPECT_EQ(t[1].to, AlarmState::kOk);
}

TEST(AlarmEngine, ReloadKeepsUnchangedRulesAndRestartsChangedOnes) {
  const std::string two = std::string(kCpuRule) + R"(  - name: cpu2
    metric: system.cpu.utilization
    group_by: [host]
    period: 60s
    comparison: ">"
    threshold: 70
)";
  AlarmEngine engine(Rules(two), {true});
  engine.Observe(Cpu("a"), 0, 90);
  engine.Observe(Cpu("a"), 60000, 90);
  engine.AdvanceTo(120000);
  for (const AlarmView& v : engine.Alarms()) EXPECT_EQ(v.state, AlarmState::kAlarm) << v.rule;

  std::string changed = two;
  changed.replace(changed.rfind("threshold: 70"), 13, "threshold: 95");
  std::vector<Transition> t = engine.Reload(Rules(changed), 130000);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].rule, "cpu2");
  EXPECT_EQ(t[0].to, AlarmState::kInsufficientData);
  EXPECT_EQ(t[0].reason, "Rule changed; evaluation restarts from INSUFFICIENT_DATA");
  std::vector<AlarmView> alarms = engine.Alarms();
  ASSERT_EQ(alarms.size(), 1u);  // cpu kept its instance; cpu2 starts empty
  EXPECT_EQ(alarms[0].rule, "cpu");
  EXPECT_EQ(alarms[0].state, AlarmState::kAlarm);
}

TEST(AlarmEngine, RestoredStateDoesNotRefire) {
  std::shared_ptr<const RuleSet> rules = Rules(kCpuRule);
  AlarmEngine first(rules, {true});
  first.Observe(Cpu("a"), 0, 90);
  first.Observe(Cpu("a"), 60000, 90);
  ASSERT_EQ(first.AdvanceTo(120000).back().to, AlarmState::kAlarm);
  std::vector<AlarmRecord> saved = first.Snapshot();

  AlarmEngine second(rules, {true}, saved);
  second.Observe(Cpu("a"), 120000, 95);
  std::vector<Transition> t = second.AdvanceTo(180000);
  EXPECT_TRUE(t.empty()) << t.front().reason;  // still ALARM: nothing new to notify
  ASSERT_EQ(second.Alarms().size(), 1u);
  EXPECT_EQ(second.Alarms()[0].state, AlarmState::kAlarm);
  EXPECT_EQ(second.Alarms()[0].state_since_ms, 120000);
}

TEST(AlarmEngine, PeriodsEncodeAndDecode) {
  std::vector<PeriodValue> p = {{0, 1.5}, {60000, std::nullopt}, {120000, -0.1}};
  std::vector<PeriodValue> back = DecodePeriods(EncodePeriods(p));
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].value, 1.5);
  EXPECT_FALSE(back[1].value.has_value());
  EXPECT_EQ(back[2].start_ms, 120000);
  EXPECT_EQ(back[2].value, -0.1);
}

TEST(RuleTestRunner, ExpandsTheValuesNotation) {
  absl::StatusOr<std::vector<std::optional<double>>> v = ExpandValues("50 75 _ 10x3 _x2");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 8u);
  EXPECT_EQ((*v)[0], 50);
  EXPECT_FALSE((*v)[2].has_value());
  EXPECT_EQ((*v)[5], 10);
  EXPECT_FALSE((*v)[7].has_value());
  EXPECT_EQ(ExpandValues("5 abc").status().message(),
            "bad value 'abc' (a number, _ for no sample, or VxN)");
}

}  // namespace
}  // namespace vigil::alerting

namespace vigil::alerting {
namespace {

TEST(AlarmEngine, NextDueIsThePeriodEndPlusTheDelay) {
  AlarmEngine engine(Rules(kCpuRule), {false});  // evaluation_delay: default 10s
  EXPECT_FALSE(engine.NextDueMs().has_value());
  engine.Observe(Cpu("a"), 61000, 50);
  ASSERT_TRUE(engine.NextDueMs().has_value());
  EXPECT_EQ(*engine.NextDueMs(), 120000 + 10000);
  EXPECT_TRUE(engine.AdvanceTo(129999).empty());
  EXPECT_EQ(*engine.NextDueMs(), 130000);
  engine.AdvanceTo(130000);
  EXPECT_EQ(*engine.NextDueMs(), 190000);
}

}  // namespace
}  // namespace vigil::alerting
