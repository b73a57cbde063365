#include "agent/checks/nginx/nginx_check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/checks/check_testing.h"
#include "common/config_reader.h"
#include "common/http_client.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// The nginx check against a real nginx 1.22 (Debian's /usr/sbin/nginx) started once for this
// binary on a loopback port, with a slow upstream served by a thread of the test. Tests run in
// the order written and share nginx and its access log; each builds its own check, which
// starts at the end of the log.

namespace vigil::agent {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kNginx[] = "/usr/sbin/nginx";
const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
constexpr absl::Duration kWait = absl::Seconds(20);

// The log_format of the test's nginx, also given to the check.
constexpr char kLogFormat[] =
    "$remote_addr \"$request\" $status rt=$request_time urt=$upstream_response_time "
    "m=$request_method h=$host t=$msec";

double Get(const std::vector<Sample>& samples, const std::string& metric,
           const Labels& labels = {}) {
  std::optional<double> v = FindSample(samples, metric, labels);
  EXPECT_TRUE(v.has_value()) << metric << " missing";
  return v.value_or(-1);
}

std::vector<std::string> WithPrefix(const std::vector<Sample>& samples, const std::string& p) {
  std::vector<std::string> out;
  for (const Sample& s : samples) {
    if (absl::StartsWith(s.metric, p)) out.push_back(s.metric);
  }
  return out;
}

// Answers every connection after sleeping the milliseconds named by the request path
// ("GET /200 HTTP/1.0"): the slow upstream behind nginx's /slow/ location.
class SlowUpstream {
 public:
  SlowUpstream() : port_(testing::FreePort()) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 64) != 0) {
      std::perror("upstream bind/listen");
      std::abort();
    }
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~SlowUpstream() {
    stop_ = true;
    acceptor_.join();
    for (std::thread& t : handlers_) t.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void Accept() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) handlers_.emplace_back([c] { Serve(c); });
    }
  }
  static void Serve(int c) {
    timeval tv{10, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(c, buf, sizeof(buf));
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
    }
    int millis = 0;
    size_t slash = request.find('/');
    if (slash != std::string::npos) millis = std::atoi(request.c_str() + slash + 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(millis));  // the behaviour served
    std::string response =
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nslow\n";
    (void)!::write(c, response.data(), response.size());
    ::close(c);
  }

  int port_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> handlers_;  // the acceptor thread's, joined after it
};

class NginxCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(kNginx)) {
      setup_error_ = absl::StrCat(kNginx, " is missing: install Debian's nginx package ",
                                  "(scripts/install-deps.sh installs the test servers)");
      return;
    }
    dir_ = new testing::TempDir();
    upstream_ = new SlowUpstream();
    port_ = testing::FreePort();
    const std::string& d = dir_->path();
    testing::WriteFile(
        dir_->Join("nginx.conf"),
        absl::StrCat(
            "daemon off; worker_processes 1; user root; pid ", d, "/nginx.pid; error_log ", d,
            "/error.log;\nevents {}\nhttp {\n client_body_temp_path ", d, "/t1; proxy_temp_path ",
            d, "/t2; fastcgi_temp_path ", d, "/t3; uwsgi_temp_path ", d, "/t4; scgi_temp_path ", d,
            "/t5;\n log_format t '", kLogFormat, "';\n access_log ", d,
            "/access.log t;\n server {\n  listen 127.0.0.1:", port_,
            ";\n  location = /ok { return 200 \"ok\\n\"; }\n",
            "  location = /fail { return 500; }\n", "  location = /unavailable { return 503; }\n",
            "  location = /moved { return 301 /ok; }\n",
            "  location = /status { stub_status; access_log off; }\n",
            "  location = /private/status { stub_status; access_log off; auth_basic vigil; ",
            "auth_basic_user_file ", d, "/htpasswd; }\n",
            "  location /slow/ { proxy_pass http://127.0.0.1:", upstream_->port(), "/; }\n",
            " }\n}\n"));
    testing::WriteFile(dir_->Join("htpasswd"), "monitor:{PLAIN}s3cret-pw\n");
    nginx_ =
        new testing::Process({kNginx, "-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"},
                             d + "/nginx.out", d + "/nginx.err");
    bool up = testing::WaitFor(
        [] {
          long status = 0;
          testing::HttpGet(Url("/ok"), &status);
          return status == 200;
        },
        kWait);
    if (!up) {
      setup_error_ = absl::StrCat("nginx did not answer on port ", port_, ": ",
                                  testing::ReadFile(dir_->Join("error.log")),
                                  testing::ReadFile(dir_->Join("nginx.err")));
    }
  }

  static void TearDownTestSuite() {
    if (nginx_ != nullptr) nginx_->Stop(SIGQUIT);
    delete nginx_;
    delete upstream_;
    delete dir_;
    nginx_ = nullptr;
    upstream_ = nullptr;
    dir_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static std::string Url(const std::string& path) {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  static std::string Log() { return dir_->Join("access.log"); }

  static size_t CountLines(const std::string& path) {
    std::string text = testing::ReadFile(path);
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }

  // One request on a new connection; asserts nginx's answer.
  static void Send(const std::string& path, long expected_status,
                   const std::string& method = "GET") {
    HttpRequest request;
    request.url = Url(path);
    request.method = method;
    if (method == "POST") request.body = "x=1";
    absl::StatusOr<HttpResponse> response = HttpFetch(request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, expected_status) << path;
  }

  // Sends `count` requests for `path`, then waits until nginx has logged all of them in the
  // given files (nginx writes the line after the response, so the client can be first).
  static void SendAndWait(const std::string& path, long status, int count,
                          const std::vector<std::string>& files = {}) {
    std::vector<std::string> logs = files.empty() ? std::vector<std::string>{Log()} : files;
    size_t before = 0;
    for (const std::string& f : logs) before += CountLines(f);
    for (int i = 0; i < count; ++i) Send(path, status);
    WaitLogged(logs, before + static_cast<size_t>(count));
  }

  static void WaitLogged(const std::vector<std::string>& files, size_t lines) {
    size_t total = 0;
    bool ok = testing::WaitFor(
        [&] {
          total = 0;
          for (const std::string& f : files) total += CountLines(f);
          return total >= lines;
        },
        kWait);
    ASSERT_TRUE(ok) << "nginx logged " << total << " lines, expected " << lines;
  }

  // A check initialised from `yaml` (its own keys); config errors fail the test.
  static std::unique_ptr<NginxCheck> MakeCheck(const std::string& yaml) {
    auto check = std::make_unique<NginxCheck>();
    std::vector<std::string> errors = InitErrors(*check, yaml);
    EXPECT_THAT(errors, IsEmpty());
    return check;
  }

  static std::vector<std::string> InitErrors(NginxCheck& check, const std::string& yaml) {
    return InitCheckForTest(check, yaml);
  }

  static std::string LogConfig(const std::string& path = "") {
    return absl::StrCat("access_log: ", path.empty() ? Log() : path, "\nlog_format: '", kLogFormat,
                        "'\n");
  }

  static std::vector<Sample> MustCollect(NginxCheck& check, absl::Time now) {
    absl::StatusOr<std::vector<Sample>> s = check.Collect(now);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : std::vector<Sample>{};
  }

  static testing::TempDir* dir_;
  static SlowUpstream* upstream_;
  static testing::Process* nginx_;
  static int port_;
  static std::string setup_error_;
};

testing::TempDir* NginxCheckTest::dir_ = nullptr;
SlowUpstream* NginxCheckTest::upstream_ = nullptr;
testing::Process* NginxCheckTest::nginx_ = nullptr;
int NginxCheckTest::port_ = 0;
std::string NginxCheckTest::setup_error_;

TEST_F(NginxCheckTest, FirstCollectStartsAtTheEndOfTheLog) {
  SendAndWait("/ok", 200, 3);  // history: not counted
  SendAndWait("/fail", 500, 1);
  auto check = MakeCheck(LogConfig());
  std::vector<Sample> s = MustCollect(*check, kT0);
  EXPECT_EQ(Get(s, "nginx.requests"), 0);
  for (const char* cls : {"1xx", "2xx", "3xx", "4xx", "5xx"}) {
    EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", cls}}), 0) << cls;
  }
  EXPECT_THAT(WithPrefix(s, "nginx.request_time"), IsEmpty());
  EXPECT_THAT(WithPrefix(s, "nginx.responses_5xx"), IsEmpty());
  EXPECT_EQ(Get(s, "nginx.log.malformed_lines"), 0);

  SendAndWait("/ok", 200, 2);
  s = MustCollect(*check, kT0 + absl::Seconds(10));
  EXPECT_EQ(Get(s, "nginx.requests"), 2);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "2xx"}}), 2);
  EXPECT_EQ(Get(s, "nginx.log.backlog_bytes"), 0);
}

TEST_F(NginxCheckTest, CountsAndLatencyMatchWhatWasSent) {
  auto check = MakeCheck(LogConfig());
  MustCollect(*check, kT0);
  size_t before = CountLines(Log());
  // Three proxied requests at once: 200, 200 and 400 ms in the upstream.
  std::vector<std::thread> slow;
  for (const char* path : {"/slow/200", "/slow/200", "/slow/400"}) {
    slow.emplace_back([path] { Send(path, 200); });
  }
  for (int i = 0; i < 5; ++i) Send("/ok", 200);
  Send("/ok", 200, "POST");
  for (int i = 0; i < 3; ++i) Send("/fail", 500);
  for (int i = 0; i < 2; ++i) Send("/unavailable", 503);
  for (int i = 0; i < 2; ++i) Send("/missing", 404);
  Send("/moved", 301);
  for (std::thread& t : slow) t.join();
  WaitLogged({Log()}, before + 17);

  std::vector<Sample> s = MustCollect(*check, kT0 + absl::Seconds(10));
  EXPECT_EQ(Get(s, "nginx.requests"), 17);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "1xx"}}), 0);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "2xx"}}), 9);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "3xx"}}), 1);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "4xx"}}), 2);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "5xx"}}), 5);
  EXPECT_EQ(Get(s, "nginx.responses_5xx", {{"code", "500"}}), 3);
  EXPECT_EQ(Get(s, "nginx.responses_5xx", {{"code", "503"}}), 2);
  EXPECT_EQ(WithPrefix(s, "nginx.responses_5xx").size(), 2u);
  EXPECT_EQ(Get(s, "nginx.requests_by_method", {{"method", "GET"}}), 16);
  EXPECT_EQ(Get(s, "nginx.requests_by_method", {{"method", "POST"}}), 1);

  // 14 immediate answers and 3 that waited for the upstream: the median is an immediate one,
  // p90 (16th of 17) waited at least 200 ms, p99 and max at least 400 ms.
  double p50 = Get(s, "nginx.request_time_p50_seconds");
  double p90 = Get(s, "nginx.request_time_p90_seconds");
  double p99 = Get(s, "nginx.request_time_p99_seconds");
  double max = Get(s, "nginx.request_time_max_seconds");
  double avg = Get(s, "nginx.request_time_avg_seconds");
  EXPECT_LT(p50, 0.2);
  EXPECT_GE(p90, 0.2);
  EXPECT_LE(p90, p99);
  EXPECT_GE(p99, 0.4);
  EXPECT_EQ(p99, max);
  EXPECT_LT(max, 5.0);
  EXPECT_GE(avg, 0.8 / 17);
  EXPECT_LT(avg, max);
  // Only the proxied requests have an upstream time.
  EXPECT_GE(Get(s, "nginx.upstream_response_time_p50_seconds"), 0.2);
  EXPECT_GE(Get(s, "nginx.upstream_response_time_max_seconds"), 0.4);
  // nginx measures both with its cached clock: they may differ by a tick.
  EXPECT_LE(Get(s, "nginx.upstream_response_time_max_seconds"), max + 0.005);
  EXPECT_GE(Get(s, "nginx.upstream_response_time_avg_seconds"), 0.8 / 3);

  // Nothing new: zeros, no latency.
  s = MustCollect(*check, kT0 + absl::Seconds(20));
  EXPECT_EQ(Get(s, "nginx.requests"), 0);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "5xx"}}), 0);
  EXPECT_THAT(WithPrefix(s, "nginx.request_time"), IsEmpty());
  EXPECT_THAT(WithPrefix(s, "nginx.upstream_response_time"), IsEmpty());
}

TEST_F(NginxCheckTest, MalformedLinesAreCountedAndSkipped) {
  auto check = MakeCheck(LogConfig());
  MustCollect(*check, kT0);
  {
    int fd = ::open(Log().c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    std::string junk = "not an access log line\n127.0.0.1 \"GET / HTTP/1.1\" 2x0 rt=0.1\n";
    ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
    ::close(fd);
  }
  SendAndWait("/ok", 200, 2);
  std::vector<Sample> s = MustCollect(*check, kT0 + absl::Seconds(10));
  EXPECT_EQ(Get(s, "nginx.requests"), 2);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "2xx"}}), 2);
  EXPECT_EQ(Get(s, "nginx.log.malformed_lines"), 2);
  s = MustCollect(*check, kT0 + absl::Seconds(20));
  EXPECT_EQ(Get(s, "nginx.log.malformed_lines"), 0);
}

TEST_F(NginxCheckTest, RotationByRenameLosesNoLineAndDoublesNone) {
  auto check = MakeCheck(LogConfig());
  MustCollect(*check, kT0);
  const std::string old = Log() + ".1";
  SendAndWait("/ok", 200, 3);
  ASSERT_EQ(std::rename(Log().c_str(), old.c_str()), 0);
  // Between the rename and the reopen: the old file is still read.
  std::vector<Sample> s = MustCollect(*check, kT0 + absl::Seconds(10));
  EXPECT_EQ(Get(s, "nginx.requests"), 3);
  SendAndWait("/fail", 500, 2, {old});  // nginx still writes to the renamed file

  nginx_->Signal(SIGUSR1);  // what logrotate's postrotate does
  ASSERT_TRUE(testing::WaitFor([] { return fs::exists(Log()); }, kWait));
  size_t before = CountLines(old) + CountLines(Log());
  for (int i = 0; i < 4; ++i) Send("/ok", 200);
  WaitLogged({old, Log()}, before + 4);  // a worker may reopen a little after the master

  s = MustCollect(*check, kT0 + absl::Seconds(20));
  EXPECT_EQ(Get(s, "nginx.requests"), 6);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "2xx"}}), 4);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "5xx"}}), 2);
  s = MustCollect(*check, kT0 + absl::Seconds(30));
  EXPECT_EQ(Get(s, "nginx.requests"), 0);
  SendAndWait("/ok", 200, 1);
  s = MustCollect(*check, kT0 + absl::Seconds(40));
  EXPECT_EQ(Get(s, "nginx.requests"), 1);
  fs::remove(old);
}

TEST_F(NginxCheckTest, CopytruncateLosesNoLineAndDoublesNone) {
  auto check = MakeCheck(LogConfig());
  MustCollect(*check, kT0);
  SendAndWait("/ok", 200, 3);
  EXPECT_EQ(Get(MustCollect(*check, kT0 + absl::Seconds(10)), "nginx.requests"), 3);

  // logrotate copytruncate: copy, then truncate in place; nginx keeps appending (O_APPEND).
  fs::copy_file(Log(), Log() + ".2", fs::copy_options::overwrite_existing);
  ASSERT_EQ(::truncate(Log().c_str(), 0), 0);
  SendAndWait("/ok", 200, 2);
  SendAndWait("/fail", 500, 1);
  std::vector<Sample> s = MustCollect(*check, kT0 + absl::Seconds(20));
  EXPECT_EQ(Get(s, "nginx.requests"), 3);
  EXPECT_EQ(Get(s, "nginx.responses", {{"status_class", "5xx"}}), 1);

  // Truncated and refilled past the old read offset before the next collection.
  ASSERT_EQ(::truncate(Log().c_str(), 0), 0);
  SendAndWait("/ok", 200, 8);
  s = MustCollect(*check, kT0 + absl::Seconds(30));
  EXPECT_EQ(Get(s, "nginx.requests"), 8);
  EXPECT_EQ(Get(MustCollect(*check, kT0 + absl::Seconds(40)), "nginx.requests"), 0);
  fs::remove(Log() + ".2");
}

TEST_F(NginxCheckTest, StubStatusGaugesAndRates) {
  auto check = MakeCheck(LogConfig() + "status_url: " + Url("/status") + "\n");
  std::vector<Sample> s = MustCollect(*check, kT0);
  // The check's own request is the one active connection, being written to.
  double active = Get(s, "nginx.connections.active");
  EXPECT_GE(active, 1);
  EXPECT_GE(Get(s, "nginx.connections.writing"), 1);
  EXPECT_EQ(Get(s, "nginx.connections.reading") + Get(s, "nginx.connections.writing") +
                Get(s, "nginx.connections.waiting"),
            active);
  EXPECT_FALSE(FindSample(s, "nginx.connections.accepted_per_second").has_value());
  EXPECT_FALSE(FindSample(s, "nginx.requests_per_second").has_value());

  SendAndWait("/ok", 200, 5);  // five connections of one request each
  s = MustCollect(*check, kT0 + absl::Seconds(10));
  // Accepted since the first collection: the five, plus the check's second request.
  EXPECT_NEAR(Get(s, "nginx.connections.accepted_per_second") * 10, 6, 1e-9);
  EXPECT_NEAR(Get(s, "nginx.connections.handled_per_second") * 10, 6, 1e-9);
  EXPECT_NEAR(Get(s, "nginx.requests_per_second") * 10, 6, 1e-9);
  EXPECT_EQ(Get(s, "nginx.requests"), 5);  // /status is not logged (access_log off)
}

TEST_F(NginxCheckTest, StatusServerThatNeverAnswersTimesOut) {
  // Accepts connections (the kernel completes the handshake) and never answers.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int port = testing::FreePort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  auto check = MakeCheck(
      LogConfig() + absl::StrCat("status_url: http://127.0.0.1:", port, "/status\ntimeout: 1s\n"));
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> s = check->Collect(kT0);
  absl::Duration took = absl::Now() - start;
  ::close(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(absl::StrCat("127.0.0.1:", port)));
  EXPECT_LT(took, absl::Seconds(5));
}

TEST_F(NginxCheckTest, StatusPageErrorFailsTheCollection) {
  auto check = MakeCheck(LogConfig() + "status_url: " + Url("/missing") + "\n");
  absl::StatusOr<std::vector<Sample>> s = check->Collect(kT0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "stub_status " + Url("/missing") + " answered HTTP 404");
}

TEST_F(NginxCheckTest, StatusPageWithBasicAuthentication) {
  const std::string good = dir_->Write("good.pw", "s3cret-pw\n");
  const std::string bad = dir_->Write("bad.pw", "wrong-pw\n");
  const std::string url = Url("/private/status");
  auto check = MakeCheck(LogConfig() + "status_url: " + url + "\nusername: monitor\n" +
                         "password_file: " + good + "\n");
  std::vector<Sample> s = MustCollect(*check, kT0);
  EXPECT_GE(Get(s, "nginx.connections.active"), 1);

  auto wrong = MakeCheck(LogConfig() + "status_url: " + url + "\nusername: monitor\n" +
                         "password_file: " + bad + "\n");
  absl::StatusOr<std::vector<Sample>> r = wrong->Collect(kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "stub_status " + url + " answered HTTP 401");

  auto unreadable = MakeCheck(LogConfig() + "status_url: " + url + "\nusername: monitor\n" +
                              "password_file: " + dir_->Join("none.pw") + "\n");
  r = unreadable->Collect(kT0);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("none.pw"));
}

TEST_F(NginxCheckTest, MissingLogFailsTheCollectionAndRecoversWhenItAppears) {
  const std::string path = dir_->Join("later.log");
  auto check = MakeCheck(LogConfig(path));
  absl::StatusOr<std::vector<Sample>> s = check->Collect(kT0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.status().message(), "access log " + path + " does not exist");
  // A file that appears after the first collection is new: read from its start.
  testing::WriteFile(
      path, "127.0.0.1 \"GET / HTTP/1.1\" 502 rt=0.300 urt=0.100, 0.200 m=GET h=a t=1.0\n");
  std::vector<Sample> ok = MustCollect(*check, kT0 + absl::Seconds(10));
  EXPECT_EQ(Get(ok, "nginx.requests"), 1);
  EXPECT_EQ(Get(ok, "nginx.responses_5xx", {{"code", "502"}}), 1);
  EXPECT_DOUBLE_EQ(Get(ok, "nginx.upstream_response_time_max_seconds"), 0.3);
}

TEST_F(NginxCheckTest, HugeBacklogIsReadOverSeveralCollections) {
  const std::string path = dir_->Join("big.log");
  testing::WriteFile(path, "");
  auto check = MakeCheck(LogConfig(path) + "max_read_bytes: 64KiB\nper_vhost: true\n");
  MustCollect(*check, kT0);
  std::string text;
  const std::string line =
      "127.0.0.1 \"GET /x HTTP/1.1\" 200 rt=0.001 urt=- m=GET h=www.example t=1700000000.000\n";
  const int kLines = 2000;  // ~160 KiB
  for (int i = 0; i < kLines; ++i) text += line;
  testing::WriteFile(path, text);
  std::vector<Sample> s = MustCollect(*check, kT0 + absl::Seconds(10));
  double first = Get(s, "nginx.requests");
  EXPECT_GT(first, 0);
  EXPECT_LT(first, kLines);
  EXPECT_GT(Get(s, "nginx.log.backlog_bytes"), 0);
  EXPECT_EQ(Get(s, "nginx.requests_by_vhost", {{"vhost", "www.example"}}), first);
  double total = first;
  for (int i = 2; i < 10 && total < kLines; ++i) {
    total += Get(MustCollect(*check, kT0 + absl::Seconds(10 * i)), "nginx.requests");
  }
  EXPECT_EQ(total, kLines);
}

TEST_F(NginxCheckTest, ConfigErrorsHavePositions) {
  struct Case {
    std::string yaml;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {"log_format: '$remote_addr $body_bytes_sent'\n",
            "agent.yaml:1:13: log_format: log_format has no $status"},
           {"log_format: '$status$request_time'\n",
            "agent.yaml:1:13: log_format: log_format: column 8: $status is followed directly"},
           {"max_read_bytes: 1KiB\n", "agent.yaml:1:17: max_read_bytes: must be at least 64KiB"},
           {"per_vhost: true\n", "agent.yaml:1:12: per_vhost: needs $host in log_format"},
           {"status_url: http://u:secret@127.0.0.1/status\n",
            "agent.yaml:1:13: status_url: must not contain credentials"},
           {"status_url: ftp://127.0.0.1/status\n", "status_url: must be an http:// or https://"},
           {"username: u\n", "agent.yaml:1:11: username: is for status_url, which is not set"},
           {"password: x\nstatus_url: http://127.0.0.1/s\nusername: u\n",
            "password: secrets are not written inline"},
           {"acces_log: /x\n", "agent.yaml:1:1: unknown key 'acces_log'"},
       }) {
    NginxCheck check;
    std::vector<std::string> errors = InitErrors(check, c.yaml);
    ASSERT_FALSE(errors.empty()) << c.yaml;
    EXPECT_THAT(errors[0], HasSubstr(c.error)) << c.yaml;
    for (const std::string& e : errors) EXPECT_THAT(e, ::testing::Not(HasSubstr("secret@")));
  }
}

}  // namespace
}  // namespace vigil::agent
