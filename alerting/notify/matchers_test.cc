// Matchers, alert labels, fingerprints, annotations, routing and maintenance windows.

#include "alerting/notify/matchers.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "alerting/notify/alert_labels.h"
#include "alerting/notify/config.h"
#include "alerting/notify/maintenance.h"
#include "alerting/notify/notify_test_util.h"
#include "alerting/notify/route.h"
#include "alerting/rules/loader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

LabelMatcher Must(const std::string& text) {
  absl::StatusOr<LabelMatcher> m = ParseAlertMatcher(text);
  EXPECT_TRUE(m.ok()) << text << ": " << m.status();
  return m.ok() ? *m : LabelMatcher();
}

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<LabelMatcher> m = ParseAlertMatcher(text);
  EXPECT_FALSE(m.ok()) << "'" << text << "' unexpectedly parsed";
  return m.ok() ? "" : std::string(m.status().message());
}

TEST(AlertMatcher, ParsesQuotedBareAndEveryOperator) {
  LabelMatcher eq = Must("severity=\"critical\"");
  EXPECT_EQ(eq.name, "severity");
  EXPECT_EQ(eq.op, LabelMatcher::Op::kEqual);
  EXPECT_EQ(eq.value, "critical");
  LabelMatcher ne = Must(" role != test ");
  EXPECT_EQ(ne.op, LabelMatcher::Op::kNotEqual);
  EXPECT_EQ(ne.value, "test");
  EXPECT_EQ(Must("env=~\"prod|staging\"").op, LabelMatcher::Op::kRegex);
  EXPECT_EQ(Must("host!~db-.*").op, LabelMatcher::Op::kNotRegex);
  EXPECT_EQ(Must("msg=\"a \\\"b\\\" \\\\ c\"").value, "a \"b\" \\ c");
  EXPECT_EQ(Must("team=").value, "");
}

TEST(AlertMatcher, RegexIsFullyAnchoredAndAbsentLabelIsEmpty) {
  Labels labels = {{"env", "production"}, {"severity", "critical"}};
  EXPECT_FALSE(MatchesLabels(Must("env=~\"prod\""), labels));
  EXPECT_TRUE(MatchesLabels(Must("env=~\"prod.*\""), labels));
  EXPECT_TRUE(MatchesLabels(Must("role!=\"test\""), labels));
  EXPECT_TRUE(MatchesLabels(Must("role=\"\""), labels));
  EXPECT_FALSE(MatchesLabels(Must("role=~\".+\""), labels));
  EXPECT_TRUE(MatchesAll({}, labels));
  EXPECT_FALSE(MatchesAll({Must("severity=critical"), Must("env=staging")}, labels));
}

TEST(AlertMatcher, MalformedAndTruncatedInputNamesTheProblem) {
  EXPECT_THAT(ErrorOf(""), HasSubstr("empty matcher"));
  EXPECT_THAT(ErrorOf("severity"), HasSubstr("expected one of =, !=, =~, !~ after 'severity'"));
  EXPECT_THAT(ErrorOf("severity~critical"), HasSubstr("at offset 8"));
  EXPECT_THAT(ErrorOf("9x=\"a\""), HasSubstr("expected a label name at offset 0"));
  EXPECT_THAT(ErrorOf("env=~\"prod"), HasSubstr("unterminated quoted value at offset 5"));
  EXPECT_THAT(ErrorOf("env=\"a\\"), HasSubstr("unterminated"));
  EXPECT_THAT(ErrorOf("env=\"a\\q\""), HasSubstr("unknown escape '\\q'"));
  EXPECT_THAT(ErrorOf("env=\"a\" b"), HasSubstr("unexpected 'b' after the value"));
  EXPECT_THAT(ErrorOf("env=a\"b"), HasSubstr("quote the value"));
  EXPECT_THAT(ErrorOf("env=~\"(prod\""), HasSubstr("bad regex for label 'env'"));
}

TEST(AlertMatcher, FormatsCanonically) {
  EXPECT_EQ(FormatMatcher(Must("env =~ prod|dev")), "env=~\"prod|dev\"");
  EXPECT_EQ(FormatLabels({}), "{}");
  EXPECT_EQ(FormatLabels({{"a", "x\"y"}, {"b", "2"}}), "{a=\"x\\\"y\",b=\"2\"}");
}

std::shared_ptr<const RuleSet> Rules(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const RuleSet>> set = ParseRuleSet({{"rules.yaml", yaml}});
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *set : std::make_shared<const RuleSet>();
}

TEST(AlertLabels, CombineWhereInstanceRuleLabelsSeverityAndName) {
  auto rules = Rules(R"(
rules:
  - name: db-cpu-high
    metric: system.cpu.utilization
    where: {role: db, env: prod, host: {regex: "db-.*"}}
    group_by: [host]
    threshold: 70
    severity: critical
    labels: {team: dba, env: production}
)");
  ASSERT_EQ(rules->rules.size(), 1u);
  Labels labels = AlertLabels(rules->rules[0], {{"host", "db-1"}});
  EXPECT_THAT(labels,
              ElementsAre(Pair("alertname", "db-cpu-high"), Pair("env", "production"),
                          Pair("host", "db-1"), Pair("role", "db"), Pair("rule", "db-cpu-high"),
                          Pair("severity", "critical"), Pair("team", "dba")));
}

TEST(AlertLabels, FingerprintIsSixteenHexOfSha256AndStable) {
  EXPECT_EQ(Fingerprint({{"alertname", "x"}}), "3b8e482a925ccc38");
  EXPECT_NE(Fingerprint({{"alertname", "x"}, {"host", "a"}}),
            Fingerprint({{"alertname", "x"}, {"host", "b"}}));
}

TEST(AlertLabels, AnnotationsReplaceLabelPlaceholders) {
  Labels labels = {{"host", "db-1"}, {"role", "db"}};
  EXPECT_EQ(RenderAnnotation("CPU high on {{host}} ({{ role }}), {{missing}}!", labels),
            "CPU high on db-1 (db), !");
  EXPECT_EQ(RenderAnnotation("keep {{not a name}} and {{open", labels),
            "keep {{not a name}} and {{open");
}

TEST(AlertLabels, AlarmUrlEncodesRuleAndInstance) {
  EXPECT_EQ(AlarmUrl("http://vigil.example.com:9090/", "db-cpu-high", "{host=\"db-1\"}"),
            "http://vigil.example.com:9090/#/alarms/db-cpu-high?instance=%7Bhost%3D%22db-1%22%7D");
  EXPECT_EQ(AlarmUrl("http://v", "r", "{}"), "http://v/#/alarms/r");
  EXPECT_EQ(AlarmUrl("", "r", "{}"), "");
}

// Routing: a tree as an on-call engineer writes it, and where alerts land.
class RoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto recorders = std::make_shared<testing::Recorders>();
    absl::StatusOr<std::shared_ptr<const AlertingConfig>> c =
        ParseAlertingConfig(R"(
receivers:
  - {name: default}
  - {name: db-pager}
  - {name: db-team}
  - {name: web}
  - {name: audit}
route:
  receiver: default
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['rule=~"audit-.*"']
      receiver: audit
      continue: true
    - matchers: ['role="db"']
      receiver: db-team
      group_by: [alertname, host]
      routes:
        - matchers: ['severity="critical"', 'env=~"prod|staging"']
          receiver: db-pager
          group_wait: 10s
    - matchers: ['role="web"']
      receiver: web
      repeat_interval: 1h
    - matchers: ['role="web"']
      receiver: audit
)",
                            "alerting.yaml", testing::TestIntegrations(recorders));
    ASSERT_TRUE(c.ok()) << c.status();
    config_ = *c;
  }

  std::vector<std::string> ReceiversFor(const Labels& labels) {
    std::vector<std::string> out;
    for (const Route* r : MatchRoutes(*config_->route, labels)) out.push_back(r->receiver);
    return out;
  }

  std::shared_ptr<const AlertingConfig> config_;
};

TEST_F(RoutingTest, FirstMatchingChildDepthFirstOrDefault) {
  EXPECT_THAT(ReceiversFor({{"env", "prod"}, {"role", "db"}, {"severity", "critical"}}),
              ElementsAre("db-pager"));
  EXPECT_THAT(ReceiversFor({{"env", "dev"}, {"role", "db"}, {"severity", "critical"}}),
              ElementsAre("db-team"));
  EXPECT_THAT(ReceiversFor({{"role", "web"}}), ElementsAre("web"));  // not the second web route
  EXPECT_THAT(ReceiversFor({{"role", "cache"}}), ElementsAre("default"));
}

TEST_F(RoutingTest, ContinueAlsoTriesLaterSiblings) {
  EXPECT_THAT(ReceiversFor({{"role", "db"}, {"rule", "audit-login"}}),
              ElementsAre("audit", "db-team"));
  EXPECT_THAT(ReceiversFor({{"rule", "audit-login"}}), ElementsAre("audit"));
}

TEST_F(RoutingTest, ChildrenInheritUnlessSet) {
  const Route& root = *config_->route;
  const Route& db = root.routes[1];
  const Route& pager = db.routes[0];
  EXPECT_EQ(pager.group_wait, absl::Seconds(10));
  EXPECT_EQ(pager.group_interval, absl::Minutes(5));
  EXPECT_EQ(pager.repeat_interval, absl::Hours(4));
  EXPECT_THAT(pager.group_by, ElementsAre("alertname", "host"));
  EXPECT_EQ(root.routes[2].repeat_interval, absl::Hours(1));
  EXPECT_THAT(root.routes[2].group_by, ElementsAre("alertname"));
  EXPECT_EQ(root.routes[3].receiver, "audit");
}

TEST_F(RoutingTest, KeysAreAlertmanagerStyleAndUnique) {
  const Route& root = *config_->route;
  EXPECT_EQ(root.key, "{}");
  EXPECT_EQ(root.routes[1].key, "{}/{role=\"db\"}");
  EXPECT_EQ(root.routes[1].routes[0].key,
            "{}/{role=\"db\"}/{severity=\"critical\",env=~\"prod|staging\"}");
  EXPECT_EQ(root.routes[2].key, "{}/{role=\"web\"}");
  EXPECT_EQ(root.routes[3].key, "{}/{role=\"web\"}/3");
}

TEST(GroupLabels, PicksGroupByOrAll) {
  Route r;
  r.group_by = {"alertname", "host"};
  Labels labels = {{"alertname", "x"}, {"env", "prod"}, {"host", "h1"}};
  EXPECT_THAT(GroupLabels(r, labels), ElementsAre(Pair("alertname", "x"), Pair("host", "h1")));
  r.group_by = {"zone"};
  EXPECT_TRUE(GroupLabels(r, labels).empty());
  r.group_by_all = true;
  EXPECT_EQ(GroupLabels(r, labels), labels);
}

absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

TEST(MaintenanceWindow, WeeklyWindowCrossesMidnightInItsTimeZone) {
  MaintenanceWindow w;
  w.weekly = true;
  w.days = 1u << 1;  // Tuesday
  w.start_minute = 23 * 60;
  w.duration = absl::Hours(2);
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &w.time_zone));
  // 2026-12-01 is a Tuesday; Berlin is UTC+1 in December: 23:00 local = 22:00Z.
  EXPECT_FALSE(w.ActiveAt(At("2026-12-01T21:59:59Z")));
  EXPECT_TRUE(w.ActiveAt(At("2026-12-01T22:00:00Z")));
  EXPECT_TRUE(w.ActiveAt(At("2026-12-01T23:30:00Z")));  // Wednesday 00:30 local
  EXPECT_FALSE(w.ActiveAt(At("2026-12-02T00:00:00Z")));
  // Not on Wednesday evening, nor on the Tuesday before at the same UTC time shifted a day.
  EXPECT_FALSE(w.ActiveAt(At("2026-12-02T22:30:00Z")));
  EXPECT_TRUE(w.ActiveAt(At("2026-12-08T22:30:00Z")));
}

TEST(MaintenanceWindow, LongWeeklyWindowSpansSeveralDays) {
  MaintenanceWindow w;
  w.weekly = true;
  w.days = 1u << 5;  // Saturday 00:00 for 48h: the whole weekend, UTC
  w.duration = absl::Hours(48);
  EXPECT_TRUE(w.ActiveAt(At("2026-12-06T23:59:00Z")));   // Sunday
  EXPECT_FALSE(w.ActiveAt(At("2026-12-07T00:00:00Z")));  // Monday
  EXPECT_FALSE(w.ActiveAt(At("2026-12-04T23:59:00Z")));  // Friday
}

TEST(MaintenanceWindow, OneOffRangeIsHalfOpen) {
  MaintenanceWindow w;
  w.start = At("2026-12-01T02:00:00Z");
  w.end = At("2026-12-01T04:00:00Z");
  EXPECT_FALSE(w.ActiveAt(At("2026-12-01T01:59:59Z")));
  EXPECT_TRUE(w.ActiveAt(At("2026-12-01T02:00:00Z")));
  EXPECT_TRUE(w.ActiveAt(At("2026-12-01T03:59:59Z")));
  EXPECT_FALSE(w.ActiveAt(At("2026-12-01T04:00:00Z")));
}

TEST(MaintenanceWindow, WeekdayNames) {
  EXPECT_EQ(ParseWeekday("Mon"), 0);
  EXPECT_EQ(ParseWeekday("sunday"), 6);
  EXPECT_EQ(ParseWeekday("sun day"), -1);
}

}  // namespace
}  // namespace vigil::alerting
