#include "agent/checks/process/pid_parsers.h"

#include <string>

#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::pidfs {
namespace {

using ::testing::HasSubstr;

// Recorded from /proc/<pid>/{stat,status,cmdline} of real processes on Debian 12 (kernel 6.x).
const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/process/testdata/";

std::string Recorded(const std::string& name) { return testing::ReadFile(kTestData + name); }

std::string ErrorOf(const absl::StatusOr<PidStat>& r) { return std::string(r.status().message()); }
std::string ErrorOf(const absl::StatusOr<PidStatus>& r) {
  return std::string(r.status().message());
}

TEST(ParsePidStat, CommWithSpacesAndParenthesesRunsToTheLastParenthesis) {
  // The executable was named "a) (b c".
  absl::StatusOr<PidStat> s = ParsePidStat(Recorded("stat_comm_with_parens"), "stat");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->pid, 5668);
  EXPECT_EQ(s->comm, "a) (b c");
  EXPECT_EQ(s->state, 'S');
  EXPECT_EQ(s->utime, 0u);
  EXPECT_EQ(s->stime, 0u);
  EXPECT_EQ(s->threads, 1);
  EXPECT_EQ(s->starttime, 776086u);
}

TEST(ParsePidStat, BusyMultiThreadedProcess) {
  absl::StatusOr<PidStat> s = ParsePidStat(Recorded("stat_python_threads"), "stat");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->comm, "python3");
  EXPECT_EQ(s->state, 'R');
  EXPECT_EQ(s->utime, 34u);
  EXPECT_EQ(s->stime, 0u);
  EXPECT_EQ(s->threads, 4);
  EXPECT_EQ(s->starttime, 776108u);
}

TEST(ParsePidStat, KernelThreadZombieAndStoppedProcess) {
  absl::StatusOr<PidStat> k = ParsePidStat(Recorded("stat_kthreadd"), "stat");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->pid, 2);
  EXPECT_EQ(k->comm, "kthreadd");
  EXPECT_EQ(k->starttime, 14u);
  absl::StatusOr<PidStat> z = ParsePidStat(Recorded("stat_zombie"), "stat");
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(z->comm, "sleep");
  EXPECT_EQ(z->state, 'Z');
  absl::StatusOr<PidStat> t = ParsePidStat(Recorded("stat_stopped"), "stat");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->state, 'T');
}

TEST(ParsePidStat, TruncatedContentIsAnErrorNamingTheSource) {
  std::string full = Recorded("stat_python_threads");
  for (size_t cut : {size_t{0}, size_t{3}, size_t{12}, size_t{40}, full.size() - 1}) {
    absl::StatusOr<PidStat> s = ParsePidStat(full.substr(0, cut), "/proc/5675/stat");
    ASSERT_FALSE(s.ok()) << "cut at " << cut;
    EXPECT_THAT(ErrorOf(s), HasSubstr("/proc/5675/stat: ")) << cut;
  }
  EXPECT_THAT(ErrorOf(ParsePidStat(full.substr(0, 60) + "\n", "stat")),
              HasSubstr("expected at least 22 fields"));
}

TEST(ParsePidStat, MalformedFieldsAreNamed) {
  const std::string tail = " 1 1 0 0 -1 4194304 131 0 0 0 7 3 0 0 20 0 1 0 775634 2990080 387 0\n";
  ASSERT_TRUE(ParsePidStat("12 (ok) S" + tail, "stat").ok());
  EXPECT_THAT(ErrorOf(ParsePidStat("12 ok S" + tail, "stat")), HasSubstr("no '(comm)' field"));
  EXPECT_THAT(ErrorOf(ParsePidStat("12 )ok( S" + tail, "stat")), HasSubstr("no '(comm)' field"));
  EXPECT_THAT(ErrorOf(ParsePidStat("x12 (ok) S" + tail, "stat")),
              HasSubstr("field 1 (pid): 'x12' is not a process id"));
  EXPECT_THAT(ErrorOf(ParsePidStat("12 (ok) 5" + tail, "stat")),
              HasSubstr("field 3 (state): '5' is not a state letter"));
  EXPECT_THAT(ErrorOf(ParsePidStat(
                  "12 (ok) S 1 1 0 0 -1 4194304 131 0 0 0 seven 3 0 0 20 0 1 0 775634\n", "stat")),
              HasSubstr("field 14 (utime): 'seven' is not a non-negative integer"));
  EXPECT_THAT(ErrorOf(ParsePidStat(
                  "12 (ok) S 1 1 0 0 -1 4194304 131 0 0 0 7 -3 0 0 20 0 1 0 775634\n", "stat")),
              HasSubstr("field 15 (stime)"));
  EXPECT_THAT(
      ErrorOf(ParsePidStat("12 (ok) S 1 1 0 0 -1 4194304 131 0 0 0 7 3 0 0 20 0 1 0 x\n", "stat")),
      HasSubstr("field 22 (starttime)"));
  EXPECT_THAT(ErrorOf(ParsePidStat(std::string("\0\0\0\n", 4), "stat")),
              HasSubstr("no '(comm)' field"));
}

TEST(ParsePidStatus, RecordedProcessesGiveNameRssAndThreads) {
  absl::StatusOr<PidStatus> s = ParsePidStatus(Recorded("status_sleep"), "status");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "a) (b c");
  EXPECT_EQ(s->rss_bytes, 1760u * 1024);
  EXPECT_EQ(s->threads, 1);

  absl::StatusOr<PidStatus> p = ParsePidStatus(Recorded("status_python_threads"), "status");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->name, "python3");
  EXPECT_EQ(p->rss_bytes, 9128u * 1024);
  EXPECT_EQ(p->threads, 2);
}

TEST(ParsePidStatus, KernelThreadsAndZombiesHaveNoRss) {
  absl::StatusOr<PidStatus> k = ParsePidStatus(Recorded("status_kthreadd"), "status");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->name, "kthreadd");
  EXPECT_FALSE(k->rss_bytes.has_value());
  absl::StatusOr<PidStatus> z = ParsePidStatus(Recorded("status_zombie"), "status");
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_FALSE(z->rss_bytes.has_value());
  EXPECT_EQ(z->threads, 1);
}

TEST(ParsePidStatus, TruncatedAndMalformedContentAreErrors) {
  std::string full = Recorded("status_python_threads");
  size_t threads_at = full.find("Threads:");
  ASSERT_NE(threads_at, std::string::npos);
  // Cut before the Threads line, then in the middle of a line.
  EXPECT_THAT(ErrorOf(ParsePidStatus(full.substr(0, threads_at), "/proc/9/status")),
              HasSubstr("/proc/9/status: no Threads: line"));
  EXPECT_THAT(ErrorOf(ParsePidStatus(full.substr(0, threads_at + 3), "/proc/9/status")),
              HasSubstr("not terminated by a newline"));
  EXPECT_THAT(ErrorOf(ParsePidStatus("", "s")), HasSubstr("empty content"));
  EXPECT_THAT(ErrorOf(ParsePidStatus("Threads:\t1\n", "s")), HasSubstr("no Name: line"));
  EXPECT_THAT(ErrorOf(ParsePidStatus("Name:\tx\nThreads:\tmany\n", "s")),
              HasSubstr("line 2: Threads: 'many' is not a non-negative integer"));
  EXPECT_THAT(ErrorOf(ParsePidStatus("Name:\tx\nVmRSS:\t 12 MB\nThreads:\t1\n", "s")),
              HasSubstr("line 2: VmRSS: '12 MB' is not a size in kB"));
  EXPECT_THAT(ErrorOf(ParsePidStatus("Name:\tx\ngarbage\nThreads:\t1\n", "s")),
              HasSubstr("line 2: no ':' in 'garbage'"));
}

TEST(CmdlineToString, ArgumentsAreJoinedBySpaces) {
  EXPECT_EQ(CmdlineToString(std::string("php-fpm: pool www\0\0\0", 20)), "php-fpm: pool www");
  EXPECT_EQ(CmdlineToString(std::string("/usr/bin/sleep\0"
                                        "300\0",
                                        19)),
            "/usr/bin/sleep 300");
  EXPECT_EQ(CmdlineToString(""), "");
  std::string python = CmdlineToString(Recorded("cmdline_python"));
  EXPECT_THAT(python, ::testing::StartsWith("/usr/bin/python3 -c \nimport threading,time\n"));
  EXPECT_EQ(python.find('\0'), std::string::npos);
}

}  // namespace
}  // namespace vigil::agent::pidfs
