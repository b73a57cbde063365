// The rule engine inside the real collector, fed by the real agent: alarms fire from live data,
// the rules directory hot-reloads (including the Kubernetes ConfigMap symlink swap), a broken
// set is rejected whole, reloads need the API token, and state survives kill -9.
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/stack.h"

namespace vigil::testing {
namespace {

std::string Rule(int threshold) {
  return absl::StrCat(R"(rules:
  - name: system-up
    description: the system check is up
    metric: system.up
    group_by: [host]
    statistic: max
    period: 1s
    evaluation_periods: 2
    comparison: ">="
    threshold: )",
                      threshold, R"(
    evaluation_delay: 1s
    severity: info
)");
}

// A rules directory laid out as Kubernetes mounts a ConfigMap: rules.yaml -> ..data/rules.yaml,
// ..data -> ..vN; an update writes ..vN+1 and renames a new ..data link over the old one.
class ConfigMapDir {
 public:
  explicit ConfigMapDir(std::string dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
  }
  void Publish(const std::string& content) {
    const std::string version = absl::StrCat("..v", ++version_);
    std::filesystem::create_directories(dir_ + "/" + version);
    WriteFile(dir_ + "/" + version + "/rules.yaml", content);
    std::filesystem::create_symlink(version, dir_ + "/..data_tmp");
    std::filesystem::rename(dir_ + "/..data_tmp", dir_ + "/..data");
    if (version_ == 1) std::filesystem::create_symlink("..data/rules.yaml", dir_ + "/rules.yaml");
  }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
  int version_ = 0;
};

nlohmann::json Find(const nlohmann::json& alarms, const std::string& rule) {
  for (const auto& a : alarms) {
    if (a["rule"] == rule) return a;
  }
  return nullptr;
}

// True when /metrics has exactly this sample line (not just the text inside a HELP line).
bool MetricsHave(const Stack& stack, const std::string& line) {
  return absl::StrContains(
      "\n" + HttpGet(absl::StrCat("http://127.0.0.1:", stack.http_port(), "/metrics")),
      "\n" + line + "\n");
}

TEST(RulesEndToEnd, AlarmsReloadAndRestart) {
  Stack stack;
  ConfigMapDir rules(stack.dir().Join("rules"));
  rules.Publish(Rule(1));
  stack.EnableRules(rules.path(), "api-secret");
  stack.StartCollector();
  stack.StartAgent();

  // 1. Live data drives the alarm.
  ASSERT_TRUE(WaitFor(
      [&] {
        nlohmann::json a = Find(stack.Api("/api/v1/alarms?state=ALARM")["data"], "system-up");
        return !a.is_null() && a["instance"] == "{host=\"e2e-host\"}";
      },
      absl::Seconds(30)))
      << stack.collector()->Stderr();
  EXPECT_TRUE(MetricsHave(stack, "vigil_rules_last_reload_success 1"));
  EXPECT_TRUE(MetricsHave(stack, "vigil_rules_loaded 1"));
  nlohmann::json history = stack.Api("/api/v1/alarms/history?rule=system-up")["data"];
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history[0]["to"], "ALARM");
  EXPECT_TRUE(absl::StrContains(history[0]["reason"].get<std::string>(), "Threshold crossed"))
      << history[0]["reason"];
  // The collector's own view of the stream is a series too.
  EXPECT_EQ(stack.Points("agent.up").back()[1].get<double>(), 1.0);
  const std::string revision = stack.Api("/api/v1/rules")["data"]["revision"];

  // The operator's view: vigilctl against this collector.
  const std::string url = absl::StrCat("http://127.0.0.1:", stack.http_port());
  Process alarms(
      {VIGIL_BINARY_DIR "/vigilctl/vigilctl", "--collector", url, "alarms", "--state", "ALARM"},
      stack.dir().Join("alarms.out"), stack.dir().Join("alarms.err"));
  ASSERT_EQ(alarms.Wait(absl::Seconds(10)), 0) << alarms.Stderr();
  EXPECT_TRUE(absl::StrContains(alarms.Stdout(), "system-up  {host=\"e2e-host\"}  ALARM"))
      << alarms.Stdout();
  Process alarm_history(
      {VIGIL_BINARY_DIR "/vigilctl/vigilctl", "--collector", url, "alarm", "history", "system-up"},
      stack.dir().Join("history.out"), stack.dir().Join("history.err"));
  ASSERT_EQ(alarm_history.Wait(absl::Seconds(10)), 0) << alarm_history.Stderr();
  EXPECT_TRUE(
      absl::StrContains(alarm_history.Stdout(), "INSUFFICIENT_DATA  ALARM  Threshold crossed"))
      << alarm_history.Stdout();

  // 2. A broken update is rejected whole; the running set keeps running.
  rules.Publish("rules:\n  - name: system-up\n    bogus_key: 1\n");
  ASSERT_TRUE(WaitFor([&] { return MetricsHave(stack, "vigil_rules_last_reload_success 0"); },
                      absl::Seconds(10)));
  nlohmann::json status = stack.Api("/api/v1/rules")["data"];
  EXPECT_EQ(status["revision"], revision);
  EXPECT_FALSE(status["last_reload"]["success"].get<bool>());
  EXPECT_TRUE(absl::StrContains(status["last_reload"]["error"].get<std::string>(),
                                "rules.yaml:3:5: unknown key 'bogus_key'"))
      << status["last_reload"]["error"];
  EXPECT_TRUE(absl::StrContains(stack.collector()->Stderr(), "rules.yaml:3:5"));
  EXPECT_FALSE(Find(stack.Api("/api/v1/alarms?state=ALARM")["data"], "system-up").is_null());

  // 3. POST /-/reload needs the API token.
  std::string body;
  EXPECT_EQ(stack.Post("/-/reload", "", &body), 401) << body;
  EXPECT_EQ(stack.Post("/-/reload", "wrong", &body), 401) << body;
  EXPECT_EQ(stack.Post("/-/reload", "api-secret", &body), 400) << body;  // still broken
  EXPECT_TRUE(absl::StrContains(body, "unknown key 'bogus_key'")) << body;

  // 4. A changed rule restarts its instances, and the history says why.
  rules.Publish(Rule(2));
  ASSERT_TRUE(WaitFor([&] { return MetricsHave(stack, "vigil_rules_last_reload_success 1"); },
                      absl::Seconds(10)));
  EXPECT_NE(stack.Api("/api/v1/rules")["data"]["revision"], revision)
      << stack.collector()->Stderr();
  history = stack.Api("/api/v1/alarms/history?rule=system-up")["data"];
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history[0]["reason"], "Rule changed; evaluation restarts from INSUFFICIENT_DATA");
  ASSERT_TRUE(WaitFor(
      [&] {
        nlohmann::json a = Find(stack.Api("/api/v1/alarms?state=OK")["data"], "system-up");
        return !a.is_null();
      },
      absl::Seconds(15)));
  EXPECT_EQ(stack.Post("/-/reload", "api-secret", &body), 200) << body;

  // 5. SIGHUP reloads too.
  stack.collector()->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor(
      [&] { return absl::StrContains(stack.collector()->Stderr(), "SIGHUP: rule reload done"); },
      absl::Seconds(10)))
      << stack.collector()->Stderr();

  // 6. kill -9: the restarted collector neither forgets nor re-fires.
  nlohmann::json before = Find(stack.Api("/api/v1/alarms")["data"], "system-up");
  const size_t transitions_before =
      stack.Api("/api/v1/alarms/history?rule=system-up")["data"].size();
  stack.StopCollector(SIGKILL);
  stack.StartCollector();
  nlohmann::json after = Find(stack.Api("/api/v1/alarms")["data"], "system-up");
  ASSERT_FALSE(after.is_null());
  EXPECT_EQ(after["state"], before["state"]);
  EXPECT_EQ(after["since_ms"], before["since_ms"]);
  EXPECT_EQ(stack.Api("/api/v1/alarms/history?rule=system-up")["data"].size(), transitions_before);
}

}  // namespace
}  // namespace vigil::testing
