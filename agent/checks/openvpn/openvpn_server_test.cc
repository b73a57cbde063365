// The openvpn check against real OpenVPN 2.6 servers on 127.0.0.1, started once for this
// binary: one on UDP writes status-version 2 (clients alice and bob), one on TCP version 3
// (carol, and dave for a while: a TCP server drops a session as soon as its client goes, where
// UDP would wait for the client's exit notification plus 5 s, or for its keepalive). Servers
// need a tun device (`dev tun`, created by the server and removed when it exits; no address or
// route is configured on it: ifconfig-noexec, route-noexec); clients use `dev null`.
// Certificates are self-signed, made with openssl at start, and checked by fingerprint.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/checks/check_testing.h"
#include "agent/checks/openvpn/openvpn_check.h"
#include "agent/checks/openvpn/openvpn_status.h"
#include "common/config_reader.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kOpenVpn[] = "/usr/sbin/openvpn";
constexpr char kOpenSsl[] = "/usr/bin/openssl";

Labels Client(const std::string& name) { return {{"client", name}}; }

std::vector<std::string> Clients(const std::vector<Sample>& samples) {
  std::vector<std::string> out;
  for (const Sample& s : samples) {
    if (s.metric == "openvpn.client.bytes_received") out.push_back(s.labels.at(0).second);
  }
  return out;
}

// The servers and clients of this binary.
class Lab {
 public:
  // Empty when both servers are up with their clients connected, otherwise why not.
  std::string Start() {
    for (const char* bin : {kOpenVpn, kOpenSsl}) {
      if (access(bin, X_OK) != 0) {
        return absl::StrCat(bin, " is missing: install openvpn and openssl",
                            " (scripts/install-deps.sh)");
      }
    }
    if (access("/dev/net/tun", R_OK | W_OK) != 0) {
      return "/dev/net/tun is missing: an OpenVPN server needs a tun device";
    }
    for (const char* name : {"server", "alice", "bob", "carol", "dave"}) {
      std::string err = MakeCert(name);
      if (!err.empty()) return err;
    }
    v2_status_ = dir_.Join("status-v2.txt");
    v3_status_ = dir_.Join("status-v3.txt");
    int v2_port = 0;
    v2_server_ = StartServer("v2", false, v2_status_, 2, {"alice", "bob"}, &v2_port);
    v3_server_ = StartServer("v3", true, v3_status_, 3, {"carol", "dave"}, &v3_port_);
    if (v2_server_ == nullptr || v3_server_ == nullptr) {
      return "an OpenVPN server did not start; see " + dir_.Join("v2.out") + " and v3.out:\n" +
             testing::ReadFile(dir_.Join("v2.out")).substr(0, 4000);
    }
    clients_["alice"] = StartClient("alice", v2_port, false);
    clients_["bob"] = StartClient("bob", v2_port, false);
    clients_["carol"] = StartClient("carol", v3_port_, true);
    if (!WaitForClients(v2_status_, {"alice", "bob"}) || !WaitForClients(v3_status_, {"carol"})) {
      return "the clients did not connect within 30 s; see the logs in " + dir_.path() + ":\n" +
             testing::ReadFile(dir_.Join("v2.out")).substr(0, 4000);
    }
    return "";
  }

  void Stop() {
    for (auto& [name, p] : clients_) p.reset();
    for (std::unique_ptr<testing::Process>* p : {&v2_server_, &v3_server_}) {
      if (*p != nullptr) {
        (*p)->Signal(SIGCONT);
        (*p)->Stop(SIGTERM);
        p->reset();
      }
    }
  }

  std::unique_ptr<testing::Process> StartClient(const std::string& name, int port, bool tcp) {
    std::string conf = dir_.Write(
        name + ".conf", absl::StrCat(R"(client
dev null
proto )",
                                     tcp ? "tcp4-client" : "udp4", R"(
remote 127.0.0.1 )",
                                     port, R"(
nobind
ifconfig-noexec
route-noexec
disable-dco
connect-retry 1
verb 3
cert )",
                                     dir_.Join(name + ".crt"), "\nkey ", dir_.Join(name + ".key"),
                                     "\npeer-fingerprint ", fingerprints_["server"], "\n"));
    return std::make_unique<testing::Process>(std::vector<std::string>{kOpenVpn, "--config", conf},
                                              dir_.Join(name + ".out"), dir_.Join(name + ".out"));
  }

  // The clients listed in `status_file` (a version 2 or 3 file), or nothing.
  static std::vector<std::string> Listed(const std::string& status_file) {
    absl::StatusOr<openvpn::StatusFile> st =
        openvpn::ParseStatusFile(testing::ReadFile(status_file), absl::UTCTimeZone());
    std::vector<std::string> names;
    if (!st.ok()) return names;
    for (const openvpn::ClientSession& c : st->clients) names.push_back(c.common_name);
    std::sort(names.begin(), names.end());
    return names;
  }

  static bool WaitForClients(const std::string& status_file, std::vector<std::string> names) {
    return testing::WaitFor([&] { return Listed(status_file) == names; }, absl::Seconds(30));
  }

  // When the server last wrote the file (unset if it cannot be read).
  static std::optional<absl::Time> Updated(const std::string& status_file) {
    absl::StatusOr<openvpn::StatusFile> st =
        openvpn::ParseStatusFile(testing::ReadFile(status_file), absl::UTCTimeZone());
    if (!st.ok()) return std::nullopt;
    return st->updated;
  }

  const std::string& v2_status() const { return v2_status_; }
  int v3_port() const { return v3_port_; }
  const std::string& v3_status() const { return v3_status_; }
  testing::Process& v2_server() { return *v2_server_; }

 private:
  std::string MakeCert(const std::string& name) {
    const std::string key = dir_.Join(name + ".key"), crt = dir_.Join(name + ".crt");
    testing::Process req(
        {kOpenSsl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + name},
        dir_.Join("openssl.out"), dir_.Join("openssl.out"));
    if (req.Wait(absl::Seconds(20)) != 0) return "openssl req failed for " + name;
    const std::string fp_file = dir_.Join(name + ".fp");
    testing::Process fp({kOpenSsl, "x509", "-in", crt, "-noout", "-fingerprint", "-sha256"},
                        fp_file, dir_.Join("openssl.out"));
    if (fp.Wait(absl::Seconds(20)) != 0) return "openssl x509 failed for " + name;
    std::string line(absl::StripAsciiWhitespace(testing::ReadFile(fp_file)));
    size_t eq = line.find('=');
    if (eq == std::string::npos) return "no fingerprint in '" + line + "'";
    fingerprints_[name] = line.substr(eq + 1);
    return "";
  }

  // A server on a free port, up and listening; nullptr when it would not start. A port that
  // looked free can be taken by the time the server binds it (tests run in parallel, and
  // FreePort() checks TCP only), so a server that exits at once is retried on another port.
  std::unique_ptr<testing::Process> StartServer(const std::string& name, bool tcp,
                                                const std::string& status, int version,
                                                const std::vector<std::string>& clients,
                                                int* port) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      *port = FreeUdpAndTcpPort();
      testing::WriteFile(dir_.Join(name + ".out"), "");
      std::unique_ptr<testing::Process> server =
          TryServer(name, *port, tcp, status, version, clients);
      bool started = testing::WaitFor(
          [&] {
            return !server->running() ||
                   absl::StrContains(testing::ReadFile(dir_.Join(name + ".out")),
                                     "Initialization Sequence Completed");
          },
          absl::Seconds(20));
      if (started && server->running()) return server;
    }
    return nullptr;
  }

  // FreePort() checks TCP; UDP servers need the UDP port too.
  static int FreeUdpAndTcpPort() {
    for (;;) {
      int port = testing::FreePort();
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr = {};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      close(fd);
      if (ok) return port;
    }
  }

  std::unique_ptr<testing::Process> TryServer(const std::string& name, int port, bool tcp,
                                              const std::string& status, int version,
                                              const std::vector<std::string>& clients) {
    std::string peers;
    for (const std::string& c : clients) peers += fingerprints_[c] + "\n";
    std::string conf = dir_.Write(
        name + ".conf", absl::StrCat(R"(mode server
tls-server
dev vigil)",
                                     port, R"(
dev-type tun
proto )",
                                     tcp ? "tcp4-server" : "udp4", R"(
local 127.0.0.1
port )",
                                     port, R"(
topology subnet
ifconfig 10.231.)",
                                     version, R"(.1 255.255.255.0
ifconfig-pool 10.231.)",
                                     version, R"(.10 10.231.)", version, R"(.100
ifconfig-noexec
route-noexec
push "topology subnet"
keepalive 1 10
dh none
disable-dco
verb 3
status )",
                                     status, R"( 1
status-version )",
                                     version, R"(
cert )",
                                     dir_.Join("server.crt"), "\nkey ", dir_.Join("server.key"),
                                     "\n<peer-fingerprint>\n", peers, "</peer-fingerprint>\n"));
    return std::make_unique<testing::Process>(std::vector<std::string>{kOpenVpn, "--config", conf},
                                              dir_.Join(name + ".out"), dir_.Join(name + ".out"));
  }

  testing::TempDir dir_;
  std::map<std::string, std::string> fingerprints_;
  std::string v2_status_, v3_status_;
  int v3_port_ = 0;
  std::unique_ptr<testing::Process> v2_server_, v3_server_;
  std::map<std::string, std::unique_ptr<testing::Process>> clients_;
};

Lab* lab = nullptr;
std::string* lab_error = nullptr;

class OpenVpnServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lab = new Lab;
    lab_error = new std::string(lab->Start());
  }
  static void TearDownTestSuite() {
    lab->Stop();
    delete lab;
    delete lab_error;
  }
  void SetUp() override { ASSERT_THAT(*lab_error, IsEmpty()); }

  void Init(OpenVpnCheck& check, const std::string& status_file) {
    ASSERT_THAT(InitCheckForTest(check, "status_file: " + status_file), IsEmpty());
  }
};

TEST_F(OpenVpnServerTest, Version2ServerListsBothClientsWithTraffic) {
  OpenVpnCheck check;
  Init(check, lab->v2_status());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "openvpn.clients.connected"), 2);
  EXPECT_THAT(Clients(*s), ElementsAre("alice", "bob"));
  for (const char* c : {"alice", "bob"}) {
    EXPECT_GT(FindSample(*s, "openvpn.client.bytes_received", Client(c)).value_or(0), 0) << c;
    EXPECT_GT(FindSample(*s, "openvpn.client.bytes_sent", Client(c)).value_or(0), 0) << c;
  }
  // The server rewrites the file every second.
  std::optional<double> age = FindSample(*s, "openvpn.status.age_seconds");
  ASSERT_TRUE(age.has_value());
  EXPECT_GE(*age, 0);
  EXPECT_LT(*age, 5);
}

TEST_F(OpenVpnServerTest, Version3ServerListsItsClient) {
  OpenVpnCheck check;
  Init(check, lab->v3_status());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "openvpn.clients.connected"), 1);
  EXPECT_THAT(Clients(*s), ElementsAre("carol"));
  EXPECT_GT(FindSample(*s, "openvpn.client.bytes_received", Client("carol")).value_or(0), 0);
  EXPECT_LT(FindSample(*s, "openvpn.status.age_seconds").value_or(99), 5);
}

TEST_F(OpenVpnServerTest, RatesBetweenTwoRewritesSeeTheKeepalives) {
  OpenVpnCheck check;
  Init(check, lab->v2_status());
  std::optional<absl::Time> first = Lab::Updated(lab->v2_status());
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(check.Collect(absl::Now()).ok());
  // Keepalives go both ways every second; wait for a file written 2 s after that one.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        std::optional<absl::Time> t = Lab::Updated(lab->v2_status());
        return t && *t >= *first + absl::Seconds(2);
      },
      absl::Seconds(20)));
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  for (const char* c : {"alice", "bob"}) {
    EXPECT_GT(FindSample(*s, "openvpn.client.bytes_received_per_second", Client(c)).value_or(0), 0)
        << c;
    EXPECT_GT(FindSample(*s, "openvpn.client.bytes_sent_per_second", Client(c)).value_or(0), 0)
        << c;
  }
}

TEST_F(OpenVpnServerTest, DisconnectedClientIsNoLongerCounted) {
  OpenVpnCheck check;
  Init(check, lab->v3_status());
  std::unique_ptr<testing::Process> dave = lab->StartClient("dave", lab->v3_port(), true);
  ASSERT_TRUE(Lab::WaitForClients(lab->v3_status(), {"carol", "dave"}));
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "openvpn.clients.connected"), 2);
  EXPECT_THAT(Clients(*s), ElementsAre("carol", "dave"));
  dave->Stop(SIGTERM);
  ASSERT_TRUE(Lab::WaitForClients(lab->v3_status(), {"carol"}));
  s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "openvpn.clients.connected"), 1);
  EXPECT_THAT(Clients(*s), ElementsAre("carol"));
}

TEST_F(OpenVpnServerTest, HungServerShowsAsAGrowingAge) {
  OpenVpnCheck check;
  Init(check, lab->v2_status());
  lab->v2_server().Signal(SIGSTOP);
  absl::Cleanup resume = [] { lab->v2_server().Signal(SIGCONT); };
  absl::StatusOr<std::vector<Sample>> before = check.Collect(absl::Now());
  ASSERT_TRUE(before.ok()) << before.status();
  const absl::Time stopped = absl::Now();
  ASSERT_TRUE(testing::WaitFor([&] { return absl::Now() - stopped > absl::Seconds(2); },
                               absl::Seconds(10)));
  absl::StatusOr<std::vector<Sample>> after = check.Collect(absl::Now());
  ASSERT_TRUE(after.ok()) << after.status();
  // The file still reads (the last clients), but it is 2 s older.
  EXPECT_EQ(FindSample(*after, "openvpn.clients.connected"), 2);
  EXPECT_GE(FindSample(*after, "openvpn.status.age_seconds").value_or(0),
            FindSample(*before, "openvpn.status.age_seconds").value_or(99) + 2);
  EXPECT_EQ(FindSample(*after, "openvpn.client.bytes_received_per_second", Client("alice")),
            std::nullopt);
  std::move(resume).Invoke();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
        return s.ok() && FindSample(*s, "openvpn.status.age_seconds").value_or(99) < 2;
      },
      absl::Seconds(20)));
}

}  // namespace
}  // namespace vigil::agent
