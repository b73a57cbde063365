#include "agent/checks/haproxy/haproxy_check.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vigil::agent {
namespace {

constexpr absl::Duration kDefaultTimeout = absl::Seconds(10);  // agent/config.cc's cap
constexpr size_t kMaxStatsBytes = 64 << 20;


// Closes a descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

// Waits until `fd` is ready for `events` or `deadline` passes; false on timeout.
absl::StatusOr<bool> WaitReady(int fd, short events, absl::Time deadline) {
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, events, 0};
    int ms = static_cast<int>(
        std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1)))));
    int n = poll(&p, 1, ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "poll");
    }
    if (n > 0) return true;
  }
}

void Add(std::vector<Sample>& out, const char* metric, const Labels& labels, double value) {
  out.push_back(Sample{metric, labels, value});
}

const char* TypeName(haproxy::RowType type) {
  switch (type) {
    case haproxy::RowType::kFrontend:
      return "frontend";
    case haproxy::RowType::kBackend:
      return "backend";
    case haproxy::RowType::kServer:
      return "server";
    case haproxy::RowType::kListener:
      return "listener";
  }
  return "unknown";
}

// Emits (cur - prev) / seconds when both are known and the counter did not go down.
void AddRate(std::vector<Sample>& out, const char* metric, const Labels& labels,
             const std::optional<double>& prev, const std::optional<double>& cur, double seconds) {
  if (!prev || !cur || *cur < *prev) return;
  Add(out, metric, labels, (*cur - *prev) / seconds);
}

}  // namespace

ServerHealth ClassifyServerStatus(absl::string_view status) {
  if (absl::StartsWith(status, "UP") || status == "no check") return ServerHealth::kUp;
  if (absl::StartsWith(status, "MAINT") || absl::StartsWith(status, "DRAIN")) {
    return ServerHealth::kMaint;
  }
  return ServerHealth::kDown;
}

absl::StatusOr<std::string> QueryStatsSocket(const std::string& path, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("stats socket path '", path,
                                                   "' is empty or longer than ",
                                                   sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket(AF_UNIX)");
  FdCloser closer(fd);

  auto failed = [&path](int err, const char* what) {
    return absl::UnavailableError(
        absl::StrCat("stats socket ", path, ": ", what, ": ", std::strerror(err)));
  };
  auto timed_out = [&path, timeout](const char* what) {
    return absl::DeadlineExceededError(
        absl::StrCat("stats socket ", path, ": ", what, " within ", absl::FormatDuration(timeout)));
  };
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) return failed(errno, "cannot connect");
    absl::StatusOr<bool> ready = WaitReady(fd, POLLOUT, deadline);
    if (!ready.ok()) return ready.status();
    if (!*ready) return timed_out("no connection");
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return failed(err, "cannot connect");
  }

  const absl::string_view command = "show stat\n";
  size_t sent = 0;
  while (sent < command.size()) {
    ssize_t n = send(fd, command.data() + sent, command.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return failed(errno, "cannot send 'show stat'");
    absl::StatusOr<bool> ready = WaitReady(fd, POLLOUT, deadline);
    if (!ready.ok()) return ready.status();
    if (!*ready) return timed_out("could not send 'show stat'");
  }

  // HAProxy answers a non-interactive command and closes the connection.
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (out.size() > kMaxStatsBytes) {
        return absl::ResourceExhaustedError(
            absl::StrCat("stats socket ", path, ": answer larger than ", kMaxStatsBytes, " bytes"));
      }
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return failed(errno, "cannot read the answer");
    absl::StatusOr<bool> ready = WaitReady(fd, POLLIN, deadline);
    if (!ready.ok()) return ready.status();
    if (!*ready) return timed_out("no complete answer");
  }
  return out;
}

absl::Status HaproxyCheck::Init(ConfigMap& config) {
  socket_path_ = config.String("stats_socket");
  std::string url = config.String("stats_url");
  if (socket_path_.empty() == url.empty()) {
    config.Error(socket_path_.empty() ? "stats_socket" : "stats_url",
                 "exactly one of stats_socket (the path of HAProxy's stats socket) and "
                 "stats_url (its stats page) is required");
  }
  if (!socket_path_.empty() && socket_path_[0] != '/') {
    config.Error("stats_socket",
                 absl::StrCat("must be an absolute path, got '", socket_path_, "'"));
  }
  if (!url.empty()) {
    if (!absl::StartsWithIgnoreCase(url, "http://") &&
        !absl::StartsWithIgnoreCase(url, "https://")) {
      config.Error("stats_url", "must start with http:// or https://");
    }
    if (url.find('@') != std::string::npos) {
      config.Error("stats_url",
                   "must not contain user information; use username and password_file");
    }
    request_.url = absl::EndsWith(url, ";csv") ? url : url + ";csv";
  }

  request_.username = config.String("username");
  password_ = ReadSecretRef(config, "password");
  ConfigMap tls = config.Map("tls");
  // Relative to the config file's directory, as every path in it.
  request_.ca_file = ResolvePath(DirName(config.errors()->file()), tls.String("ca_file"));
  request_.insecure_skip_verify = tls.Bool("insecure_skip_verify", false);
  tls.Finish();
  if (!socket_path_.empty() &&
      (!request_.username.empty() || !password_.empty() || config.Has("tls"))) {
    config.Error(config.Has("tls") ? "tls" : "username",
                 "applies to stats_url only; the stats socket has no authentication");
  }
  if (!password_.empty() && request_.username.empty()) {
    config.Error(password_.file.empty() ? "password_env" : "password_file",
                 "a password needs a username");
  }

  timeout_ = context().timeout * 0.9;
  request_.timeout = timeout_;
  request_.connect_timeout = std::min(timeout_, absl::Seconds(5));
  return absl::OkStatus();
}

absl::StatusOr<std::string> HaproxyCheck::Fetch() {
  if (!socket_path_.empty()) return QueryStatsSocket(socket_path_, timeout_);
  HttpRequest request = request_;
  if (!password_.empty()) {
    absl::StatusOr<std::string> password = password_.Read();
    if (!password.ok()) return password.status();
    request.password = *std::move(password);
  }
  absl::StatusOr<HttpResponse> response = HttpFetch(request);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::UnavailableError(
        absl::StrCat(request_.url, ": HTTP status ", response->status, ", expected 200"));
  }
  return std::move(response->body);
}

absl::StatusOr<std::vector<Sample>> HaproxyCheck::Collect(absl::Time now) {
  absl::StatusOr<std::string> text = Fetch();
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<haproxy::StatRow>> rows =
      haproxy::ParseStatCsv(*text, socket_path_.empty() ? request_.url : socket_path_);
  if (!rows.ok()) return rows.status();

  const double seconds =
      prev_time_ && now > *prev_time_ ? absl::ToDoubleSeconds(now - *prev_time_) : 0;
  std::vector<Sample> out;
  std::map<std::string, Counters> counters;
  struct ServerCounts {
    int up = 0, down = 0, maint = 0;
  };
  std::map<std::string, ServerCounts> servers;  // by backend
  for (const haproxy::StatRow& row : *rows) {
    if (row.type == haproxy::RowType::kListener) continue;
    Labels labels = {{"proxy", row.proxy}};
    if (row.type == haproxy::RowType::kServer) labels.emplace_back("server", row.name);
    labels.emplace_back("type", TypeName(row.type));

    if (auto v = row.Number("scur")) Add(out, "haproxy.sessions.current", labels, *v);
    if (auto v = row.Number("qcur")) Add(out, "haproxy.queue.current", labels, *v);
    if (auto v = row.Number("rtime")) {
      Add(out, "haproxy.response_time_avg_seconds", labels, *v / 1000);
    }
    const std::string key = absl::StrCat(TypeName(row.type), "/", row.proxy, "/", row.name);
    Counters current{row.Number("stot"), row.Number("hrsp_5xx")};
    auto prev = prev_.find(key);
    if (seconds > 0 && prev != prev_.end()) {
      AddRate(out, "haproxy.sessions_per_second", labels, prev->second.sessions, current.sessions,
              seconds);
      AddRate(out, "haproxy.responses_5xx_per_second", labels, prev->second.http_5xx,
              current.http_5xx, seconds);
    }
    counters[key] = current;

    if (row.type == haproxy::RowType::kServer) {
      ServerCounts& c = servers[row.proxy];
      switch (ClassifyServerStatus(row.Get("status"))) {
        case ServerHealth::kUp:
          ++c.up;
          break;
        case ServerHealth::kMaint:
          ++c.maint;
          ++c.down;
          break;
        case ServerHealth::kDown:
          ++c.down;
          break;
      }
    }
  }
  for (const haproxy::StatRow& row : *rows) {
    if (row.type != haproxy::RowType::kBackend) continue;
    const Labels labels = {{"proxy", row.proxy}};
    const ServerCounts c = servers[row.proxy];
    Add(out, "haproxy.backend.up", labels, absl::StartsWith(row.Get("status"), "UP") ? 1 : 0);
    Add(out, "haproxy.backend.servers_up", labels, c.up);
    Add(out, "haproxy.backend.servers_down", labels, c.down);
    Add(out, "haproxy.backend.servers_maint", labels, c.maint);
  }
  prev_time_ = now;
  prev_ = std::move(counters);
  return out;
}

}  // namespace vigil::agent
