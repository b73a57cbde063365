#include "agent/checks/tcp/tcp_check.h"

#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"

namespace vigil::agent {
namespace {}  // namespace

absl::StatusOr<absl::Duration> TcpConnect(const sockaddr_storage& addr, socklen_t addr_len,
                                          absl::Duration timeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + absl::ToChronoNanoseconds(timeout);
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  auto fail = [fd](int e, const char* what) {
    close(fd);
    return absl::UnavailableError(absl::StrCat(what, ": ", strerror(e)));
  };
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len) != 0) {
    if (errno != EINPROGRESS) return fail(errno, "connect");
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        close(fd);
        return absl::DeadlineExceededError(
            absl::StrCat("no answer within ", absl::FormatDuration(timeout)));
      }
      // Round up so that the wait does not end just before the deadline and spin.
      struct pollfd p = {fd, POLLOUT, 0};
      int n = poll(&p, 1, static_cast<int>(left.count()) + 1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(errno, "poll");
      if (n == 0) continue;  // the loop ends at the deadline
      int err = 0;
      socklen_t len = sizeof(err);
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return fail(errno, "getsockopt");
      if (err != 0) return fail(err, "connect");
      break;
    }
  }
  const auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  return absl::FromChrono(took);
}

absl::Status TcpCheck::Init(ConfigMap& config) {
  std::optional<std::string> address = config.OptionalString("address");
  if (!address) {
    if (!config.Has("address")) config.Error("address", "is required: an IPv4 or IPv6 address");
  } else {
    absl::string_view a = *address;
    bool bracketed = absl::ConsumePrefix(&a, "[") && absl::ConsumeSuffix(&a, "]");
    std::string host(bracketed ? a : absl::string_view(*address));
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr_);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr_);
    if (!bracketed && inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      addr_len_ = sizeof(sockaddr_in);
      target_ = host;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      addr_len_ = sizeof(sockaddr_in6);
      target_ = absl::StrCat("[", host, "]");
    } else {
      config.Error("address", absl::StrCat("must be an IPv4 or IPv6 address (no host names), got '",
                                           *address, "'"));
    }
  }
  if (!config.Has("port")) {
    config.Error("port", "is required: 1..65535");
  } else {
    int port = static_cast<int>(config.Int("port", 0, 1, 65535));
    reinterpret_cast<sockaddr_in*>(&addr_)->sin_port = htons(static_cast<uint16_t>(port));
    static_assert(offsetof(sockaddr_in, sin_port) == offsetof(sockaddr_in6, sin6_port));
    absl::StrAppend(&target_, ":", port);
  }
  connect_timeout_ = context().timeout * 0.9;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Sample>> TcpCheck::Collect(absl::Time) {
  absl::StatusOr<absl::Duration> took = TcpConnect(addr_, addr_len_, connect_timeout_);
  const int up = took.ok() ? 1 : 0;
  if (up != last_up_) {
    if (up) {
      VIGIL_LOG(Info) << "tcp check: " << target_ << " accepts connections";
    } else {
      VIGIL_LOG(Warning) << "tcp check: cannot connect to " << target_ << ": "
                         << took.status().message();
    }
    last_up_ = up;
  }
  std::vector<Sample> out;
  out.push_back(Sample{"tcp.up", {}, static_cast<double>(up)});
  if (took.ok()) {
    out.push_back(Sample{"tcp.connect_time_seconds", {}, absl::ToDoubleSeconds(*took)});
  }
  return out;
}

}  // namespace vigil::agent
