#ifndef VIGIL_AGENT_CHECKS_REDIS_REDIS_CHECK_H_
#define VIGIL_AGENT_CHECKS_REDIS_REDIS_CHECK_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "agent/checks/redis/redis_info.h"
#include "common/config_reader.h"
#include "common/secret.h"

struct redisContext;

namespace vigil::agent {

// The `redis` check: one `INFO` per collection over hiredis (CPU, clients, memory, keys,
// hit ratio, ops, replication on masters and replicas). Metric names are in docs/metrics.md.
//
// Config keys (all optional):
//   host          server address (default 127.0.0.1)
//   port          TCP port (default 6379)
//   unix_socket   path of the server's unix socket, instead of host and port
//   username      ACL user to AUTH as (Redis >= 6); needs a password
//   password_file / password_env   the password (AUTH); never inline, read at each connect
//   timeout       also read by the scheduler: bounds connect, AUTH and INFO together
//                 (default: 5s, or the check's interval when that is shorter)
//   tls           must be false: Debian 12's hiredis (0.14) has no TLS, so `true` is a
//                 config error rather than a silently unencrypted connection
//
// The connection is kept between collections and opened again after any failure.
//
// Threading: Init() once, then Collect() from one thread at a time (see Check); the
// connection and the previous snapshot belong to that thread.
class RedisCheck : public Check {
 public:
  static constexpr absl::Duration kDefaultTimeout = absl::Seconds(5);

  RedisCheck();
  ~RedisCheck() override;

  absl::Status Init(ConfigMap& config) override;
  // Fails when the server cannot be reached, refuses AUTH, does not answer within the
  // timeout, or sends an INFO reply that cannot be parsed.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

 private:
  struct ContextFree {
    void operator()(redisContext* c) const;
  };

  // Connects (and authenticates) when there is no connection, then runs INFO.
  absl::StatusOr<std::string> QueryInfo(absl::Time deadline);
  absl::Status Connect(absl::Time deadline);
  // The error of the connection's last failed call, as a Status naming `what`; also drops
  // the connection.
  absl::Status ConnectionError(const std::string& what, absl::Duration waited);

  // Set by Init(), read-only afterwards.
  std::string host_ = "127.0.0.1";
  int port_ = 6379;
  std::string unix_socket_;
  std::string username_;
  SecretRef password_;
  absl::Duration timeout_ = kDefaultTimeout;
  std::string source_;  // "redis 127.0.0.1:6379" for messages

  // State between Collect() calls (the collecting thread only).
  std::unique_ptr<redisContext, ContextFree> conn_;
  std::optional<redis::Snapshot> prev_;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_REDIS_REDIS_CHECK_H_
