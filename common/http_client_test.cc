#include "common/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
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
  // Listens on 127.0.0.1 and a free port, or on the unix socket `unix_path` if not empty.
  CannedServer(std::string reply, absl::Duration delay = absl::ZeroDuration(),
               std::string unix_path = "")
      : reply_(std::move(reply)), delay_(delay), unix_path_(std::move(unix_path)) {
    if (unix_path_.empty()) {
      fd_ = socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      port_ = testing::FreePort();
      addr.sin_port = htons(port_);
      EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    } else {
      fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", unix_path_.c_str());
      EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    }
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
  std::string unix_path_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::string request_;
};

// HttpFetch takes one of two paths: plain HTTP/1.1 for http:// URLs on loopback or a unix
// socket, libcurl for everything else. Every behaviour is tested on both: the libcurl variant
// sets follow_redirects (which only libcurl implements; none of these servers redirects).
enum class FetchPath { kPlain, kCurl };

class HttpFetchTest : public ::testing::TestWithParam<FetchPath> {
 protected:
  static HttpRequest Request(std::string url) {
    HttpRequest request;
    request.url = std::move(url);
    request.follow_redirects = GetParam() == FetchPath::kCurl;
    return request;
  }
};

INSTANTIATE_TEST_SUITE_P(Paths, HttpFetchTest,
                         ::testing::Values(FetchPath::kPlain, FetchPath::kCurl),
                         [](const ::testing::TestParamInfo<FetchPath>& info) {
                           return info.param == FetchPath::kPlain ? "Plain" : "Curl";
                         });

TEST_P(HttpFetchTest, ReturnsStatusBodyAndHeaders) {
  CannedServer server(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing: Value 1\r\nConnection: close\r\n\r\nhello");
  HttpRequest request = Request(server.url("/status"));
  auto response = HttpFetch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(response->Header("x-thing").value_or(""), "Value 1");
  EXPECT_EQ(response->Header("X-THING").value_or(""), "Value 1");
  EXPECT_FALSE(response->Header("missing").has_value());
  EXPECT_TRUE(absl::StartsWith(server.last_request(), "GET /status HTTP/1.1\r\n"));
}

TEST_P(HttpFetchTest, LoopbackIgnoresAProxyFromTheEnvironment) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  setenv("http_proxy", "http://127.0.0.1:1", 1);  // nothing listens there
  HttpRequest request = Request(server.url());
  auto response = HttpFetch(request);
  unsetenv("http_proxy");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "ok");
}

TEST_P(HttpFetchTest, ServerErrorIsAResponseNotAnError) {
  CannedServer server("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\nRetry-After: 7\r\n\r\nbusy");
  HttpRequest request = Request(server.url());
  auto response = HttpFetch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "busy");
  EXPECT_EQ(ParseRetryAfter(*response->Header("retry-after"), absl::Now()), absl::Seconds(7));
}

TEST_P(HttpFetchTest, PostSendsBodyHeadersAndBasicAuth) {
  CannedServer server("HTTP/1.1 204 No Content\r\n\r\n");
  HttpRequest request = Request(server.url("/hook"));
  request.method = "POST";
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

TEST_P(HttpFetchTest, RefusedConnectionIsUnavailableAndNamesTheUrlWithoutCredentials) {
  // Credentials in the URL always take the libcurl path; so does this test.
  HttpRequest request =
      Request("http://bob:hunter2@127.0.0.1:" + std::to_string(testing::FreePort()) + "/x");
  auto response = HttpFetch(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_TRUE(absl::StrContains(response.status().message(), "http://127.0.0.1:"))
      << response.status();
  EXPECT_FALSE(absl::StrContains(response.status().message(), "hunter2"));
}

TEST_P(HttpFetchTest, HungServerTimesOut) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", absl::Milliseconds(1500));
  HttpRequest request = Request(server.url());
  request.timeout = absl::Milliseconds(300);
  absl::Time start = absl::Now();
  auto response = HttpFetch(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded) << response.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST_P(HttpFetchTest, BodyOverTheLimitFails) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
  HttpRequest request = Request(server.url());
  request.max_body_bytes = 10;
  auto response = HttpFetch(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted) << response.status();
}

TEST_P(HttpFetchTest, SendsHostUserAgentAndTheCallersAccept) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  HttpRequest request = Request(server.url("/api/queues?columns=name"));
  request.headers = {{"Accept", "application/json"}};
  auto response = HttpFetch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  std::string got = server.last_request();
  EXPECT_TRUE(absl::StartsWith(got, "GET /api/queues?columns=name HTTP/1.1\r\n")) << got;
  EXPECT_TRUE(absl::StrContains(got, "\r\nHost: " + server.url("").substr(7) + "\r\n")) << got;
  EXPECT_TRUE(absl::StrContains(got, "\r\nUser-Agent: vigil/1\r\n")) << got;
  EXPECT_TRUE(absl::StrContains(got, "\r\nAccept: application/json\r\n")) << got;
  EXPECT_FALSE(absl::StrContains(got, "*/*")) << got;
}

TEST_P(HttpFetchTest, ChunkedBodyIsDecoded) {
  CannedServer server(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nActiv\r\n1b;name=x\r\ne connections: 291 \nserver \r\n0\r\nX-Trailer: 1\r\n\r\n");
  auto response = HttpFetch(Request(server.url("/status")));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "Active connections: 291 \nserver ");
}

TEST_P(HttpFetchTest, ChunkedBodyOverTheLimitFails) {
  CannedServer server(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
  HttpRequest request = Request(server.url());
  request.max_body_bytes = 10;
  auto response = HttpFetch(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kResourceExhausted) << response.status();
}

TEST_P(HttpFetchTest, InterimResponsesAreSkipped) {
  CannedServer server(
      "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Final: 2\r\n\r\nok");
  HttpRequest request = Request(server.url());
  request.method = "POST";
  request.body = "x";
  auto response = HttpFetch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, "ok");
  EXPECT_EQ(response->Header("x-final").value_or(""), "2");
  EXPECT_FALSE(response->Header("x-interim").has_value());
}

TEST_P(HttpFetchTest, HeadReadsNoBody) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
  HttpRequest request = Request(server.url());
  request.method = "HEAD";
  request.timeout = absl::Seconds(2);
  auto response = HttpFetch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "");
  EXPECT_TRUE(absl::StartsWith(server.last_request(), "HEAD / HTTP/1.1\r\n"));
}

TEST_P(HttpFetchTest, BodyWithoutLengthEndsWithTheConnection) {
  CannedServer server("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end");
  auto response = HttpFetch(Request(server.url()));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "until the end");
}

TEST_P(HttpFetchTest, TruncatedBodyIsAnError) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  auto response = HttpFetch(Request(server.url()));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInternal) << response.status();
}

TEST_P(HttpFetchTest, EmptyReplyIsUnavailable) {
  CannedServer server("");
  auto response = HttpFetch(Request(server.url()));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable) << response.status();
  EXPECT_TRUE(absl::StrContains(response.status().message(), server.url())) << response.status();
}

TEST_P(HttpFetchTest, LocalhostReachesAnIpv4Server) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  std::string url = server.url("/x");
  auto response = HttpFetch(Request("http://localhost" + url.substr(url.find(':', 5))));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "ok");
}

TEST_P(HttpFetchTest, UnixSocket) {
  testing::TempDir dir;
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nunix", absl::ZeroDuration(),
                      dir.Join("status.sock"));
  HttpRequest request = Request("http://localhost/status");
  request.unix_socket = dir.Join("status.sock");
  auto response = HttpFetch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->body, "unix");
  EXPECT_TRUE(
      absl::StartsWith(server.last_request(), "GET /status HTTP/1.1\r\nHost: localhost\r\n"))
      << server.last_request();
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
