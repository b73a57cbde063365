#include "agent/checks/strongswan/command.h"

#include <signal.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent {
namespace {

using ::testing::HasSubstr;

TEST(RunCommand, CapturesStdoutStderrAndExitCode) {
  absl::StatusOr<CommandResult> r =
      RunCommand({"/bin/sh", "-c", "printf 'a\\nb\\n'; echo oops >&2; exit 3"}, absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "a\nb\n");
  EXPECT_EQ(r->err, "oops\n");
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->term_signal, 0);
  EXPECT_FALSE(r->exited_ok());
}

TEST(RunCommand, LargeOutputIsReadWhole) {
  absl::StatusOr<CommandResult> r =
      RunCommand({"/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x"}, absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out.size(), 300000u);
  EXPECT_TRUE(r->exited_ok());
}

TEST(RunCommand, HungCommandIsKilledAtTheDeadlineWithWhatItStarted) {
  testing::TempDir dir;
  const std::string pid_file = dir.Join("child.pid");
  const absl::Time start = absl::Now();
  // The shell starts a child that would outlive it; the whole process group is killed.
  absl::StatusOr<CommandResult> r = RunCommand(
      {"/bin/sh", "-c", "sleep 60 & echo $! > " + pid_file + "; wait"}, absl::Milliseconds(500));
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("/bin/sh did not finish within 500ms"));
  EXPECT_LT(took, absl::Seconds(3));
  pid_t child = std::stoi(testing::ReadFile(pid_file));
  // Killed (and, being an orphan, reaped by init or left a zombie: either way not running).
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        std::string stat = testing::ReadFile("/proc/" + std::to_string(child) + "/stat");
        return stat.empty() || stat.find(") Z ") != std::string::npos;
      },
      absl::Seconds(5)));
}

TEST(RunCommand, MissingProgramIsAClearError) {
  absl::StatusOr<CommandResult> r =
      RunCommand({"/nonexistent/swanctl", "--list-sas"}, absl::Seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("cannot execute /nonexistent/swanctl"));
}

TEST(RunCommand, RelativeProgramIsRejected) {
  absl::StatusOr<CommandResult> r = RunCommand({"swanctl"}, absl::Seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RunCommand, OutputBeyondTheLimitKillsTheCommand) {
  absl::StatusOr<CommandResult> r = RunCommand({"/usr/bin/yes"}, absl::Seconds(10), 1 << 16);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(r.status().message(), HasSubstr("more than 65536 bytes"));
}

TEST(RunCommand, SignalledCommandReportsTheSignal) {
  absl::StatusOr<CommandResult> r = RunCommand({"/bin/sh", "-c", "kill -9 $$"}, absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_EQ(r->exit_code, -1);
}

TEST(RunCommand, StdinIsEmptyAndDescriptorsDoNotLeak) {
  absl::StatusOr<CommandResult> r =
      RunCommand({"/bin/sh", "-c", "cat; ls /proc/self/fd | wc -l"}, absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  // cat read nothing; ls sees 0, 1, 2 and its own directory descriptor.
  EXPECT_EQ(r->out, "4\n");
}

TEST(RunCommand, ConcurrentCallsKeepTheirOutputsApart) {
  std::vector<std::thread> threads;
  std::vector<std::string> outs(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([i, &outs] {
      absl::StatusOr<CommandResult> r =
          RunCommand({"/bin/echo", std::to_string(i)}, absl::Seconds(10));
      outs[i] = r.ok() ? r->out : r.status().ToString();
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(outs[i], std::to_string(i) + "\n");
}

}  // namespace
}  // namespace vigil::agent
