// Alert delivery end to end: the real collector evaluates a rule on the real agent's data and
// notifies a real SMTP server (Debian's aiosmtpd, storing into a Maildir) and a real loopback
// webhook receiver. Checks what an on-call engineer would: one email with the right subject,
// Message-ID, text and HTML; one webhook (Alertmanager payload) after the receiver's 500s;
// a silence added before the alarm fires holds the notification back and the history says so,
// until it is expired with vigilctl; a notification waiting in the outbox for a relay that is
// down survives kill -9 and arrives exactly once; nothing is sent twice after the restart.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "alerting/notifiers/webhook/webhook_receiver.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/smtp_sink.h"
#include "tests/stack.h"

namespace vigil::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using json = nlohmann::json;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kApiToken[] = "api-secret";

// A rule that fires as soon as the agent's system check has reported (system.up is 1).
std::string UpRule(const std::string& name) {
  return absl::StrCat("rules:\n  - name: ", name, R"(
    description: the system check of {{host}} reports
    metric: system.up
    group_by: [host]
    statistic: max
    period: 1s
    evaluation_periods: 1
    comparison: ">="
    threshold: 1
    evaluation_delay: 1s
    severity: info
    annotations: {summary: "system check up on {{host}}"}
)");
}

// A stored email parsed by Python's email package (the email notifier's testdata/parse_mail.py).
json ParseMail(const TempDir& dir, const std::string& path) {
  Process p({kPython, VIGIL_SOURCE_DIR "/alerting/notifiers/email/testdata/parse_mail.py", path},
            dir.Join("parse.out"), dir.Join("parse.err"));
  EXPECT_EQ(p.Wait(absl::Seconds(30)), 0) << p.Stderr();
  json j = json::parse(p.Stdout(), nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << p.Stdout();
  return j;
}

std::string Header(const json& mail, const std::string& name) {
  for (const json& h : mail["headers"]) {
    if (absl::EqualsIgnoreCase(h[0].get<std::string>(), name)) return h[1].get<std::string>();
  }
  return "<absent>";
}

// ---- The webhook receiver's view ----

using alerting::testing::ReceivedRequest;
using alerting::testing::WebhookReceiver;

// The requests whose Alertmanager payload carries an alert of rule `alertname`.
std::vector<ReceivedRequest> RequestsAbout(const WebhookReceiver& receiver,
                                           const std::string& alertname) {
  std::vector<ReceivedRequest> out;
  for (const ReceivedRequest& r : receiver.Requests()) {
    json body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.contains("alerts")) continue;
    for (const json& a : body["alerts"]) {
      if (a["labels"].value("alertname", "") == alertname) {
        out.push_back(r);
        break;
      }
    }
  }
  return out;
}

// How many requests per Idempotency-Key were answered 2xx.
std::map<std::string, int> Delivered(const std::vector<ReceivedRequest>& requests) {
  std::map<std::string, int> out;
  for (const ReceivedRequest& r : requests) {
    if (r.status_returned >= 200 && r.status_returned < 300) ++out[r.Header("idempotency-key")];
  }
  return out;
}

// ---- HTTP with a JSON body ----

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

long Request(const std::string& method, const std::string& url, const std::string& token,
             const std::string& body, std::string* reply) {
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  if (!token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

// True when /metrics has a sample line starting with `prefix` whose value is at least `min`.
bool MetricAtLeast(const Stack& stack, const std::string& prefix, double min) {
  std::string text = HttpGet(absl::StrCat("http://127.0.0.1:", stack.http_port(), "/metrics"));
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, prefix)) {
      return std::stod(std::string(line.substr(line.rfind(' ') + 1))) >= min;
    }
  }
  return false;
}

class NotifyEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(kPython, X_OK), 0)
        << "/usr/bin/python3 is missing: install python3-aiosmtpd (scripts/install-deps.sh)";
    Process check({kPython, "-c", "import aiosmtpd"}, stack_.dir().Join("check.out"),
                  stack_.dir().Join("check.err"));
    ASSERT_EQ(check.Wait(absl::Seconds(60)), 0)
        << "aiosmtpd is not installed for /usr/bin/python3 (Debian package python3-aiosmtpd; "
           "scripts/install-deps.sh installs it): "
        << check.Stderr();
  }

  // vigilctl against this stack's collector; returns the exit code, output in *out.
  int Vigilctl(std::vector<std::string> args, std::string* out) {
    std::vector<std::string> argv = {VIGIL_BINARY_DIR "/vigilctl/vigilctl", "--collector",
                                     absl::StrCat("http://127.0.0.1:", stack_.http_port()),
                                     "--token-file", stack_.dir().Join("api.token")};
    argv.insert(argv.end(), args.begin(), args.end());
    // Process appends to its output files: one pair per run.
    const std::string name = absl::StrCat("vigilctl-", ++vigilctl_runs_);
    Process p(argv, stack_.dir().Join(name + ".out"), stack_.dir().Join(name + ".err"));
    int code = p.Wait(absl::Seconds(20));
    *out = p.Stdout() + p.Stderr();
    return code;
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", stack_.http_port(), path);
  }

  // Adds rules/<name>.yaml and reloads (the reply reports the rules and the alerting config).
  void AddRule(const std::string& name) {
    WriteFile(stack_.dir().Join("rules/" + name + ".yaml"), UpRule(name));
    std::string body;
    ASSERT_EQ(stack_.Post("/-/reload", kApiToken, &body), 200) << body;
    json reply = json::parse(body);
    EXPECT_EQ(reply["data"]["last_reload"]["success"], true) << body;
    EXPECT_EQ(reply["data"]["alerting"]["success"], true) << body;
  }

  // The newest history entry of `rule` into ALARM, or null.
  json AlarmTransition(const std::string& rule) {
    json h = stack_.Api("/api/v1/alarms/history?rule=" + rule)["data"];
    for (const json& t : h) {
      if (t["to"] == "ALARM") return t;
    }
    return nullptr;
  }

  Stack stack_;
  int vigilctl_runs_ = 0;
};

TEST_F(NotifyEndToEnd, DeliversOnceHonoursSilencesAndSurvivesKill9) {
  TempDir relay_dir;
  SmtpSink relay(relay_dir);
  relay.Start();
  alerting::testing::WebhookReceiverOptions hook_options;
  hook_options.statuses = {500, 500, 200};
  absl::StatusOr<std::unique_ptr<WebhookReceiver>> receiver = WebhookReceiver::Start(hook_options);
  ASSERT_TRUE(receiver.ok()) << receiver.status();
  WebhookReceiver& hook = **receiver;

  ASSERT_EQ(mkdir(stack_.dir().Join("rules").c_str(), 0755), 0);
  WriteFile(stack_.dir().Join("rules/up-a.yaml"), UpRule("up-a"));
  stack_.EnableRules(stack_.dir().Join("rules"), kApiToken);
  WriteFile(stack_.dir().Join("alerting.yaml"),
            absl::StrCat(R"(receivers:
  - name: oncall
    email:
      to: [oncall@example.org]
      from: Vigil <vigil@example.org>
      relays: [{host: 127.0.0.1, port: )",
                         relay.port(), R"(, tls: none}]
      timeout: 5s
    webhook: {url: ")",
                         hook.Url(), R"(", format: alertmanager, timeout: 5s}
route:
  receiver: oncall
  group_by: [alertname, host]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
delivery: {initial_backoff: 200ms, max_backoff: 1s}
)"));
  stack_.AppendCollectorConfig(
      absl::StrCat("alerting: {config_file: ", stack_.dir().Join("alerting.yaml"),
                   ", external_url: 'http://vigil.test:8080'}\n"));
  stack_.StartCollector();
  stack_.StartAgent();

  // The alerting config is loaded and described.
  json status = stack_.Api("/api/v1/alerting/status")["data"];
  EXPECT_EQ(status["config_file"], stack_.dir().Join("alerting.yaml"));
  EXPECT_EQ(status["config_loaded"], true);
  EXPECT_EQ(status["receivers"][0]["name"], "oncall");
  EXPECT_EQ(status["receivers"][0]["integrations"], json::array({"email", "webhook"}));
  // alerting.yaml sets no external_url: links use the collector's alerting.external_url.
  EXPECT_EQ(status["external_url"], "http://vigil.test:8080");

  // 1. up-a fires: one email; the webhook answers 500, 500, then 200 and gets it once.
  ASSERT_TRUE(WaitFor([&] { return relay.MessagesAbout("up-a").size() == 1; }, absl::Seconds(30)))
      << stack_.collector()->Stderr();
  ASSERT_TRUE(WaitFor([&] { return Delivered(RequestsAbout(hook, "up-a")).size() == 1; },
                      absl::Seconds(20)))
      << stack_.collector()->Stderr();

  json mail = ParseMail(relay_dir, relay.MessagesAbout("up-a")[0]);
  EXPECT_EQ(Header(mail, "Subject"), "[ALARM:1] up-a (host=e2e-host rule=up-a severity=info)");
  EXPECT_THAT(Header(mail, "Message-ID"), MatchesRegex("<[0-9a-f]{64}@example\\.org>"));
  EXPECT_EQ(Header(mail, "To"), "oncall@example.org");
  EXPECT_THAT(Header(mail, "From"), HasSubstr("vigil@example.org"));
  EXPECT_EQ(mail["content_type"], "multipart/alternative");
  ASSERT_EQ(mail["parts"].size(), 2u) << mail.dump();
  EXPECT_EQ(mail["parts"][0]["content_type"], "text/plain");
  EXPECT_EQ(mail["parts"][1]["content_type"], "text/html");
  const std::string text = mail["parts"][0]["content"];
  const std::string html = mail["parts"][1]["content"];
  for (const std::string& part : {text, html}) {
    EXPECT_THAT(part, HasSubstr("up-a"));
    EXPECT_THAT(part, HasSubstr("e2e-host"));
    EXPECT_THAT(part, HasSubstr("Threshold crossed"));
    EXPECT_THAT(part, HasSubstr("http://vigil.test:8080/#/alarms/up-a"));
  }
  EXPECT_THAT(html, HasSubstr("<table"));
  EXPECT_EQ(mail["defects"], json::array());

  std::vector<ReceivedRequest> a_hooks = RequestsAbout(hook, "up-a");
  ASSERT_EQ(a_hooks.size(), 3u);
  EXPECT_EQ(a_hooks[0].status_returned, 500);
  EXPECT_EQ(a_hooks[1].status_returned, 500);
  EXPECT_EQ(a_hooks[2].status_returned, 200);
  const std::string key = a_hooks[0].Header("idempotency-key");
  EXPECT_THAT(key, MatchesRegex("[0-9a-f]{64}"));
  for (const ReceivedRequest& r : a_hooks) EXPECT_EQ(r.Header("idempotency-key"), key);
  json payload = json::parse(a_hooks[2].body);
  EXPECT_EQ(payload["version"], "4");
  EXPECT_EQ(payload["receiver"], "oncall");
  EXPECT_EQ(payload["status"], "firing");
  EXPECT_EQ(payload["externalURL"], "http://vigil.test:8080");
  ASSERT_EQ(payload["alerts"].size(), 1u);
  EXPECT_EQ(payload["alerts"][0]["status"], "firing");
  EXPECT_EQ(
      payload["alerts"][0]["labels"],
      json({{"alertname", "up-a"}, {"host", "e2e-host"}, {"rule", "up-a"}, {"severity", "info"}}));
  EXPECT_EQ(payload["alerts"][0]["annotations"]["summary"], "system check up on e2e-host");
  EXPECT_EQ(payload["groupLabels"], json({{"alertname", "up-a"}, {"host", "e2e-host"}}));
  EXPECT_TRUE(MetricAtLeast(stack_, "vigil_alerting_config_last_reload_success 1", 1));

  // 2. A silence added through the API before up-b fires holds its notification back, and the
  // history says so. Creating one needs the API token.
  const std::string silence = R"({"matchers":["alertname=\"up-b\""],"duration":"1h",
      "created_by":"e2e","comment":"deploying b"})";
  std::string reply;
  EXPECT_EQ(Request("POST", Url("/api/v1/silences"), "", silence, &reply), 401) << reply;
  reply.clear();
  ASSERT_EQ(Request("POST", Url("/api/v1/silences"), kApiToken, silence, &reply), 200) << reply;
  const std::string silence_id = json::parse(reply)["data"]["id"];
  AddRule("up-b");
  ASSERT_TRUE(WaitFor([&] { return !AlarmTransition("up-b").is_null(); }, absl::Seconds(30)))
      << stack_.collector()->Stderr();
  EXPECT_THAT(AlarmTransition("up-b")["reason"].get<std::string>(),
              HasSubstr(absl::StrCat("(notifications held back: silenced by ", silence_id,
                                     " (e2e: deploying b))")));
  // vigilctl sees it; another silence added with vigilctl shows up too.
  std::string out;
  ASSERT_EQ(Vigilctl({"silence", "add", "--matcher", "host=\"nowhere\"", "--duration", "10m",
                      "--author", "ops", "--comment", "unrelated"},
                     &out),
            0)
      << out;
  const std::string other_id(absl::StripAsciiWhitespace(out));
  EXPECT_THAT(other_id, MatchesRegex("[0-9a-f]{32}"));
  ASSERT_EQ(Vigilctl({"silence", "list"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(silence_id + "  active  alertname=\"up-b\""));
  EXPECT_THAT(out, HasSubstr(other_id + "  active  host=\"nowhere\""));
  EXPECT_THAT(out, HasSubstr("2 silences"));
  // Longer than group_wait and a group_interval: a notification would have been sent by now.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_TRUE(relay.MessagesAbout("up-b").empty());
  EXPECT_TRUE(RequestsAbout(hook, "up-b").empty());
  // Expired while up-b still fires: the next flush tells of it, once.
  ASSERT_EQ(Vigilctl({"silence", "expire", silence_id}, &out), 0) << out;
  EXPECT_EQ(out, "silence " + silence_id + " expired\n");
  ASSERT_EQ(Vigilctl({"silence", "list"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(silence_id + "  expired"));
  ASSERT_TRUE(WaitFor([&] { return relay.MessagesAbout("up-b").size() == 1; }, absl::Seconds(20)))
      << stack_.collector()->Stderr();
  ASSERT_TRUE(WaitFor([&] { return Delivered(RequestsAbout(hook, "up-b")).size() == 1; },
                      absl::Seconds(20)));

  // 3. The relay is down when up-c fires: its email waits in the outbox (the webhook gets its
  // notification). kill -9 the collector, bring the relay back, restart: exactly one email.
  relay.Stop();
  AddRule("up-c");
  ASSERT_TRUE(WaitFor([&] { return Delivered(RequestsAbout(hook, "up-c")).size() == 1; },
                      absl::Seconds(30)))
      << stack_.collector()->Stderr();
  ASSERT_TRUE(WaitFor(
      [&] {
        return MetricAtLeast(stack_,
                             "vigil_notifications_total{integration=\"email\",receiver=\"oncall\","
                             "result=\"retry\"}",
                             1) &&
               stack_.Api("/api/v1/alerting/status")["data"]["outbox_pending"] == 1;
      },
      absl::Seconds(20)))
      << stack_.collector()->Stderr();
  EXPECT_THAT(AlarmTransition("up-c")["reason"].get<std::string>(),
              ::testing::Not(HasSubstr("held back")));
  stack_.StopCollector(SIGKILL);
  relay.Start();
  stack_.StartCollector();
  ASSERT_TRUE(WaitFor([&] { return relay.MessagesAbout("up-c").size() == 1; }, absl::Seconds(30)))
      << stack_.collector()->Stderr();
  ASSERT_TRUE(
      WaitFor([&] { return stack_.Api("/api/v1/alerting/status")["data"]["outbox_pending"] == 0; },
              absl::Seconds(10)));
  // The restarted collector rebuilt its groups from the alarms in ALARM: past their group_wait
  // and a group_interval, nothing already notified was sent again.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(relay.MessagesAbout("up-a").size(), 1u);
  EXPECT_EQ(relay.MessagesAbout("up-b").size(), 1u);
  EXPECT_EQ(relay.MessagesAbout("up-c").size(), 1u);
  EXPECT_EQ(relay.Messages().size(), 3u);
  EXPECT_EQ(RequestsAbout(hook, "up-a").size(), 3u);
  EXPECT_EQ(RequestsAbout(hook, "up-b").size(), 1u);
  EXPECT_EQ(RequestsAbout(hook, "up-c").size(), 1u);
  // Silences survive the restart.
  ASSERT_EQ(Vigilctl({"silence", "list"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(other_id + "  active"));
  EXPECT_THAT(out, HasSubstr(silence_id + "  expired"));
}

// The collector's own handling of the alerting config it names: --check-config validates it,
// and a bad or missing one stops the start with every problem as file:line:col.
TEST(CollectorAlertingConfig, CheckedWithTheCollectorConfigAndRequiredToStart) {
  TempDir dir;
  const std::string config = dir.Write(
      "collector.yaml",
      absl::StrCat("listen: {grpc: 127.0.0.1:", FreePort(), ", http: 127.0.0.1:", FreePort(),
                   "}\nstate_dir: state\nalerting: {config_file: alerting.yaml}\n"));
  struct Run {
    int code;
    std::string out, err;
  };
  auto run = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> argv = {VIGIL_BINARY_DIR "/collector/vigil-collector", "--config",
                                     config};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Process p(argv, dir.Join(name + ".out"), dir.Join(name + ".err"));
    int code = p.Wait(absl::Seconds(30));
    return Run{code, p.Stdout(), p.Stderr()};
  };
  const std::string alerting = dir.Join("alerting.yaml");

  Run r = run("missing", {"--check-config"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err,
              HasSubstr("alerting config " + alerting + " (alerting.config_file) does not exist"));

  WriteFile(alerting, "receivers:\n  - name: oncall\n    webhok: {url: x}\n");
  r = run("bad", {"--check-config"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr(alerting + ":3:5: unknown key 'webhok'"));
  r = run("bad-start", {});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(alerting + ":3:5: unknown key 'webhok'"));

  WriteFile(alerting, "receivers: [{name: oncall, webhook: {url: 'http://127.0.0.1:9/x'}}]\n");
  r = run("good", {"--check-config"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, config + ": OK\n" + alerting + ": OK (1 receivers)\n");
}

}  // namespace
}  // namespace vigil::testing
