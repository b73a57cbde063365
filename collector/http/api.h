#ifndef VIGIL_COLLECTOR_HTTP_API_H_
#define VIGIL_COLLECTOR_HTTP_API_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "alerting/notify/silence.h"
#include "collector/store/series_store.h"
#include "nlohmann/json.hpp"

namespace prometheus {
class Registry;
}

namespace vigil::collector {

// What the API needs of the rule engine. Implementations are thread-safe: every method may be
// called from the HTTP server's threads.
class AlarmSource {
 public:
  virtual ~AlarmSource() = default;
  // Alarm instances, optionally only those in one state ("ALARM", "OK", "INSUFFICIENT_DATA").
  virtual nlohmann::json Alarms(const std::string& state_filter) const = 0;
  // Transitions of one rule (all rules when empty), newest first.
  virtual absl::StatusOr<nlohmann::json> History(const std::string& rule, size_t limit) const = 0;
  // The running rule set: revision, files, last reload outcome, rules.
  virtual nlohmann::json Rules() const = 0;
  // Re-reads the rule files; an error keeps the previous set and says what is wrong.
  virtual absl::Status Reload() = 0;
};

// What the API needs of alert delivery (collector/alarms/alert_delivery.h). Implementations are
// thread-safe: every method may be called from the HTTP server's threads.
class AlertingSource {
 public:
  virtual ~AlertingSource() = default;
  // Every stored silence (expired ones until they are pruned).
  virtual std::vector<alerting::Silence> Silences() const = 0;
  // InvalidArgument naming the problem for a bad request; the store's error otherwise.
  virtual absl::StatusOr<alerting::Silence> AddSilence(const alerting::SilenceRequest& request) = 0;
  // NotFound for an unknown id, FailedPrecondition when it has already expired.
  virtual absl::Status ExpireSilence(const std::string& id) = 0;
  // Config file, last reload, receivers, outbox: the body of GET /api/v1/alerting/status.
  virtual nlohmann::json Status() const = 0;
  // Re-reads the alerting config; a bad one is rejected whole (file:line:col per problem) and
  // the last good one keeps running.
  virtual absl::Status Reload() = 0;
};

// What the HTTP API reads. Everything it points to must outlive the server.
struct ApiContext {
  const SeriesStore* store = nullptr;  // required
  // The collector's self-metrics registry: served on /metrics; the HTTP server registers its
  // own request metrics there. May be null (then /metrics is empty and requests are not counted).
  prometheus::Registry* registry = nullptr;
  // Readiness for /readyz; called from server threads, so it must be thread-safe. Unset: ready.
  std::function<bool()> ready;
  std::string version;
  // Wall clock in epoch milliseconds for relative times (`-15m`). Unset: the system clock.
  std::function<int64_t()> now_ms;
  // The rule engine; null when the collector evaluates no rules (alarm endpoints answer 404).
  AlarmSource* alarms = nullptr;
  // Alert delivery; null when the collector has none (silence and alerting endpoints answer 404).
  AlertingSource* alerting = nullptr;
  // SHA-256 (hex) of the token that state-changing requests must carry as
  // `Authorization: Bearer <token>`; empty: such requests are refused (403).
  std::string api_token_sha256;
};

// Per-response limits that keep one request from exhausting the collector's memory.
struct ApiLimits {
  size_t max_series = 1000;
  size_t max_points = 1000000;
};

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// A request with the transport stripped off: the decoded path and query parameters in order.
struct HttpRequest {
  std::string method;
  std::string path;
  QueryParams params;
  std::string authorization;  // the Authorization header, if any
  std::string body;           // POST bodies (JSON); at most kMaxRequestBody bytes
};

// Larger request bodies are refused (413) before the API sees them.
inline constexpr size_t kMaxRequestBody = 64 * 1024;

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond Content-Type/Length
};

// The collector's HTTP endpoints (/healthz, /readyz, /metrics, /api/v1/...) as a function from
// request to response, independent of the HTTP library. Store locks are only held inside
// SeriesStore calls that copy data out; the response is built from those copies.
// Thread-safe: Serve() may be called from many threads at once.
class HttpApi {
 public:
  HttpApi(ApiContext context, ApiLimits limits);

  HttpResponse Serve(const HttpRequest& request) const;

  // Bounded-cardinality name of the endpoint serving `path`, for metric labels: the path of a
  // known endpoint, otherwise "other".
  static std::string HandlerLabel(absl::string_view path);
  // Every HandlerLabel() value.
  static std::vector<absl::string_view> Handlers();

 private:
  HttpResponse Ready() const;
  HttpResponse Metrics() const;
  HttpResponse Status() const;
  HttpResponse Series(const QueryParams& params) const;
  HttpResponse Query(const QueryParams& params) const;
  HttpResponse AlarmList(const QueryParams& params) const;
  HttpResponse AlarmHistory(const QueryParams& params) const;
  HttpResponse Reload(const HttpRequest& request) const;
  HttpResponse Silences(const HttpRequest& request) const;
  HttpResponse SilenceById(const HttpRequest& request, const std::string& id) const;
  HttpResponse AlertingStatus() const;
  // Empty when the request carries the API token; otherwise the 401/403 answer to give.
  std::optional<HttpResponse> Unauthorized(const HttpRequest& request,
                                           absl::string_view what) const;
  int64_t NowMs() const;

  ApiContext context_;
  ApiLimits limits_;
};

// Splits `a=1&b=x%20y` into decoded pairs in order (`+` decodes to a space, as in forms).
QueryParams ParseQueryString(absl::string_view query);

// Reads the JSON body of POST /api/v1/silences into a request: `matchers` (list of
// Alertmanager matchers, required), `starts_at` (optional, default now), `ends_at` or
// `duration` (exactly one), `created_by`, `comment`. Times are RFC3339 strings or epoch
// milliseconds; durations like "2h". InvalidArgument naming the field for anything else,
// including unknown keys and a body that is not JSON.
absl::StatusOr<alerting::SilenceRequest> ParseSilenceRequest(absl::string_view body,
                                                             int64_t now_ms);

// A point in time for `from`/`to`: epoch milliseconds (`1795000000000`), RFC3339
// (`2026-11-22T10:00:00Z`, `2026-11-22T11:00:00.5+01:00`), `now`, or a duration before now
// (`-15m`, `now-1h`). Errors say what was expected, without naming the parameter.
absl::StatusOr<int64_t> ParseTimeParam(absl::string_view text, int64_t now_ms);

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_HTTP_API_H_
