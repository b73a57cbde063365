#include "agent/checks/http/http_check.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/log.h"

namespace vigil::agent {
namespace {


// scheme://host/path of `url`: no user information and no query string, which may hold a
// token, so the result can be logged.
std::string LoggableUrl(absl::string_view url) {
  size_t cut = url.find_first_of("?#");
  if (cut != absl::string_view::npos) url = url.substr(0, cut);
  return std::string(url);
}

// Empty when `url` is acceptable, otherwise what is wrong with it.
std::string UrlProblem(absl::string_view url) {
  absl::string_view rest;
  if (absl::StartsWithIgnoreCase(url, "http://")) {
    rest = url.substr(7);
  } else if (absl::StartsWithIgnoreCase(url, "https://")) {
    rest = url.substr(8);
  } else {
    return "must start with http:// or https://";
  }
  for (char c : url) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || absl::ascii_iscntrl(c)) {
      return "must not contain whitespace or control characters";
    }
  }
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) return "has no host";
  if (absl::StrContains(authority, '@')) {
    return "must not contain user information; use username and password_file";
  }
  return "";
}

void Add(std::vector<Sample>& out, const char* metric, double value) {
  out.push_back(Sample{metric, {}, value});
}

}  // namespace

bool ExpectedStatus::Add(absl::string_view entry) {
  entry = absl::StripAsciiWhitespace(entry);
  if (entry.size() != 3 || entry[0] < '1' || entry[0] > '5') return false;
  if (absl::EqualsIgnoreCase(entry.substr(1), "xx")) {
    classes_.push_back(entry[0] - '0');
    return true;
  }
  int code = 0;
  if (!absl::SimpleAtoi(entry, &code)) return false;
  codes_.push_back(code);
  return true;
}

bool ExpectedStatus::Matches(long status) const {
  if (empty()) return status >= 200 && status < 400;
  if (std::find(codes_.begin(), codes_.end(), status) != codes_.end()) return true;
  return std::find(classes_.begin(), classes_.end(), status / 100) != classes_.end();
}

absl::Status HttpCheck::Init(ConfigMap& config) {
  std::optional<std::string> url = config.OptionalString("url");
  if (!url || url->empty()) {
    config.Error("url", "required: the URL to probe (http:// or https://)");
  } else if (std::string problem = UrlProblem(*url); !problem.empty()) {
    config.Error("url", absl::StrCat("'", LoggableUrl(*url), "' ", problem));
  } else {
    request_.url = *url;
    request_.want_certificate = absl::StartsWithIgnoreCase(*url, "https://");
  }

  request_.method = config.String("method", "GET");
  if (request_.method != "GET" && request_.method != "HEAD") {
    config.Error("method", absl::StrCat("must be GET or HEAD, got '", request_.method, "'"));
    request_.method = "GET";
  }

  for (const std::string& entry : config.StringList("expected_status")) {
    if (!expected_.Add(entry)) {
      config.Error("expected_status",
                   absl::StrCat("'", entry, "' is not a status code (100-599) or class (2xx)"));
      break;
    }
  }

  body_contains_ = config.String("body_contains");
  if (!body_contains_.empty() && request_.method == "HEAD") {
    config.Error("body_contains", "a HEAD request has no body to search; use method GET");
  }

  for (const auto& [name, value] : config.StringMap("headers")) {
    bool bad_name = name.empty() || std::any_of(name.begin(), name.end(), [](char c) {
                      return c == ':' || absl::ascii_isspace(static_cast<unsigned char>(c)) ||
                             absl::ascii_iscntrl(c);
                    });
    if (bad_name) {
      config.Error("headers", absl::StrCat("'", name, "' is not a header name"));
      continue;
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      config.Error("headers", absl::StrCat("the value of '", name, "' contains a line break"));
      continue;
    }
    request_.headers.emplace_back(name, value);
  }

  ConfigMap tls = config.Map("tls");
  // Relative to the config file's directory, as every path in it.
  request_.ca_file = ResolvePath(DirName(config.errors()->file()), tls.String("ca_file"));
  request_.insecure_skip_verify = tls.Bool("insecure_skip_verify", false);
  tls.Finish();

  request_.username = config.String("username");
  password_ = ReadSecretRef(config, "password");
  if (!password_.empty() && request_.username.empty()) {
    config.Error(password_.file.empty() ? "password_env" : "password_file",
                 "a password needs a username");
  }
  request_.follow_redirects = config.Bool("follow_redirects", false);

  request_.timeout = context().timeout * 0.9;
  request_.connect_timeout = std::min(request_.timeout, absl::Seconds(5));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Sample>> HttpCheck::Collect(absl::Time now) {
  HttpRequest request = request_;
  if (!password_.empty()) {
    absl::StatusOr<std::string> password = password_.Read();
    if (!password.ok()) return password.status();
    request.password = *std::move(password);
  }

  std::vector<Sample> out;
  std::string failure;
  absl::StatusOr<HttpResponse> response = HttpFetch(request);
  if (!response.ok()) {
    // HttpFetch names the whole URL; the logged form leaves out the query string.
    failure = absl::StrReplaceAll(response.status().message(),
                                  {{request_.url, LoggableUrl(request_.url)}});
  } else {
    Add(out, "http.status_code", static_cast<double>(response->status));
    Add(out, "http.response_time_seconds", absl::ToDoubleSeconds(response->total_time));
    if (response->certificate_not_after) {
      Add(out, "http.tls.certificate_days_left",
          absl::ToDoubleHours(*response->certificate_not_after - now) / 24);
    }
    if (!expected_.Matches(response->status)) {
      failure = absl::StrCat("status ", response->status, " is not an expected status");
    } else if (!body_contains_.empty() && !absl::StrContains(response->body, body_contains_)) {
      failure = absl::StrCat("status ", response->status,
                             " but the body does not contain the body_contains text");
    }
  }
  const int up = failure.empty() ? 1 : 0;
  Add(out, "http.up", up);

  if (up != last_up_) {
    if (up) {
      VIGIL_LOG(Info) << "http check " << LoggableUrl(request_.url) << ": probe succeeds (status "
                      << response->status << ")";
    } else {
      VIGIL_LOG(Warning) << "http check " << LoggableUrl(request_.url)
                         << ": probe fails: " << failure;
    }
    last_up_ = up;
  }
  return out;
}

}  // namespace vigil::agent
