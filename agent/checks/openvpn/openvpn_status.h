#ifndef VIGIL_AGENT_CHECKS_OPENVPN_OPENVPN_STATUS_H_
#define VIGIL_AGENT_CHECKS_OPENVPN_OPENVPN_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// A pure parser for the status file an OpenVPN server writes (`--status FILE N` with
// `--status-version 1`, 2 or 3).

namespace vigil::agent::openvpn {

// One connected client session (one CLIENT_LIST row).
struct ClientSession {
  std::string common_name;      // "UNDEF" while the client is still authenticating
  std::string real_address;     // ip:port the session comes from
  uint64_t bytes_received = 0;  // by the server from this client
  uint64_t bytes_sent = 0;      // by the server to this client
  std::optional<absl::Time> connected_since;
};

struct StatusFile {
  int version = 0;     // 1, 2 or 3
  absl::Time updated;  // when the server wrote the file (TIME / Updated line)
  std::vector<ClientSession> clients;
};

// Parses a whole status file. Times without a Unix timestamp (version 1) are read in
// `local_zone`, the zone the server wrote them in. A file without its END line (truncated, or
// read while the server rewrote it), rows whose column count differs from their header, and
// counters that are not numbers are errors naming the line.
absl::StatusOr<StatusFile> ParseStatusFile(absl::string_view text,
                                           const absl::TimeZone& local_zone);

}  // namespace vigil::agent::openvpn

#endif  // VIGIL_AGENT_CHECKS_OPENVPN_OPENVPN_STATUS_H_
