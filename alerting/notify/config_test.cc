#include "alerting/notify/config.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "alerting/notify/notify_test_util.h"
#include "alerting/rules/loader.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<IntegrationFactory> Kinds() {
  return testing::TestIntegrations(std::make_shared<testing::Recorders>());
}

std::shared_ptr<const AlertingConfig> MustParse(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const AlertingConfig>> c =
      ParseAlertingConfig(yaml, "alerting.yaml", Kinds());
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : nullptr;
}

// Every problem of a rejected config, one per element.
std::vector<std::string> Problems(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const AlertingConfig>> c =
      ParseAlertingConfig(yaml, "alerting.yaml", Kinds());
  EXPECT_FALSE(c.ok()) << "config unexpectedly loaded";
  if (c.ok()) return {};
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(c.status().message(), '\n');
}

constexpr char kFull[] = R"(external_url: http://vigil.example.com:9090
templates: {subject: "[{{status}}] {{title}}"}
receivers:
  - name: oncall
    email:
      to: oncall@example.org
      from: Vigil <vigil@example.org>
      relays: [{host: 127.0.0.1, port: 2525, tls: none}]
    webhook:
      - {url: "http://127.0.0.1:9/hook", send_resolved: false}
      - {url: "http://127.0.0.1:9/other", format: vigil}
  - name: audit
    record: {name: audit}
route:
  receiver: oncall
  group_by: ['...']
  routes:
    - matchers: ['severity="critical"']
      receiver: audit
      continue: true
inhibit_rules:
  - {source_matchers: ['alertname="region-down"'], target_matchers: ['severity!="page"'], equal: [region]}
maintenance_windows:
  - {name: web-deploys, matchers: ['role="web"'], weekly: {days: [tue, thu], start: "02:00", duration: 1h, time_zone: Europe/Berlin}}
  - {name: db-migration, matchers: ['role="db"'], start: "2026-12-01T02:00:00Z", end: "2026-12-01T04:00:00Z"}
flapping: {max_transitions: 4, window: 30m}
delivery: {max_age: 2h, initial_backoff: 2s, max_backoff: 1m, workers: 3}
)";

TEST(AlertingConfig, FullExampleLoadsWithTheRealIntegrations) {
  auto c = MustParse(kFull);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->external_url, "http://vigil.example.com:9090");
  EXPECT_EQ(c->templates.subject, "[{{status}}] {{title}}");
  ASSERT_EQ(c->receivers.size(), 2u);
  const Receiver& oncall = c->receivers[0];
  ASSERT_EQ(oncall.integrations.size(), 3u);
  EXPECT_EQ(oncall.integrations[0].kind, "email");
  EXPECT_EQ(oncall.integrations[0].notifier->kind(), "email");
  EXPECT_TRUE(oncall.integrations[0].send_resolved);
  EXPECT_EQ(oncall.integrations[1].kind, "webhook");
  EXPECT_EQ(oncall.integrations[1].index, 1);
  EXPECT_FALSE(oncall.integrations[1].send_resolved);
  EXPECT_EQ(oncall.integrations[2].notifier->kind(), "webhook");
  EXPECT_EQ(c->FindIntegration("audit", 0)->notifier->kind(), "record");
  EXPECT_EQ(c->FindIntegration("audit", 1), nullptr);
  ASSERT_TRUE(c->route.has_value());
  EXPECT_TRUE(c->route->group_by_all);
  EXPECT_TRUE(c->route->routes[0].continue_matching);
  ASSERT_EQ(c->inhibit_rules.size(), 1u);
  EXPECT_THAT(c->inhibit_rules[0].equal, ElementsAre("region"));
  ASSERT_EQ(c->maintenance_windows.size(), 2u);
  EXPECT_TRUE(c->maintenance_windows[0].weekly);
  EXPECT_EQ(c->maintenance_windows[0].days, (1u << 1) | (1u << 3));
  EXPECT_EQ(c->maintenance_windows[0].start_minute, 120);
  EXPECT_EQ(c->maintenance_windows[0].time_zone_name, "Europe/Berlin");
  EXPECT_FALSE(c->maintenance_windows[1].weekly);
  EXPECT_EQ(c->flapping.max_transitions, 4);
  EXPECT_EQ(c->flapping.window, absl::Minutes(30));
  EXPECT_EQ(c->delivery.max_age, absl::Hours(2));
  EXPECT_EQ(c->delivery.initial_backoff, absl::Seconds(2));
  EXPECT_EQ(c->delivery.max_backoff, absl::Minutes(1));
  EXPECT_EQ(c->delivery.workers, 3);
}

TEST(AlertingConfig, TheDocumentedExampleLoads) {
  const std::string doc =
      vigil::testing::ReadFile(std::string(VIGIL_SOURCE_DIR) + "/docs/notifications.md");
  const size_t start = doc.find("```yaml\n");
  ASSERT_NE(start, std::string::npos);
  const size_t end = doc.find("```", start + 8);
  ASSERT_NE(end, std::string::npos);
  auto c = MustParse(doc.substr(start + 8, end - start - 8));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->receivers.size(), 3u);
  EXPECT_EQ(c->route->routes.size(), 3u);
  EXPECT_EQ(c->maintenance_windows.size(), 2u);
}

TEST(AlertingConfig, DefaultsOfAnEmptyConfig) {
  auto c = MustParse("");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->receivers.empty());
  EXPECT_FALSE(c->route.has_value());
  EXPECT_EQ(c->flapping.max_transitions, 6);
  EXPECT_EQ(c->flapping.window, absl::Hours(1));
  EXPECT_EQ(c->delivery.max_age, absl::Hours(24));
  EXPECT_EQ(c->delivery.workers, 2);
  EXPECT_EQ(c->RootGroupInterval(), absl::Minutes(5));
  EXPECT_EQ(c->RootRepeatInterval(), absl::Hours(4));
  EXPECT_FALSE(c->templates.subject.empty());  // the shipped templates
}

TEST(AlertingConfig, MissingOrEmptyFileMeansNothingIsSent) {
  vigil::testing::TempDir dir;
  absl::StatusOr<std::shared_ptr<const AlertingConfig>> missing =
      LoadAlertingConfig(dir.Join("absent.yaml"), Kinds());
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_TRUE((*missing)->receivers.empty());
  absl::StatusOr<std::shared_ptr<const AlertingConfig>> empty =
      LoadAlertingConfig(dir.Write("empty.yaml", ""), Kinds());
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ((*empty)->path, dir.Join("empty.yaml"));
}

TEST(AlertingConfig, EveryProblemIsReportedWithItsPosition) {
  EXPECT_THAT(Problems(R"(receivers:
  - {name: oncall}
  - {name: oncall}
  - {email: {}}
route:
  receiver: pager
  matchers: ['a="b"']
  group_interval: 0s
  routes:
    - {matchers: ['severity~"x"'], receiver: nobody, colour: red}
)"),
              ElementsAre("alerting.yaml:3:12: name: duplicate receiver name 'oncall'",
                          "alerting.yaml:4:5: name: required: every receiver has a name",
                          "alerting.yaml:4:13: to: is required: one address or a list",
                          "alerting.yaml:4:13: from: is required, e.g. 'Vigil <vigil@example.org>'",
                          "alerting.yaml:4:13: relays: is required: a list of SMTP relays, e.g. "
                          "[{host: smtp.example.org}]",
                          "alerting.yaml:6:13: receiver: unknown receiver 'pager' (not in "
                          "receivers:)",
                          "alerting.yaml:8:19: group_interval: must be at least 1ms",
                          "alerting.yaml:7:13: matchers: the root route matches every alert and "
                          "takes no matchers",
                          "alerting.yaml:10:46: receiver: unknown receiver 'nobody' (not in "
                          "receivers:)",
                          "alerting.yaml:10:19: matchers: matcher 'severity~\"x\"': expected one "
                          "of =, !=, =~, !~ after 'severity' at offset 8",
                          "alerting.yaml:10:54: unknown key 'colour'"));
}

TEST(AlertingConfig, RootRouteNeedsAReceiver) {
  EXPECT_THAT(Problems("route: {group_wait: 10s}\n"),
              ElementsAre("alerting.yaml:1:8: receiver: required: the root route must name a "
                          "receiver"));
}

TEST(AlertingConfig, IntegrationProblemsAndUnknownKeysArePositioned) {
  EXPECT_THAT(Problems(R"(receivers:
  - name: hooks
    webhook: {url: "ftp://x", send_resolved: maybe, colour: red}
    pager: {}
)"),
              ElementsAre(HasSubstr("alerting.yaml:3:46: send_resolved: expected true or false"),
                          HasSubstr("alerting.yaml:3:20: url: "),
                          "alerting.yaml:3:53: unknown key 'colour'",
                          "alerting.yaml:4:5: unknown key 'pager'"));
}

TEST(AlertingConfig, MaintenanceWindowProblems) {
  EXPECT_THAT(
      Problems(R"(maintenance_windows:
  - {name: a, weekly: {days: [tue, funday], start: "25:00", duration: 8d, time_zone: Mars/Olympus}}
  - {name: a, start: "yesterday", end: "2026-12-01T04:00:00Z"}
  - {name: b, start: "2026-12-01T04:00:00Z", end: "2026-12-01T02:00:00Z"}
  - {name: c, matchers: ['role="web"']}
)"),
      ElementsAre("alerting.yaml:2:36: days: unknown day 'funday' (mon, tue, ..., sun, or a range "
                  "mon-fri)",
                  "alerting.yaml:2:52: start: bad time of day '25:00': expected HH:MM",
                  "alerting.yaml:2:71: duration: must be at most 7d",
                  "alerting.yaml:2:86: time_zone: unknown time zone 'Mars/Olympus' (an IANA name "
                  "such as Europe/Berlin)",
                  "alerting.yaml:3:12: name: duplicate maintenance window name 'a'",
                  "alerting.yaml:3:22: start: bad time 'yesterday': expected RFC 3339 such as "
                  "2026-12-01T02:00:00Z",
                  "alerting.yaml:4:51: end: must be after start",
                  "alerting.yaml:5:5: maintenance window 'c': give either weekly: {...} or start: "
                  "and end: (RFC 3339)"));
}

TEST(AlertingConfig, WeeklyDayRangesWrapAroundTheWeek) {
  auto c = MustParse(R"(maintenance_windows:
  - {name: w, weekly: {days: [fri-mon], start: "22:00", duration: 1h}}
)");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->maintenance_windows[0].days, (1u << 4) | (1u << 5) | (1u << 6) | (1u << 0));
}

TEST(AlertingConfig, DurationsInhibitionAndDeliveryChecks) {
  EXPECT_THAT(
      Problems(R"(inhibit_rules:
  - {target_matchers: ['a=b'], equal: [Region]}
flapping: {max_transitions: -1, window: soon}
delivery: {initial_backoff: 10s, max_backoff: 1s, workers: 0}
group_by: [x]
)"),
      ElementsAre("alerting.yaml:2:40: equal: invalid label name 'Region' ([a-z_][a-z0-9_]*)",
                  "alerting.yaml:2:5: source_matchers: required",
                  "alerting.yaml:3:29: max_transitions: -1 is out of range [0, 1000000]",
                  "alerting.yaml:3:41: window: bad duration 'soon' (e.g. 10s, 1m30s)",
                  "alerting.yaml:4:60: workers: 0 is out of range [1, 64]",
                  "alerting.yaml:4:47: max_backoff: must be at least initial_backoff (10s)",
                  "alerting.yaml:5:1: unknown key 'group_by'"));
}

TEST(AlertingConfig, MalformedAndTruncatedYamlIsRejectedWithAPosition) {
  absl::StatusOr<std::shared_ptr<const AlertingConfig>> c =
      ParseAlertingConfig("receivers:\n  - {name: oncall\n", "alerting.yaml", Kinds());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("alerting.yaml:3:1: "));
  c = ParseAlertingConfig("receivers: [\n", "alerting.yaml", Kinds());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("alerting.yaml:"));
  EXPECT_THAT(Problems("- just\n- a list\n"), ElementsAre("alerting.yaml:1:1: expected a mapping"));
  EXPECT_THAT(Problems("receivers: oncall\n"),
              ElementsAre("alerting.yaml:1:12: receivers: expected a list of mappings"));
}

TEST(AlertingConfig, RuleActionsMustNameDefinedReceivers) {
  auto c = MustParse("receivers: [{name: oncall}]\n");
  absl::StatusOr<std::shared_ptr<const RuleSet>> rules = ParseRuleSet({{"rules/db.yaml", R"(
rules:
  - name: db-down
    metric: up
    threshold: 1
    comparison: "<"
    alarm_actions: [oncall, pager]
    ok_actions: [team]
)"}});
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_THAT(CheckRuleActions(**rules, *c),
              ElementsAre("rules/db.yaml:3:5: rule 'db-down': alarm_actions names receiver "
                          "'pager', which alerting.yaml does not define",
                          "rules/db.yaml:3:5: rule 'db-down': ok_actions names receiver 'team', "
                          "which alerting.yaml does not define"));
  auto ok = MustParse("receivers: [{name: oncall}, {name: pager}, {name: team}]\n");
  EXPECT_THAT(CheckRuleActions(**rules, *ok), IsEmpty());
}

}  // namespace
}  // namespace vigil::alerting
