#include "agent/checks/tcp/tcp_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::optional<double> Find(const std::vector<Sample>& samples, const std::string& metric) {
  for (const Sample& s : samples) {
    if (s.metric == metric && s.labels.empty()) return s.value;
  }
  return std::nullopt;
}

std::vector<std::string> InitWith(TcpCheck& check, const std::string& yaml) {
  return InitCheckForTest(check, yaml);
}

// A listening socket on loopback that never accept()s; the kernel completes handshakes until
// its accept queue (backlog + 1) is full, and drops further SYNs.
class Listener {
 public:
  Listener(int family, int port, int backlog) : fd_(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_storage addr = {};
    socklen_t len = 0;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      a->sin_family = AF_INET;
      a->sin_port = htons(static_cast<uint16_t>(port));
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(static_cast<uint16_t>(port));
      a->sin6_addr = in6addr_loopback;
      len = sizeof(*a);
    }
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 && listen(fd_, backlog) == 0;
  }
  ~Listener() { close(fd_); }
  bool ok() const { return ok_; }

 private:
  int fd_;
  bool ok_ = false;
};

TEST(TcpCheck, ListeningPortIsUpWithItsConnectTime) {
  const int port = testing::FreePort();
  Listener listener(AF_INET, port, 16);
  ASSERT_TRUE(listener.ok());
  TcpCheck check;
  ASSERT_THAT(InitWith(check, absl::StrCat("address: 127.0.0.1\nport: ", port, "\n")), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(Find(*s, "tcp.up"), 1);
  std::optional<double> took = Find(*s, "tcp.connect_time_seconds");
  ASSERT_TRUE(took.has_value());
  EXPECT_GT(*took, 0);
  EXPECT_LT(*took, 5);
}

TEST(TcpCheck, Ipv6LoopbackWorks) {
  const int port = testing::FreePort();
  Listener listener(AF_INET6, port, 16);
  ASSERT_TRUE(listener.ok());
  for (const char* address : {"::1", "\"[::1]\""}) {
    TcpCheck check;
    ASSERT_THAT(InitWith(check, absl::StrCat("address: ", address, "\nport: ", port, "\n")),
                IsEmpty());
    absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(Find(*s, "tcp.up"), 1) << address;
    EXPECT_GT(Find(*s, "tcp.connect_time_seconds").value_or(0), 0) << address;
  }
}

TEST(TcpCheck, ClosedPortIsDownAtOnceAndCollectStillSucceeds) {
  const int port = testing::FreePort();  // nothing listens
  TcpCheck check;
  ASSERT_THAT(InitWith(check, absl::StrCat("address: 127.0.0.1\nport: ", port, "\n")), IsEmpty());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(Find(*s, "tcp.up"), 0);
  EXPECT_EQ(Find(*s, "tcp.connect_time_seconds"), std::nullopt);
  EXPECT_EQ(s->size(), 1u);

  sockaddr_storage addr = {};
  auto* a = reinterpret_cast<sockaddr_in*>(&addr);
  a->sin_family = AF_INET;
  a->sin_port = htons(static_cast<uint16_t>(port));
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  absl::StatusOr<absl::Duration> r = TcpConnect(addr, sizeof(*a), absl::Seconds(5));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("connect: Connection refused"));
}

TEST(TcpCheck, PeerThatDropsTheHandshakeIsDownWithinTheTimeout) {
  const int port = testing::FreePort();
  Listener listener(AF_INET, port, 0);  // accept queue of one, never accepted
  ASSERT_TRUE(listener.ok());
  // Fill the queue: these connections complete (or sit in SYN_SENT) and are never accepted.
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    fillers.push_back(fd);
  }
  TcpCheck check;
  ASSERT_THAT(InitWith(check, absl::StrCat("address: 127.0.0.1\nport: ", port, "\ntimeout: 1s\n")),
              IsEmpty());
  EXPECT_EQ(check.connect_timeout(), absl::Milliseconds(900));
  // Once the first one is established, the queue is full and a probe gets no answer.
  struct pollfd first = {fillers[0], POLLOUT, 0};
  ASSERT_EQ(poll(&first, 1, 5000), 1);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(Find(*s, "tcp.up"), 0);
  EXPECT_EQ(Find(*s, "tcp.connect_time_seconds"), std::nullopt);
  EXPECT_GE(took, absl::Milliseconds(850));
  EXPECT_LT(took, absl::Seconds(3));
  for (int fd : fillers) close(fd);
}

TEST(TcpCheck, UpAgainWhenThePeerListensAgain) {
  const int port = testing::FreePort();
  TcpCheck check;
  ASSERT_THAT(InitWith(check, absl::StrCat("address: 127.0.0.1\nport: ", port, "\n")), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Find(*s, "tcp.up"), 0);
  Listener listener(AF_INET, port, 16);
  ASSERT_TRUE(listener.ok());
  s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Find(*s, "tcp.up"), 1);
}

TEST(TcpCheckConfig, AddressAndPortAreRequiredAndValidated) {
  TcpCheck none;
  EXPECT_THAT(InitWith(none, "{}"),
              ElementsAre(HasSubstr("address: is required"), HasSubstr("port: is required")));
  TcpCheck bad;
  EXPECT_THAT(InitWith(bad, "address: vpn-peer.example\nport: 70000\nhost: x\n"),
              ElementsAre(HasSubstr("agent.yaml:1:10: address: must be an IPv4 or IPv6 address "
                                    "(no host names), got 'vpn-peer.example'"),
                          HasSubstr("agent.yaml:2:7: port"), HasSubstr("unknown key 'host'")));
  TcpCheck bracketed_v4;
  EXPECT_THAT(InitWith(bracketed_v4, "address: \"[10.0.0.1]\"\nport: 22\n"),
              ElementsAre(HasSubstr("address: must be an IPv4 or IPv6 address")));
  TcpCheck defaults;
  EXPECT_THAT(InitWith(defaults, "address: 10.20.0.1\nport: 22\n"), IsEmpty());
  EXPECT_EQ(defaults.connect_timeout(), absl::Seconds(9));
}

}  // namespace
}  // namespace vigil::agent
