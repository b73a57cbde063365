#ifndef VIGIL_AGENT_CHECKS_OPENVPN_OPENVPN_CHECK_H_
#define VIGIL_AGENT_CHECKS_OPENVPN_OPENVPN_CHECK_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "common/config_reader.h"

namespace vigil::agent {

// The `openvpn` check: connected clients and their traffic from an OpenVPN server's status
// file (`status FILE N` with `status-version` 1, 2 or 3 in the server's config), and the age of
// that file, which keeps growing when the server is dead or hung. Metric names and meanings are
// listed in docs/metrics.md.
//
// Config keys:
//   status_file   required: absolute path of the server's status file (the agent needs read
//                 access; OpenVPN creates it mode 0600)
//
// Rates are computed between two rewrites of the file (its own timestamps), per client session,
// so a client that reconnects or a second session with the same certificate does not show as a
// counter reset.
//
// Threading: Init() once, then Collect() from one thread at a time (see Check). Collect keeps
// the previous file's counters per session in members.
class OpenVpnCheck : public Check {
 public:
  absl::Status Init(ConfigMap& config) override;
  // Fails when the file cannot be read or parsed.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

 private:
  struct Counters {
    uint64_t received = 0, sent = 0;
  };

  // Set by Init(), read-only afterwards.
  std::string status_file_;

  // State between Collect() calls (the collecting thread only): the previous file's time and
  // counters by session.
  std::optional<absl::Time> prev_updated_;
  std::map<std::string, Counters> prev_sessions_;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_OPENVPN_OPENVPN_CHECK_H_
