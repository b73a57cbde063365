// The strongswan check against a real charon (strongSwan 5.9.8) on loopback, started by this
// test with its VICI socket in a temporary directory. charon keeps its pid file and stroke
// socket in /run, so only one can run on a machine: the test refuses to start beside another.
//
// The tunnels: `site-a` (127.0.0.1) and `site-b` (127.0.0.2) authenticate each other, so both
// IKE_SAs are ESTABLISHED, but their ESP proposals differ, so no CHILD_SA is installed (this
// also keeps the test from depending on ESP in the kernel, which the test machines lack);
// `idle` is CONNECTING to a port nobody answers; `never` is loaded and never initiated. A
// tunnel with an installed CHILD_SA is covered by the recorded outputs in testdata/.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/checks/check_testing.h"
#include "agent/checks/strongswan/command.h"
#include "agent/checks/strongswan/strongswan_check.h"
#include "agent/checks/strongswan/strongswan_status.h"
#include "common/config_reader.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kCharon[] = "/usr/lib/ipsec/charon";
constexpr char kSwanctl[] = "/usr/sbin/swanctl";
constexpr char kIpsec[] = "/usr/sbin/ipsec";
constexpr char kPidFile[] = "/run/charon.pid";
constexpr char kStrokeSocket[] = "/run/charon.ctl";
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

bool ProcessAlive(pid_t pid) {
  std::string stat = testing::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  return !stat.empty() && stat.find(") Z ") == std::string::npos;
}

// The charon of this test binary, with its connections loaded and initiated.
class Charon {
 public:
  // Empty when charon is up with the expected SAs, otherwise why not.
  std::string Start() {
    for (const char* bin : {kCharon, kSwanctl, kIpsec}) {
      if (access(bin, X_OK) != 0) {
        return absl::StrCat(bin, " is missing: install strongswan-charon and strongswan-swanctl",
                            " (scripts/install-deps.sh)");
      }
    }
    std::string pid_text = testing::ReadFile(kPidFile);
    if (!pid_text.empty()) {
      pid_t other = static_cast<pid_t>(std::atoi(pid_text.c_str()));
      if (other > 0 && ProcessAlive(other)) {
        return absl::StrCat("another charon (pid ", other, ", ", kPidFile,
                            ") is running; this test starts the machine's only charon");
      }
      RemoveRunFiles();  // left behind by a charon that is gone
    }
    // A port that looked free can be taken by the time charon binds it (tests run in parallel);
    // charon then runs without IPv4, so it is restarted on other ports.
    for (int attempt = 0;; ++attempt) {
      std::string err = StartCharon();
      if (err.empty()) break;
      if (attempt == 4 || err != kPortTaken) return err;
      StopCharon();
    }
    absl::StatusOr<std::string> loaded =
        Swanctl({"--load-all", "--file", dir_.Join("swanctl.conf")});
    if (!loaded.ok()) return std::string(loaded.status().message());
    // The CHILD_SA fails (proposal mismatch), so these exit non-zero; the IKE_SAs stay.
    Swanctl({"--initiate", "--child", "net-a", "--timeout", "10"}).IgnoreError();
    Swanctl({"--initiate", "--child", "idle-net", "--timeout", "1"}).IgnoreError();
    bool ready = testing::WaitFor(
        [&] {
          absl::StatusOr<std::string> out = Swanctl({"--list-sas"});
          if (!out.ok()) return false;
          absl::StatusOr<std::vector<strongswan::IkeSa>> sas =
              strongswan::ParseSwanctlListSas(*out);
          if (!sas.ok()) return false;
          int established = 0, connecting = 0;
          for (const strongswan::IkeSa& sa : *sas) {
            if (sa.state == "ESTABLISHED") ++established;
            if (sa.connection == "idle" && sa.state == "CONNECTING") ++connecting;
          }
          return established == 2 && connecting == 1;
        },
        absl::Seconds(20));
    if (!ready) {
      absl::StatusOr<std::string> out = Swanctl({"--list-sas"});
      return "the SAs did not reach ESTABLISHED/CONNECTING within 20 s: " +
             (out.ok() ? *out : out.status().ToString());
    }
    return "";
  }

  void Stop() {
    StopCharon();
    EXPECT_FALSE(Swanctl({"--stats"}).ok());
  }

  // swanctl against this charon; the output, or an error with what it printed.
  absl::StatusOr<std::string> Swanctl(std::vector<std::string> args) {
    args.insert(args.begin(), kSwanctl);
    args.push_back("--uri");
    args.push_back("unix://" + vici_);
    absl::StatusOr<CommandResult> r = RunCommand(args, absl::Seconds(20));
    if (!r.ok()) return r.status();
    if (!r->exited_ok()) {
      return absl::UnavailableError(absl::StrCat(args[1], " exited ", r->exit_code, ": ", r->err));
    }
    return r->out;
  }

  void Signal(int sig) { charon_->Signal(sig); }
  const std::string& vici() const { return vici_; }
  std::string Join(const std::string& name) const { return dir_.Join(name); }

 private:
  static constexpr char kPortTaken[] = "charon could not bind its port";

  // Writes the configuration with fresh ports and starts charon; empty once VICI answers.
  std::string StartCharon() {
    dir_.Write("charon.log", "");  // charon appends; only this attempt's lines count
    const int port = FreeUdpPort(), nat_port = FreeUdpPort();
    idle_port_ = FreeUdpPort();
    vici_ = dir_.Join("vici");
    dir_.Write("strongswan.conf", absl::StrCat(R"(charon {
  load_modular = yes
  port = )",
                                               port, R"(
  port_nat_t = )",
                                               nat_port, R"(
  install_routes = no
  filelog { log { path = )",
                                               dir_.Join("charon.log"), R"(
    default = 1
    flush_line = yes } }
  plugins {
    include /etc/strongswan.d/charon/*.conf
    vici { socket = unix://)",
                                               vici_, R"( }
  }
}
swanctl {
  socket = unix://)",
                                               vici_, R"(
  load = pem pkcs1 pkcs8 x509 revocation constraints pubkey openssl random
}
)"));
    for (const char* sub : {"x509", "x509ca", "x509aa", "x509ac", "x509crl", "x509ocsp", "private",
                            "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12", "pubkey", "conf.d"}) {
      mkdir(dir_.Join(sub).c_str(), 0700);
    }
    dir_.Write("swanctl.conf", absl::StrCat(R"(connections {
  site-a {
    local_addrs = 127.0.0.1
    remote_addrs = 127.0.0.2
    remote_port = )",
                                            port, R"(
    local { auth = psk
      id = a.vigil.test }
    remote { auth = psk
      id = b.vigil.test }
    children { net-a { local_ts = 10.199.1.0/24
        remote_ts = 10.199.2.0/24
        esp_proposals = aes128-sha256 } }
  }
  site-b {
    local_addrs = 127.0.0.2
    remote_addrs = 127.0.0.1
    remote_port = )",
                                            port, R"(
    local { auth = psk
      id = b.vigil.test }
    remote { auth = psk
      id = a.vigil.test }
    children { net-b { local_ts = 10.199.2.0/24
        remote_ts = 10.199.1.0/24
        esp_proposals = aes256-sha384 } }
  }
  idle {
    local_addrs = 127.0.0.1
    remote_addrs = 127.0.0.1
    remote_port = )",
                                            idle_port_, R"(
    local { auth = psk }
    remote { auth = psk }
    children { idle-net { local_ts = 10.199.3.0/24 } }
  }
  never {
    remote_addrs = 127.0.0.1
    remote_port = )",
                                            idle_port_, R"(
    local { auth = psk }
    remote { auth = psk }
    children { never-net { local_ts = 10.199.4.0/24 } }
  }
}
secrets {
  ike-ab { id-a = a.vigil.test
    id-b = b.vigil.test
    secret = 0sdmlnaWwtdGVzdC1wc2stbm90LWEtc2VjcmV0 }
}
)"));
    setenv("STRONGSWAN_CONF", dir_.Join("strongswan.conf").c_str(), 1);
    charon_ = std::make_unique<testing::Process>(std::vector<std::string>{kCharon},
                                                 dir_.Join("charon.out"), dir_.Join("charon.err"));
    if (!testing::WaitFor([&] { return Swanctl({"--stats"}).ok(); }, absl::Seconds(20))) {
      return "charon's VICI socket did not answer within 20 s; see " + dir_.Join("charon.log");
    }
    if (absl::StrContains(testing::ReadFile(dir_.Join("charon.log")), "unable to bind socket")) {
      return kPortTaken;
    }
    return "";
  }

  // FreePort() checks TCP on 127.0.0.1; charon binds UDP on all addresses.
  static int FreeUdpPort() {
    for (;;) {
      int port = testing::FreePort();
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr = {};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_ANY);
      bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      close(fd);
      if (ok) return port;
    }
  }

  void StopCharon() {
    if (charon_ == nullptr) return;
    charon_->Signal(SIGCONT);
    charon_->Stop(SIGTERM);
    charon_.reset();
    // charon leaves its sockets and the pid file behind.
    unlink(vici_.c_str());
    RemoveRunFiles();
  }

  static void RemoveRunFiles() {
    unlink(kPidFile);
    unlink(kStrokeSocket);
  }

  testing::TempDir dir_;
  std::string vici_;
  int idle_port_ = 0;
  std::unique_ptr<testing::Process> charon_;
};

Charon* charon = nullptr;
std::string* charon_error = nullptr;

class StrongswanCharonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    charon = new Charon;
    charon_error = new std::string(charon->Start());
  }
  static void TearDownTestSuite() {
    charon->Stop();
    delete charon;
    delete charon_error;
  }
  void SetUp() override { ASSERT_THAT(*charon_error, IsEmpty()); }

  std::vector<std::string> Init(StrongswanCheck& check, const std::string& yaml) {
    return InitCheckForTest(check, yaml);
  }
};

TEST_F(StrongswanCharonTest, SwanctlReportsIkeWithoutChildConnectingAndAbsentAsDown) {
  StrongswanCheck check;
  ASSERT_THAT(Init(check, "mode: swanctl\nvici_socket: " + charon->vici() +
                              "\nconnections: [site-a, site-b, idle, never]\n"),
              IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Tunnels(*s), ElementsAre("site-a", "site-b", "idle", "never"));
  for (const char* t : {"site-a", "site-b"}) {
    EXPECT_EQ(Find(*s, "tunnel.up", t), 0) << t;  // no CHILD_SA
    EXPECT_EQ(Find(*s, "tunnel.ike.established", t), 1) << t;
    std::optional<double> since = Find(*s, "tunnel.seconds_since_rekey", t);
    ASSERT_TRUE(since.has_value()) << t;
    EXPECT_GE(*since, 0);
    EXPECT_LT(*since, 120);
    EXPECT_EQ(Find(*s, "tunnel.bytes_in", t), std::nullopt) << t;
  }
  for (const char* t : {"idle", "never"}) {
    EXPECT_EQ(Find(*s, "tunnel.up", t), 0) << t;
    EXPECT_EQ(Find(*s, "tunnel.ike.established", t), 0) << t;
    EXPECT_EQ(Find(*s, "tunnel.seconds_since_rekey", t), std::nullopt) << t;
  }
}

TEST_F(StrongswanCharonTest, WithoutAListEveryLoadedConnectionIsReported) {
  StrongswanCheck check;
  ASSERT_THAT(Init(check, "vici_socket: " + charon->vici() + "\n"), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Tunnels(*s), ElementsAre("site-a", "site-b", "idle", "never"));
  EXPECT_EQ(Find(*s, "tunnel.ike.established", "site-a"), 1);
  EXPECT_EQ(Find(*s, "tunnel.up", "never"), 0);
}

TEST_F(StrongswanCharonTest, IpsecStatusAllGivesTheSameAnswer) {
  StrongswanCheck check;
  ASSERT_THAT(Init(check, "mode: ipsec\n"), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(Tunnels(*s), ElementsAre("site-a", "site-b", "idle", "never"));
  EXPECT_EQ(Find(*s, "tunnel.up", "site-a"), 0);
  EXPECT_EQ(Find(*s, "tunnel.ike.established", "site-a"), 1);
  EXPECT_EQ(Find(*s, "tunnel.ike.established", "site-b"), 1);
  EXPECT_EQ(Find(*s, "tunnel.ike.established", "idle"), 0);
  EXPECT_EQ(Find(*s, "tunnel.up", "never"), 0);
}

TEST_F(StrongswanCharonTest, WrongViciSocketFailsInSwanctlModeAndFallsBackInAuto) {
  const std::string missing = charon->Join("no-such-vici");
  StrongswanCheck swanctl;
  ASSERT_THAT(Init(swanctl, "mode: swanctl\nvici_socket: " + missing + "\n"), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = swanctl.Collect(kT0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(s.status().message(), HasSubstr(missing));
  EXPECT_THAT(s.status().message(), HasSubstr("No such file or directory"));

  StrongswanCheck fallback;
  ASSERT_THAT(Init(fallback, "vici_socket: " + missing + "\n"), IsEmpty());
  s = fallback.Collect(kT0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(Find(*s, "tunnel.ike.established", "site-b"), 1);
  EXPECT_EQ(Find(*s, "tunnel.up", "idle"), 0);
}

TEST_F(StrongswanCharonTest, StoppedCharonCannotStallTheCheck) {
  charon->Signal(SIGSTOP);
  absl::Cleanup resume = [] { charon->Signal(SIGCONT); };
  for (const char* mode : {"swanctl", "ipsec"}) {
    StrongswanCheck check;
    std::string yaml = absl::StrCat("mode: ", mode, "\ntimeout: 1s\n");
    if (std::string(mode) == "swanctl") yaml += "vici_socket: " + charon->vici() + "\n";
    ASSERT_THAT(Init(check, yaml), IsEmpty());
    const absl::Time start = absl::Now();
    absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0);
    const absl::Duration took = absl::Now() - start;
    ASSERT_FALSE(s.ok()) << mode;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded) << s.status();
    EXPECT_LT(took, absl::Seconds(4)) << mode;
  }
  std::move(resume).Invoke();
  // Once resumed, the same check reads it again.
  StrongswanCheck check;
  ASSERT_THAT(Init(check, "vici_socket: " + charon->vici() + "\n"), IsEmpty());
  ASSERT_TRUE(testing::WaitFor([&] { return check.Collect(kT0).ok(); }, absl::Seconds(10)));
}

}  // namespace
}  // namespace vigil::agent
