#ifndef VIGIL_AGENT_CHECKS_HAPROXY_HAPROXY_CHECK_H_
#define VIGIL_AGENT_CHECKS_HAPROXY_HAPROXY_CHECK_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "agent/checks/haproxy/stat_csv.h"
#include "common/config_reader.h"
#include "common/http_client.h"
#include "common/secret.h"

namespace vigil::agent {

// How a server row's `status` counts in haproxy.backend.servers_up / servers_down /
// servers_maint. Up: "UP" (also "UP 1/3", still serving while failing checks), "no check"
// (no health check: always used). Everything else is down: "DOWN" (also "DOWN 1/2", not yet
// back), "NOLB", "MAINT" (also "MAINT (via ...)", "MAINT (resolution)"), "DRAIN", and any
// status this version does not know. Maint is the deliberate part of down: MAINT* and DRAIN.
enum class ServerHealth { kUp, kDown, kMaint };
ServerHealth ClassifyServerStatus(absl::string_view status);

// Reads HAProxy's statistics over the stats socket (`show stat`) within `timeout`. The error
// names the socket and what failed: connect, no answer in time, or an answer over 64 MiB.
absl::StatusOr<std::string> QueryStatsSocket(const std::string& path, absl::Duration timeout);

// The `haproxy` check: sessions, session and 5xx rates, queue and response time per frontend,
// backend and server, and the healthy and unhealthy servers of each backend, from HAProxy's
// statistics CSV. Metric names and labels are in docs/metrics.md.
//
// Config keys (exactly one of stats_socket and stats_url):
//   stats_socket   path of a `stats socket` (any level: `show stat` needs none)
//   stats_url      the stats page (`stats uri`), e.g. http://127.0.0.1:8404/stats; ";csv" is
//                  appended unless the URL already ends with it
//   username       basic authentication for stats_url (`stats auth`), with password_file or
//                  password_env
//   tls: {ca_file, insecure_skip_verify}   for an https stats_url
// The query gets 90% of the check's `timeout`, as the http check's request does.
//
// Threading: Init() once, then Collect() from one thread at a time (see Check). The previous
// counters for rates are kept in members touched only by Collect().
class HaproxyCheck : public Check {
 public:
  absl::Status Init(ConfigMap& config) override;
  // Fails when the statistics cannot be read or parsed.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

  absl::Duration query_timeout() const { return timeout_; }

 private:
  struct Counters {
    std::optional<double> sessions;  // stot
    std::optional<double> http_5xx;  // hrsp_5xx
  };

  absl::StatusOr<std::string> Fetch();

  // Set by Init(), read-only afterwards (the password is read at each Collect()).
  std::string socket_path_;
  HttpRequest request_;  // used when stats_url is set
  SecretRef password_;
  absl::Duration timeout_ = absl::Seconds(9);

  // State between Collect() calls (the collecting thread only): counters by row key.
  std::optional<absl::Time> prev_time_;
  std::map<std::string, Counters> prev_;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_HAPROXY_HAPROXY_CHECK_H_
