// Crash safety (issue #6): the collector is killed with SIGKILL at random moments, 20 times,
// while scripted agents stream and alarms fire and resolve. Afterwards:
// - every datapoint the collector acknowledged to an agent is in its store;
// - the alarm history equals a fresh replay of the same data through the rule engine
//   (transitions re-decided after a restart from an older snapshot are the same transitions);
// - every ALARM transition was notified, by email and by webhook, exactly once per idempotency
//   key (Message-ID, Idempotency-Key): a notification is never lost, and a second delivery of
//   the same key - possible when the kill falls between a send and its record - is counted.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "alerting/engine/alarm_engine.h"
#include "alerting/notifiers/webhook/webhook_receiver.h"
#include "alerting/rules/loader.h"
#include "gtest/gtest.h"
#include "tests/scripted_agent.h"
#include "tests/smtp_sink.h"
#include "tests/stack.h"

namespace vigil::testing {
namespace {

using json = nlohmann::json;

constexpr int kKills = 20;
constexpr char kRule[] = R"(rules:
  - name: crash-high
    description: test.value above 50 on {{host}}
    metric: test.value
    group_by: [host]
    statistic: max
    period: 1s
    evaluation_periods: 2
    datapoints_to_alarm: 2
    comparison: ">"
    threshold: 50
    # Longer than a restart plus the agents' reconnect, so no datapoint is late for its period.
    evaluation_delay: 6s
    severity: critical
    alarm_actions: [oncall]
)";

// 80 for 3 s, then 20 for 3 s (shifted per host): an alarm fires and resolves every 6 s.
double Value(int64_t ts, int shift) { return ((ts / 3000 + shift) % 2 == 0) ? 80 : 20; }

struct Seen {
  std::string host;
  int64_t starts_at_ms;
  bool operator<(const Seen& o) const {
    return std::tie(host, starts_at_ms) < std::tie(o.host, o.starts_at_ms);
  }
  bool operator==(const Seen& o) const { return host == o.host && starts_at_ms == o.starts_at_ms; }
};

int64_t ParseRfc3339Ms(const std::string& s) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, s, &t, &err)) << s << ": " << err;
  return absl::ToUnixMillis(t);
}

TEST(CrashTest, KillNineTwentyTimesLosesAndDoublesNothing) {
  Stack stack;
  const std::string rules = stack.dir().Join("rules");
  ASSERT_EQ(mkdir(rules.c_str(), 0700), 0);
  WriteFile(rules + "/crash.yaml", kRule);
  stack.EnableRules(rules, "api-secret");
  SmtpSink smtp(stack.dir());
  smtp.Start();
  absl::StatusOr<std::unique_ptr<alerting::testing::WebhookReceiver>> hook =
      alerting::testing::WebhookReceiver::Start();
  ASSERT_TRUE(hook.ok()) << hook.status();
  WriteFile(
      stack.dir().Join("alerting.yaml"),
      absl::StrCat("receivers:\n  - name: oncall\n    email:\n      to: [oncall@example.org]\n"
                   "      from: vigil@example.org\n      relays: [{host: 127.0.0.1, port: ",
                   smtp.port(), ", tls: none}]\n    webhook: {url: \"", (*hook)->Url(),
                   "\", format: alertmanager}\n"
                   "route: {receiver: oncall, group_wait: 0s, group_interval: 1s, "
                   "repeat_interval: 4h}\n"
                   "delivery: {initial_backoff: 100ms, max_backoff: 500ms}\n"));
  stack.AppendCollectorConfig(
      absl::StrCat("alerting: {config_file: ", stack.dir().Join("alerting.yaml"), "}\n"));
  stack.StartCollector();

  std::vector<std::unique_ptr<ScriptedAgent>> agents;
  for (int i = 0; i < 3; ++i) {
    agents.push_back(std::make_unique<ScriptedAgent>(
        absl::StrCat("crash-", i), [&stack] { return std::vector<int>{stack.grpc_port()}; },
        stack.token(), [i](int64_t ts) { return Value(ts, i); }));
    agents.back()->Start();
  }

  std::mt19937 rng(20261122);
  std::uniform_int_distribution<int> up_ms(300, 2500);
  for (int kill = 0; kill < kKills; ++kill) {
    absl::SleepFor(absl::Milliseconds(up_ms(rng)));
    stack.StopCollector(SIGKILL);
    stack.StartCollector();
  }
  // Undisturbed for a while, then the agents stop; every period they covered is judged.
  absl::SleepFor(absl::Seconds(4));
  for (auto& a : agents) a->Stop();
  const int64_t stopped_ms = absl::ToUnixMillis(absl::Now());
  absl::SleepFor(absl::Seconds(8));  // evaluation_delay 6 s + a period + margin

  // 1. Every acknowledged point is stored, with its value.
  for (const auto& a : agents) {
    std::vector<std::pair<int64_t, double>> acked = a->Acked();
    EXPECT_GT(acked.size(), 100u) << a->host();
    json stored = stack.HostPoints(a->host(), "test.value");
    std::map<int64_t, double> have;
    for (const json& p : stored) have[p[0].get<int64_t>()] = p[1].get<double>();
    size_t missing = 0;
    for (const auto& [ts, v] : acked) {
      auto it = have.find(ts);
      if (it == have.end() || it->second != v) ++missing;
    }
    EXPECT_EQ(missing, 0u) << a->host() << ": " << missing << " of " << acked.size()
                           << " acknowledged points missing after " << kKills << " kills";
  }

  // 2. The history equals a fresh replay of the acknowledged data.
  absl::StatusOr<std::shared_ptr<const alerting::RuleSet>> rule_set =
      alerting::LoadRuleSet({rules});
  ASSERT_TRUE(rule_set.ok()) << rule_set.status();
  alerting::AlarmEngine replay(*rule_set);
  std::vector<std::tuple<int64_t, std::string, double>> points;
  for (const auto& a : agents) {
    for (const auto& [ts, v] : a->Acked()) points.emplace_back(ts, a->host(), v);
  }
  std::sort(points.begin(), points.end());
  std::vector<alerting::Transition> expected;
  for (const auto& [ts, host, v] : points) {
    // Advance as the live engine does, so first periods of each host are judged the same way.
    for (auto& t : replay.AdvanceTo(ts - 6000)) expected.push_back(std::move(t));
    replay.Observe(SeriesKey{"test.value", {{"host", host}}}, ts, v);
  }
  for (auto& t : replay.AdvanceTo(stopped_ms + 6000)) expected.push_back(std::move(t));
  std::set<std::tuple<std::string, int64_t, std::string>> want, got;
  for (const auto& t : expected) {
    if (t.at_ms <= stopped_ms - 1000) {
      want.emplace(t.instance, t.at_ms, std::string(alerting::StateName(t.to)));
    }
  }
  json history = stack.Api("/api/v1/alarms/history?rule=crash-high&limit=10000")["data"];
  size_t recorded = 0;
  for (const json& h : history) {
    if (h["at_ms"].get<int64_t>() > stopped_ms - 1000) continue;
    ++recorded;
    got.emplace(h["instance"].get<std::string>(), h["at_ms"].get<int64_t>(),
                h["to"].get<std::string>());
  }
  EXPECT_GT(want.size(), 30u);
  EXPECT_EQ(got, want);
  std::printf("history: %zu distinct transitions (%zu rows, %zu re-decided after a restart)\n",
              got.size(), recorded, recorded - got.size());

  // 3. Every ALARM transition notified once per key, by email and by webhook.
  std::multiset<Seen> expected_alarms;
  for (const auto& t : want) {
    if (std::get<2>(t) != "ALARM") continue;
    std::string host = std::get<0>(t);
    host = host.substr(host.find('"') + 1);
    host = host.substr(0, host.find('"'));
    expected_alarms.insert({host, std::get<1>(t)});
  }
  absl::SleepFor(absl::Seconds(2));  // the last deliveries
  std::map<std::string, int> by_key;
  std::multiset<Seen> notified;
  for (const auto& r : (*hook)->Requests()) {
    const std::string key = r.Header("idempotency-key");
    if (++by_key[key] > 1) continue;
    json body = json::parse(r.body);
    for (const json& alert : body["alerts"]) {
      const int64_t starts = ParseRfc3339Ms(alert["startsAt"].get<std::string>());
      if (starts > stopped_ms - 1000) continue;
      notified.insert({alert["labels"]["host"].get<std::string>(), starts});
    }
  }
  int webhook_duplicates = 0;
  for (const auto& [key, n] : by_key) webhook_duplicates += n - 1;
  EXPECT_EQ(notified, expected_alarms);
  std::map<std::string, int> mails;
  for (const std::string& id : smtp.MessageIds()) ++mails[id];
  int mail_duplicates = 0;
  for (const auto& [id, n] : mails) mail_duplicates += n - 1;
  // Mails of alarms that started after the cut-off may or may not have been sent yet.
  EXPECT_GE(mails.size(), expected_alarms.size());
  EXPECT_LE(mails.size(), expected_alarms.size() + 3 * 2);
  std::printf(
      "notifications: %zu ALARM transitions; webhook %zu keys (%d delivered twice), "
      "email %zu Message-IDs (%d delivered twice)\n",
      expected_alarms.size(), by_key.size(), webhook_duplicates, mails.size(), mail_duplicates);
}

}  // namespace
}  // namespace vigil::testing
