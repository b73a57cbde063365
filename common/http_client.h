#ifndef VIGIL_COMMON_HTTP_CLIENT_H_
#define VIGIL_COMMON_HTTP_CLIENT_H_

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// One blocking HTTP(S) request, with every wait bounded. Used by the agent's checks
// (stub_status, health URLs, HAProxy and RabbitMQ statistics) and by the webhook notifier.
// An http:// URL on loopback (localhost, 127.0.0.0/8, [::1]) or over `unix_socket` is
// fetched by a small HTTP/1.1 client of our own; everything else (https, other hosts and so
// proxies, follow_redirects, credentials in the URL) goes through libcurl, which is
// initialised, and with it OpenSSL, on its first use. Both behave the same to the caller.
// Thread-safe: each call uses its own connection (and curl handle).

namespace vigil {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as "name: value"
  std::string body;                                          // sent when not empty
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(10);  // the whole exchange, connect included
  // Basic authentication when `username` is not empty. Never logged.
  std::string username;
  std::string password;
  std::string ca_file;  // PEM bundle to verify the server with; empty: system CAs
  bool insecure_skip_verify = false;
  std::string unix_socket;  // connect to this socket instead of the URL's host
  bool follow_redirects = false;
  size_t max_body_bytes = 16 << 20;  // a longer body fails the request
  bool want_certificate = false;     // fill HttpResponse::certificate_not_after (https only)
};

struct HttpResponse {
  long status = 0;
  std::string body;
  // Response headers of the final response, names lowercased, in order.
  std::vector<std::pair<std::string, std::string>> headers;
  absl::Duration total_time;                        // from start to the last byte
  std::optional<absl::Time> certificate_not_after;  // the server (leaf) certificate's expiry

  // The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string> Header(absl::string_view name) const;
};

// Performs `request`. A response with any status (including 4xx and 5xx) is returned as a
// value; a transport failure (DNS, connect, TLS, timeout, body too large) is an error whose
// message names the URL (without credentials) and the reason. Error codes:
// DeadlineExceeded for timeouts, Unavailable for connection failures, FailedPrecondition for
// TLS verification, ResourceExhausted for a body over the limit, Internal otherwise.
absl::StatusOr<HttpResponse> HttpFetch(const HttpRequest& request);

// Parses an HTTP `Retry-After` value (delta seconds or an HTTP date) relative to `now`.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

}  // namespace vigil

#endif  // VIGIL_COMMON_HTTP_CLIENT_H_
