#ifndef VIGIL_AGENT_CHECKS_STRONGSWAN_STRONGSWAN_CHECK_H_
#define VIGIL_AGENT_CHECKS_STRONGSWAN_STRONGSWAN_CHECK_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "agent/checks/strongswan/strongswan_status.h"
#include "common/config_reader.h"

namespace vigil::agent {

// The `strongswan` check: per IPsec connection of the local charon, whether its IKE_SA and a
// CHILD_SA are up (`tunnel.up`, label `tunnel` = the connection name), its traffic counters and
// rates, and the time since the last rekey. Reads `swanctl --list-sas` (and `--list-conns` for
// the connection names), or the legacy `ipsec statusall`, each as a subprocess killed at the
// deadline. Metric names and meanings are listed in docs/metrics.md.
//
// Config keys (all optional):
//   mode          auto (default: swanctl, and `ipsec statusall` when swanctl fails),
//                 swanctl or ipsec
//   connections   the connection names to report; a configured connection without SAs reports
//                 tunnel.up 0. Default: every connection charon has loaded (plus any with SAs)
//   swanctl_path  default /usr/sbin/swanctl
//   ipsec_path    default /usr/sbin/ipsec
//   vici_socket   charon's VICI socket path, passed as `--uri unix://<path>` (default: the
//                 one in strongswan.conf, /var/run/charon.vici)
//   timeout       the scheduler's key: the commands of one collection get 90% of it together
//
// Threading: Init() once, then Collect() from one thread at a time (see Check). Collect keeps
// the previous counters per CHILD_SA in members to compute rates across rekeys.
class StrongswanCheck : public Check {
 public:
  enum class Mode { kAuto, kSwanctl, kIpsec };

  absl::Status Init(ConfigMap& config) override;
  // Fails when charon cannot be read (not running, a hung daemon, output that cannot be
  // parsed); a connection that is down is a sample, not a failure.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

  absl::Duration command_timeout() const { return command_timeout_; }

 private:
  struct Reading {
    std::vector<std::string> connections;  // loaded connections (empty when configured)
    std::vector<strongswan::IkeSa> sas;
    std::string source;  // "swanctl", "ipsec statusall" (with the reason of a fallback)
  };
  struct Counters {
    uint64_t bytes_in = 0, bytes_out = 0, packets_in = 0, packets_out = 0;
  };
  // Counters of one tunnel's CHILD_SAs, by CHILD_SA (unique id and inbound SPI).
  using ChildCounters = std::map<std::string, Counters>;

  absl::StatusOr<Reading> Read(absl::Time deadline) const;
  absl::StatusOr<Reading> ReadSwanctl(absl::Time deadline) const;
  absl::StatusOr<Reading> ReadIpsec(absl::Time deadline) const;
  std::vector<std::string> SwanctlCommand(const char* command) const;

  // Set by Init(), read-only afterwards.
  Mode mode_ = Mode::kAuto;
  std::vector<std::string> connections_;
  std::string swanctl_path_ = "/usr/sbin/swanctl";
  std::string ipsec_path_ = "/usr/sbin/ipsec";
  std::string vici_socket_;
  absl::Duration command_timeout_ = absl::Seconds(9);

  // State between Collect() calls (the collecting thread only).
  absl::Time prev_time_;
  std::optional<std::map<std::string, ChildCounters>> prev_;  // by tunnel
  std::string last_source_;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_STRONGSWAN_STRONGSWAN_CHECK_H_
