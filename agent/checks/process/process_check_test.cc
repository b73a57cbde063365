#include "agent/checks/process/process_check.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/checks/check_testing.h"
#include "common/config_reader.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

std::vector<std::string> InitWith(ProcessCheck& check, const std::string& yaml) {
  absl::StatusOr<YAML::Node> node = LoadYamlString(yaml, "agent.yaml");
  EXPECT_TRUE(node.ok()) << node.status();
  ConfigErrors errors("agent.yaml");
  ConfigMap config(*node, &errors);
  EXPECT_TRUE(check.Init(config).ok());
  config.Finish();
  return errors.messages();
}

// Captures what is written to stderr (the log) while alive.
class StderrCapture {
 public:
  explicit StderrCapture(std::string path) : path_(std::move(path)) {
    fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~StderrCapture() { Restore(); }
  std::string Restore() {
    if (saved_ >= 0) {
      fflush(stderr);
      dup2(saved_, STDERR_FILENO);
      close(saved_);
      saved_ = -1;
    }
    return testing::ReadFile(path_);
  }

 private:
  std::string path_;
  int saved_ = -1;
};

// One process of a fake /proc tree, written in the kernel's format.
struct FakeProcess {
  int pid = 0;
  std::string comm;
  char state = 'S';
  uint64_t utime = 0, stime = 0, starttime = 1000;
  int threads = 1;
  std::optional<uint64_t> rss_kb = 1000;
  std::string cmdline;  // arguments separated by spaces here, by NUL in the file
  int fds = 3;
};

// A php-fpm worker with `utime` and `stime` ticks.
FakeProcess Php(int pid, uint64_t utime, uint64_t stime) {
  FakeProcess p;
  p.pid = pid;
  p.comm = "php-fpm8.2";
  p.utime = utime;
  p.stime = stime;
  p.cmdline = "php-fpm: pool www";
  return p;
}

void WriteProcess(const fs::path& root, const FakeProcess& p) {
  fs::path dir = root / std::to_string(p.pid);
  fs::create_directories(dir);
  testing::WriteFile(
      dir / "stat",
      absl::StrCat(p.pid, " (", p.comm, ") ", std::string(1, p.state),
                   " 1 1 0 0 -1 4194304 131 0 0 0 ", p.utime, " ", p.stime, " 0 0 20 0 ", p.threads,
                   " 0 ", p.starttime, " 2990080 387 18446744073709551615 93902327521280 0 0\n"));
  std::string status = absl::StrCat("Name:\t", p.comm, "\nUmask:\t0022\nState:\t",
                                    std::string(1, p.state), " (sleeping)\nPid:\t", p.pid, "\n");
  if (p.rss_kb) absl::StrAppend(&status, "VmRSS:\t", *p.rss_kb, " kB\n");
  absl::StrAppend(&status, "Threads:\t", p.threads, "\nSigQ:\t0/96365\n");
  testing::WriteFile(dir / "status", status);
  std::string cmdline = p.cmdline;
  for (char& c : cmdline) {
    if (c == ' ') c = '\0';
  }
  if (!cmdline.empty()) cmdline.push_back('\0');
  testing::WriteFile(dir / "cmdline", cmdline);
  fs::remove_all(dir / "fd");  // a rewritten process gets its new set of descriptors
  fs::create_directories(dir / "fd");
  for (int i = 0; i < p.fds; ++i) testing::WriteFile(dir / "fd" / std::to_string(i), "");
}

class FakeProcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(tmp_.path()) / "proc";
    fs::create_directories(root_);
    // A php-fpm master and two workers, a zombie worker, an unrelated process, a pid listed
    // but gone (no files) and one gone between stat and status.
    FakeProcess master = Php(100, 500, 100);
    master.rss_kb = 20000;
    master.cmdline = "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)";
    master.fds = 8;
    WriteProcess(root_, master);
    FakeProcess worker1 = Php(101, 1000, 200);
    worker1.threads = 2;
    worker1.rss_kb = 30000;
    worker1.fds = 5;
    WriteProcess(root_, worker1);
    FakeProcess worker2 = Php(102, 10, 0);
    worker2.rss_kb = 25000;
    worker2.fds = 5;
    WriteProcess(root_, worker2);
    FakeProcess zombie = Php(103, 0, 0);
    zombie.state = 'Z';
    zombie.rss_kb = std::nullopt;
    zombie.cmdline = "";
    zombie.fds = 0;
    WriteProcess(root_, zombie);
    FakeProcess cron = Php(200, 9999, 0);
    cron.comm = "cron";
    cron.cmdline = "/usr/sbin/cron -f";
    WriteProcess(root_, cron);
    fs::create_directories(root_ / "300");
    WriteProcess(root_, Php(301, 0, 0));
    fs::remove(root_ / "301" / "status");
    fs::create_directories(root_ / "self");
  }

  void Init(ProcessCheck& check, const std::string& keys) {
    ASSERT_THAT(InitWith(check, "proc_root: " + root_.string() + "\n" + keys), IsEmpty());
  }

  testing::TempDir tmp_;
  fs::path root_;
};

TEST_F(FakeProcTest, NameMatchesTheExactCommAndSkipsZombiesAndVanishedProcesses) {
  ProcessCheck check;
  Init(check, "process_name: php-fpm8.2\n");
  StderrCapture capture(tmp_.Join("stderr.log"));
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  EXPECT_THAT(capture.Restore(), IsEmpty());  // vanished processes are skipped silently
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "process.count"), 3.0);
  EXPECT_EQ(FindSample(*s, "process.rss_bytes"), (20000.0 + 30000 + 25000) * 1024);
  EXPECT_EQ(FindSample(*s, "process.threads"), 4.0);
  EXPECT_EQ(FindSample(*s, "process.open_fds"), 18.0);
  EXPECT_FALSE(FindSample(*s, "process.cpu_pct").has_value());  // a rate needs two collections
}

TEST_F(FakeProcTest, PatternIsSearchedInTheCommandLine) {
  ProcessCheck check;
  Init(check, "pattern: 'pool www$'\n");
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "process.count"), 2.0);  // 101, 102 (301 has gone)
  EXPECT_EQ(FindSample(*s, "process.rss_bytes"), (30000.0 + 25000) * 1024);
}

TEST_F(FakeProcTest, NothingMatchingIsACountOfZero) {
  ProcessCheck check;
  Init(check, "process_name: nginx\n");
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "process.count"), 0.0);
  EXPECT_EQ(FindSample(*s, "process.rss_bytes"), 0.0);
}

// Clock ticks are USER_HZ (100 on Linux): 100 ticks are one second of one core.
TEST_F(FakeProcTest, CpuIsTheSumOfTickDeltasAsPercentOfOneCore) {
  ASSERT_EQ(sysconf(_SC_CLK_TCK), 100);
  ProcessCheck check;
  Init(check, "process_name: php-fpm8.2\n");
  ASSERT_TRUE(check.Collect(kT0).ok());
  // In 10 s: the master adds 50 ticks, worker 101 adds 300 + 100, worker 102 is replaced by a
  // new process with the same pid (its ticks are not a delta), and 104 starts.
  WriteProcess(root_, Php(100, 530, 120));
  WriteProcess(root_, Php(101, 1300, 300));
  FakeProcess reused = Php(102, 900, 0);
  reused.starttime = 5000;
  WriteProcess(root_, reused);
  FakeProcess started = Php(104, 700, 0);
  started.starttime = 6000;
  WriteProcess(root_, started);
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "process.count"), 4.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "process.cpu_pct"), 45.0);  // 450 ticks / 100 Hz / 10 s
}

TEST_F(FakeProcTest, TicksGoingDownGiveNoNegativeCpu) {
  ProcessCheck check;
  Init(check, "process_name: php-fpm8.2\n");
  ASSERT_TRUE(check.Collect(kT0).ok());
  WriteProcess(root_, Php(101, 5, 0));
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "process.cpu_pct"), 0.0);
}

TEST_F(FakeProcTest, MalformedStatSkipsThatProcessAndIsLoggedOnce) {
  testing::WriteFile(root_ / "102" / "stat", "102 (php-fpm8.2) S 1 1\n");
  ProcessCheck check;
  Init(check, "process_name: php-fpm8.2\n");
  StderrCapture capture(tmp_.Join("stderr.log"));
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_TRUE(check.Collect(kT0 + absl::Seconds(10)).ok());
  std::string log = capture.Restore();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "process.count"), 2.0);
  EXPECT_THAT(log, HasSubstr("102/stat: expected at least 22 fields"));
  EXPECT_EQ(log.find('\n'), log.size() - 1) << log;  // one line for two collections
}

TEST_F(FakeProcTest, MissingProcRootFailsTheCollection) {
  ProcessCheck check;
  ASSERT_THAT(InitWith(check, "proc_root: " + tmp_.Join("nope") + "\nprocess_name: x\n"),
              IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("cannot list " + tmp_.Join("nope")));
}

TEST(ProcessCheckConfig, ExactlyOneOfNameAndPattern) {
  ProcessCheck a;
  EXPECT_THAT(InitWith(a, "proc_root: /proc\n"),
              ElementsAre(HasSubstr("process_name: exactly one of process_name")));
  ProcessCheck b;
  EXPECT_THAT(InitWith(b, "process_name: a\npattern: b\n"),
              ElementsAre(HasSubstr("2:10: pattern: exactly one of process_name")));
  ProcessCheck c;
  EXPECT_THAT(InitWith(c, "pattern: 'php-fpm: (pool'\n"),
              ElementsAre(HasSubstr("1:10: pattern: invalid regular expression: missing )")));
  ProcessCheck d;
  EXPECT_THAT(
      InitWith(d, "process_name: php-fpm8.2-worker-pool\nuser: www\n"),
      ElementsAre(HasSubstr("1:15: process_name: 'php-fpm8.2-worker-pool' is longer than 15"),
                  HasSubstr("2:1: unknown key 'user'")));
  ProcessCheck e;
  EXPECT_THAT(InitWith(e, "process_name: x\nproc_root: proc\n"),
              ElementsAre(HasSubstr("proc_root: must be an absolute path")));
}

// Real processes: three copies of `sleep` under a name no other process has, and a busy loop.
class LiveProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    comm_ = absl::StrCat("vslp", getpid() % 100000);
    std::string exe = tmp_.Join(comm_);
    fs::copy_file("/bin/sleep", exe);
    fs::permissions(exe, fs::perms::owner_all);
    for (int i = 0; i < 3; ++i) {
      sleepers_.push_back(std::make_unique<testing::Process>(std::vector<std::string>{exe, "600"},
                                                             tmp_.Join("out"), tmp_.Join("err")));
    }
  }

  void TearDown() override {
    for (auto& p : sleepers_) p->Stop(SIGKILL);
  }

  testing::TempDir tmp_;
  std::string comm_;
  std::vector<std::unique_ptr<testing::Process>> sleepers_;
};

TEST_F(LiveProcessTest, CountsRssAndThreadsOfRealProcessesByName) {
  ProcessCheck check;
  ASSERT_THAT(InitWith(check, "process_name: " + comm_ + "\n"), IsEmpty());
  std::vector<Sample> s;
  // The children exec asynchronously: wait until all three carry the name.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        absl::StatusOr<std::vector<Sample>> r = check.Collect(absl::Now());
        if (r.ok()) s = *r;
        return r.ok() && FindSample(s, "process.count") == 3.0;
      },
      absl::Seconds(20)));
  EXPECT_GT(*FindSample(s, "process.rss_bytes"), 3 * 100 * 1024.0);
  EXPECT_EQ(FindSample(s, "process.threads"), 3.0);
  ASSERT_TRUE(FindSample(s, "process.open_fds").has_value());  // root reads every fd directory
  EXPECT_GE(*FindSample(s, "process.open_fds"), 9.0);          // stdin, stdout, stderr each

  sleepers_[0]->Stop(SIGKILL);
  absl::StatusOr<std::vector<Sample>> after = check.Collect(absl::Now());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(FindSample(*after, "process.count"), 2.0);
}

TEST_F(LiveProcessTest, BusyLoopUsesMoreThanHalfACore) {
  const std::string marker = absl::StrCat("vigil-busy-", getpid());
  // setsid(1) execs the loop in a session of its own, hence its own scheduler autogroup.
  testing::Process busy({"/usr/bin/setsid", "/bin/sh", "-c", "while :; do :; done", marker},
                        tmp_.Join("out"), tmp_.Join("err"));
  ProcessCheck check;
  ASSERT_THAT(InitWith(check, "pattern: ' " + marker + "$'\n"), IsEmpty());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        // setsid has exec'd the shell (so the autogroup below is the loop's own).
        if (testing::ReadFile(absl::StrCat("/proc/", busy.pid(), "/comm")) != "sh\n") {
          return false;
        }
        absl::StatusOr<std::vector<Sample>> r = check.Collect(absl::Now());
        return r.ok() && FindSample(*r, "process.count") == 1.0;
      },
      absl::Seconds(20)));
  // On a loaded machine (parallel builds), the highest priority for the loop's autogroup and
  // the loop keeps it from being starved; this needs root, as the test environment has.
  testing::WriteFile(absl::StrCat("/proc/", busy.pid(), "/autogroup"), "-20");
  setpriority(PRIO_PROCESS, static_cast<id_t>(busy.pid()), -20);
  ASSERT_TRUE(check.Collect(absl::Now()).ok());  // the window starts now
  absl::SleepFor(absl::Seconds(1.5));            // the measurement window
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "process.count"), 1.0);
  ASSERT_TRUE(FindSample(*s, "process.cpu_pct").has_value());
  EXPECT_GT(*FindSample(*s, "process.cpu_pct"), 50.0);
  EXPECT_LE(*FindSample(*s, "process.cpu_pct"), 110.0);  // one thread cannot use more than a core

  // The sleepers, meanwhile, use next to nothing.
  ProcessCheck idle;
  ASSERT_THAT(InitWith(idle, "process_name: " + comm_ + "\n"), IsEmpty());
  ASSERT_TRUE(idle.Collect(absl::Now()).ok());
  absl::SleepFor(absl::Milliseconds(500));
  absl::StatusOr<std::vector<Sample>> i = idle.Collect(absl::Now());
  ASSERT_TRUE(i.ok()) << i.status();
  EXPECT_LT(*FindSample(*i, "process.cpu_pct"), 5.0);
  busy.Stop(SIGKILL);
}

TEST(LiveProcessChurn, ProcessesExitingDuringTheScanAreSkippedSilently) {
  testing::TempDir tmp;
  // Forks short-lived children as fast as it can while the check scans every process.
  testing::Process churn({"/bin/sh", "-c", "while :; do /bin/true; /bin/true; done"},
                         tmp.Join("out"), tmp.Join("err"));
  ProcessCheck all;
  ASSERT_THAT(InitWith(all, "pattern: '.'\n"), IsEmpty());
  ProcessCheck by_name;
  ASSERT_THAT(InitWith(by_name, "process_name: 'true'\n"), IsEmpty());
  StderrCapture capture(tmp.Join("stderr.log"));
  for (int i = 0; i < 25; ++i) {
    absl::StatusOr<std::vector<Sample>> a = all.Collect(absl::Now());
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_GE(*FindSample(*a, "process.count"), 2.0);  // at least this test and the churning shell
    ASSERT_TRUE(by_name.Collect(absl::Now()).ok());
  }
  std::string log = capture.Restore();
  churn.Stop(SIGKILL);
  EXPECT_THAT(log, IsEmpty());
}

}  // namespace
}  // namespace vigil::agent
