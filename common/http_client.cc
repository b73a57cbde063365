#include "common/http_client.h"

#include <curl/curl.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  HttpResponse* response;
  size_t limit;
  bool overflow = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * count;
  if (sink->response->body.size() + n > sink->limit) {
    sink->overflow = true;
    return 0;  // makes libcurl fail the transfer with CURLE_WRITE_ERROR
  }
  sink->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  size_t n = size * count;
  absl::string_view line(data, n);
  if (absl::StartsWith(line, "HTTP/")) {
    response->headers.clear();  // a new response (after 100-continue or a redirect)
    return n;
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;
  response->headers.emplace_back(
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return n;
}

// The URL without user information, for error messages.
std::string SafeUrl(const std::string& url) {
  size_t scheme = url.find("://");
  size_t at = url.find('@');
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme != std::string::npos && at != std::string::npos &&
      (slash == std::string::npos || at < slash)) {
    return url.substr(0, scheme + 3) + url.substr(at + 1);
  }
  return url;
}

std::optional<absl::Time> ParseCertDate(absl::string_view text) {
  // OpenSSL's ASN1_TIME_print: "Jan  1 00:00:00 2027 GMT". Collapse the double space first.
  std::vector<absl::string_view> parts = absl::StrSplit(text, ' ', absl::SkipEmpty());
  if (parts.size() < 4) return std::nullopt;
  std::string normal = absl::StrCat(parts[0], " ", parts[1], " ", parts[2], " ", parts[3]);
  absl::Time t;
  std::string err;
  if (absl::ParseTime("%b %d %H:%M:%S %Y", normal, absl::UTCTimeZone(), &t, &err)) return t;
  return std::nullopt;
}

absl::Status CurlError(CURLcode code, const char* detail, const std::string& url) {
  std::string message =
      absl::StrCat(SafeUrl(url), ": ", detail[0] ? detail : curl_easy_strerror(code));
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(message);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      return absl::UnavailableError(message);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

std::optional<std::string> HttpResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

absl::StatusOr<HttpResponse> HttpFetch(const HttpRequest& request) {
  GlobalInit();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return absl::InternalError("curl_easy_init failed");
  CURL* h = curl.get();
  HttpResponse response;
  Sink sink{&response, request.max_body_bytes};
  char error[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.connect_timeout)));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.timeout)));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "vigil/1");
  // Loopback never goes through a proxy named in the environment (http_proxy and friends
  // still apply to other hosts, as operators expect for webhooks); the option replaces the
  // environment's no_proxy, so that list is kept.
  std::string no_proxy = "localhost,127.0.0.1,::1";
  for (const char* var : {"no_proxy", "NO_PROXY"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') {
      absl::StrAppend(&no_proxy, ",", v);
      break;
    }
  }
  curl_easy_setopt(h, CURLOPT_NOPROXY, no_proxy.c_str());
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
  }
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  // libcurl adds "Expect: 100-continue" to large POSTs, which costs a round trip.
  headers = curl_slist_append(headers, "Expect:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(headers, curl_slist_free_all);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (!request.username.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, request.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, request.password.c_str());
  }
  if (!request.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, request.ca_file.c_str());
  if (request.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!request.unix_socket.empty()) {
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, request.unix_socket.c_str());
  }
  if (request.want_certificate) curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);

  CURLcode code = curl_easy_perform(h);
  if (sink.overflow) {
    return absl::ResourceExhaustedError(absl::StrCat(
        SafeUrl(request.url), ": response body larger than ", request.max_body_bytes, " bytes"));
  }
  if (code != CURLE_OK) return CurlError(code, error, request.url);

  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  curl_off_t total_us = 0;
  curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total_us);
  response.total_time = absl::Microseconds(total_us);
  if (request.want_certificate) {
    curl_certinfo* info = nullptr;
    if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &info) == CURLE_OK && info != nullptr &&
        info->num_of_certs > 0) {
      for (curl_slist* item = info->certinfo[0]; item != nullptr; item = item->next) {
        absl::string_view entry(item->data);
        if (absl::ConsumePrefix(&entry, "Expire date:")) {
          response.certificate_not_after = ParseCertDate(entry);
        }
      }
    }
  }
  return response;
}

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  absl::Time when;
  std::string err;
  // RFC 9110 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", value, absl::UTCTimeZone(), &when, &err)) {
    return when > now ? when - now : absl::ZeroDuration();
  }
  return std::nullopt;
}

}  // namespace vigil
