#ifndef VIGIL_AGENT_CHECKS_NGINX_NGINX_CHECK_H_
#define VIGIL_AGENT_CHECKS_NGINX_NGINX_CHECK_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "agent/checks/nginx/access_log_format.h"
#include "agent/checks/nginx/log_tailer.h"
#include "agent/checks/nginx/stub_status.h"
#include "common/config_reader.h"
#include "common/secret.h"

namespace vigil::agent {

// The `nginx` check: tails nginx's access log and reports, per collection interval, requests,
// responses by status class and 5xx code, and $request_time / $upstream_response_time
// summaries; with `status_url`, also the stub_status connection gauges and rates. Metric names
// and meanings are listed in docs/metrics.md.
//
// Config keys (all optional):
//   access_log       path of the access log (default /var/log/nginx/access.log); relative paths
//                    are relative to the agent's config file
//   log_format       the log_format of that access log, as in nginx.conf without the nginx
//                    quoting (default nginx's `combined`; the word "combined" also selects it).
//                    It must contain $status; latency needs $request_time
//   max_read_bytes   access log bytes read per collection at most, the rest in the next ones
//                    (default 16MiB, at least 64KiB)
//   per_vhost        also count requests per $host (needs $host in log_format; default false)
//   status_url       stub_status page, e.g. http://127.0.0.1/nginx_status (default: none)
//   username, password_file / password_env   basic authentication for status_url
//
// The first collection starts at the end of the access log (history is not replayed). A
// missing access log or an unreadable status_url fails the collection (nginx.up 0); the
// check recovers by itself when they come back. Lines that do not match log_format are
// counted in nginx.log.malformed_lines and skipped.
//
// Threading: Init() once, then Collect() from one thread at a time (see Check). The tailer and
// the previous stub_status counters are state of that thread.
class NginxCheck : public Check {
 public:
  static constexpr char kDefaultAccessLog[] = "/var/log/nginx/access.log";
  static constexpr uint64_t kDefaultMaxReadBytes = 16 << 20;
  static constexpr uint64_t kMinMaxReadBytes = 64 << 10;

  absl::Status Init(ConfigMap& config) override;
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

 private:
  absl::StatusOr<nginx::StubStatus> FetchStubStatus() const;
  void CollectStubStatus(absl::Time now, const nginx::StubStatus& status, std::vector<Sample>& out);

  // Set by Init(), read-only afterwards.
  std::string access_log_;
  std::optional<nginx::AccessLogFormat> format_;
  uint64_t max_read_bytes_ = kDefaultMaxReadBytes;
  bool per_vhost_ = false;
  std::string status_url_;
  std::string username_;
  SecretRef password_;
  absl::Duration timeout_ = absl::Seconds(10);

  // State between Collect() calls (the collecting thread only).
  std::unique_ptr<nginx::LogTailer> tailer_;
  std::optional<std::pair<absl::Time, nginx::StubStatus>> prev_status_;
  bool had_malformed_ = false;  // for logging once per change
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_NGINX_NGINX_CHECK_H_
