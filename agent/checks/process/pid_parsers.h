#ifndef VIGIL_AGENT_CHECKS_PROCESS_PID_PARSERS_H_
#define VIGIL_AGENT_CHECKS_PROCESS_PID_PARSERS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Pure parsers for the per-process files of /proc the `process` check reads. Each takes the
// whole content and returns the values, or InvalidArgument naming `source` (the path read) and
// what is wrong. They never touch the filesystem and are thread-safe.

namespace vigil::agent::pidfs {

// The fields of /proc/<pid>/stat the check uses (proc(5) numbering in the comments).
struct PidStat {
  int64_t pid = 0;         // (1)
  std::string comm;        // (2) without the parentheses; may contain spaces and ')'
  char state = '?';        // (3) R, S, D, Z, T, t, X, I, ...
  uint64_t utime = 0;      // (14) clock ticks in user mode
  uint64_t stime = 0;      // (15) clock ticks in kernel mode
  int64_t threads = 0;     // (20)
  uint64_t starttime = 0;  // (22) clock ticks after boot; with pid, tells a reused pid apart
};

// /proc/<pid>/stat: "pid (comm) state ppid ...". comm is up to 15 bytes of anything, including
// spaces and parentheses, so it runs from the first '(' to the last ')'.
absl::StatusOr<PidStat> ParsePidStat(absl::string_view content, absl::string_view source);

// The fields of /proc/<pid>/status the check uses.
struct PidStatus {
  std::string name;                   // Name:
  std::optional<uint64_t> rss_bytes;  // VmRSS: (kB); absent for kernel threads and zombies
  int64_t threads = 0;                // Threads:
};

// /proc/<pid>/status: "Key:\tvalue" lines. Name and Threads are required.
absl::StatusOr<PidStatus> ParsePidStatus(absl::string_view content, absl::string_view source);

// /proc/<pid>/cmdline (arguments separated and ended by NUL) as one line, arguments joined by
// single spaces: "php-fpm: pool www". Empty for kernel threads and zombies.
std::string CmdlineToString(absl::string_view content);

}  // namespace vigil::agent::pidfs

#endif  // VIGIL_AGENT_CHECKS_PROCESS_PID_PARSERS_H_
