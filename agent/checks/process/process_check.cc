#include "agent/checks/process/process_check.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/checks/process/pid_parsers.h"
#include "common/log.h"

namespace vigil::agent {
namespace {

// The kernel keeps 15 bytes of a process name (TASK_COMM_LEN 16 with the NUL).
constexpr size_t kMaxCommLength = 15;
// A command line longer than this is matched on its first part only.
constexpr size_t kMaxCmdlineBytes = 64 << 10;
constexpr size_t kMaxProcFileBytes = 1 << 20;

// True for the errors of a process that exited between the listing and the read.
bool Gone(int err) { return err == ENOENT || err == ESRCH; }

// Reads a /proc file up to `limit` bytes. NotFound when the process has gone away.
absl::StatusOr<std::string> ReadProcFile(const std::string& path, size_t limit) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (Gone(e)) return absl::NotFoundError(path);
    return absl::ErrnoToStatus(e, absl::StrCat("cannot open ", path));
  }
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      if (Gone(e)) return absl::NotFoundError(path);
      return absl::ErrnoToStatus(e, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (out.size() > limit) out.resize(limit);
  return out;
}

// Entries of <dir> other than . and .., or the errno of opendir.
int CountEntries(const std::string& dir, int64_t* count) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return errno;
  int64_t n = 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] == '.' &&
        (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0'))) {
      continue;
    }
    ++n;
  }
  closedir(d);
  *count = n;
  return 0;
}

void Add(std::vector<Sample>& out, const char* metric, double value) {
  out.push_back(Sample{metric, {}, value});
}

}  // namespace

absl::Status ProcessCheck::Init(ConfigMap& config) {
  // Not `name`: that key is every check's own name (the `check` label), read by the scheduler.
  name_ = config.String("process_name");
  std::string pattern = config.String("pattern");
  if (name_.empty() == pattern.empty()) {
    config.Error(name_.empty() ? "process_name" : "pattern",
                 "exactly one of process_name (the exact process name) and pattern (a regular "
                 "expression over the command line) is required");
  }
  if (name_.size() > kMaxCommLength) {
    config.Error("process_name",
                 absl::StrCat("'", name_, "' is longer than ", kMaxCommLength,
                              " characters, which the kernel keeps of a process name; "
                              "use its first ",
                              kMaxCommLength, " characters or a pattern"));
  }
  if (!pattern.empty()) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_unique<RE2>(pattern, options);
    if (!re->ok()) {
      config.Error("pattern", absl::StrCat("invalid regular expression: ", re->error()));
    } else if (name_.empty()) {
      pattern_ = std::move(re);
    }
  }
  std::string root = config.String("proc_root", "/proc");
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty() || root[0] != '/') {
    config.Error("proc_root", absl::StrCat("must be an absolute path, got '", root, "'"));
  } else {
    proc_root_ = root;
  }
  long hz = sysconf(_SC_CLK_TCK);
  if (hz > 0) ticks_per_second_ = static_cast<double>(hz);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Sample>> ProcessCheck::Collect(absl::Time now) {
  std::vector<int64_t> pids;
  {
    DIR* dir = opendir(proc_root_.c_str());
    if (dir == nullptr) {
      int e = errno;
      return absl::ErrnoToStatus(e, absl::StrCat("cannot list ", proc_root_));
    }
    while (const dirent* e = readdir(dir)) {
      int64_t pid = 0;
      if (absl::SimpleAtoi(e->d_name, &pid) && pid > 0) pids.push_back(pid);
    }
    closedir(dir);
  }

  int64_t count = 0, threads = 0, open_fds = 0;
  uint64_t rss_bytes = 0, cpu_ticks = 0;
  bool fds_readable = true;
  std::string problem;  // the first unexpected failure of this collection
  auto note = [&problem](const absl::Status& s) {
    if (problem.empty()) problem = std::string(s.message());
  };
  std::map<int64_t, CpuTicks> cpu;

  for (int64_t pid : pids) {
    const std::string base = absl::StrCat(proc_root_, "/", pid);
    if (pattern_ != nullptr) {
      absl::StatusOr<std::string> cmdline = ReadProcFile(base + "/cmdline", kMaxCmdlineBytes);
      if (!cmdline.ok()) {
        if (!absl::IsNotFound(cmdline.status())) note(cmdline.status());
        continue;
      }
      std::string args = pidfs::CmdlineToString(*cmdline);
      if (args.empty() || !RE2::PartialMatch(args, *pattern_)) continue;
    }
    absl::StatusOr<std::string> stat_text = ReadProcFile(base + "/stat", kMaxProcFileBytes);
    if (!stat_text.ok()) {
      if (!absl::IsNotFound(stat_text.status())) note(stat_text.status());
      continue;
    }
    absl::StatusOr<pidfs::PidStat> stat = pidfs::ParsePidStat(*stat_text, base + "/stat");
    if (!stat.ok()) {
      note(stat.status());
      continue;
    }
    if (pattern_ == nullptr && stat->comm != name_) continue;
    if (stat->state == 'Z' || stat->state == 'X') continue;
    absl::StatusOr<std::string> status_text = ReadProcFile(base + "/status", kMaxProcFileBytes);
    if (!status_text.ok()) {
      if (!absl::IsNotFound(status_text.status())) note(status_text.status());
      continue;
    }
    absl::StatusOr<pidfs::PidStatus> status = pidfs::ParsePidStatus(*status_text, base + "/status");
    if (!status.ok()) {
      note(status.status());
      continue;
    }

    ++count;
    threads += status->threads;
    rss_bytes += status->rss_bytes.value_or(0);
    int64_t fds = 0;
    int err = CountEntries(base + "/fd", &fds);
    if (err == 0) {
      open_fds += fds;
    } else if (!Gone(err)) {
      fds_readable = false;  // another user's process without the right to look
    }
    const uint64_t ticks = stat->utime + stat->stime;
    cpu[pid] = CpuTicks{stat->starttime, ticks};
    auto prev = prev_cpu_.find(pid);
    if (prev != prev_cpu_.end() && prev->second.starttime == stat->starttime &&
        ticks >= prev->second.ticks) {
      cpu_ticks += ticks - prev->second.ticks;
    }
  }

  std::vector<Sample> out;
  Add(out, "process.count", static_cast<double>(count));
  Add(out, "process.rss_bytes", static_cast<double>(rss_bytes));
  Add(out, "process.threads", static_cast<double>(threads));
  if (fds_readable) Add(out, "process.open_fds", static_cast<double>(open_fds));
  if (prev_time_ && now > *prev_time_) {
    double seconds = absl::ToDoubleSeconds(now - *prev_time_);
    Add(out, "process.cpu_pct",
        100.0 * static_cast<double>(cpu_ticks) / ticks_per_second_ / seconds);
  }
  prev_time_ = now;
  prev_cpu_ = std::move(cpu);

  if (problem != last_problem_) {
    if (problem.empty()) {
      VIGIL_LOG(Info) << "process check: every matching process is readable again";
    } else {
      VIGIL_LOG(Warning) << "process check: skipped a process: " << problem;
    }
    last_problem_ = problem;
  }
  return out;
}

}  // namespace vigil::agent
