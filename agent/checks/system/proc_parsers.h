#ifndef VIGIL_AGENT_CHECKS_SYSTEM_PROC_PARSERS_H_
#define VIGIL_AGENT_CHECKS_SYSTEM_PROC_PARSERS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

// Pure parsers for the Linux /proc files the `system` check reads. Each takes the whole file
// content and returns the parsed values, or InvalidArgument whose message names the file and
// the line, e.g. "/proc/stat: line 1: expected at least 8 numeric fields after 'cpu', got 3".
// `source` is the name used in messages. They never touch the filesystem and are thread-safe.

namespace vigil::agent::proc {

// The aggregate `cpu` line of /proc/stat, in USER_HZ ticks. guest and guest_nice are already
// counted in user and nice, so they are not part of Total().
struct CpuTimes {
  uint64_t user = 0;
  uint64_t nice = 0;
  uint64_t system = 0;
  uint64_t idle = 0;
  uint64_t iowait = 0;
  uint64_t irq = 0;
  uint64_t softirq = 0;
  uint64_t steal = 0;

  uint64_t Total() const { return user + nice + system + idle + iowait + irq + softirq + steal; }
};

struct LoadAverage {
  double load1 = 0;
  double load5 = 0;
  double load15 = 0;
};

// Values from /proc/meminfo, converted from kB to bytes.
struct MemInfo {
  uint64_t total_bytes = 0;
  // MemAvailable; on kernels without it (< 3.14), MemFree + Buffers + Cached + SReclaimable.
  uint64_t available_bytes = 0;
  uint64_t swap_total_bytes = 0;  // 0 when SwapTotal is absent
  uint64_t swap_free_bytes = 0;
};

// One line of /proc/diskstats (only the fields the check uses).
struct DiskStat {
  std::string device;
  uint64_t reads_completed = 0;
  uint64_t sectors_read = 0;  // 512-byte units regardless of the device's sector size
  uint64_t writes_completed = 0;
  uint64_t sectors_written = 0;
};

// One interface of /proc/net/dev.
struct NetDevStat {
  std::string interface;
  uint64_t rx_bytes = 0;
  uint64_t rx_packets = 0;
  uint64_t rx_errors = 0;
  uint64_t rx_drops = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_errors = 0;
  uint64_t tx_drops = 0;
};

struct Uptime {
  double uptime_seconds = 0;
  double idle_seconds = 0;
};

// One line of /proc/mounts (fstab format); octal escapes such as \040 are decoded.
struct MountEntry {
  std::string device;
  std::string mountpoint;
  std::string fstype;
  std::string options;
};

absl::StatusOr<CpuTimes> ParseProcStat(std::string_view content,
                                       std::string_view source = "/proc/stat");
absl::StatusOr<LoadAverage> ParseLoadAvg(std::string_view content,
                                         std::string_view source = "/proc/loadavg");
absl::StatusOr<MemInfo> ParseMemInfo(std::string_view content,
                                     std::string_view source = "/proc/meminfo");
absl::StatusOr<std::vector<DiskStat>> ParseDiskStats(std::string_view content,
                                                     std::string_view source = "/proc/diskstats");
absl::StatusOr<std::vector<NetDevStat>> ParseNetDev(std::string_view content,
                                                    std::string_view source = "/proc/net/dev");
absl::StatusOr<Uptime> ParseUptime(std::string_view content,
                                   std::string_view source = "/proc/uptime");
absl::StatusOr<std::vector<MountEntry>> ParseMounts(std::string_view content,
                                                    std::string_view source = "/proc/mounts");

}  // namespace vigil::agent::proc

#endif  // VIGIL_AGENT_CHECKS_SYSTEM_PROC_PARSERS_H_
