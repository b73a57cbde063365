#ifndef VIGIL_AGENT_CHECKS_STRONGSWAN_COMMAND_H_
#define VIGIL_AGENT_CHECKS_STRONGSWAN_COMMAND_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil::agent {

// What a finished command printed and how it ended.
struct CommandResult {
  int exit_code = -1;   // the exit status when it exited, -1 when a signal ended it
  int term_signal = 0;  // the signal that ended it, 0 when it exited
  std::string out;      // everything it wrote to stdout
  std::string err;      // the first bytes it wrote to stderr (capped, see RunCommand)
  bool exited_ok() const { return exit_code == 0; }
};

// Runs argv[0] (an absolute path, no PATH search) with argv, stdin from /dev/null, the agent's
// environment, and stdout and stderr read through pipes. The command runs in its own process
// group; when it has not finished within `timeout`, or prints more than `max_output` bytes on
// stdout, the whole group is killed (SIGKILL) and reaped, and DEADLINE_EXCEEDED or
// RESOURCE_EXHAUSTED is returned. Stderr beyond 64 KiB is read and dropped.
// Errors name the program, never its output. Safe to call from several threads at once
// (fork+exec, with only async-signal-safe calls in the child).
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout, size_t max_output = 8 << 20);

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_STRONGSWAN_COMMAND_H_
