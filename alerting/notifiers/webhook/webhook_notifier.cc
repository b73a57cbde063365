#include "alerting/notifiers/webhook/webhook_notifier.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "alerting/notifiers/webhook/webhook_payload.h"
#include "common/log.h"

namespace vigil::alerting {
namespace {

constexpr size_t kMaxBodyInDetail = 512;
constexpr absl::Duration kMaxTimeout = absl::Minutes(5);

// Headers Vigil sets itself; a configured value would contradict the payload or the protocol.
constexpr absl::string_view kReservedHeaders[] = {
    "content-type",    "content-length",    "transfer-encoding", "host", "connection", "expect",
    "idempotency-key", "x-vigil-timestamp", "x-vigil-signature",
};

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

// Empty when `url` is an http(s) URL Vigil accepts, else what is wrong with it.
std::string UrlProblem(const std::string& url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://") && !absl::ConsumePrefix(&rest, "https://")) {
    return "must start with http:// or https://";
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return "contains a space or control character (percent-encode it)";
    }
  }
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (absl::StrContains(authority, '@')) {
    return "credentials are not written in the url; use username and password_file or "
           "password_env, or bearer_token_file or bearer_token_env";
  }
  if (authority.empty() || authority[0] == ':') return "has no host";
  return "";
}

// The body of a response, for a log line: at most kMaxBodyInDetail bytes (not cutting a UTF-8
// character), line breaks and other control characters as spaces.
std::string BodyExcerpt(const std::string& body) {
  size_t n = std::min(body.size(), kMaxBodyInDetail);
  if (n < body.size()) {
    while (n > 0 && (static_cast<unsigned char>(body[n]) & 0xC0) == 0x80) --n;
  }
  std::string out = body.substr(0, n);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  out = std::string(absl::StripAsciiWhitespace(out));
  if (n < body.size()) absl::StrAppend(&out, "...");
  return out;
}

std::string Redact(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets) {
    if (!s.empty()) absl::StrReplaceAll({{s, "[redacted]"}}, &text);
  }
  return text;
}

std::string StripControl(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out.push_back(c);
  }
  return out;
}

}  // namespace

std::string WebhookDisplayUrl(const std::string& url) {
  std::string out = url.substr(0, url.find_first_of("?#"));
  size_t scheme = out.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t slash = out.find('/', start);
  size_t at = out.rfind('@', slash == std::string::npos ? std::string::npos : slash);
  if (at != std::string::npos && at >= start) out.erase(start, at + 1 - start);
  return out;
}

std::optional<WebhookConfig> ParseWebhookConfig(ConfigMap& config) {
  const size_t errors_before = config.errors()->messages().size();
  WebhookConfig c;

  if (!config.Has("url")) {
    config.Error("url", "is required: the http:// or https:// address to post notifications to");
  } else {
    c.url = config.String("url");
    std::string problem = UrlProblem(c.url);
    if (!problem.empty()) config.Error("url", problem);
  }

  std::string format = config.String("format", "alertmanager");
  if (format == "alertmanager") {
    c.format = WebhookConfig::Format::kAlertmanager;
  } else if (format == "vigil") {
    c.format = WebhookConfig::Format::kVigil;
  } else {
    config.Error("format", absl::StrCat("must be alertmanager or vigil, got '", format, "'"));
  }

  c.max_alerts = static_cast<int>(config.Int("max_alerts", 0, 0, 1000000));
  c.timeout = config.Duration("timeout", absl::Seconds(10), absl::Milliseconds(1));
  if (c.timeout > kMaxTimeout) {
    config.Error("timeout", absl::StrCat("must be at most ", absl::FormatDuration(kMaxTimeout)));
    c.timeout = kMaxTimeout;
  }

  for (const auto& [name, value] : config.StringMap("headers")) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      config.Error("headers", absl::StrCat("'", name, "' is not a header name"));
      continue;
    }
    const std::string lower = absl::AsciiStrToLower(name);
    if (lower == "authorization") {
      config.Error("headers",
                   "Authorization is a secret and secrets are not written inline; use "
                   "bearer_token_file/bearer_token_env or username with "
                   "password_file/password_env");
      continue;
    }
    if (std::find(std::begin(kReservedHeaders), std::end(kReservedHeaders), lower) !=
        std::end(kReservedHeaders)) {
      config.Error("headers",
                   absl::StrCat("'", name, "' is set by Vigil and cannot be configured"));
      continue;
    }
    if (std::any_of(value.begin(), value.end(),
                    [](char ch) { return ch == '\r' || ch == '\n' || ch == '\0'; })) {
      config.Error("headers", absl::StrCat("the value of '", name, "' contains a line break"));
      continue;
    }
    c.headers.emplace_back(name, value);
  }

  c.bearer_token = ReadSecretRef(config, "bearer_token");
  c.username = config.String("username");
  c.password = ReadSecretRef(config, "password");
  if (!c.password.empty() && c.username.empty()) {
    config.Error(c.password.file.empty() ? "password_env" : "password_file",
                 "a password needs a username");
  }
  if (!c.username.empty() && c.password.empty()) {
    config.Error("username", "basic authentication needs password_file or password_env");
  }
  if (!c.bearer_token.empty() && !c.username.empty()) {
    config.Error("username", "give either a bearer token or a username and password, not both");
  }
  c.signing_secret = ReadSecretRef(config, "signing_secret");

  ConfigMap tls = config.Map("tls");
  c.ca_file = tls.String("ca_file");
  if (!c.ca_file.empty()) c.ca_file = ResolvePath(DirName(config.errors()->file()), c.ca_file);
  c.insecure_skip_verify = tls.Bool("insecure_skip_verify", false);
  tls.Finish();

  if (config.errors()->messages().size() != errors_before) return std::nullopt;
  return c;
}

std::unique_ptr<Notifier> NewWebhookNotifier(ConfigMap& config) {
  std::optional<WebhookConfig> c = ParseWebhookConfig(config);
  if (!c) return nullptr;
  return std::make_unique<WebhookNotifier>(*std::move(c));
}

WebhookNotifier::WebhookNotifier(WebhookConfig config) : config_(std::move(config)) {}

std::string WebhookNotifier::Payload(const Notification& notification) const {
  return config_.format == WebhookConfig::Format::kVigil
             ? VigilPayload(notification, config_.max_alerts)
             : AlertmanagerPayload(notification, config_.max_alerts);
}

DeliveryResult WebhookNotifier::Send(const Notification& notification) {
  HttpRequest request;
  request.method = "POST";
  request.url = config_.url;
  request.timeout = config_.timeout;
  request.connect_timeout = std::min(config_.timeout, absl::Seconds(5));
  request.ca_file = config_.ca_file;
  request.insecure_skip_verify = config_.insecure_skip_verify;
  request.max_body_bytes = 1 << 20;  // only an excerpt is kept; a reply is never that large
  request.body = Payload(notification);
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("Idempotency-Key", StripControl(notification.id));
  for (const auto& header : config_.headers) request.headers.push_back(header);

  // Every secret value of this attempt, so that no detail can quote one (a peer may echo the
  // request's headers in its error body).
  std::vector<std::string> secrets;
  if (!config_.bearer_token.empty()) {
    absl::StatusOr<std::string> token = config_.bearer_token.Read();
    if (!token.ok()) {
      return DeliveryResult::Retry(absl::StrCat("bearer token: ", token.status().message()));
    }
    secrets.push_back(*token);
    request.headers.emplace_back("Authorization", absl::StrCat("Bearer ", *token));
  }
  if (!config_.password.empty()) {
    absl::StatusOr<std::string> password = config_.password.Read();
    if (!password.ok()) {
      return DeliveryResult::Retry(absl::StrCat("password: ", password.status().message()));
    }
    secrets.push_back(*password);
    secrets.push_back(absl::Base64Escape(absl::StrCat(config_.username, ":", *password)));
    request.username = config_.username;
    request.password = *password;
  }
  if (!config_.signing_secret.empty()) {
    absl::StatusOr<std::string> secret = config_.signing_secret.Read();
    if (!secret.ok()) {
      return DeliveryResult::Retry(absl::StrCat("signing secret: ", secret.status().message()));
    }
    secrets.push_back(*secret);
    std::string timestamp = absl::StrCat(absl::ToUnixSeconds(absl::Now()));
    request.headers.emplace_back("X-Vigil-Signature",
                                 WebhookSignature(*secret, timestamp, request.body));
    request.headers.emplace_back("X-Vigil-Timestamp", std::move(timestamp));
  }

  absl::StatusOr<HttpResponse> response = HttpFetch(request);
  DeliveryResult result = ClassifyWebhookResponse(response, config_.url, absl::Now());
  result.detail = Redact(std::move(result.detail), secrets);
  VIGIL_LOG(Debug) << "webhook notification " << StripControl(notification.id) << ": "
                   << result.detail;
  return result;
}

DeliveryResult ClassifyWebhookResponse(const absl::StatusOr<HttpResponse>& response,
                                       const std::string& url, absl::Time now) {
  const std::string display = WebhookDisplayUrl(url);
  if (!response.ok()) {
    // HttpFetch's message names the URL; the query string may hold a key, so show it without.
    std::string message(response.status().message());
    absl::StrReplaceAll({{url, display}}, &message);
    const char* what = absl::IsDeadlineExceeded(response.status()) ? "timeout"
                       : absl::IsUnavailable(response.status())    ? "connection failed"
                                                                   : "request failed";
    return DeliveryResult::Retry(absl::StrCat("POST ", display, ": ", what, ": ", message));
  }
  const long status = response->status;
  std::string detail = absl::StrCat("HTTP ", status, " from ", display);
  if (status >= 200 && status < 300) return DeliveryResult::Delivered(std::move(detail));
  std::string excerpt = BodyExcerpt(response->body);
  if (!excerpt.empty()) absl::StrAppend(&detail, ": ", excerpt);
  if (status == 408 || status == 429 || (status >= 500 && status < 600)) {
    std::optional<absl::Duration> after;
    if (std::optional<std::string> header = response->Header("retry-after")) {
      after = ParseRetryAfter(*header, now);
    }
    return DeliveryResult::Retry(std::move(detail), after);
  }
  return DeliveryResult::Permanent(std::move(detail));
}

}  // namespace vigil::alerting
