#ifndef VIGIL_COMMON_TESTING_PROCESS_H_
#define VIGIL_COMMON_TESTING_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"

// Test-only helpers for cross-process tests: temporary directories, free loopback ports and
// child processes. Not thread-safe; use from the test thread.

namespace vigil::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to Join(name) and returns that path.
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// A loopback TCP port that is free now, chosen below Linux's ephemeral range (32768+), so an
// outgoing connection cannot take it between the choice and the server's bind.
int FreePort();

void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);

// A child process with stdout and stderr sent to files. Killed (SIGKILL) on destruction if it
// is still running.
class Process {
 public:
  Process(std::vector<std::string> argv, std::string stdout_path, std::string stderr_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int sig);
  // Sends `sig` and waits for the exit; returns the exit status as from waitpid.
  int Stop(int sig, absl::Duration timeout = absl::Seconds(15));
  // Waits for a natural exit; returns the exit code, or -1 on timeout.
  int Wait(absl::Duration timeout);
  std::string Stdout() const { return ReadFile(stdout_path_); }
  std::string Stderr() const { return ReadFile(stderr_path_); }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::string stdout_path_, stderr_path_;
};

// Polls `condition` every 50 ms until it is true or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);

// HTTP GET on loopback; returns the body, or an empty string with *status = 0 on failure.
std::string HttpGet(const std::string& url, long* status = nullptr);
// HTTP POST with an empty body and, when `bearer_token` is not empty, an Authorization header.
// Returns the status (0 on failure) and fills *body.
long HttpPost(const std::string& url, const std::string& bearer_token, std::string* body);

}  // namespace vigil::testing

#endif  // VIGIL_COMMON_TESTING_PROCESS_H_
