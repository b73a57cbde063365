#ifndef VIGIL_AGENT_CHECKS_SYSTEM_SYSTEM_CHECK_H_
#define VIGIL_AGENT_CHECKS_SYSTEM_SYSTEM_CHECK_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "agent/checks/system/proc_parsers.h"
#include "common/config_reader.h"

namespace vigil::agent {

// The `system` check: CPU, load, memory, swap, filesystems, disk I/O, network and uptime of
// the host, read from /proc and statvfs(2) (never a subprocess). Metric names and meanings are
// listed in docs/metrics.md.
//
// Config keys (all optional):
//   proc_root            directory holding stat, loadavg, ... (default /proc)
//   mounts_file          mount table (default /proc/self/mounts, or <proc_root>/mounts when
//                        proc_root is not /proc)
//   exclude_fstypes      filesystem types to skip, exact names (default: pseudo filesystems,
//                        see kDefaultExcludedFsTypes); a given list replaces the default
//   exclude_mountpoints  path prefixes: "/snap" skips /snap and /snap/x but not /snapshots
//   exclude_interfaces   interface name prefixes (default ["lo"])
//   exclude_devices      disk device name prefixes (default ["loop", "ram"]; dm-* is kept)
//
// Threading: Init() once, then Collect() from one thread at a time (see Check). Collect keeps
// the previous counters in members to compute rates; statvfs_failures() is for that thread too.
class SystemCheck : public Check {
 public:
  static const char* const kDefaultExcludedFsTypes[];

  SystemCheck();

  absl::Status Init(ConfigMap& config) override;
  // Fails only when /proc/stat, /proc/loadavg or /proc/meminfo cannot be read or parsed;
  // uptime, filesystems, disks and interfaces that fail are left out of the result.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

  // Mountpoints skipped by the last Collect() because statvfs() failed on them.
  int statvfs_failures() const { return statvfs_failures_; }

 private:
  template <typename T>
  struct Snapshot {
    absl::Time time;
    T values;
  };

  void CollectFilesystems(std::vector<Sample>& out);
  void CollectDisks(absl::Time now, std::vector<Sample>& out);
  void CollectNet(absl::Time now, std::vector<Sample>& out);
  // Logs a failure of an optional part once per change of its message.
  void NoteOptionalPart(const absl::Status& status, std::string& last_error);

  // Set by Init(), read-only afterwards.
  std::string proc_root_;
  std::string mounts_file_;
  std::set<std::string> exclude_fstypes_;
  std::vector<std::string> exclude_mountpoints_;
  std::vector<std::string> exclude_interfaces_;
  std::vector<std::string> exclude_devices_;

  // State between Collect() calls (the collecting thread only).
  std::optional<Snapshot<proc::CpuTimes>> prev_cpu_;
  std::optional<Snapshot<std::map<std::string, proc::DiskStat>>> prev_disks_;
  std::optional<Snapshot<std::map<std::string, proc::NetDevStat>>> prev_net_;
  int statvfs_failures_ = 0;
  std::string uptime_error_, mounts_error_, statvfs_error_, disks_error_, net_error_;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_SYSTEM_SYSTEM_CHECK_H_
