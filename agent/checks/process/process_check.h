#ifndef VIGIL_AGENT_CHECKS_PROCESS_PROCESS_CHECK_H_
#define VIGIL_AGENT_CHECKS_PROCESS_PROCESS_CHECK_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "common/config_reader.h"
#include "re2/re2.h"

namespace vigil::agent {

// The `process` check: how many processes match a name or a pattern (php-fpm workers, queue
// consumers) and what they use together: CPU, resident memory, threads, open files. Read from
// /proc (never a subprocess); a process that exits while it is being read is skipped.
//
// Config keys (exactly one of process_name and pattern):
//   process_name  exact process name (comm, as in `ps -e -o comm`, at most 15 characters);
//                 not `name`, which is every check's own name
//   pattern       RE2 regular expression searched in the command line (arguments joined by
//                 spaces, as `ps -e -o args` shows it); processes without a command line
//                 (kernel threads, zombies) are matched only by process_name
//   proc_root     default /proc
// Zombies are not counted.
//
// Threading: Init() once, then Collect() from one thread at a time (see Check). The previous
// CPU times are kept in members touched only by Collect().
class ProcessCheck : public Check {
 public:
  absl::Status Init(ConfigMap& config) override;
  // Fails only when <proc_root> cannot be listed.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

 private:
  struct CpuTicks {
    uint64_t starttime = 0;  // tells a reused pid apart
    uint64_t ticks = 0;      // utime + stime
  };

  // Set by Init(), read-only afterwards.
  std::string proc_root_ = "/proc";
  std::string name_;
  std::unique_ptr<RE2> pattern_;  // null when matching by name
  double ticks_per_second_ = 100;

  // State between Collect() calls (the collecting thread only).
  std::optional<absl::Time> prev_time_;
  std::map<int64_t, CpuTicks> prev_cpu_;  // by pid
  std::string last_problem_;              // logged once per change
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_PROCESS_PROCESS_CHECK_H_
