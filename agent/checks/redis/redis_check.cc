#include "agent/checks/redis/redis_check.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vigil::agent {
namespace {

timeval SocketTimeout(absl::Duration d) {
  if (d < absl::Milliseconds(1)) d = absl::Milliseconds(1);  // 0 would mean "no timeout"
  return absl::ToTimeval(d);
}

// Frees a hiredis reply when it goes out of scope.
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

}  // namespace

void RedisCheck::ContextFree::operator()(redisContext* c) const { redisFree(c); }

RedisCheck::RedisCheck() = default;
RedisCheck::~RedisCheck() = default;

absl::Status RedisCheck::Init(ConfigMap& config) {
  const bool has_host = config.Has("host");
  const bool has_port = config.Has("port");
  host_ = config.String("host", "127.0.0.1");
  if (host_.empty()) config.Error("host", "must not be empty");
  port_ = static_cast<int>(config.Int("port", 6379, 1, 65535));
  unix_socket_ = config.String("unix_socket");
  if (!unix_socket_.empty()) {
    if (unix_socket_[0] != '/') {
      config.Error("unix_socket",
                   absl::StrCat("must be an absolute path, got '", unix_socket_, "'"));
    }
    if (has_host || has_port) {
      config.Error("unix_socket", "give either unix_socket or host/port, not both");
    }
  }
  username_ = config.String("username");
  password_ = ReadSecretRef(config, "password");
  if (config.Has("username") && username_.empty()) config.Error("username", "must not be empty");
  if (!username_.empty() && password_.empty()) {
    config.Error("username", "an ACL user needs password_file or password_env");
  }
  // The check bounds its own I/O so that a run fits in its timeout.
  timeout_ = context().timeout;
  if (config.Bool("tls", false)) {
    config.Error("tls",
                 "TLS is not available: this agent is built against Debian 12's hiredis 0.14, "
                 "which has no TLS support; connect through the server's unix_socket or a local "
                 "TLS tunnel (stunnel) instead");
  }
  source_ = unix_socket_.empty() ? absl::StrCat("redis ", host_, ":", port_)
                                 : absl::StrCat("redis unix:", unix_socket_);
  return absl::OkStatus();
}

absl::Status RedisCheck::ConnectionError(const std::string& what, absl::Duration waited) {
  std::string reason = conn_ != nullptr ? conn_->errstr : "out of memory";
  int err = conn_ != nullptr ? conn_->err : REDIS_ERR_OOM;
  conn_.reset();
  // hiredis reports a socket timeout as an I/O error with the errno text: EAGAIN from a read
  // or write past SO_RCVTIMEO/SO_SNDTIMEO, ETIMEDOUT from a connect that did not complete.
  if (err == REDIS_ERR_IO &&
      (reason == std::strerror(EAGAIN) || reason == std::strerror(ETIMEDOUT))) {
    return absl::DeadlineExceededError(
        absl::StrCat(source_, ": ", what, ": no answer within ", absl::FormatDuration(waited)));
  }
  if (err == REDIS_ERR_IO || err == REDIS_ERR_EOF) {
    return absl::UnavailableError(absl::StrCat(source_, ": ", what, ": ", reason));
  }
  return absl::InternalError(absl::StrCat(source_, ": ", what, ": ", reason));
}

absl::Status RedisCheck::Connect(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(absl::StrCat(source_, ": no time left to connect"));
  }
  timeval tv = SocketTimeout(left);
  conn_.reset(unix_socket_.empty() ? redisConnectWithTimeout(host_.c_str(), port_, tv)
                                   : redisConnectUnixWithTimeout(unix_socket_.c_str(), tv));
  if (conn_ == nullptr || conn_->err != 0) return ConnectionError("cannot connect", left);

  if (password_.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> password = password_.Read();
  if (!password.ok()) {
    conn_.reset();
    return absl::FailedPreconditionError(
        absl::StrCat(source_, ": cannot read the password: ", password.status().message()));
  }
  left = deadline - absl::Now();
  if (redisSetTimeout(conn_.get(), SocketTimeout(left)) != REDIS_OK) {
    return ConnectionError("cannot set the timeout", left);
  }
  // Arguments go as binary-safe %b so that no character of the password is interpreted.
  Reply reply;
  if (username_.empty()) {
    reply.reset(static_cast<redisReply*>(
        redisCommand(conn_.get(), "AUTH %b", password->data(), password->size())));
  } else {
    reply.reset(static_cast<redisReply*>(redisCommand(conn_.get(), "AUTH %b %b", username_.data(),
                                                      username_.size(), password->data(),
                                                      password->size())));
  }
  const std::string as = username_.empty() ? "" : absl::StrCat(" as user '", username_, "'");
  if (reply == nullptr) return ConnectionError(absl::StrCat("AUTH", as), left);
  if (reply->type == REDIS_REPLY_ERROR) {
    // The server's reason (WRONGPASS ...) never contains the password.
    std::string reason(reply->str, reply->len);
    conn_.reset();
    return absl::PermissionDeniedError(absl::StrCat(source_, ": AUTH", as, " failed: ", reason));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RedisCheck::QueryInfo(absl::Time deadline) {
  if (conn_ == nullptr) {
    absl::Status connected = Connect(deadline);
    if (!connected.ok()) return connected;
  }
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    conn_.reset();
    return absl::DeadlineExceededError(absl::StrCat(source_, ": no time left for INFO"));
  }
  if (redisSetTimeout(conn_.get(), SocketTimeout(left)) != REDIS_OK) {
    return ConnectionError("cannot set the timeout", left);
  }
  Reply reply(static_cast<redisReply*>(redisCommand(conn_.get(), "INFO")));
  if (reply == nullptr) return ConnectionError("INFO", left);
  if (reply->type == REDIS_REPLY_ERROR) {
    std::string reason(reply->str, reply->len);
    conn_.reset();
    if (reason.rfind("NOAUTH", 0) == 0) {
      return absl::PermissionDeniedError(absl::StrCat(source_, ": INFO refused: ", reason,
                                                      " (set password_file or password_env)"));
    }
    return absl::FailedPreconditionError(absl::StrCat(source_, ": INFO refused: ", reason));
  }
  if (reply->type != REDIS_REPLY_STRING) {
    conn_.reset();
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": INFO: expected a bulk string reply, got type ", reply->type));
  }
  return std::string(reply->str, reply->len);
}

absl::StatusOr<std::vector<Sample>> RedisCheck::Collect(absl::Time now) {
  const absl::Time deadline = absl::Now() + timeout_;
  const bool reused = conn_ != nullptr;
  absl::StatusOr<std::string> text = QueryInfo(deadline);
  // A kept connection the server has closed meanwhile (restart, idle `timeout` of the
  // server) is not a failure of the server: try once more on a new connection.
  if (!text.ok() && reused && absl::IsUnavailable(text.status())) text = QueryInfo(deadline);
  if (!text.ok()) return text.status();

  absl::StatusOr<redis::InfoReply> info = redis::ParseInfo(*text, source_);
  if (!info.ok()) return info.status();
  absl::StatusOr<redis::RedisStats> stats = redis::ExtractStats(*info, source_);
  if (!stats.ok()) return stats.status();

  redis::Snapshot cur{std::move(*stats), now};
  std::vector<Sample> out = redis::StatsToSamples(cur, prev_ ? &*prev_ : nullptr);
  prev_ = std::move(cur);
  return out;
}

}  // namespace vigil::agent
