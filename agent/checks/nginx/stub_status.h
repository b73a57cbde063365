#ifndef VIGIL_AGENT_CHECKS_NGINX_STUB_STATUS_H_
#define VIGIL_AGENT_CHECKS_NGINX_STUB_STATUS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil::agent::nginx {

// The page of nginx's ngx_http_stub_status_module:
//   Active connections: 291
//   server accepts handled requests
//    16630948 16630948 31070465
//   Reading: 6 Writing: 179 Waiting: 106
struct StubStatus {
  uint64_t active = 0;
  uint64_t accepts = 0;  // counters since nginx started (reset by a restart)
  uint64_t handled = 0;
  uint64_t requests = 0;
  uint64_t reading = 0;
  uint64_t writing = 0;
  uint64_t waiting = 0;
};

// Pure parser. Errors are InvalidArgument naming `source` and the line, e.g.
// "http://127.0.0.1/status: line 3: expected 3 numbers (accepts handled requests), got 2".
absl::StatusOr<StubStatus> ParseStubStatus(absl::string_view text, absl::string_view source);

}  // namespace vigil::agent::nginx

#endif  // VIGIL_AGENT_CHECKS_NGINX_STUB_STATUS_H_
