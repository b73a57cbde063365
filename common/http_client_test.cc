#include "common/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/testing/process.h"
#include "gtest/gtest.h"

namespace vigil {
namespace {

// A loopback server that answers each connection with `reply` after `delay`, and keeps the
// last request it read.
class CannedServer {
 public:
  CannedServer(std::string reply, absl::Duration delay = absl::ZeroDuration())
      : reply_(std::move(reply)), delay_(delay) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    port_ = testing::FreePort();
    addr.sin_port = htons(port_);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    listen(fd_, 8);
    thread_ = std::thread([this] { Serve(); });
  }
  ~CannedServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string last_request() {
    absl::MutexLock lock(&mu_);
    return request_;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string got;
      char buf[4096];
      // Read until the end of the headers and the announced body.
      while (true) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, n);
        size_t end = got.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        size_t length = 0;
        size_t cl = got.find("Content-Length: ");
        if (cl != std::string::npos) length = std::stoul(got.substr(cl + 16));
        if (got.size() >= end + 4 + length) break;
      }
      {
        absl::MutexLock lock(&mu_);
        request_ = got;
      }
      absl::SleepFor(delay_);
      (void)!write(c, reply_.data(), reply_.size());
      close(c);
    }
  }

  std::string reply_;
  absl::Duration delay_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::string request_;
};

TEST(HttpFetchTest, ReturnsStatusBodyAndHeaders) {
  CannedServer server(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing: Value 1\r\nConnection: close\r\n\r\nhello");
  HttpRequest request;
  request.url = server.url("/status");
  auto response = HttpFetch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(response->Header("x-thing").value_or(""), "Value 1");
  EXPECT_EQ(response->Header("X-THING").value_or(""), "Value 1");
  EXPECT_FALSE(response->Header("missing").has_value());
  EXPECT_TRUE(absl::StartsWith(server.last_request(), "GET /status HTTP/1.1\r\n"));
}

TEST(HttpFetchTest, LoopbackIgnoresAProxyFromTheEnvironment) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  setenv("http_proxy", "http://127.0.0.1:1", 1);  // nothing listens there
  HttpRequest request;
  request.url = server.url();
  auto response = HttpFetch(request);
  unsetenv("http_proxy");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "ok");
}

TEST(HttpFetchTest, ServerErrorIsAResponseNotAnError) {
  CannedServer server("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nRetry-After: 7\r\n\r\nbusy");
  HttpRequest request;
  request.url = server.url();
  auto response = HttpFetch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "busy");
  EXPECT_EQ(ParseRetryAfter(*response->Header("retry-after"), absl::Now()), absl::Seconds(7));
}

TEST(HttpFetchTest, PostSendsBodyHeadersAndBasicAuth) {
  CannedServer server("HTTP/1.1 204 No Content\r\n\r\n");
  HttpRequest request;
  request.method = "POST";
  request.url = server.url("/hook");
  request.body = R"({"a":1})";
  request.headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", "n-42"}};
  request.username = "user";
  request.password = "secret";
  auto response = HttpFetch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 204);
  std::string got = server.last_request();
  EXPECT_TRUE(absl::StartsWith(got, "POST /hook HTTP/1.1\r\n")) << got;
  EXPECT_TRUE(absl::StrContains(got, "Content-Type: application/json\r\n")) << got;
  EXPECT_TRUE(absl::StrContains(got, "Idempotency-Key: n-42\r\n")) << got;
  EXPECT_TRUE(absl::StrContains(got, "Authorization: Basic dXNlcjpzZWNyZXQ=\r\n"))
      << got;  // user:secret
  EXPECT_FALSE(absl::StrContains(got, "Expect:")) << got;
  EXPECT_TRUE(absl::EndsWith(got, "\r\n\r\n{\"a\":1}")) << got;
}

TEST(HttpFetchTest, RefusedConnectionIsUnavailableAndNamesTheUrlWithoutCredentials) {
  HttpRequest request;
  request.url = "http://bob:hunter2@127.0.0.1:" + std::to_string(testing::FreePort()) + "/x";
  auto response = HttpFetch(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_TRUE(absl::StrContains(response.status().message(), "http://127.0.0.1:"))
      << response.status();
  EXPECT_FALSE(absl::StrContains(response.status().message(), "hunter2"));
}

TEST(HttpFetchTest, HungServerTimesOut) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", absl::Milliseconds(1500));
  HttpRequest request;
  request.url = server.url();
  request.timeout = absl::Milliseconds(300);
  absl::Time start = absl::Now();
  auto response = HttpFetch(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(HttpFetchTest, BodyOverTheLimitFails) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
  HttpRequest request;
  request.url = server.url();
  request.max_body_bytes = 10;
  auto response = HttpFetch(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted) << response.status();
}

TEST(ParseRetryAfterTest, SecondsAndHttpDates) {
  absl::Time now = absl::FromUnixSeconds(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), absl::Seconds(120));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:50:37 GMT", now), absl::Seconds(60));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", now), absl::ZeroDuration());
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-5", now).has_value());
}

}  // namespace
}  // namespace vigil
