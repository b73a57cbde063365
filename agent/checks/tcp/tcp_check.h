#ifndef VIGIL_AGENT_CHECKS_TCP_TCP_CHECK_H_
#define VIGIL_AGENT_CHECKS_TCP_TCP_CHECK_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "common/config_reader.h"

namespace vigil::agent {

// Opens a TCP connection to `addr` and closes it at once. Returns the time the handshake took,
// or UNAVAILABLE (refused, unreachable) or DEADLINE_EXCEEDED (no answer within `timeout`: a
// peer that drops the SYN, a tunnel that passes no traffic). Thread-safe.
absl::StatusOr<absl::Duration> TcpConnect(const sockaddr_storage& addr, socklen_t addr_len,
                                          absl::Duration timeout);

// The `tcp` check: a reachability probe, typically through a VPN tunnel to an address on the
// other side, so a tunnel that is "up" but passes no traffic is seen. It reports its own
// `tcp.up` (1 when the connection was accepted, 0 otherwise), so Collect() succeeds either way,
// and the handshake time when it connected; the reason of a failure is logged once per change
// of `tcp.up`. Metric names and meanings are listed in docs/metrics.md.
//
// Config keys:
//   address   required: an IPv4 or IPv6 address (no host names: a resolver that hangs would
//             delay the probe beyond its timeout)
//   port      required: 1..65535
//   timeout   the scheduler's key: the connect gets 90% of it
//
// Threading: Init() once, then Collect() from one thread at a time (see Check); the last state
// for logging is kept in members touched only by Collect().
class TcpCheck : public Check {
 public:
  absl::Status Init(ConfigMap& config) override;
  // Never fails: an unreachable target is `tcp.up 0`.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

  absl::Duration connect_timeout() const { return connect_timeout_; }

 private:
  // Set by Init(), read-only afterwards.
  sockaddr_storage addr_ = {};
  socklen_t addr_len_ = 0;
  std::string target_;  // address:port, for log lines
  absl::Duration connect_timeout_ = absl::Seconds(9);

  // State between Collect() calls (the collecting thread only).
  int last_up_ = -1;  // unknown before the first probe
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_TCP_TCP_CHECK_H_
