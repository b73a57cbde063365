// The strongswan check over recorded outputs of the real tools, served by stand-in scripts
// (rates across rekeys, fallback, timeouts, config). strongswan_charon_test.cc runs it against
// a real charon.
#include "agent/checks/strongswan/strongswan_check.h"

#include <sys/stat.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/checks/check_testing.h"
#include "common/config_reader.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/strongswan/testdata";
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

std::optional<double> Find(const std::vector<Sample>& samples, const std::string& metric,
                           const std::string& tunnel) {
  for (const Sample& s : samples) {
    if (s.metric == metric && s.labels == Labels{{"tunnel", tunnel}}) return s.value;
  }
  return std::nullopt;
}

std::vector<std::string> Tunnels(const std::vector<Sample>& samples) {
  std::vector<std::string> out;
  for (const Sample& s : samples) {
    if (s.metric == "tunnel.up") out.push_back(s.labels.at(0).second);
  }
  return out;
}

// Stand-ins for swanctl and ipsec that print files of this directory: `conns`, `sas` and
// `statusall` (copied from testdata/), exit with the code in `exit` (if any) and record their
// arguments in `args`.
class FakeTools {
 public:
  FakeTools() {
    Script("swanctl", "echo \"$@\" > " + dir_.Join("args") + "\n" + "[ -f " + dir_.Join("hang") +
                          " ] && exec sleep 60\n" + "case \"$1\" in --list-conns) cat " +
                          dir_.Join("conns") + ";; --list-sas) cat " + dir_.Join("sas") +
                          ";; esac\n" + "[ -f " + dir_.Join("stderr") + " ] && cat " +
                          dir_.Join("stderr") + " >&2\n" + "[ -f " + dir_.Join("exit") +
                          " ] && exit $(cat " + dir_.Join("exit") + ")\n" + "exit 0\n");
    // ipsec exits 3 when starter is not running, even with a complete status.
    Script("ipsec", "cat " + dir_.Join("statusall") + "\nexit 3\n");
    Serve("conns", "list-conns.txt");
    Serve("sas", "list-sas-none.txt");
    dir_.Write("statusall", "");
  }

  void Serve(const std::string& what, const std::string& testdata_file) {
    dir_.Write(what, testing::ReadFile(kTestData + "/" + testdata_file));
  }
  void Write(const std::string& what, const std::string& content) { dir_.Write(what, content); }
  std::string Args() { return testing::ReadFile(dir_.Join("args")); }
  std::string swanctl() const { return dir_.Join("swanctl"); }
  std::string ipsec() const { return dir_.Join("ipsec"); }

 private:
  void Script(const std::string& name, const std::string& body) {
    std::string path = dir_.Write(name, "#!/bin/sh\n" + body);
    chmod(path.c_str(), 0755);
  }
  testing::TempDir dir_;
};

// Runs Init with `yaml` (the check's own keys) and returns the config errors.
std::vector<std::string> InitWith(StrongswanCheck& check, const std::string& yaml) {
  return InitCheckForTest(check, yaml);
}

class StrongswanCheckTest : public ::testing::Test {
 protected:
  void InitCheck(const std::string& extra = "") {
    ASSERT_THAT(InitWith(check_, "swanctl_path: " + tools_.swanctl() +
                                     "\nipsec_path: " + tools_.ipsec() + "\n" + extra),
                IsEmpty());
  }
  std::vector<Sample> CollectOk(absl::Time now) {
    absl::StatusOr<std::vector<Sample>> s = check_.Collect(now);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : std::vector<Sample>{};
  }

  FakeTools tools_;
  StrongswanCheck check_;
};

TEST_F(StrongswanCheckTest, EstablishedTunnelIsUpWithCountersAndLoadedConnectionsAreDown) {
  tools_.Serve("sas", "list-sas-established.txt");
  InitCheck();
  std::vector<Sample> s = CollectOk(kT0);
  EXPECT_THAT(Tunnels(s), ElementsAre("office-b", "office-c", "office-d"));
  EXPECT_EQ(Find(s, "tunnel.up", "office-b"), 1);
  EXPECT_EQ(Find(s, "tunnel.ike.established", "office-b"), 1);
  EXPECT_EQ(Find(s, "tunnel.bytes_in", "office-b"), 2250);
  EXPECT_EQ(Find(s, "tunnel.bytes_out", "office-b"), 1035);
  EXPECT_EQ(Find(s, "tunnel.packets_in", "office-b"), 15);
  EXPECT_EQ(Find(s, "tunnel.packets_out", "office-b"), 15);
  EXPECT_EQ(Find(s, "tunnel.seconds_since_rekey", "office-b"), 5);
  // First collection: no rates yet.
  EXPECT_EQ(Find(s, "tunnel.bytes_in_per_second", "office-b"), std::nullopt);
  // Loaded but without SAs: down, and no counters.
  for (const char* idle : {"office-c", "office-d"}) {
    EXPECT_EQ(Find(s, "tunnel.up", idle), 0) << idle;
    EXPECT_EQ(Find(s, "tunnel.ike.established", idle), 0) << idle;
    EXPECT_EQ(Find(s, "tunnel.bytes_in", idle), std::nullopt) << idle;
    EXPECT_EQ(Find(s, "tunnel.seconds_since_rekey", idle), std::nullopt) << idle;
  }
}

TEST_F(StrongswanCheckTest, RatesComeFromTheSecondCollection) {
  tools_.Serve("sas", "list-sas-established.txt");
  InitCheck();
  CollectOk(kT0);
  tools_.Serve("sas", "list-sas-established-later.txt");
  std::vector<Sample> s = CollectOk(kT0 + absl::Seconds(5));
  EXPECT_EQ(Find(s, "tunnel.bytes_in_per_second", "office-b"), (7090.0 - 2250) / 5);
  EXPECT_EQ(Find(s, "tunnel.bytes_out_per_second", "office-b"), (3020.0 - 1035) / 5);
  EXPECT_EQ(Find(s, "tunnel.packets_in_per_second", "office-b"), (40.0 - 15) / 5);
  EXPECT_EQ(Find(s, "tunnel.packets_out_per_second", "office-b"), (45.0 - 15) / 5);
}

TEST_F(StrongswanCheckTest, RatesContinueAcrossAChildSaRekey) {
  tools_.Serve("sas", "list-sas-established-later.txt");  // #1: 7090 B in
  InitCheck();
  CollectOk(kT0);
  // #1 is replaced by #2 (installed 1 s ago, nothing counted yet): no traffic, not a reset.
  tools_.Serve("sas", "list-sas-child-rekeyed.txt");
  std::vector<Sample> s = CollectOk(kT0 + absl::Seconds(10));
  EXPECT_EQ(Find(s, "tunnel.up", "office-b"), 1);
  EXPECT_EQ(Find(s, "tunnel.bytes_in", "office-b"), 7090);  // #1 (DELETED) + #2
  EXPECT_EQ(Find(s, "tunnel.bytes_in_per_second", "office-b"), 0);
  EXPECT_EQ(Find(s, "tunnel.seconds_since_rekey", "office-b"), 1);  // the new CHILD_SA
  // #1 is gone, #2 counted 1165 B: the rate is #2's increase, not a negative jump.
  tools_.Serve("sas", "list-sas-up-and-connecting.txt");
  s = CollectOk(kT0 + absl::Seconds(20));
  EXPECT_EQ(Find(s, "tunnel.bytes_in", "office-b"), 1165);
  EXPECT_EQ(Find(s, "tunnel.bytes_in_per_second", "office-b"), 116.5);
  EXPECT_EQ(Find(s, "tunnel.packets_out_per_second", "office-b"), 0.6);
  EXPECT_EQ(Find(s, "tunnel.up", "office-c"), 0);  // CONNECTING
  EXPECT_EQ(Find(s, "tunnel.ike.established", "office-c"), 0);
}

TEST_F(StrongswanCheckTest, CounterThatWentDownEmitsNoRate) {
  tools_.Serve("sas", "list-sas-established-later.txt");
  InitCheck();
  CollectOk(kT0);
  tools_.Serve("sas", "list-sas-established.txt");  // same CHILD_SA, lower counters
  std::vector<Sample> s = CollectOk(kT0 + absl::Seconds(10));
  EXPECT_EQ(Find(s, "tunnel.bytes_in", "office-b"), 2250);
  EXPECT_EQ(Find(s, "tunnel.bytes_in_per_second", "office-b"), std::nullopt);
  EXPECT_EQ(Find(s, "tunnel.packets_out_per_second", "office-b"), std::nullopt);
}

TEST_F(StrongswanCheckTest, ConfiguredConnectionsOnlyAndAbsentOnesAreDown) {
  tools_.Serve("sas", "list-sas-up-and-connecting.txt");
  tools_.Write("conns", "broken output that must not be read\n");
  InitCheck("connections: [office-b, office-x]\n");
  std::vector<Sample> s = CollectOk(kT0);
  EXPECT_THAT(Tunnels(s), ElementsAre("office-b", "office-x"));
  EXPECT_EQ(Find(s, "tunnel.up", "office-b"), 1);
  EXPECT_EQ(Find(s, "tunnel.up", "office-x"), 0);
  EXPECT_EQ(Find(s, "tunnel.ike.established", "office-x"), 0);
  EXPECT_EQ(Find(s, "tunnel.up", "office-c"), std::nullopt);  // not configured
  EXPECT_EQ(tools_.Args(), "--list-sas\n");
}

TEST_F(StrongswanCheckTest, IkeSaWithoutChildSaIsNotUp) {
  tools_.Serve("sas", "list-sas-ike-without-child.txt");
  InitCheck("connections: [site-a, site-b, idle]\n");
  std::vector<Sample> s = CollectOk(kT0);
  for (const char* t : {"site-a", "site-b"}) {
    EXPECT_EQ(Find(s, "tunnel.up", t), 0) << t;
    EXPECT_EQ(Find(s, "tunnel.ike.established", t), 1) << t;
    EXPECT_EQ(Find(s, "tunnel.seconds_since_rekey", t), 57) << t;
    EXPECT_EQ(Find(s, "tunnel.bytes_in", t), std::nullopt) << t;
  }
  EXPECT_EQ(Find(s, "tunnel.ike.established", "idle"), 0);
}

TEST_F(StrongswanCheckTest, ViciSocketIsPassedAsUri) {
  InitCheck("vici_socket: /run/custom/charon.vici\n");
  CollectOk(kT0);
  EXPECT_EQ(tools_.Args(), "--list-sas --uri unix:///run/custom/charon.vici\n");
}

TEST_F(StrongswanCheckTest, IpsecModeReadsStatusAll) {
  tools_.Serve("statusall", "statusall-handwritten-routed-rekeyed.txt");
  InitCheck("mode: ipsec\n");
  std::vector<Sample> s = CollectOk(kT0);
  EXPECT_THAT(Tunnels(s), ElementsAre("office-hq", "datacenter-frankfurt"));
  EXPECT_EQ(Find(s, "tunnel.up", "office-hq"), 1);
  EXPECT_EQ(Find(s, "tunnel.bytes_in", "office-hq"), 48213);
  EXPECT_EQ(Find(s, "tunnel.packets_out", "office-hq"), 1);
  EXPECT_EQ(Find(s, "tunnel.seconds_since_rekey", "office-hq"), 7200);
  EXPECT_EQ(Find(s, "tunnel.up", "datacenter-frankfurt"), 1);
  EXPECT_EQ(Find(s, "tunnel.bytes_in", "datacenter-frankfurt"), 0);
  EXPECT_EQ(Find(s, "tunnel.seconds_since_rekey", "datacenter-frankfurt"), 180);
}

TEST_F(StrongswanCheckTest, AutoModeFallsBackToIpsecWhenSwanctlFails) {
  tools_.Write("exit", "2");
  tools_.Write("stderr",
               "plugin 'curl': failed to load - curl_plugin_create not found\n"
               "connecting to 'unix:///var/run/charon.vici' failed: No such file or directory\n");
  tools_.Serve("statusall", "statusall-up-and-connecting.txt");
  InitCheck();
  std::vector<Sample> s = CollectOk(kT0);
  EXPECT_THAT(Tunnels(s), ElementsAre("office-b", "office-c", "office-d"));
  EXPECT_EQ(Find(s, "tunnel.up", "office-b"), 1);
  EXPECT_EQ(Find(s, "tunnel.bytes_in", "office-b"), 1165);
  EXPECT_EQ(Find(s, "tunnel.up", "office-c"), 0);
}

TEST_F(StrongswanCheckTest, SwanctlFailureNamesTheCauseNotThePluginNoise) {
  tools_.Write("exit", "2");
  tools_.Write("stderr",
               "plugin 'curl': failed to load - curl_plugin_create not found\n"
               "connecting to 'unix:///var/run/charon.vici' failed: No such file or directory\n");
  InitCheck("mode: swanctl\n");
  absl::StatusOr<std::vector<Sample>> s = check_.Collect(kT0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(),
              HasSubstr("--list-conns exited with status 2: connecting to "
                        "'unix:///var/run/charon.vici' failed: No such file or directory"));
}

TEST_F(StrongswanCheckTest, BothToolsFailingIsOneErrorWithBothReasons) {
  tools_.Write("exit", "2");
  tools_.Write("stderr", "connecting failed\n");
  InitCheck();  // statusall is empty: charon not running
  absl::StatusOr<std::vector<Sample>> s = check_.Collect(kT0);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("connecting failed"));
  EXPECT_THAT(s.status().message(), HasSubstr("fallback: ipsec statusall: empty output"));
}

TEST_F(StrongswanCheckTest, TruncatedOutputIsAnError) {
  tools_.Write("sas", testing::ReadFile(kTestData + "/list-sas-established.txt").substr(0, 400));
  InitCheck("mode: swanctl\nconnections: [office-b]\n");
  absl::StatusOr<std::vector<Sample>> s = check_.Collect(kT0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("swanctl --list-sas: CHILD_SA 'lan-b' #1"));
  EXPECT_THAT(s.status().message(), HasSubstr("truncated"));
}

TEST_F(StrongswanCheckTest, HungSwanctlIsKilledWithinTheTimeout) {
  tools_.Write("hang", "");
  InitCheck("mode: swanctl\ntimeout: 1s\n");
  EXPECT_EQ(check_.command_timeout(), absl::Milliseconds(900));
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> s = check_.Collect(kT0);
  const absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(took, absl::Seconds(3));
}

TEST(StrongswanCheckConfig, DefaultsAndTimeout) {
  StrongswanCheck check;
  EXPECT_THAT(InitWith(check, "{}"), IsEmpty());
  EXPECT_EQ(check.command_timeout(), absl::Seconds(9));
  StrongswanCheck from_interval;
  EXPECT_THAT(InitWith(from_interval, "interval: 5s\n"), IsEmpty());
  EXPECT_EQ(from_interval.command_timeout(), absl::Milliseconds(4500));
}

TEST(StrongswanCheckConfig, BadValuesAreErrorsWithPositions) {
  StrongswanCheck check;
  std::vector<std::string> errors =
      InitWith(check,
               "mode: vici\nswanctl_path: swanctl\nconnections: [a, a]\n"
               "vici_socket: relative/vici\ncolour: blue\n");
  EXPECT_THAT(errors,
              ElementsAre(HasSubstr("agent.yaml:1:7: mode: must be auto, swanctl or ipsec"),
                          HasSubstr("agent.yaml:3:14: connections: 'a' is listed twice"),
                          HasSubstr("swanctl_path: must be an absolute path, got 'swanctl'"),
                          HasSubstr("vici_socket: must be an absolute path"),
                          HasSubstr("unknown key 'colour'")));
  StrongswanCheck ipsec;
  EXPECT_THAT(InitWith(ipsec, "mode: ipsec\nvici_socket: /run/x.vici\n"),
              ElementsAre(HasSubstr("vici_socket: is not used with mode: ipsec")));
}

}  // namespace
}  // namespace vigil::agent
