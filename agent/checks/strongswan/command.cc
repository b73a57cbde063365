#include "agent/checks/strongswan/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace vigil::agent {
namespace {

constexpr size_t kMaxStderrBytes = 64 << 10;

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// Milliseconds until `deadline` for poll(2): at least 0, rounded up so that a wait does not
// end just before the deadline and spin.
int PollMillis(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
}

// Reaps `pid` if it has exited; waits at most until `deadline`. True when reaped.
bool ReapBy(pid_t pid, absl::Time deadline, int* status) {
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // not our child any more: nothing to wait for
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout, size_t max_output) {
  if (argv.empty() || argv[0].empty() || argv[0][0] != '/') {
    return absl::InvalidArgumentError("command must be an absolute path");
  }
  const std::string& program = argv[0];
  const absl::Time deadline = absl::Now() + timeout;

  // Everything the child needs is prepared before fork(): after it, only async-signal-safe
  // calls are allowed in the child of a multi-threaded process.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, exec_pipe[2] = {-1, -1};
  int devnull = -1;
  absl::Cleanup close_all = [&] {
    for (int* p : {out_pipe, err_pipe, exec_pipe}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
    CloseFd(devnull);
  };
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(exec_pipe, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "cannot create a pipe");
  }
  devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) return absl::ErrnoToStatus(errno, "cannot open /dev/null");

  pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot fork for ", program));
  if (pid == 0) {
    // Child: own process group (so a timeout kills what the command started too), default
    // signal handling and mask, the three standard descriptors and nothing else.
    setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaction(sig, &dfl, nullptr);
    if (dup2(devnull, 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(err_pipe[1], 2) < 0) {
      int e = errno;
      (void)!write(exec_pipe[1], &e, sizeof(e));
      _exit(127);
    }
    // Descriptors other threads opened without O_CLOEXEC must not leak into the command;
    // exec_pipe[1] is O_CLOEXEC and stays open until the exec.
    unsigned keep = static_cast<unsigned>(exec_pipe[1]);
    if ((keep > 3 && syscall(SYS_close_range, 3u, keep - 1, 0u) != 0) ||
        syscall(SYS_close_range, keep + 1, ~0u, 0u) != 0) {
      for (int fd = 3; fd < 4096; ++fd) {
        if (fd != exec_pipe[1]) close(fd);
      }
    }
    execve(program.c_str(), args.data(), environ);
    int e = errno;
    (void)!write(exec_pipe[1], &e, sizeof(e));
    _exit(127);
  }
  setpgid(pid, pid);  // also from the parent, so the group exists before any kill below
  CloseFd(out_pipe[1]);
  CloseFd(err_pipe[1]);
  CloseFd(exec_pipe[1]);
  CloseFd(devnull);

  CommandResult result;
  int status = 0;
  auto kill_group = [&] {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    // SIGKILL ends a process at once unless it is stuck in the kernel; do not wait for that
    // forever either (it is then left as a zombie rather than stalling the check).
    ReapBy(pid, absl::Now() + absl::Seconds(2), &status);
  };

  // Did the exec succeed? The pipe closes on exec (EOF) or carries the child's errno.
  int exec_errno = 0;
  for (;;) {
    struct pollfd p = {exec_pipe[0], POLLIN, 0};
    int n = poll(&p, 1, PollMillis(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      kill_group();
      return absl::DeadlineExceededError(
          absl::StrCat(program, " did not start within ", absl::FormatDuration(timeout)));
    }
    ssize_t r = read(exec_pipe[0], &exec_errno, sizeof(exec_errno));
    if (r < 0 && errno == EINTR) continue;
    if (r != static_cast<ssize_t>(sizeof(exec_errno))) exec_errno = 0;
    break;
  }
  if (exec_errno != 0) {
    ReapBy(pid, absl::Now() + absl::Seconds(2), &status);
    return absl::ErrnoToStatus(exec_errno, absl::StrCat("cannot execute ", program));
  }

  for (int* fd : {&out_pipe[0], &err_pipe[0]}) fcntl(*fd, F_SETFL, O_NONBLOCK);
  char buf[16384];
  while (out_pipe[0] >= 0 || err_pipe[0] >= 0) {
    struct pollfd fds[2];
    int nfds = 0;
    if (out_pipe[0] >= 0) fds[nfds++] = {out_pipe[0], POLLIN, 0};
    if (err_pipe[0] >= 0) fds[nfds++] = {err_pipe[0], POLLIN, 0};
    int n = poll(fds, nfds, PollMillis(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      kill_group();
      return absl::ErrnoToStatus(e, absl::StrCat("poll on the output of ", program));
    }
    if (n == 0) {
      kill_group();
      return absl::DeadlineExceededError(absl::StrCat(program, " did not finish within ",
                                                      absl::FormatDuration(timeout), "; killed"));
    }
    for (int i = 0; i < nfds; ++i) {
      if (fds[i].revents == 0) continue;
      bool is_out = fds[i].fd == out_pipe[0];
      ssize_t r = read(fds[i].fd, buf, sizeof(buf));
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) {
        CloseFd(is_out ? out_pipe[0] : err_pipe[0]);
        continue;
      }
      if (is_out) {
        result.out.append(buf, static_cast<size_t>(r));
        if (result.out.size() > max_output) {
          kill_group();
          return absl::ResourceExhaustedError(
              absl::StrCat(program, " printed more than ", max_output, " bytes; killed"));
        }
      } else if (result.err.size() < kMaxStderrBytes) {
        result.err.append(buf,
                          std::min(static_cast<size_t>(r), kMaxStderrBytes - result.err.size()));
      }
    }
  }

  // Both pipes are closed; the command normally exits right after.
  if (!ReapBy(pid, deadline, &status)) {
    kill_group();
    return absl::DeadlineExceededError(
        absl::StrCat(program, " did not exit within ", absl::FormatDuration(timeout), "; killed"));
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace vigil::agent
