#include "agent/checks/system/system_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace vigil::agent {
namespace {

// /proc files are small; anything larger is not what we expect to read.
constexpr size_t kMaxProcFileBytes = 16 << 20;

// Reads a whole file with read(2) until EOF (/proc files report size 0, so no stat first).
absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return absl::ErrnoToStatus(e, absl::StrCat("cannot open ", path));
  }
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return absl::ErrnoToStatus(e, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxProcFileBytes) {
      close(fd);
      return absl::ResourceExhaustedError(
          absl::StrCat(path, ": larger than ", kMaxProcFileBytes, " bytes"));
    }
  }
  close(fd);
  return out;
}

// Reads and parses one file; parse errors name the file actually read.
template <typename T>
absl::StatusOr<T> ReadAndParse(const std::string& path,
                               absl::StatusOr<T> (*parse)(std::string_view, std::string_view)) {
  absl::StatusOr<std::string> content = ReadWholeFile(path);
  if (!content.ok()) return content.status();
  return parse(*content, path);
}

bool HasAnyPrefix(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const std::string& p : prefixes) {
    if (absl::StartsWith(name, p)) return true;
  }
  return false;
}

// Path-component prefix: "/snap" matches "/snap" and "/snap/core" but not "/snapshots".
bool UnderAnyPath(const std::string& path, const std::vector<std::string>& prefixes) {
  for (const std::string& p : prefixes) {
    if (p == "/") return true;
    std::string base = absl::EndsWith(p, "/") ? p.substr(0, p.size() - 1) : p;
    if (path == base || absl::StartsWith(path, base + "/")) return true;
  }
  return false;
}

void Add(std::vector<Sample>& out, std::string metric, Labels labels, double value) {
  out.push_back(Sample{std::move(metric), std::move(labels), value});
}

// Emits (cur - prev) * scale / seconds, or nothing when the counter went down (reset or wrap).
void AddRate(std::vector<Sample>& out, std::string metric, const Labels& labels, uint64_t prev,
             uint64_t cur, double seconds, double scale = 1) {
  if (cur < prev) return;
  Add(out, std::move(metric), labels, static_cast<double>(cur - prev) * scale / seconds);
}

double Percent(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0; }

// Reads a list key; absent means `defaults`, a given list (even empty) replaces them.
std::vector<std::string> ListOrDefault(ConfigMap& config, const char* key,
                                       std::vector<std::string> defaults) {
  if (!config.Has(key)) return defaults;
  std::vector<std::string> v = config.StringList(key);
  for (const std::string& s : v) {
    if (s.empty()) {
      config.Error(key, "entries must not be empty");
      break;
    }
  }
  return v;
}

}  // namespace

const char* const SystemCheck::kDefaultExcludedFsTypes[] = {
    "proc",      "sysfs",    "devtmpfs", "devpts",      "tmpfs",  "cgroup",     "cgroup2",
    "mqueue",    "debugfs",  "tracefs",  "securityfs",  "pstore", "bpf",        "autofs",
    "hugetlbfs", "configfs", "fusectl",  "binfmt_misc", "nsfs",   "rpc_pipefs", "squashfs",
    "overlay",   "ramfs",    "efivarfs", nullptr};

SystemCheck::SystemCheck()
    : proc_root_("/proc"),
      mounts_file_("/proc/self/mounts"),
      exclude_interfaces_{"lo"},
      exclude_devices_{"loop", "ram"} {
  for (const char* const* t = kDefaultExcludedFsTypes; *t != nullptr; ++t) {
    exclude_fstypes_.insert(*t);
  }
}

absl::Status SystemCheck::Init(ConfigMap& config) {
  std::string root = config.String("proc_root", "/proc");
  while (root.size() > 1 && absl::EndsWith(root, "/")) root.pop_back();
  struct stat st;
  if (root.empty() || root[0] != '/') {
    config.Error("proc_root", absl::StrCat("must be an absolute path, got '", root, "'"));
  } else if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    config.Error("proc_root", absl::StrCat("'", root, "' is not a directory"));
  } else {
    proc_root_ = root;
  }
  mounts_file_ = config.String(
      "mounts_file", proc_root_ == "/proc" ? "/proc/self/mounts" : proc_root_ + "/mounts");

  std::vector<std::string> default_fstypes;
  for (const char* const* t = kDefaultExcludedFsTypes; *t != nullptr; ++t) {
    default_fstypes.push_back(*t);
  }
  std::vector<std::string> fstypes = ListOrDefault(config, "exclude_fstypes", default_fstypes);
  exclude_fstypes_ = std::set<std::string>(fstypes.begin(), fstypes.end());
  exclude_mountpoints_ = ListOrDefault(config, "exclude_mountpoints", {});
  for (const std::string& p : exclude_mountpoints_) {
    if (!p.empty() && p[0] != '/') {
      config.Error("exclude_mountpoints", absl::StrCat("'", p, "' is not an absolute path"));
      break;
    }
  }
  exclude_interfaces_ = ListOrDefault(config, "exclude_interfaces", {"lo"});
  exclude_devices_ = ListOrDefault(config, "exclude_devices", {"loop", "ram"});
  return absl::OkStatus();
}

void SystemCheck::NoteOptionalPart(const absl::Status& status, std::string& last_error) {
  if (status.ok()) {
    if (!last_error.empty()) {
      VIGIL_LOG(Info) << "system check: recovered from: " << last_error;
    }
    last_error.clear();
    return;
  }
  std::string message(status.message());
  if (message != last_error) {
    VIGIL_LOG(Warning) << "system check: skipping part of the collection: " << message;
    last_error = std::move(message);
  }
}

absl::StatusOr<std::vector<Sample>> SystemCheck::Collect(absl::Time now) {
  // The required files are all read before any state changes, so a failure leaves the
  // previous CPU snapshot in place for the next call.
  absl::StatusOr<proc::CpuTimes> cpu =
      ReadAndParse<proc::CpuTimes>(proc_root_ + "/stat", &proc::ParseProcStat);
  if (!cpu.ok()) return cpu.status();
  absl::StatusOr<proc::LoadAverage> load =
      ReadAndParse<proc::LoadAverage>(proc_root_ + "/loadavg", &proc::ParseLoadAvg);
  if (!load.ok()) return load.status();
  absl::StatusOr<proc::MemInfo> mem =
      ReadAndParse<proc::MemInfo>(proc_root_ + "/meminfo", &proc::ParseMemInfo);
  if (!mem.ok()) return mem.status();

  std::vector<Sample> out;
  if (prev_cpu_ && now > prev_cpu_->time) {
    const proc::CpuTimes& a = prev_cpu_->values;
    const proc::CpuTimes& b = *cpu;
    bool reset = b.user < a.user || b.nice < a.nice || b.system < a.system || b.idle < a.idle ||
                 b.iowait < a.iowait || b.irq < a.irq || b.softirq < a.softirq || b.steal < a.steal;
    double total = reset ? 0 : static_cast<double>(b.Total() - a.Total());
    if (total > 0) {
      auto d = [](uint64_t x, uint64_t y) { return static_cast<double>(y - x); };
      double idle = d(a.idle, b.idle) + d(a.iowait, b.iowait);
      Add(out, "system.cpu.utilization", {}, Percent(total - idle, total));
      Add(out, "system.cpu.user", {}, Percent(d(a.user, b.user) + d(a.nice, b.nice), total));
      Add(out, "system.cpu.system", {},
          Percent(d(a.system, b.system) + d(a.irq, b.irq) + d(a.softirq, b.softirq), total));
      Add(out, "system.cpu.iowait", {}, Percent(d(a.iowait, b.iowait), total));
      Add(out, "system.cpu.steal", {}, Percent(d(a.steal, b.steal), total));
    }
  }
  prev_cpu_ = Snapshot<proc::CpuTimes>{now, *cpu};

  Add(out, "system.load.1", {}, load->load1);
  Add(out, "system.load.5", {}, load->load5);
  Add(out, "system.load.15", {}, load->load15);

  double mem_total = static_cast<double>(mem->total_bytes);
  double mem_used = static_cast<double>(mem->total_bytes - mem->available_bytes);
  Add(out, "system.memory.total_bytes", {}, mem_total);
  Add(out, "system.memory.available_bytes", {}, static_cast<double>(mem->available_bytes));
  Add(out, "system.memory.used_bytes", {}, mem_used);
  Add(out, "system.memory.used_pct", {}, Percent(mem_used, mem_total));
  double swap_total = static_cast<double>(mem->swap_total_bytes);
  double swap_used = static_cast<double>(mem->swap_total_bytes - mem->swap_free_bytes);
  Add(out, "system.swap.total_bytes", {}, swap_total);
  Add(out, "system.swap.used_bytes", {}, swap_used);
  Add(out, "system.swap.used_pct", {}, Percent(swap_used, swap_total));

  absl::StatusOr<proc::Uptime> uptime =
      ReadAndParse<proc::Uptime>(proc_root_ + "/uptime", &proc::ParseUptime);
  if (uptime.ok()) Add(out, "system.uptime_seconds", {}, uptime->uptime_seconds);
  NoteOptionalPart(uptime.status(), uptime_error_);

  CollectFilesystems(out);
  CollectDisks(now, out);
  CollectNet(now, out);
  return out;
}

void SystemCheck::CollectFilesystems(std::vector<Sample>& out) {
  absl::StatusOr<std::vector<proc::MountEntry>> mounts =
      ReadAndParse<std::vector<proc::MountEntry>>(mounts_file_, &proc::ParseMounts);
  NoteOptionalPart(mounts.status(), mounts_error_);
  if (!mounts.ok()) return;

  // A mountpoint mounted over several times is listed once per mount; the last entry is the
  // one visible at that path (and the one statvfs reports), so walk backwards.
  std::set<std::string> seen;
  std::vector<const proc::MountEntry*> visible;
  for (auto it = mounts->rbegin(); it != mounts->rend(); ++it) {
    if (seen.insert(it->mountpoint).second) visible.push_back(&*it);
  }
  int failures = 0;
  absl::Status first_failure;
  for (auto it = visible.rbegin(); it != visible.rend(); ++it) {
    const proc::MountEntry& m = **it;
    if (exclude_fstypes_.count(m.fstype) > 0 || UnderAnyPath(m.mountpoint, exclude_mountpoints_)) {
      continue;
    }
    struct statvfs vfs;
    if (statvfs(m.mountpoint.c_str(), &vfs) != 0) {
      int e = errno;
      if (failures++ == 0) {
        first_failure = absl::ErrnoToStatus(e, absl::StrCat("statvfs(", m.mountpoint, ")"));
      }
      continue;
    }
    // Filesystems without blocks (pseudo filesystems not in the exclude list) are left out,
    // as df does.
    if (vfs.f_blocks == 0) continue;
    double frsize = static_cast<double>(vfs.f_frsize);
    double total = static_cast<double>(vfs.f_blocks) * frsize;
    double used = static_cast<double>(vfs.f_blocks - std::min(vfs.f_bfree, vfs.f_blocks)) * frsize;
    double avail = static_cast<double>(vfs.f_bavail) * frsize;
    Labels labels = {{"device", m.device}, {"fstype", m.fstype}, {"mountpoint", m.mountpoint}};
    Add(out, "system.filesystem.total_bytes", labels, total);
    Add(out, "system.filesystem.used_bytes", labels, used);
    Add(out, "system.filesystem.free_bytes", labels, avail);
    Add(out, "system.filesystem.used_pct", labels, Percent(used, used + avail));
    // Some filesystems (btrfs, vfat) report no inode counts; no sample then.
    if (vfs.f_files > 0) {
      double inodes_used = static_cast<double>(vfs.f_files - std::min(vfs.f_ffree, vfs.f_files));
      Add(out, "system.filesystem.inodes_used_pct", labels,
          Percent(inodes_used, static_cast<double>(vfs.f_files)));
    }
  }
  if (failures != statvfs_failures_) {
    if (failures > 0) {
      VIGIL_LOG(Warning) << "system check: statvfs failed on " << failures
                         << " mountpoint(s), skipped; first: " << first_failure.message();
    } else {
      VIGIL_LOG(Info) << "system check: statvfs succeeds on every mountpoint again";
    }
  }
  statvfs_failures_ = failures;
}

void SystemCheck::CollectDisks(absl::Time now, std::vector<Sample>& out) {
  absl::StatusOr<std::vector<proc::DiskStat>> disks =
      ReadAndParse<std::vector<proc::DiskStat>>(proc_root_ + "/diskstats", &proc::ParseDiskStats);
  NoteOptionalPart(disks.status(), disks_error_);
  if (!disks.ok()) {
    prev_disks_.reset();
    return;
  }
  Snapshot<std::map<std::string, proc::DiskStat>> snap{now, {}};
  for (proc::DiskStat& d : *disks) {
    if (HasAnyPrefix(d.device, exclude_devices_)) continue;
    std::string name = d.device;
    snap.values.emplace(std::move(name), std::move(d));
  }
  if (prev_disks_ && now > prev_disks_->time) {
    double seconds = absl::ToDoubleSeconds(now - prev_disks_->time);
    for (const auto& [name, b] : snap.values) {
      auto it = prev_disks_->values.find(name);
      if (it == prev_disks_->values.end()) continue;
      const proc::DiskStat& a = it->second;
      Labels labels = {{"device", name}};
      AddRate(out, "system.disk.read_bytes_per_sec", labels, a.sectors_read, b.sectors_read,
              seconds, 512);
      AddRate(out, "system.disk.write_bytes_per_sec", labels, a.sectors_written, b.sectors_written,
              seconds, 512);
      AddRate(out, "system.disk.read_ops_per_sec", labels, a.reads_completed, b.reads_completed,
              seconds);
      AddRate(out, "system.disk.write_ops_per_sec", labels, a.writes_completed, b.writes_completed,
              seconds);
    }
  }
  prev_disks_ = std::move(snap);
}

void SystemCheck::CollectNet(absl::Time now, std::vector<Sample>& out) {
  absl::StatusOr<std::vector<proc::NetDevStat>> net =
      ReadAndParse<std::vector<proc::NetDevStat>>(proc_root_ + "/net/dev", &proc::ParseNetDev);
  NoteOptionalPart(net.status(), net_error_);
  if (!net.ok()) {
    prev_net_.reset();
    return;
  }
  Snapshot<std::map<std::string, proc::NetDevStat>> snap{now, {}};
  for (proc::NetDevStat& s : *net) {
    if (HasAnyPrefix(s.interface, exclude_interfaces_)) continue;
    std::string name = s.interface;
    snap.values.emplace(std::move(name), std::move(s));
  }
  if (prev_net_ && now > prev_net_->time) {
    double seconds = absl::ToDoubleSeconds(now - prev_net_->time);
    for (const auto& [name, b] : snap.values) {
      auto it = prev_net_->values.find(name);
      if (it == prev_net_->values.end()) continue;
      const proc::NetDevStat& a = it->second;
      Labels labels = {{"interface", name}};
      AddRate(out, "system.net.rx_bytes_per_sec", labels, a.rx_bytes, b.rx_bytes, seconds);
      AddRate(out, "system.net.tx_bytes_per_sec", labels, a.tx_bytes, b.tx_bytes, seconds);
      AddRate(out, "system.net.rx_packets_per_sec", labels, a.rx_packets, b.rx_packets, seconds);
      AddRate(out, "system.net.tx_packets_per_sec", labels, a.tx_packets, b.tx_packets, seconds);
      AddRate(out, "system.net.rx_errors_per_sec", labels, a.rx_errors, b.rx_errors, seconds);
      AddRate(out, "system.net.tx_errors_per_sec", labels, a.tx_errors, b.tx_errors, seconds);
      AddRate(out, "system.net.rx_drops_per_sec", labels, a.rx_drops, b.rx_drops, seconds);
      AddRate(out, "system.net.tx_drops_per_sec", labels, a.tx_drops, b.tx_drops, seconds);
    }
  }
  prev_net_ = std::move(snap);
}

}  // namespace vigil::agent
