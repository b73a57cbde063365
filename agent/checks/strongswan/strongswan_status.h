#ifndef VIGIL_AGENT_CHECKS_STRONGSWAN_STRONGSWAN_STATUS_H_
#define VIGIL_AGENT_CHECKS_STRONGSWAN_STRONGSWAN_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Pure parsers for what strongSwan's command line tools print: `swanctl --list-sas`,
// `swanctl --list-conns` and the legacy `ipsec statusall` (the stroke interface). They take the
// whole output and return the security associations, or an error naming the line that is not
// in the expected format (a truncated output is an error, not a tunnel that is down).

namespace vigil::agent::strongswan {

// One CHILD_SA (an IPsec SA pair) as listed under its IKE_SA.
struct ChildSa {
  std::string name;       // the CHILD_SA's config name (not the connection's)
  std::string unique_id;  // "#3" in swanctl, "{3}" in ipsec statusall; unique per charon run
  std::string state;      // INSTALLED, REKEYING, REKEYED, DELETED, ...
  std::string spi_in;     // inbound SPI (hex), empty when not shown (not installed)
  uint64_t bytes_in = 0, bytes_out = 0, packets_in = 0, packets_out = 0;
  bool has_counters = false;  // false when the output shows no counters for this SA
  // Seconds since the SA was installed (swanctl only; reset by each rekey of the CHILD_SA).
  std::optional<int64_t> installed_seconds_ago;

  // Usable for traffic: installed, or being rekeyed (still in use until its replacement is).
  bool Installed() const { return state == "INSTALLED" || state == "REKEYING"; }
};

// One IKE_SA. Its name is the name of the connection (the swanctl.conf `connections` section
// or the ipsec.conf `conn`) it was created from.
struct IkeSa {
  std::string connection;
  std::string unique_id;  // "#1" / "[1]"
  std::string state;      // ESTABLISHED, CONNECTING, REKEYING, DELETING, ...
  // Seconds since the IKE_SA was established (a rekey of the IKE_SA makes a new one). From
  // `ipsec statusall` only as precise as its unit ("57 seconds", "3 minutes", "2 hours").
  std::optional<int64_t> established_seconds_ago;
  std::vector<ChildSa> children;

  // Established, or being rekeyed (still in use until its replacement is established).
  bool Established() const { return state == "ESTABLISHED" || state == "REKEYING"; }
};

// `swanctl --list-sas`: empty output means no SAs.
absl::StatusOr<std::vector<IkeSa>> ParseSwanctlListSas(absl::string_view text);

// `swanctl --list-conns`: the names of the loaded connections, in order.
absl::StatusOr<std::vector<std::string>> ParseSwanctlListConns(absl::string_view text);

// `ipsec statusall`: the connections of its "Connections:" section and the SAs of its
// "Security Associations" section (routed/trap policies are not SAs and are skipped).
struct StatusAll {
  std::vector<std::string> connections;
  std::vector<IkeSa> sas;
};
absl::StatusOr<StatusAll> ParseIpsecStatusAll(absl::string_view text);

// "57 seconds", "1 minute", "3 hours", "2 days" (strongSwan's %V) as seconds.
std::optional<int64_t> ParseTimeDelta(absl::string_view text);

}  // namespace vigil::agent::strongswan

#endif  // VIGIL_AGENT_CHECKS_STRONGSWAN_STRONGSWAN_STATUS_H_
