#ifndef VIGIL_AGENT_CHECKS_RABBITMQ_RABBITMQ_CHECK_H_
#define VIGIL_AGENT_CHECKS_RABBITMQ_RABBITMQ_CHECK_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "common/config_reader.h"
#include "common/secret.h"
#include "common/selector.h"

namespace vigil::agent {

// The `rabbitmq` check: queues and nodes from RabbitMQ's management HTTP API
// (`GET /api/nodes` and `GET /api/queues[/<vhost>]`, two requests per collection).
// Metric names are in docs/metrics.md.
//
// Config keys:
//   url                   management API base (default http://127.0.0.1:15672; include the
//                         management.path_prefix if the broker has one); http or https
//   username              management user (required; the `monitoring` tag is enough)
//   password_file / password_env   its password (required); never inline, read at each use
//   vhost                 only the queues of this vhost (default: every vhost)
//   queues                regular expression (ECMAScript, fully anchored) a queue name must
//                         match to be reported (default: every queue)
//   max_queues            report at most this many queues, in the API's order (default 1000)
//   ca_file               PEM bundle to verify an https server with (default: system CAs)
//   insecure_skip_verify  do not verify the https server's certificate (default false)
//   timeout               also read by the scheduler: bounds both requests together
//                         (default: 5s, or the check's interval when that is shorter)
//
// Threading: Init() once, then Collect() from one thread at a time (see Check).
class RabbitmqCheck : public Check {
 public:
  static constexpr absl::Duration kDefaultTimeout = absl::Seconds(5);
  static constexpr int kDefaultMaxQueues = 1000;

  absl::Status Init(ConfigMap& config) override;
  // Fails when either request fails (transport, non-200 status, unparsable JSON); a 401 is
  // PermissionDenied and an unknown vhost NotFound.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

 private:
  // GET base_url_ + path_and_query within `deadline`; the body of a 200 response.
  absl::StatusOr<std::string> Get(const std::string& path, const std::string& query,
                                  absl::Time deadline);

  // Set by Init(), read-only afterwards.
  std::string base_url_ = "http://127.0.0.1:15672";
  std::string username_;
  SecretRef password_;
  std::string vhost_;
  bool has_vhost_ = false;
  std::optional<LabelMatcher> queue_filter_;
  int max_queues_ = kDefaultMaxQueues;
  std::string ca_file_;
  bool insecure_skip_verify_ = false;
  absl::Duration timeout_ = kDefaultTimeout;

  // The collecting thread only.
  size_t last_dropped_queues_ = 0;  // for logging once per change
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_RABBITMQ_RABBITMQ_CHECK_H_
