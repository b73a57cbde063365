#include "alerting/notifiers/webhook/webhook_notifier.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "alerting/notifiers/webhook/webhook_payload.h"
#include "alerting/notifiers/webhook/webhook_receiver.h"
#include "alerting/notifiers/webhook/webhook_test_notification.h"
#include "common/config_reader.h"
#include "common/log.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace vigil::alerting {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::WebhookReceiver;
using testing::WebhookReceiverOptions;
using Kind = DeliveryResult::Kind;

// A notifier from a `webhook:` YAML block, the way the alerting config loader makes one
// (factory, then Finish() for unknown keys). `errors` receives the config problems.
std::unique_ptr<Notifier> FromYaml(const std::string& yaml, ConfigErrors* errors) {
  absl::StatusOr<YAML::Node> node = LoadYamlString(yaml, errors->file());
  if (!node.ok()) {
    ADD_FAILURE() << node.status();
    return nullptr;
  }
  ConfigMap config(*node, errors);
  std::unique_ptr<Notifier> notifier = NewWebhookNotifier(config);
  config.Finish();
  return errors->empty() ? std::move(notifier) : nullptr;
}

std::unique_ptr<Notifier> MustFromYaml(const std::string& yaml) {
  ConfigErrors errors("/etc/vigil/alerting.yaml");
  std::unique_ptr<Notifier> notifier = FromYaml(yaml, &errors);
  EXPECT_TRUE(errors.empty()) << errors.ToStatus();
  return notifier;
}

std::unique_ptr<WebhookReceiver> MustStart(WebhookReceiverOptions options = {}) {
  absl::StatusOr<std::unique_ptr<WebhookReceiver>> receiver = WebhookReceiver::Start(options);
  EXPECT_TRUE(receiver.ok()) << receiver.status();
  return receiver.ok() ? *std::move(receiver) : nullptr;
}

WebhookReceiverOptions Answering(std::vector<int> statuses,
                                 std::optional<int> retry_after_seconds = std::nullopt,
                                 std::optional<std::string> response_body = std::nullopt,
                                 absl::Duration delay = absl::ZeroDuration()) {
  WebhookReceiverOptions options;
  options.statuses = std::move(statuses);
  options.retry_after_seconds = retry_after_seconds;
  options.response_body = std::move(response_body);
  options.delay = delay;
  return options;
}

// Independent of the code under test: OpenSSL's one-shot HMAC over timestamp "." body.
std::string IndependentSignature(const std::string& secret, const std::string& timestamp,
                                 const std::string& body) {
  std::string data = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  return "sha256=" + absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(mac), len));
}

// Runs a shell command and returns its stdout without the trailing newline.
std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  return std::string(absl::StripTrailingAsciiWhitespace(out));
}

// Everything written to stderr (where VIGIL_LOG writes) while `fn` runs.
template <typename Fn>
std::string CaptureStderr(const std::string& path, Fn fn) {
  std::fflush(stderr);
  int saved = ::dup(2);
  int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ::dup2(file, 2);
  ::close(file);
  fn();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  return vigil::testing::ReadFile(path);
}

// ---- configuration ----

TEST(WebhookConfig, UrlAloneGivesAnAlertmanagerNotifierWithDefaults) {
  ConfigErrors errors("/etc/vigil/alerting.yaml");
  absl::StatusOr<YAML::Node> node = LoadYamlString("url: https://hooks.example/x\n", "a.yaml");
  ASSERT_TRUE(node.ok());
  ConfigMap map(*node, &errors);
  std::optional<WebhookConfig> config = ParseWebhookConfig(map);
  map.Finish();
  ASSERT_TRUE(config.has_value()) << errors.ToStatus();
  EXPECT_EQ(config->url, "https://hooks.example/x");
  EXPECT_EQ(config->format, WebhookConfig::Format::kAlertmanager);
  EXPECT_EQ(config->max_alerts, 0);
  EXPECT_EQ(config->timeout, absl::Seconds(10));
  EXPECT_TRUE(config->headers.empty());
  EXPECT_TRUE(config->bearer_token.empty());
  EXPECT_TRUE(config->signing_secret.empty());
  EXPECT_TRUE(errors.empty());

  std::unique_ptr<Notifier> notifier = MustFromYaml("url: http://127.0.0.1:9/x\n");
  ASSERT_NE(notifier, nullptr);
  EXPECT_EQ(notifier->kind(), "webhook");
}

TEST(WebhookConfig, EveryKeyIsRead) {
  ConfigErrors errors("/etc/vigil/alerting.yaml");
  absl::StatusOr<YAML::Node> node = LoadYamlString(
      "url: https://hooks.example/x\n"
      "format: vigil\n"
      "max_alerts: 20\n"
      "timeout: 3s\n"
      "headers: {X-Team: sre, X-Env: prod}\n"
      "username: alice\n"
      "password_file: secrets/pw\n"
      "signing_secret_env: HOOK_SECRET\n"
      "tls: {ca_file: ca.pem, insecure_skip_verify: true}\n",
      errors.file());
  ASSERT_TRUE(node.ok());
  ConfigMap map(*node, &errors);
  std::optional<WebhookConfig> config = ParseWebhookConfig(map);
  map.Finish();
  ASSERT_TRUE(config.has_value()) << errors.ToStatus();
  EXPECT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(config->format, WebhookConfig::Format::kVigil);
  EXPECT_EQ(config->max_alerts, 20);
  EXPECT_EQ(config->timeout, absl::Seconds(3));
  EXPECT_THAT(config->headers, ::testing::UnorderedElementsAre(std::make_pair("X-Team", "sre"),
                                                               std::make_pair("X-Env", "prod")));
  EXPECT_EQ(config->username, "alice");
  EXPECT_EQ(config->password.file, "/etc/vigil/secrets/pw");  // relative to the config file
  EXPECT_EQ(config->signing_secret.env, "HOOK_SECRET");
  EXPECT_EQ(config->ca_file, "/etc/vigil/ca.pem");
  EXPECT_TRUE(config->insecure_skip_verify);
}

struct BadConfigCase {
  std::string name;
  std::string yaml;
  std::string error;
};

void PrintTo(const BadConfigCase& c, std::ostream* os) { *os << c.name; }

class WebhookBadConfig : public ::testing::TestWithParam<BadConfigCase> {};

TEST_P(WebhookBadConfig, IsRejectedWithPosition) {
  ConfigErrors errors("alerting.yaml");
  std::unique_ptr<Notifier> notifier = FromYaml(GetParam().yaml, &errors);
  EXPECT_EQ(notifier, nullptr);
  EXPECT_THAT(errors.messages(), ::testing::Contains(GetParam().error)) << errors.ToStatus();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, WebhookBadConfig,
    ::testing::Values(
        BadConfigCase{"MissingUrl", "format: vigil\n",
                      "alerting.yaml:1:1: url: is required: the http:// or https:// address to "
                      "post notifications to"},
        BadConfigCase{"FtpUrl", "url: ftp://h/x\n",
                      "alerting.yaml:1:6: url: must start with http:// or https://"},
        BadConfigCase{"NoHost", "url: http:///x\n", "alerting.yaml:1:6: url: has no host"},
        BadConfigCase{"SpaceInUrl", "url: 'http://h/a b'\n",
                      "alerting.yaml:1:6: url: contains a space or control character "
                      "(percent-encode it)"},
        BadConfigCase{"CredentialsInUrl", "url: https://bob:pw@h/x\n",
                      "alerting.yaml:1:6: url: credentials are not written in the url; use "
                      "username and password_file or password_env, or bearer_token_file or "
                      "bearer_token_env"},
        BadConfigCase{"UnknownFormat", "url: http://h/\nformat: slack\n",
                      "alerting.yaml:2:9: format: must be alertmanager or vigil, got 'slack'"},
        BadConfigCase{"NegativeMaxAlerts", "url: http://h/\nmax_alerts: -1\n",
                      "alerting.yaml:2:13: max_alerts: -1 is out of range [0, 1000000]"},
        BadConfigCase{"ZeroTimeout", "url: http://h/\ntimeout: 0s\n",
                      "alerting.yaml:2:10: timeout: must be at least 1ms"},
        BadConfigCase{"HugeTimeout", "url: http://h/\ntimeout: 1h\n",
                      "alerting.yaml:2:10: timeout: must be at most 5m"},
        BadConfigCase{"BadHeaderName", "url: http://h/\nheaders: {'X Team': a}\n",
                      "alerting.yaml:2:10: headers: 'X Team' is not a header name"},
        BadConfigCase{"HeaderLineBreak", "url: http://h/\nheaders: {X-A: \"a\\r\\nX-B: b\"}\n",
                      "alerting.yaml:2:10: headers: the value of 'X-A' contains a line break"},
        BadConfigCase{"ReservedHeader", "url: http://h/\nheaders: {Idempotency-Key: x}\n",
                      "alerting.yaml:2:10: headers: 'Idempotency-Key' is set by Vigil and "
                      "cannot be configured"},
        BadConfigCase{"InlineAuthorizationHeader",
                      "url: http://h/\nheaders: {authorization: Bearer x}\n",
                      "alerting.yaml:2:10: headers: Authorization is a secret and secrets are "
                      "not written inline; use bearer_token_file/bearer_token_env or username "
                      "with password_file/password_env"},
        BadConfigCase{"InlineBearerToken", "url: http://h/\nbearer_token: abc\n",
                      "alerting.yaml:2:15: bearer_token: secrets are not written inline; use "
                      "bearer_token_file: PATH or bearer_token_env: VARIABLE"},
        BadConfigCase{"InlineSigningSecret", "url: http://h/\nsigning_secret: abc\n",
                      "alerting.yaml:2:17: signing_secret: secrets are not written inline; use "
                      "signing_secret_file: PATH or signing_secret_env: VARIABLE"},
        BadConfigCase{"PasswordWithoutUser", "url: http://h/\npassword_env: PW\n",
                      "alerting.yaml:2:15: password_env: a password needs a username"},
        BadConfigCase{"UserWithoutPassword", "url: http://h/\nusername: bob\n",
                      "alerting.yaml:2:11: username: basic authentication needs password_file "
                      "or password_env"},
        BadConfigCase{"BearerAndBasic",
                      "url: http://h/\nbearer_token_env: T\nusername: bob\npassword_env: P\n",
                      "alerting.yaml:3:11: username: give either a bearer token or a username "
                      "and password, not both"},
        BadConfigCase{"UnknownKey", "url: http://h/\nsend_resolvd: true\n",
                      "alerting.yaml:2:1: unknown key 'send_resolvd'"},
        BadConfigCase{"UnknownTlsKey", "url: http://h/\ntls: {cafile: x}\n",
                      "alerting.yaml:2:7: unknown key 'cafile'"},
        BadConfigCase{"NotAMapping", "- url: http://h/\n",
                      "alerting.yaml:1:1: expected a mapping"}),
    [](const ::testing::TestParamInfo<BadConfigCase>& info) { return info.param.name; });

// ---- classification (pure) ----

HttpResponse Response(long status, std::string body = "",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(ClassifyWebhookResponse, SuccessRetryableAndPermanentStatuses) {
  const absl::Time now = absl::FromUnixSeconds(1795000000);
  const std::string url = "https://h.example/hook";
  for (long status : {200L, 201L, 202L, 204L}) {
    EXPECT_EQ(ClassifyWebhookResponse(Response(status), url, now).kind, Kind::kDelivered) << status;
  }
  for (long status : {408L, 429L, 500L, 502L, 503L, 504L}) {
    EXPECT_EQ(ClassifyWebhookResponse(Response(status), url, now).kind, Kind::kRetry) << status;
  }
  for (long status : {301L, 302L, 304L, 400L, 401L, 403L, 404L, 410L, 413L, 422L}) {
    DeliveryResult r = ClassifyWebhookResponse(Response(status, "nope"), url, now);
    EXPECT_EQ(r.kind, Kind::kPermanent) << status;
    EXPECT_EQ(r.detail, absl::StrCat("HTTP ", status, " from https://h.example/hook: nope"));
  }
}

TEST(ClassifyWebhookResponse, RetryAfterInSecondsOrAsHttpDate) {
  const absl::Time now = absl::FromUnixSeconds(1795000000);  // Wed, 18 Nov 2026 11:06:40 GMT
  DeliveryResult r =
      ClassifyWebhookResponse(Response(503, "", {{"retry-after", "120"}}), "http://h/", now);
  EXPECT_EQ(r.kind, Kind::kRetry);
  EXPECT_EQ(r.retry_after, absl::Seconds(120));
  r = ClassifyWebhookResponse(Response(429, "", {{"retry-after", "Wed, 18 Nov 2026 11:07:10 GMT"}}),
                              "http://h/", now);
  EXPECT_EQ(r.retry_after, absl::Seconds(30));
  r = ClassifyWebhookResponse(Response(500, "", {{"retry-after", "soon"}}), "http://h/", now);
  EXPECT_EQ(r.kind, Kind::kRetry);
  EXPECT_FALSE(r.retry_after.has_value());
}

TEST(ClassifyWebhookResponse, BodyExcerptIsOneLineOfAtMost512Bytes) {
  std::string body = "line one\r\nline two\t" + std::string(1000, 'x');
  DeliveryResult r = ClassifyWebhookResponse(Response(400, body), "http://h/", absl::UnixEpoch());
  std::string prefix = "HTTP 400 from http://h/: ";
  ASSERT_THAT(r.detail, ::testing::StartsWith(prefix + "line one  line two "));
  EXPECT_EQ(r.detail.size(), prefix.size() + 512 + 3);
  EXPECT_THAT(r.detail, ::testing::EndsWith("x..."));
  EXPECT_EQ(r.detail.find('\n'), std::string::npos);

  // A multi-byte character is not cut in half.
  std::string utf8 = std::string(511, 'a') + "\xC3\xA9" + "tail";
  r = ClassifyWebhookResponse(Response(400, utf8), "http://h/", absl::UnixEpoch());
  EXPECT_EQ(r.detail, prefix + std::string(511, 'a') + "...");
}

TEST(ClassifyWebhookResponse, TransportErrorsRetryWithoutTheQueryString) {
  const std::string url = "https://h.example/hook?api_key=QUERY-SECRET";
  DeliveryResult r = ClassifyWebhookResponse(
      absl::DeadlineExceededError(url + ": Operation timed out after 1000 milliseconds"), url,
      absl::UnixEpoch());
  EXPECT_EQ(r.kind, Kind::kRetry);
  EXPECT_EQ(r.detail,
            "POST https://h.example/hook: timeout: https://h.example/hook: Operation timed out "
            "after 1000 milliseconds");
  r = ClassifyWebhookResponse(absl::UnavailableError(url + ": Connection refused"), url,
                              absl::UnixEpoch());
  EXPECT_EQ(r.kind, Kind::kRetry);
  EXPECT_THAT(r.detail, HasSubstr("connection failed"));
  EXPECT_THAT(r.detail, Not(HasSubstr("QUERY-SECRET")));
  r = ClassifyWebhookResponse(absl::FailedPreconditionError(url + ": certificate"), url,
                              absl::UnixEpoch());
  EXPECT_EQ(r.kind, Kind::kRetry);
}

TEST(WebhookDisplayUrl, DropsCredentialsQueryAndFragment) {
  EXPECT_EQ(WebhookDisplayUrl("https://u:p@h.example:8443/a/b?k=v#f"),
            "https://h.example:8443/a/b");
  EXPECT_EQ(WebhookDisplayUrl("http://h/a@b"), "http://h/a@b");
  EXPECT_EQ(WebhookDisplayUrl("http://h"), "http://h");
}

// ---- delivery to a real receiver on loopback ----

TEST(WebhookSend, AlertmanagerPayloadArrivesFieldByFieldWithIdempotencyKey) {
  std::unique_ptr<WebhookReceiver> receiver = MustStart();
  ASSERT_NE(receiver, nullptr);
  std::unique_ptr<Notifier> notifier = MustFromYaml(
      absl::StrCat("url: ", receiver->Url("/alerts?source=vigil"), "\nheaders: {X-Team: sre}\n"));
  ASSERT_NE(notifier, nullptr);

  const Notification n = SampleNotification();
  DeliveryResult result = notifier->Send(n);
  EXPECT_EQ(result.kind, Kind::kDelivered) << result.detail;
  EXPECT_EQ(result.detail, absl::StrCat("HTTP 200 from ", receiver->Url("/alerts")));

  std::vector<testing::ReceivedRequest> requests = receiver->Requests();
  ASSERT_EQ(requests.size(), 1u);
  const testing::ReceivedRequest& req = requests[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/alerts?source=vigil");
  EXPECT_EQ(req.Header("content-type"), "application/json");
  EXPECT_EQ(req.Header("idempotency-key"), "n-7f3a9c0d12e4b5a6");
  EXPECT_EQ(req.Header("x-team"), "sre");
  EXPECT_EQ(req.Header("authorization"), "");
  EXPECT_EQ(req.Header("x-vigil-signature"), "");
  EXPECT_EQ(req.body, AlertmanagerPayload(n, 0));

  json p = json::parse(req.body);
  EXPECT_EQ(p["version"], "4");
  EXPECT_EQ(p["groupKey"], "{}:{alertname=\"cpu_high\"}");
  EXPECT_EQ(p["truncatedAlerts"], 0);
  EXPECT_EQ(p["status"], "firing");
  EXPECT_EQ(p["receiver"], "ops-webhook");
  EXPECT_EQ(p["groupLabels"], json({{"alertname", "cpu_high"}}));
  EXPECT_EQ(p["commonLabels"],
            json({{"alertname", "cpu_high"}, {"env", "prod"}, {"severity", "critical"}}));
  EXPECT_EQ(p["commonAnnotations"], json({{"summary", "CPU above 70%"}}));
  EXPECT_EQ(p["externalURL"], "http://collector.example:8080");
  ASSERT_EQ(p["alerts"].size(), 2u);
  EXPECT_EQ(p["alerts"][0]["status"], "firing");
  EXPECT_EQ(p["alerts"][0]["labels"]["alertname"], "cpu_high");
  EXPECT_EQ(p["alerts"][0]["labels"]["host"], "web-1");
  EXPECT_EQ(p["alerts"][0]["annotations"]["runbook_url"],
            "https://runbooks.example/cpu?host=web-1&view=<all>");
  EXPECT_EQ(p["alerts"][0]["startsAt"], "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(p["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(p["alerts"][0]["generatorURL"],
            "http://collector.example:8080/alarms/cpu_high?host=web-1");
  EXPECT_EQ(p["alerts"][0]["fingerprint"], "a1b2c3d4e5f60718");
  EXPECT_EQ(p["alerts"][1]["status"], "resolved");
  EXPECT_EQ(p["alerts"][1]["labels"]["host"], "web-2");
  EXPECT_EQ(p["alerts"][1]["startsAt"], "2026-11-18T11:06:40Z");
  EXPECT_EQ(p["alerts"][1]["endsAt"], "2026-11-18T11:16:40.5Z");
  EXPECT_EQ(p["alerts"][1]["generatorURL"],
            "http://collector.example:8080/alarms/cpu_high?host=web-2");
  EXPECT_EQ(p["alerts"][1]["fingerprint"], "0f1e2d3c4b5a6978");
}

TEST(WebhookSend, VigilFormatCarriesTheTemplateContextAndDatapoints) {
  std::unique_ptr<WebhookReceiver> receiver = MustStart();
  ASSERT_NE(receiver, nullptr);
  std::unique_ptr<Notifier> notifier =
      MustFromYaml(absl::StrCat("url: ", receiver->Url(), "\nformat: vigil\n"));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(SampleNotification());
  EXPECT_EQ(result.kind, Kind::kDelivered) << result.detail;

  std::vector<testing::ReceivedRequest> requests = receiver->Requests();
  ASSERT_EQ(requests.size(), 1u);
  json p = json::parse(requests[0].body);
  EXPECT_EQ(p["version"], "vigil/1");
  EXPECT_EQ(p["notification_id"], "n-7f3a9c0d12e4b5a6");
  EXPECT_EQ(p["thread_id"], "n-1111222233334444");
  EXPECT_EQ(p["firing_count"], 1);
  EXPECT_EQ(p["resolved_count"], 1);
  ASSERT_EQ(p["alerts"].size(), 2u);
  EXPECT_EQ(p["alerts"][0]["state"], "ALARM");
  EXPECT_EQ(p["alerts"][0]["previous_state"], "OK");
  EXPECT_EQ(p["alerts"][0]["comparison"], ">");
  ASSERT_EQ(p["alerts"][0]["datapoints"].size(), 3u);
  EXPECT_EQ(p["alerts"][0]["datapoints"][1]["value_text"], "91");
  EXPECT_DOUBLE_EQ(p["alerts"][0]["datapoints"][2]["value"].get<double>(), 77.4);
  EXPECT_EQ(p["alerts"][1]["datapoints"].size(), 1u);
  EXPECT_EQ(requests[0].Header("idempotency-key"), "n-7f3a9c0d12e4b5a6");
}

TEST(WebhookSend, SignatureVerifiesIndependentlyAndWithTheDocumentedRecipes) {
  vigil::testing::TempDir dir;
  const std::string secret = "whsec-3b9f0c6e1a";
  std::string secret_file = dir.Write("signing.secret", secret + "\n");
  std::unique_ptr<WebhookReceiver> receiver = MustStart();
  ASSERT_NE(receiver, nullptr);
  std::unique_ptr<Notifier> notifier = MustFromYaml(
      absl::StrCat("url: ", receiver->Url(), "\nsigning_secret_file: ", secret_file, "\n"));
  ASSERT_NE(notifier, nullptr);
  const int64_t before = absl::ToUnixSeconds(absl::Now());
  ASSERT_EQ(notifier->Send(SampleNotification()).kind, Kind::kDelivered);
  const int64_t after = absl::ToUnixSeconds(absl::Now());

  std::vector<testing::ReceivedRequest> requests = receiver->Requests();
  ASSERT_EQ(requests.size(), 1u);
  const std::string timestamp = requests[0].Header("x-vigil-timestamp");
  const std::string signature = requests[0].Header("x-vigil-signature");
  int64_t ts = 0;
  ASSERT_TRUE(absl::SimpleAtoi(timestamp, &ts)) << timestamp;
  EXPECT_GE(ts, before);
  EXPECT_LE(ts, after);
  EXPECT_EQ(signature, IndependentSignature(secret, timestamp, requests[0].body));
  EXPECT_NE(signature, IndependentSignature(secret, timestamp, requests[0].body + " "));

  // The shell recipe of the docs, on the recorded body.
  vigil::testing::WriteFile(dir.Join("body.json"), requests[0].body);
  vigil::testing::WriteFile(dir.Join("ts"), timestamp);
  EXPECT_EQ(Shell(absl::StrCat("cd '", dir.path(),
                               "' && TS=$(cat ts) && SECRET=$(cat signing.secret) && "
                               "printf '%s.' \"$TS\" | cat - body.json | "
                               "openssl dgst -sha256 -hmac \"$SECRET\" | sed 's/^.*= /sha256=/'")),
            signature);

  // The Python recipe of the docs.
  vigil::testing::WriteFile(
      dir.Join("verify.py"),
      "import hashlib, hmac, sys, time\n"
      "\n"
      "def verify(secret: bytes, timestamp: str, signature: str, body: bytes, max_age_s: int = "
      "300) -> bool:\n"
      "    if abs(time.time() - int(timestamp)) > max_age_s:\n"
      "        return False\n"
      "    expected = \"sha256=\" + hmac.new(secret, timestamp.encode() + b\".\" + body, "
      "hashlib.sha256).hexdigest()\n"
      "    return hmac.compare_digest(expected, signature)\n"
      "\n"
      "body = open(sys.argv[1], 'rb').read()\n"
      "print('valid' if verify(sys.argv[2].encode(), sys.argv[3], sys.argv[4], body)\n"
      "      else 'invalid')\n");
  vigil::testing::WriteFile(dir.Join("tampered.json"), requests[0].body + " ");
  const std::string python = absl::StrCat("cd '", dir.path(), "' && /usr/bin/python3 verify.py ");
  const std::string args = absl::StrCat(" ", secret, " ", timestamp, " ", signature);
  EXPECT_EQ(Shell(python + "body.json" + args), "valid");
  EXPECT_EQ(Shell(python + "tampered.json" + args), "invalid");
}

TEST(WebhookSend, BearerTokenAndBasicAuthentication) {
  vigil::testing::TempDir dir;
  std::unique_ptr<WebhookReceiver> receiver = MustStart();
  ASSERT_NE(receiver, nullptr);
  ::setenv("VIGIL_TEST_WEBHOOK_TOKEN", "tok-81c2", 1);
  std::unique_ptr<Notifier> bearer = MustFromYaml(
      absl::StrCat("url: ", receiver->Url(), "\nbearer_token_env: VIGIL_TEST_WEBHOOK_TOKEN\n"));
  std::string password_file = dir.Write("pw", "pw-77d1\n");
  std::unique_ptr<Notifier> basic = MustFromYaml(absl::StrCat(
      "url: ", receiver->Url(), "\nusername: alice\npassword_file: ", password_file, "\n"));
  ASSERT_NE(bearer, nullptr);
  ASSERT_NE(basic, nullptr);
  EXPECT_EQ(bearer->Send(SampleNotification()).kind, Kind::kDelivered);
  EXPECT_EQ(basic->Send(SampleNotification()).kind, Kind::kDelivered);

  std::vector<testing::ReceivedRequest> requests = receiver->Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Header("authorization"), "Bearer tok-81c2");
  EXPECT_EQ(requests[1].Header("authorization"), "Basic " + absl::Base64Escape("alice:pw-77d1"));
}

TEST(WebhookSend, Status500IsRetryThen200DeliversTheSameIdempotencyKey) {
  std::unique_ptr<WebhookReceiver> receiver = MustStart(Answering({500, 500, 200}));
  ASSERT_NE(receiver, nullptr);
  std::unique_ptr<Notifier> notifier = MustFromYaml(absl::StrCat("url: ", receiver->Url()));
  ASSERT_NE(notifier, nullptr);
  const Notification n = SampleNotification();

  DeliveryResult first = notifier->Send(n);
  EXPECT_EQ(first.kind, Kind::kRetry);
  EXPECT_EQ(first.detail, absl::StrCat("HTTP 500 from ", receiver->Url(),
                                       ": webhook_receiver: request 1 answered 500"));
  EXPECT_FALSE(first.retry_after.has_value());
  EXPECT_EQ(notifier->Send(n).kind, Kind::kRetry);
  EXPECT_EQ(notifier->Send(n).kind, Kind::kDelivered);

  std::vector<testing::ReceivedRequest> requests = receiver->Requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const testing::ReceivedRequest& r : requests) {
    EXPECT_EQ(r.Header("idempotency-key"), n.id);
    EXPECT_EQ(r.body, requests[0].body);
  }
  EXPECT_EQ(requests[2].status_returned, 200);
}

TEST(WebhookSend, Status429WithRetryAfterIsRetryAfterThatDelay) {
  std::unique_ptr<WebhookReceiver> receiver = MustStart(Answering({429}, 7));
  ASSERT_NE(receiver, nullptr);
  std::unique_ptr<Notifier> notifier = MustFromYaml(absl::StrCat("url: ", receiver->Url()));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(SampleNotification());
  EXPECT_EQ(result.kind, Kind::kRetry);
  EXPECT_EQ(result.retry_after, absl::Seconds(7));
  EXPECT_THAT(result.detail, ::testing::StartsWith("HTTP 429 from "));
}

TEST(WebhookSend, Status400IsPermanentWithTheResponseBody) {
  std::unique_ptr<WebhookReceiver> receiver =
      MustStart(Answering({400}, std::nullopt, "invalid payload: field 'alerts' is required"));
  ASSERT_NE(receiver, nullptr);
  std::unique_ptr<Notifier> notifier = MustFromYaml(absl::StrCat("url: ", receiver->Url()));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(SampleNotification());
  EXPECT_EQ(result.kind, Kind::kPermanent);
  EXPECT_EQ(result.detail, absl::StrCat("HTTP 400 from ", receiver->Url(),
                                        ": invalid payload: field 'alerts' is required"));
  EXPECT_EQ(receiver->Requests().size(), 1u);
}

TEST(WebhookSend, ConnectionRefusedIsRetry) {
  const int port = vigil::testing::FreePort();  // nothing listens there
  std::unique_ptr<Notifier> notifier =
      MustFromYaml(absl::StrCat("url: http://127.0.0.1:", port, "/hook\n"));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(SampleNotification());
  EXPECT_EQ(result.kind, Kind::kRetry);
  EXPECT_THAT(result.detail, ::testing::StartsWith(absl::StrCat("POST http://127.0.0.1:", port,
                                                                "/hook: connection failed: ")));
}

TEST(WebhookSend, HungReceiverIsRetryWithinTheTimeout) {
  std::unique_ptr<WebhookReceiver> receiver =
      MustStart(Answering({200}, std::nullopt, std::nullopt, absl::Seconds(60)));
  ASSERT_NE(receiver, nullptr);
  std::unique_ptr<Notifier> notifier =
      MustFromYaml(absl::StrCat("url: ", receiver->Url(), "\ntimeout: 1s\n"));
  ASSERT_NE(notifier, nullptr);
  const absl::Time start = absl::Now();
  DeliveryResult result = notifier->Send(SampleNotification());
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(result.kind, Kind::kRetry);
  EXPECT_THAT(result.detail, HasSubstr(": timeout: "));
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(10));          // 1 s plus slack for a loaded machine
  EXPECT_EQ(receiver->Requests().size(), 1u);  // it arrived; the answer never came
}

TEST(WebhookSend, SecretsNeverInDetailOrLogs) {
  vigil::testing::TempDir dir;
  const std::string token = "tok-SECRET-5e1d";
  const std::string signing = "sig-SECRET-9a7c";
  std::string token_file = dir.Write("token", token);
  std::string signing_file = dir.Write("signing", signing);
  // A peer that echoes the request's credentials in its error body.
  std::unique_ptr<WebhookReceiver> receiver =
      MustStart(Answering({400}, std::nullopt,
                          absl::StrCat("denied: Authorization: Bearer ", token, " key ", signing)));
  ASSERT_NE(receiver, nullptr);
  std::unique_ptr<Notifier> notifier = MustFromYaml(absl::StrCat(
      "url: ", receiver->Url("/hook?api_key=QUERY-SECRET"), "\nbearer_token_file: ", token_file,
      "\nsigning_secret_file: ", signing_file, "\n"));
  ASSERT_NE(notifier, nullptr);

  const LogSeverity saved = MinLogSeverity();
  SetMinLogSeverity(LogSeverity::kDebug);
  DeliveryResult result;
  std::string logs =
      CaptureStderr(dir.Join("stderr"), [&] { result = notifier->Send(SampleNotification()); });
  SetMinLogSeverity(saved);

  EXPECT_EQ(result.kind, Kind::kPermanent);
  EXPECT_EQ(result.detail,
            absl::StrCat("HTTP 400 from ", receiver->Url(),
                         ": denied: Authorization: Bearer [redacted] key [redacted]"));
  EXPECT_THAT(logs, HasSubstr("webhook notification n-7f3a9c0d12e4b5a6"));
  for (const std::string& secret : {token, signing, std::string("QUERY-SECRET")}) {
    EXPECT_THAT(result.detail, Not(HasSubstr(secret)));
    EXPECT_THAT(logs, Not(HasSubstr(secret)));
  }
  // The secrets were sent where they belong.
  ASSERT_EQ(receiver->Requests().size(), 1u);
  EXPECT_EQ(receiver->Requests()[0].Header("authorization"), "Bearer " + token);
}

TEST(WebhookSend, UnreadableSecretIsRetryNamingTheFileAndSendsNothing) {
  vigil::testing::TempDir dir;
  std::unique_ptr<WebhookReceiver> receiver = MustStart();
  ASSERT_NE(receiver, nullptr);
  const std::string missing = dir.Join("rotated-away.secret");
  std::unique_ptr<Notifier> notifier = MustFromYaml(
      absl::StrCat("url: ", receiver->Url(), "\nsigning_secret_file: ", missing, "\n"));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(SampleNotification());
  EXPECT_EQ(result.kind, Kind::kRetry);
  EXPECT_EQ(result.detail, absl::StrCat("signing secret: ", missing, ": cannot read secret file"));

  // Rotated back in: read at the next Send, no restart needed.
  vigil::testing::WriteFile(missing, "s3cr3t");
  EXPECT_EQ(notifier->Send(SampleNotification()).kind, Kind::kDelivered);
  EXPECT_EQ(receiver->Requests().size(), 1u);
}

TEST(WebhookSend, ConcurrentSendsFromSeveralThreadsAllArrive) {
  std::unique_ptr<WebhookReceiver> receiver = MustStart();
  ASSERT_NE(receiver, nullptr);
  vigil::testing::TempDir dir;
  std::string secret_file = dir.Write("signing", "concurrent-secret");
  std::unique_ptr<Notifier> notifier = MustFromYaml(
      absl::StrCat("url: ", receiver->Url(), "\nsigning_secret_file: ", secret_file, "\n"));
  ASSERT_NE(notifier, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  std::vector<std::thread> threads;
  std::vector<int> delivered(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Notification n = SampleNotification();
        n.id = absl::StrCat("n-", t, "-", i);
        if (notifier->Send(n).kind == Kind::kDelivered) ++delivered[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(delivered[t], kPerThread) << t;

  std::set<std::string> ids;
  for (const testing::ReceivedRequest& r : receiver->Requests()) {
    ids.insert(r.Header("idempotency-key"));
    EXPECT_EQ(r.Header("x-vigil-signature"),
              IndependentSignature("concurrent-secret", r.Header("x-vigil-timestamp"), r.body));
    EXPECT_EQ(json::parse(r.body)["receiver"], "ops-webhook");
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(WebhookReceiverHelper, MalformedOrTruncatedRecordsAreClearErrors) {
  EXPECT_TRUE(testing::ParseReceivedRequests("").ok());
  // A last line without its newline is still being written: not yet a request.
  absl::StatusOr<std::vector<testing::ReceivedRequest>> partial =
      testing::ParseReceivedRequests("{\"method\": \"POST\", \"pa");
  ASSERT_TRUE(partial.ok());
  EXPECT_TRUE(partial->empty());
  absl::StatusOr<std::vector<testing::ReceivedRequest>> bad =
      testing::ParseReceivedRequests("{\"method\": \"POST\"}\nnot json\n");
  EXPECT_EQ(bad.status().message(),
            "received requests, line 1: expected method, path, body, status_returned, time and "
            "headers");
  bad = testing::ParseReceivedRequests("not json\n");
  EXPECT_EQ(bad.status().message(), "received requests, line 1: not a JSON object");
}

}  // namespace
}  // namespace vigil::alerting
