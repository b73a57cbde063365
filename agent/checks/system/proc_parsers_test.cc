#include "agent/checks/system/proc_parsers.h"

#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::proc {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/system/testdata";

std::string ReadFixture(const std::string& relative) {
  std::ifstream in(kTestData + "/" + relative, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << relative;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- /proc/stat

TEST(ParseProcStat, ReadsAggregateCpuLineOfRealFile) {
  // testdata/t1/stat starts with "cpu  3705 0 2014 77661 319 0 76 11 0 0".
  absl::StatusOr<CpuTimes> t = ParseProcStat(ReadFixture("t1/stat"));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->user, 3705u);
  EXPECT_EQ(t->nice, 0u);
  EXPECT_EQ(t->system, 2014u);
  EXPECT_EQ(t->idle, 77661u);
  EXPECT_EQ(t->iowait, 319u);
  EXPECT_EQ(t->irq, 0u);
  EXPECT_EQ(t->softirq, 76u);
  EXPECT_EQ(t->steal, 11u);
  EXPECT_EQ(t->Total(), 3705u + 2014 + 77661 + 319 + 76 + 11);
}

TEST(ParseProcStat, TooFewFieldsNamesLineAndCount) {
  absl::StatusOr<CpuTimes> t = ParseProcStat("cpu 1 2 3\n");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(),
            "/proc/stat: line 1: expected at least 8 numeric fields after 'cpu', got 3");
}

TEST(ParseProcStat, NonNumericFieldIsReported) {
  absl::StatusOr<CpuTimes> t = ParseProcStat("intr 5\ncpu 1 2 x 4 5 6 7 8\n");
  EXPECT_EQ(t.status().message(),
            "/proc/stat: line 2: field 3 after 'cpu' is not a non-negative integer: 'x'");
}

TEST(ParseProcStat, NegativeFieldIsRejected) {
  EXPECT_THAT(std::string(ParseProcStat("cpu 1 2 -3 4 5 6 7 8\n").status().message()),
              HasSubstr("is not a non-negative integer: '-3'"));
}

TEST(ParseProcStat, OverflowingFieldIsRejected) {
  EXPECT_THAT(
      std::string(ParseProcStat("cpu 1 2 99999999999999999999999 4 5 6 7 8\n").status().message()),
      HasSubstr("field 3 after 'cpu'"));
}

TEST(ParseProcStat, MissingAggregateLineIsReported) {
  EXPECT_EQ(ParseProcStat("cpu0 1 2 3 4 5 6 7 8\n").status().message(),
            "/proc/stat: no aggregate 'cpu' line");
}

TEST(ParseProcStat, EmptyContentIsReported) {
  EXPECT_EQ(ParseProcStat("").status().message(), "/proc/stat: empty content");
}

TEST(ParseProcStat, LineCutBeforeNewlineIsTruncation) {
  EXPECT_EQ(ParseProcStat("cpu  3705 0 2014 77661 319 0 76 11 0 0").status().message(),
            "/proc/stat: line 1: not terminated by a newline (truncated content?)");
}

TEST(ParseProcStat, SourceNameIsUsedInMessages) {
  EXPECT_THAT(std::string(ParseProcStat("cpu 1\n", "/tmp/x/stat").status().message()),
              StartsWith("/tmp/x/stat: line 1:"));
}

// ---- /proc/loadavg

TEST(ParseLoadAvg, ReadsThreeAveragesOfRealFile) {
  absl::StatusOr<LoadAverage> l = ParseLoadAvg(ReadFixture("t1/loadavg"));  // 0.04 0.08 0.03
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_DOUBLE_EQ(l->load1, 0.04);
  EXPECT_DOUBLE_EQ(l->load5, 0.08);
  EXPECT_DOUBLE_EQ(l->load15, 0.03);
}

TEST(ParseLoadAvg, TwoFieldsIsAnError) {
  EXPECT_EQ(ParseLoadAvg("0.5 0.6\n").status().message(),
            "/proc/loadavg: line 1: expected 3 load averages, got 2 fields");
}

TEST(ParseLoadAvg, NonNumericAverageIsAnError) {
  EXPECT_EQ(ParseLoadAvg("0.5 abc 0.7 1/2 3\n").status().message(),
            "/proc/loadavg: line 1: load average 2 is not a non-negative number: 'abc'");
}

TEST(ParseLoadAvg, NegativeOrInfiniteAverageIsAnError) {
  EXPECT_FALSE(ParseLoadAvg("-0.5 0.6 0.7 1/2 3\n").ok());
  EXPECT_FALSE(ParseLoadAvg("inf 0.6 0.7 1/2 3\n").ok());
  EXPECT_FALSE(ParseLoadAvg("nan 0.6 0.7 1/2 3\n").ok());
}

// ---- /proc/meminfo

TEST(ParseMemInfo, ConvertsKilobytesOfRealFileToBytes) {
  absl::StatusOr<MemInfo> m = ParseMemInfo(ReadFixture("t1/meminfo"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->total_bytes, 24683656ull * 1024);
  EXPECT_EQ(m->available_bytes, 24341360ull * 1024);
  EXPECT_EQ(m->swap_total_bytes, 0u);
  EXPECT_EQ(m->swap_free_bytes, 0u);
}

TEST(ParseMemInfo, ReadsSwap) {
  absl::StatusOr<MemInfo> m =
      ParseMemInfo("MemTotal: 1000 kB\nMemAvailable: 400 kB\nSwapTotal: 200 kB\nSwapFree: 50 kB\n");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->swap_total_bytes, 200u * 1024);
  EXPECT_EQ(m->swap_free_bytes, 50u * 1024);
}

TEST(ParseMemInfo, EstimatesAvailableWhenKernelHasNoMemAvailable) {
  absl::StatusOr<MemInfo> m = ParseMemInfo(
      "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 200 kB\nSReclaimable: 5 kB\n");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->available_bytes, 315u * 1024);
}

TEST(ParseMemInfo, MissingMemTotalIsTruncation) {
  EXPECT_EQ(ParseMemInfo("MemFree: 100 kB\n").status().message(),
            "/proc/meminfo: no MemTotal line (truncated content?)");
}

TEST(ParseMemInfo, MissingAvailableAndFreeIsAnError) {
  EXPECT_EQ(ParseMemInfo("MemTotal: 1000 kB\n").status().message(),
            "/proc/meminfo: neither MemAvailable nor MemFree, Buffers and Cached (truncated "
            "content?)");
}

TEST(ParseMemInfo, SwapTotalWithoutSwapFreeIsAnError) {
  EXPECT_EQ(
      ParseMemInfo("MemTotal: 1000 kB\nMemAvailable: 5 kB\nSwapTotal: 9 kB\n").status().message(),
      "/proc/meminfo: found SwapTotal without SwapFree (truncated content?)");
}

TEST(ParseMemInfo, NonNumericValueNamesLine) {
  EXPECT_EQ(ParseMemInfo("MemTotal: 1000 kB\nMemAvailable: lots kB\n").status().message(),
            "/proc/meminfo: line 2: expected 'MemAvailable: <integer> kB', got 'MemAvailable: "
            "lots kB'");
}

TEST(ParseMemInfo, UnknownUnitIsAnError) {
  EXPECT_EQ(ParseMemInfo("MemTotal: 1000 MB\n").status().message(),
            "/proc/meminfo: line 1: unknown unit 'MB' for MemTotal");
}

TEST(ParseMemInfo, LineWithoutColonIsAnError) {
  EXPECT_EQ(ParseMemInfo("MemTotal 1000 kB\n").status().message(),
            "/proc/meminfo: line 1: expected 'Name: value [kB]'");
}

// ---- /proc/diskstats

TEST(ParseDiskStats, ReadsEveryDeviceOfRealFile) {
  absl::StatusOr<std::vector<DiskStat>> d = ParseDiskStats(ReadFixture("t1/diskstats"));
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->size(), 10u);
  EXPECT_EQ((*d)[0].device, "loop0");
  // " 254 0 vda 32718 6997 2564386 6997 10140 6751 955288 ..."
  const DiskStat& vda = (*d)[8];
  EXPECT_EQ(vda.device, "vda");
  EXPECT_EQ(vda.reads_completed, 32718u);
  EXPECT_EQ(vda.sectors_read, 2564386u);
  EXPECT_EQ(vda.writes_completed, 10140u);
  EXPECT_EQ(vda.sectors_written, 955288u);
  EXPECT_EQ((*d)[9].device, "zram0");
}

TEST(ParseDiskStats, EmptyFileHasNoDevices) {
  absl::StatusOr<std::vector<DiskStat>> d = ParseDiskStats("");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->empty());
}

TEST(ParseDiskStats, ShortLineNamesLineAndCount) {
  EXPECT_EQ(
      ParseDiskStats("   8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n   8 1 sda1 1 2 3\n").status().message(),
      "/proc/diskstats: line 2: expected at least 14 fields (major minor name and 11 "
      "counters), got 6");
}

TEST(ParseDiskStats, NonNumericCounterNamesDevice) {
  EXPECT_EQ(ParseDiskStats("8 0 sda 1 2 3 4 5 x 7 8 9 10 11\n").status().message(),
            "/proc/diskstats: line 1: field 6 after 'sda' is not a non-negative integer: 'x'");
}

TEST(ParseDiskStats, NonNumericMajorIsAnError) {
  EXPECT_THAT(std::string(ParseDiskStats("a b sda 1 2 3 4 5 6 7 8 9 10 11\n").status().message()),
              HasSubstr("expected major and minor device numbers, got 'a b'"));
}

// ---- /proc/net/dev

TEST(ParseNetDev, ReadsEveryInterfaceOfRealFile) {
  absl::StatusOr<std::vector<NetDevStat>> n = ParseNetDev(ReadFixture("t1/net/dev"));
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(n->size(), 4u);
  EXPECT_EQ((*n)[0].interface, "lo");
  const NetDevStat& eth0 = (*n)[3];
  EXPECT_EQ(eth0.interface, "eth0");
  EXPECT_EQ(eth0.rx_bytes, 44490382u);
  EXPECT_EQ(eth0.rx_packets, 1461u);
  EXPECT_EQ(eth0.tx_bytes, 64444u);
  EXPECT_EQ(eth0.tx_packets, 858u);
}

TEST(ParseNetDev, MapsAllEightCountersToTheirColumns) {
  absl::StatusOr<std::vector<NetDevStat>> n = ParseNetDev(
      "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
      "eth1:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");  // no space after the colon
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(n->size(), 1u);
  const NetDevStat& s = (*n)[0];
  EXPECT_EQ(s.interface, "eth1");
  EXPECT_EQ(s.rx_bytes, 1u);
  EXPECT_EQ(s.rx_packets, 2u);
  EXPECT_EQ(s.rx_errors, 3u);
  EXPECT_EQ(s.rx_drops, 4u);
  EXPECT_EQ(s.tx_bytes, 9u);
  EXPECT_EQ(s.tx_packets, 10u);
  EXPECT_EQ(s.tx_errors, 11u);
  EXPECT_EQ(s.tx_drops, 12u);
}

TEST(ParseNetDev, MissingHeaderIsAnError) {
  EXPECT_EQ(ParseNetDev("eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n").status().message(),
            "/proc/net/dev: expected two header lines ('Inter-|...' and ' face |...')");
}

TEST(ParseNetDev, ShortLineNamesInterfaceAndCount) {
  EXPECT_EQ(ParseNetDev("Inter-|\n face |\n  eth0: 1 2 3\n").status().message(),
            "/proc/net/dev: line 3: expected 16 numeric fields after 'eth0:', got 3");
}

TEST(ParseNetDev, LineWithoutInterfaceNameIsAnError) {
  EXPECT_EQ(ParseNetDev("Inter-|\n face |\n 1 2 3\n").status().message(),
            "/proc/net/dev: line 3: expected '<interface>:' followed by 16 counters");
}

// ---- /proc/uptime

TEST(ParseUptime, ReadsRealFile) {
  absl::StatusOr<Uptime> u = ParseUptime(ReadFixture("t1/uptime"));  // "419.78 776.61"
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_DOUBLE_EQ(u->uptime_seconds, 419.78);
  EXPECT_DOUBLE_EQ(u->idle_seconds, 776.61);
}

TEST(ParseUptime, OneNumberIsAnError) {
  EXPECT_EQ(ParseUptime("12.5\n").status().message(),
            "/proc/uptime: line 1: expected 2 numbers, got 1");
}

TEST(ParseUptime, GarbageIsAnError) {
  EXPECT_EQ(ParseUptime("up 3\n").status().message(),
            "/proc/uptime: line 1: expected two non-negative numbers, got 'up 3'");
}

// ---- /proc/mounts

TEST(ParseMounts, ReadsRealFile) {
  absl::StatusOr<std::vector<MountEntry>> m = ParseMounts(ReadFixture("t1/mounts"));
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 20u);
  EXPECT_EQ((*m)[0].device, "proc");
  EXPECT_EQ((*m)[0].mountpoint, "/proc");
  EXPECT_EQ((*m)[0].fstype, "proc");
  EXPECT_EQ((*m)[5].device, "/dev/vda");
  EXPECT_EQ((*m)[5].mountpoint, "/");
  EXPECT_EQ((*m)[5].fstype, "ext4");
}

TEST(ParseMounts, DecodesOctalEscapes) {
  absl::StatusOr<std::vector<MountEntry>> m =
      ParseMounts("/dev/sdb1 /media/My\\040Disk\\134x vfat rw 0 0\n");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].mountpoint, "/media/My Disk\\x");
}

TEST(ParseMounts, ShortLineIsAnError) {
  EXPECT_EQ(ParseMounts("/dev/sda1 / ext4 rw 0 0\n/dev/sda2 /home\n").status().message(),
            "/proc/mounts: line 2: expected 'device mountpoint fstype options', got 2 fields");
}

// ---- every parser, every truncation of the real files

// Cutting a real file at any byte never crashes; a cut inside a line is always reported as
// InvalidArgument naming the file; a cut at a line end may parse.
TEST(ProcParsers, EveryTruncationOfRealFilesFailsCleanlyOrParses) {
  struct Case {
    const char* fixture;
    const char* source;
    std::function<absl::Status(std::string_view)> parse;
  };
  const Case cases[] = {
      {"t1/stat", "/proc/stat", [](std::string_view s) { return ParseProcStat(s).status(); }},
      {"t1/loadavg", "/proc/loadavg", [](std::string_view s) { return ParseLoadAvg(s).status(); }},
      {"t1/meminfo", "/proc/meminfo", [](std::string_view s) { return ParseMemInfo(s).status(); }},
      {"t1/diskstats", "/proc/diskstats",
       [](std::string_view s) { return ParseDiskStats(s).status(); }},
      {"t1/net/dev", "/proc/net/dev", [](std::string_view s) { return ParseNetDev(s).status(); }},
      {"t1/uptime", "/proc/uptime", [](std::string_view s) { return ParseUptime(s).status(); }},
      {"t1/mounts", "/proc/mounts", [](std::string_view s) { return ParseMounts(s).status(); }},
  };
  for (const Case& c : cases) {
    std::string full = ReadFixture(c.fixture);
    ASSERT_FALSE(full.empty()) << c.fixture;
    EXPECT_TRUE(c.parse(full).ok()) << c.fixture;
    for (size_t len = 1; len < full.size(); ++len) {
      absl::Status s = c.parse(std::string_view(full).substr(0, len));
      if (full[len - 1] != '\n') {
        EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.fixture << " cut at " << len;
      }
      if (!s.ok()) {
        EXPECT_THAT(std::string(s.message()), StartsWith(std::string(c.source) + ": "))
            << c.fixture << " cut at " << len;
      }
    }
  }
}

}  // namespace
}  // namespace vigil::agent::proc
