#include "agent/checks/system/system_check.h"

#include <stdlib.h>
#include <sys/statvfs.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/checks/check_testing.h"
#include "common/config_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/system/testdata";
const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

std::vector<Sample> WithPrefix(const std::vector<Sample>& samples, const std::string& prefix) {
  std::vector<Sample> out;
  for (const Sample& s : samples) {
    if (absl::StartsWith(s.metric, prefix)) out.push_back(s);
  }
  return out;
}

std::vector<std::string> LabelValues(const std::vector<Sample>& samples, const std::string& metric,
                                     const std::string& label) {
  std::vector<std::string> out;
  for (const Sample& s : samples) {
    if (s.metric != metric) continue;
    for (const auto& [k, v] : s.labels) {
      if (k == label) out.push_back(v);
    }
  }
  return out;
}

void WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

// Each test gets a fake proc_root in its own temporary directory, filled from testdata/tN.
class SystemCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/system_check_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    tmp_ = tmpl;
    root_ = tmp_ / "proc";
    fs::create_directories(root_ / "net");
  }
  void TearDown() override { fs::remove_all(tmp_); }

  // Replaces the fake proc_root's files with testdata/<snapshot>.
  void UseSnapshot(const std::string& snapshot) {
    for (const char* f :
         {"stat", "loadavg", "meminfo", "diskstats", "uptime", "mounts", "net/dev"}) {
      fs::copy_file(kTestData + "/" + snapshot + "/" + f, root_ / f,
                    fs::copy_options::overwrite_existing);
    }
  }

  // Runs Init with `yaml` (the check's own keys) and returns the config errors.
  std::vector<std::string> InitWith(SystemCheck& check, const std::string& yaml) {
    absl::StatusOr<YAML::Node> node = LoadYamlString(yaml, "agent.yaml");
    EXPECT_TRUE(node.ok()) << node.status();
    ConfigErrors errors("agent.yaml");
    ConfigMap config(*node, &errors);
    EXPECT_TRUE(check.Init(config).ok());
    config.Finish();
    return errors.messages();
  }

  void InitOnRoot(SystemCheck& check, const std::string& extra = "") {
    ASSERT_THAT(InitWith(check, "proc_root: " + root_.string() + "\n" + extra), IsEmpty());
  }

  fs::path tmp_;
  fs::path root_;
};

TEST_F(SystemCheckTest, FirstCollectEmitsGaugesButNoRates) {
  UseSnapshot("t1");
  SystemCheck check;
  InitOnRoot(check);
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(WithPrefix(*s, "system.cpu."), IsEmpty());
  EXPECT_THAT(WithPrefix(*s, "system.disk."), IsEmpty());
  EXPECT_THAT(WithPrefix(*s, "system.net."), IsEmpty());
  EXPECT_EQ(FindSample(*s, "system.load.1"), 0.04);
  EXPECT_EQ(FindSample(*s, "system.load.5"), 0.08);
  EXPECT_EQ(FindSample(*s, "system.load.15"), 0.03);
  EXPECT_EQ(FindSample(*s, "system.uptime_seconds"), 419.78);
}

TEST_F(SystemCheckTest, MemoryAndSwapComeFromMeminfo) {
  UseSnapshot("t1");  // MemTotal 24683656 kB, MemAvailable 24341360 kB, no swap
  SystemCheck check;
  InitOnRoot(check);
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "system.memory.total_bytes"), 24683656.0 * 1024);
  EXPECT_EQ(FindSample(*s, "system.memory.available_bytes"), 24341360.0 * 1024);
  EXPECT_EQ(FindSample(*s, "system.memory.used_bytes"), (24683656.0 - 24341360.0) * 1024);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.memory.used_pct"),
                   100.0 * (24683656.0 - 24341360.0) / 24683656.0);
  EXPECT_EQ(FindSample(*s, "system.swap.total_bytes"), 0.0);
  EXPECT_EQ(FindSample(*s, "system.swap.used_bytes"), 0.0);
  EXPECT_EQ(FindSample(*s, "system.swap.used_pct"), 0.0);
}

TEST_F(SystemCheckTest, SwapUsedIsTotalMinusFree) {
  UseSnapshot("t1");
  WriteFile(root_ / "meminfo",
            "MemTotal: 1000 kB\nMemAvailable: 250 kB\nSwapTotal: 400 kB\nSwapFree: 300 kB\n");
  SystemCheck check;
  InitOnRoot(check);
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "system.memory.used_pct"), 75.0);
  EXPECT_EQ(FindSample(*s, "system.swap.total_bytes"), 400.0 * 1024);
  EXPECT_EQ(FindSample(*s, "system.swap.used_bytes"), 100.0 * 1024);
  EXPECT_EQ(FindSample(*s, "system.swap.used_pct"), 25.0);
}

// t2's cpu line adds user 600, nice 100, system 200, idle 800, iowait 100, irq 50,
// softirq 50, steal 100 to t1's: 2000 ticks in all.
TEST_F(SystemCheckTest, CpuPercentagesComeFromTickDeltas) {
  SystemCheck check;
  UseSnapshot("t1");
  InitOnRoot(check);
  ASSERT_TRUE(check.Collect(kT0).ok());
  UseSnapshot("t2");
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.cpu.utilization"), 55.0);  // (2000 - 800 - 100) / 2000
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.cpu.user"), 35.0);         // 700 / 2000
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.cpu.system"), 15.0);       // 300 / 2000
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.cpu.iowait"), 5.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.cpu.steal"), 5.0);
  EXPECT_EQ(FindSample(*s, "system.load.1"), 1.5);
}

// t2 adds to vda: 1000 reads, 20480 sectors read, 500 writes, 40960 sectors written; 10 s.
TEST_F(SystemCheckTest, DiskRatesComeFromCounterDeltasOverElapsedTime) {
  SystemCheck check;
  UseSnapshot("t1");
  InitOnRoot(check);
  ASSERT_TRUE(check.Collect(kT0).ok());
  UseSnapshot("t2");
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  const Labels vda = {{"device", "vda"}};
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.disk.read_bytes_per_sec", vda), 20480.0 * 512 / 10);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.disk.write_bytes_per_sec", vda), 40960.0 * 512 / 10);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.disk.read_ops_per_sec", vda), 100.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.disk.write_ops_per_sec", vda), 50.0);
  EXPECT_EQ(FindSample(*s, "system.disk.read_ops_per_sec", {{"device", "zram0"}}), 0.0);
}

TEST_F(SystemCheckTest, LoopAndRamDevicesAreExcludedByDefault) {
  SystemCheck check;
  UseSnapshot("t1");
  InitOnRoot(check);
  ASSERT_TRUE(check.Collect(kT0).ok());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(LabelValues(*s, "system.disk.read_ops_per_sec", "device"),
              ::testing::UnorderedElementsAre("vda", "zram0"));
}

TEST_F(SystemCheckTest, ExcludeDevicesReplacesDefault) {
  SystemCheck check;
  UseSnapshot("t1");
  InitOnRoot(check, "exclude_devices: [zram, loop1]\n");
  ASSERT_TRUE(check.Collect(kT0).ok());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<std::string> devices = LabelValues(*s, "system.disk.read_ops_per_sec", "device");
  EXPECT_THAT(devices, Contains("loop0"));
  EXPECT_THAT(devices, Contains("vda"));
  EXPECT_THAT(devices, ::testing::Not(Contains("loop1")));
  EXPECT_THAT(devices, ::testing::Not(Contains("zram0")));
}

// t2 adds to eth0: rx 1000000 bytes, 1000 packets, 10 errors, 20 drops; tx 500000 bytes,
// 500 packets, 0 errors, 5 drops; 10 s.
TEST_F(SystemCheckTest, NetRatesComeFromCounterDeltasOverElapsedTime) {
  SystemCheck check;
  UseSnapshot("t1");
  InitOnRoot(check);
  ASSERT_TRUE(check.Collect(kT0).ok());
  UseSnapshot("t2");
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  const Labels eth0 = {{"interface", "eth0"}};
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.rx_bytes_per_sec", eth0), 100000.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.rx_packets_per_sec", eth0), 100.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.rx_errors_per_sec", eth0), 1.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.rx_drops_per_sec", eth0), 2.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.tx_bytes_per_sec", eth0), 50000.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.tx_packets_per_sec", eth0), 50.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.tx_errors_per_sec", eth0), 0.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.tx_drops_per_sec", eth0), 0.5);
}

TEST_F(SystemCheckTest, LoopbackIsExcludedAndNewInterfaceWaitsForSecondSample) {
  SystemCheck check;
  UseSnapshot("t1");
  InitOnRoot(check);
  ASSERT_TRUE(check.Collect(kT0).ok());
  UseSnapshot("t2");  // wg0 appears
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(LabelValues(*s, "system.net.rx_bytes_per_sec", "interface"),
              ::testing::UnorderedElementsAre("eth0", "ifb0", "ifb1"));
  UseSnapshot("t3");
  s = check.Collect(kT0 + absl::Seconds(20));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "system.net.rx_packets_per_sec", {{"interface", "wg0"}}), 0.0);
}

TEST_F(SystemCheckTest, ExcludeInterfacesMatchesPrefixes) {
  SystemCheck check;
  UseSnapshot("t1");
  InitOnRoot(check, "exclude_interfaces: [ifb, eth]\n");
  ASSERT_TRUE(check.Collect(kT0).ok());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(LabelValues(*s, "system.net.rx_bytes_per_sec", "interface"),
              ::testing::ElementsAre("lo"));
}

// t3 lowers the cpu ticks, vda's reads and eth0's rx bytes (as after a reset) and raises the
// rest: vda +100 writes, +2048 sectors written; eth0 +100000 tx bytes, +100 tx packets.
TEST_F(SystemCheckTest, CounterThatWentDownGivesNoRateForThatInterval) {
  SystemCheck check;
  UseSnapshot("t2");
  InitOnRoot(check);
  ASSERT_TRUE(check.Collect(kT0).ok());
  UseSnapshot("t3");
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(WithPrefix(*s, "system.cpu."), IsEmpty());
  const Labels vda = {{"device", "vda"}};
  EXPECT_EQ(FindSample(*s, "system.disk.read_bytes_per_sec", vda), std::nullopt);
  EXPECT_EQ(FindSample(*s, "system.disk.read_ops_per_sec", vda), std::nullopt);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.disk.write_ops_per_sec", vda), 10.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.disk.write_bytes_per_sec", vda), 2048.0 * 512 / 10);
  const Labels eth0 = {{"interface", "eth0"}};
  EXPECT_EQ(FindSample(*s, "system.net.rx_bytes_per_sec", eth0), std::nullopt);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.rx_packets_per_sec", eth0), 0.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.tx_bytes_per_sec", eth0), 10000.0);
  EXPECT_DOUBLE_EQ(*FindSample(*s, "system.net.tx_packets_per_sec", eth0), 10.0);
}

TEST_F(SystemCheckTest, RatesResumeAfterTheIntervalWithAReset) {
  SystemCheck check;
  UseSnapshot("t2");
  InitOnRoot(check);
  ASSERT_TRUE(check.Collect(kT0).ok());
  UseSnapshot("t3");
  ASSERT_TRUE(check.Collect(kT0 + absl::Seconds(10)).ok());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(20));  // unchanged
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "system.disk.read_ops_per_sec", {{"device", "vda"}}), 0.0);
  EXPECT_EQ(FindSample(*s, "system.net.rx_bytes_per_sec", {{"interface", "eth0"}}), 0.0);
}

TEST_F(SystemCheckTest, NoRatesWhenTimeDidNotAdvance) {
  SystemCheck check;
  UseSnapshot("t1");
  InitOnRoot(check);
  ASSERT_TRUE(check.Collect(kT0).ok());
  UseSnapshot("t2");
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(WithPrefix(*s, "system.cpu."), IsEmpty());
  EXPECT_THAT(WithPrefix(*s, "system.disk."), IsEmpty());
  EXPECT_THAT(WithPrefix(*s, "system.net."), IsEmpty());
}

TEST_F(SystemCheckTest, MissingRequiredFileFailsCollectWithItsPath) {
  UseSnapshot("t1");
  fs::remove(root_ / "meminfo");
  SystemCheck check;
  InitOnRoot(check);
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("cannot open " + (root_ / "meminfo").string()));
}

TEST_F(SystemCheckTest, MalformedStatFailsCollectNamingFileAndLine) {
  UseSnapshot("t1");
  WriteFile(root_ / "stat", "cpu 1 2 3\n");
  SystemCheck check;
  InitOnRoot(check);
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            (root_ / "stat").string() +
                ": line 1: expected at least 8 numeric fields after 'cpu', got 3");
}

TEST_F(SystemCheckTest, TruncatedLoadavgFailsCollect) {
  UseSnapshot("t1");
  WriteFile(root_ / "loadavg", "0.04 0.0");
  SystemCheck check;
  InitOnRoot(check);
  EXPECT_EQ(check.Collect(kT0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SystemCheckTest, BrokenOptionalFilesAreSkippedAndTheRestReturned) {
  UseSnapshot("t1");
  fs::remove(root_ / "diskstats");
  fs::remove(root_ / "uptime");
  WriteFile(root_ / "net/dev", "garbage\n");
  WriteFile(root_ / "mounts", "/dev/sda1 /\n");
  SystemCheck check;
  InitOnRoot(check);
  ASSERT_TRUE(check.Collect(kT0).ok());
  fs::copy_file(kTestData + "/t2/stat", root_ / "stat", fs::copy_options::overwrite_existing);
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "system.load.1"), 0.04);
  EXPECT_EQ(FindSample(*s, "system.cpu.utilization"), 55.0);
  EXPECT_THAT(WithPrefix(*s, "system.disk."), IsEmpty());
  EXPECT_THAT(WithPrefix(*s, "system.net."), IsEmpty());
  EXPECT_THAT(WithPrefix(*s, "system.filesystem."), IsEmpty());
  EXPECT_EQ(FindSample(*s, "system.uptime_seconds"), std::nullopt);
}

TEST_F(SystemCheckTest, DiskRatesNeedTwoGoodReadsInARow) {
  UseSnapshot("t1");
  SystemCheck check;
  InitOnRoot(check);
  ASSERT_TRUE(check.Collect(kT0).ok());
  fs::remove(root_ / "diskstats");
  ASSERT_TRUE(check.Collect(kT0 + absl::Seconds(10)).ok());
  UseSnapshot("t2");
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(20));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(WithPrefix(*s, "system.disk."), IsEmpty());
}

// ---- filesystems (statvfs on real directories listed in a fake mount table)

class SystemCheckFilesystemTest : public SystemCheckTest {
 protected:
  void SetUp() override {
    SystemCheckTest::SetUp();
    UseSnapshot("t1");
    mnt_ = (tmp_ / "data").string();
    fs::create_directories(mnt_);
    ASSERT_EQ(statvfs(mnt_.c_str(), &vfs_), 0);
  }

  std::vector<Sample> CollectFilesystems(SystemCheck& check, const std::string& extra = "") {
    InitOnRoot(check, extra);
    absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? WithPrefix(*s, "system.filesystem.") : std::vector<Sample>{};
  }

  std::string mnt_;
  struct statvfs vfs_;
};

TEST_F(SystemCheckFilesystemTest, ReportsSizesFromStatvfs) {
  WriteFile(root_ / "mounts", "/dev/sdz1 " + mnt_ + " ext4 rw,relatime 0 0\n");
  SystemCheck check;
  std::vector<Sample> s = CollectFilesystems(check);
  const Labels labels = {{"device", "/dev/sdz1"}, {"fstype", "ext4"}, {"mountpoint", mnt_}};
  double frsize = static_cast<double>(vfs_.f_frsize);
  EXPECT_EQ(FindSample(s, "system.filesystem.total_bytes", labels),
            static_cast<double>(vfs_.f_blocks) * frsize);
  std::optional<double> used = FindSample(s, "system.filesystem.used_bytes", labels);
  std::optional<double> free = FindSample(s, "system.filesystem.free_bytes", labels);
  std::optional<double> pct = FindSample(s, "system.filesystem.used_pct", labels);
  ASSERT_TRUE(used && free && pct);
  EXPECT_DOUBLE_EQ(*pct, 100.0 * *used / (*used + *free));
  EXPECT_GE(*pct, 0.0);
  EXPECT_LE(*pct, 100.0);
  // Other processes write to this filesystem; allow 1 GiB of drift since our statvfs call.
  EXPECT_NEAR(*free, static_cast<double>(vfs_.f_bavail) * frsize, 1 << 30);
  if (vfs_.f_files > 0) {
    EXPECT_TRUE(FindSample(s, "system.filesystem.inodes_used_pct", labels).has_value());
  }
}

TEST_F(SystemCheckFilesystemTest, SkipsExcludedTypesAndMountpoints) {
  fs::create_directories(mnt_ + "/snap/core");
  fs::create_directories(mnt_ + "/snapshots");
  WriteFile(root_ / "mounts", "proc " + mnt_ + "/snap/core proc rw 0 0\n" +        //
                                  "/dev/a " + mnt_ + "/snap/core ext4 rw 0 0\n" +  //
                                  "/dev/b " + mnt_ + "/snapshots ext4 rw 0 0\n" +  //
                                  "tmpfs " + mnt_ + " tmpfs rw 0 0\n");
  SystemCheck check;
  std::vector<Sample> s = CollectFilesystems(check, "exclude_mountpoints: [" + mnt_ + "/snap]\n");
  EXPECT_THAT(LabelValues(s, "system.filesystem.total_bytes", "mountpoint"),
              ::testing::ElementsAre(mnt_ + "/snapshots"));
}

TEST_F(SystemCheckFilesystemTest, LastMountOfAMountpointWins) {
  WriteFile(root_ / "mounts", "/dev/under " + mnt_ + " ext4 rw 0 0\n" +  //
                                  "/dev/over " + mnt_ + " xfs rw 0 0\n");
  SystemCheck check;
  std::vector<Sample> s = CollectFilesystems(check);
  EXPECT_THAT(LabelValues(s, "system.filesystem.total_bytes", "device"),
              ::testing::ElementsAre("/dev/over"));
  EXPECT_THAT(LabelValues(s, "system.filesystem.total_bytes", "fstype"),
              ::testing::ElementsAre("xfs"));
}

TEST_F(SystemCheckFilesystemTest, UnreachableMountpointIsCountedNotFatal) {
  WriteFile(root_ / "mounts", "/dev/gone " + mnt_ + "/missing ext4 rw 0 0\n" +  //
                                  "/dev/sdz1 " + mnt_ + " ext4 rw 0 0\n");
  SystemCheck check;
  std::vector<Sample> s = CollectFilesystems(check);
  EXPECT_EQ(check.statvfs_failures(), 1);
  EXPECT_THAT(LabelValues(s, "system.filesystem.total_bytes", "mountpoint"),
              ::testing::ElementsAre(mnt_));
}

TEST_F(SystemCheckFilesystemTest, EscapedSpaceInMountpointIsDecoded) {
  fs::create_directories(mnt_ + "/my disk");
  WriteFile(root_ / "mounts", "/dev/sdz1 " + mnt_ + "/my\\040disk ext4 rw 0 0\n");
  SystemCheck check;
  std::vector<Sample> s = CollectFilesystems(check);
  EXPECT_EQ(check.statvfs_failures(), 0);
  EXPECT_THAT(LabelValues(s, "system.filesystem.total_bytes", "mountpoint"),
              ::testing::ElementsAre(mnt_ + "/my disk"));
}

TEST_F(SystemCheckFilesystemTest, MountsFileKeyOverridesLocation) {
  WriteFile(tmp_ / "other_mounts", "/dev/sdz1 " + mnt_ + " ext4 rw 0 0\n");
  SystemCheck check;
  std::vector<Sample> s =
      CollectFilesystems(check, "mounts_file: " + (tmp_ / "other_mounts").string() + "\n");
  EXPECT_THAT(LabelValues(s, "system.filesystem.total_bytes", "device"),
              ::testing::ElementsAre("/dev/sdz1"));
}

// ---- configuration

TEST_F(SystemCheckTest, UnknownKeyIsReportedByFinish) {
  SystemCheck check;
  EXPECT_THAT(InitWith(check, "proc_root: " + root_.string() + "\nexclude_fstype: [nfs]\n"),
              ::testing::ElementsAre("agent.yaml:2:1: unknown key 'exclude_fstype'"));
}

TEST_F(SystemCheckTest, ExcludeFstypesOfWrongTypeIsReportedWithPosition) {
  SystemCheck check;
  EXPECT_THAT(InitWith(check, "exclude_fstypes: {nfs: true}\n"),
              ::testing::ElementsAre("agent.yaml:1:18: exclude_fstypes: expected a list of "
                                     "strings"));
}

TEST_F(SystemCheckTest, RelativeProcRootIsReported) {
  SystemCheck check;
  EXPECT_THAT(
      InitWith(check, "proc_root: proc\n"),
      ::testing::ElementsAre("agent.yaml:1:12: proc_root: must be an absolute path, got 'proc'"));
}

TEST_F(SystemCheckTest, MissingProcRootIsReported) {
  SystemCheck check;
  EXPECT_THAT(
      InitWith(check, "proc_root: /nonexistent/proc\n"),
      ::testing::ElementsAre("agent.yaml:1:12: proc_root: '/nonexistent/proc' is not a directory"));
}

TEST_F(SystemCheckTest, EmptyListEntryIsReported) {
  SystemCheck check;
  EXPECT_THAT(
      InitWith(check, "exclude_interfaces: ['']\n"),
      ::testing::ElementsAre("agent.yaml:1:21: exclude_interfaces: entries must not be empty"));
}

TEST_F(SystemCheckTest, DefaultsNeedNoConfig) {
  SystemCheck check;
  EXPECT_THAT(InitWith(check, "{}\n"), IsEmpty());
}

// ---- the live /proc of this machine

double FirstNumberAfter(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size()));
  }
  ADD_FAILURE() << key << " not found in " << path;
  return -1;
}

TEST(SystemCheckLive, TwoCollectsOfRealProcGiveConsistentValues) {
  SystemCheck check;
  ConfigErrors errors("agent.yaml");
  ConfigMap config(YAML::Node(), &errors);
  ASSERT_TRUE(check.Init(config).ok());
  config.Finish();
  ASSERT_TRUE(errors.empty());

  absl::StatusOr<std::vector<Sample>> first = check.Collect(absl::Now());
  ASSERT_TRUE(first.ok()) << first.status();
  absl::SleepFor(absl::Seconds(1));  // the measurement interval, not a wait for a condition
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();

  std::optional<double> util = FindSample(*s, "system.cpu.utilization");
  ASSERT_TRUE(util.has_value());
  EXPECT_GE(*util, 0.0);
  EXPECT_LE(*util, 100.0);
  ASSERT_TRUE(FindSample(*s, "system.load.1").has_value());
  EXPECT_NEAR(*FindSample(*s, "system.load.1"), FirstNumberAfter("/proc/loadavg", ""), 0.5);
  EXPECT_EQ(FindSample(*s, "system.memory.total_bytes"),
            FirstNumberAfter("/proc/meminfo", "MemTotal:") * 1024);
  ASSERT_TRUE(FindSample(*s, "system.uptime_seconds").has_value());
  EXPECT_NEAR(*FindSample(*s, "system.uptime_seconds"), FirstNumberAfter("/proc/uptime", ""), 5);
  for (const Sample& sample : *s) {
    if (absl::EndsWith(sample.metric, "_per_sec")) {
      EXPECT_GE(sample.value, 0.0) << sample.metric;
    }
  }
}

}  // namespace
}  // namespace vigil::agent
