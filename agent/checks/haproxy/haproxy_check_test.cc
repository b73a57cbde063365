#include "agent/checks/haproxy/haproxy_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

constexpr char kHaproxy[] = "/usr/sbin/haproxy";
constexpr char kNginx[] = "/usr/sbin/nginx";
const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

std::optional<double> Find(const std::vector<Sample>& samples, const std::string& metric,
                           const Labels& labels) {
  for (const Sample& s : samples) {
    if (s.metric == metric && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

Labels Frontend(const std::string& proxy) { return {{"proxy", proxy}, {"type", "frontend"}}; }
Labels Backend(const std::string& proxy) { return {{"proxy", proxy}, {"type", "backend"}}; }
Labels Server(const std::string& proxy, const std::string& server) {
  return {{"proxy", proxy}, {"server", server}, {"type", "server"}};
}
Labels Proxy(const std::string& proxy) { return {{"proxy", proxy}}; }

// Sends one command to a stats socket and returns the answer (test set-up only).
std::string SocketCommand(const std::string& path, const std::string& command) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string line = command + "\n";
    (void)!write(fd, line.data(), line.size());
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// A listener that accepts and never answers, on loopback TCP or on a unix socket.
class HungServer {
 public:
  explicit HungServer(const std::string& unix_path = "") {
    if (unix_path.empty()) {
      fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      port_ = testing::FreePort();
      addr.sin_port = htons(static_cast<uint16_t>(port_));
      EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    } else {
      fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, unix_path.c_str(), sizeof(addr.sun_path) - 1);
      EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    }
    EXPECT_EQ(listen(fd_, 16), 0);
    thread_ = std::thread([this] {
      for (;;) {
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        accepted_.fetch_add(1);
        held_.push_back(c);  // only this thread touches held_ until join
      }
    });
  }
  ~HungServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (int c : held_) close(c);
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::vector<int> held_;
  std::thread thread_;
};

// One nginx (the live backend server: /ok answers 200, /fail 500) and one HAProxy per test
// binary. HAProxy runs in the foreground (-db) as root (no `user`: the temp dir is 0700 root).
//   frontend web    -> backend app: server live (nginx), server dead (a closed port)
//   backend pool:   nocheck (no health check), maint (disabled), drain (set to DRAIN)
//   backend gone:   two servers on closed ports
//   listen admin:   a frontend and a backend named `admin`
//   frontend stats: the stats page at /stats (basic auth), and the stats socket
class HaproxyEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    ASSERT_EQ(access(kHaproxy, X_OK), 0)
        << kHaproxy << " is missing: install the haproxy package (scripts/install-deps.sh does)";
    ASSERT_EQ(access(kNginx, X_OK), 0)
        << kNginx << " is missing: install the nginx package (scripts/install-deps.sh does)";
    dir_ = std::make_unique<testing::TempDir>();
    const std::string d = dir_->path();
    live_port_ = testing::FreePort();
    web_port_ = testing::FreePort();
    stats_port_ = testing::FreePort();
    admin_port_ = testing::FreePort();
    dead_port_ = testing::FreePort();  // nothing listens there

    dir_->Write("nginx.conf",
                absl::StrCat("daemon off; user root; pid ", d, "/nginx.pid; error_log ", d,
                             "/error.log;\nevents {}\nhttp { client_body_temp_path ", d,
                             "/t1; proxy_temp_path ", d, "/t2; fastcgi_temp_path ", d,
                             "/t3; uwsgi_temp_path ", d, "/t4; scgi_temp_path ", d,
                             "/t5; access_log off;\n server { listen 127.0.0.1:", live_port_,
                             "; location = /ok { return 200 \"ok\\n\"; }"
                             " location = /fail { return 500; }"
                             " location /page { default_type text/html;"
                             " return 200 \"<html><body>hello</body></html>\\n\"; } } }\n"));
    nginx_ = std::make_unique<testing::Process>(
        std::vector<std::string>{kNginx, "-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"},
        d + "/nginx.out", d + "/nginx.err");

    const std::string live = absl::StrCat("127.0.0.1:", live_port_);
    const std::string dead = absl::StrCat("127.0.0.1:", dead_port_);
    dir_->Write(
        "haproxy.cfg",
        absl::StrCat("global\n  stats socket ", socket_path(), " mode 600 level admin\n",
                     "defaults\n  mode http\n  timeout connect 1s\n  timeout client 10s\n",
                     "  timeout server 10s\n", "frontend web\n  bind 127.0.0.1:", web_port_,
                     "\n  default_backend app\n", "frontend stats\n  bind 127.0.0.1:", stats_port_,
                     "\n  stats enable\n  stats uri /stats\n  stats auth admin:st4ts-pw\n",
                     "backend app\n  balance roundrobin\n", "  server live ", live,
                     " check inter 200ms\n", "  server dead ", dead, " check inter 200ms\n",
                     "backend pool\n  server nocheck ", live, "\n  server maint ", live,
                     " check inter 200ms disabled\n  server drain ", live, " check inter 200ms\n",
                     "backend gone\n  server d1 ", dead, " check inter 200ms\n  server d2 ", dead,
                     " check inter 200ms\n", "listen admin\n  bind 127.0.0.1:", admin_port_,
                     "\n  server a1 ", live, " check inter 200ms\n"));
    haproxy_ = std::make_unique<testing::Process>(
        std::vector<std::string>{kHaproxy, "-db", "-f", d + "/haproxy.cfg"}, d + "/haproxy.out",
        d + "/haproxy.err");
    // Health checks every 200 ms mark the servers on closed ports down after 3 failures.
    bool ready = testing::WaitFor(
        [&] {
          std::string stat = SocketCommand(socket_path(), "show stat");
          for (const char* row : {"\napp,dead,", "\ngone,d1,", "\ngone,d2,", "\ngone,BACKEND,"}) {
            size_t at = stat.find(row);
            if (at == std::string::npos) return false;
            std::string line = stat.substr(at + 1, stat.find('\n', at + 1) - at - 1);
            if (line.find(",DOWN,") == std::string::npos) return false;
          }
          return true;
        },
        absl::Seconds(20));
    ASSERT_TRUE(ready) << "haproxy did not start or mark the dead server down: "
                       << haproxy_->Stderr() << haproxy_->Stdout();
    std::string answer = SocketCommand(socket_path(), "set server pool/drain state drain");
    ASSERT_THAT(absl::StripAsciiWhitespace(answer), IsEmpty()) << answer;
    long status = 0;
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          testing::HttpGet(absl::StrCat("http://", live, "/ok"), &status);
          return status == 200;
        },
        absl::Seconds(20)))
        << "nginx did not start: " << testing::ReadFile(d + "/error.log");
  }

  void TearDown() override {
    if (haproxy_) haproxy_->Stop(SIGTERM);
    if (nginx_) nginx_->Stop(SIGQUIT);
    haproxy_.reset();
    nginx_.reset();
    dir_.reset();
  }

  std::string socket_path() const { return dir_->Join("stats.sock"); }
  std::string stats_url() const { return absl::StrCat("http://127.0.0.1:", stats_port_, "/stats"); }
  std::string live_url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", live_port_, path);
  }
  std::string web_url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", web_port_, path);
  }
  const testing::TempDir& dir() const { return *dir_; }

 private:
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<testing::Process> nginx_, haproxy_;
  int live_port_ = 0, web_port_ = 0, stats_port_ = 0, admin_port_ = 0, dead_port_ = 0;
};

HaproxyEnvironment* const haproxy = static_cast<HaproxyEnvironment*>(
    ::testing::AddGlobalTestEnvironment(new HaproxyEnvironment));  // owned by gtest

std::vector<std::string> InitWith(HaproxyCheck& check, const std::string& yaml) {
  return InitCheckForTest(check, yaml);
}

std::string SocketConfig() { return "stats_socket: " + haproxy->socket_path() + "\n"; }

std::string UrlConfig() {
  std::string password = haproxy->dir().Write("stats.password", "st4ts-pw\n");
  return "stats_url: " + haproxy->stats_url() + "\nusername: admin\npassword_file: " + password +
         "\n";
}

void ExpectServerCounts(const std::vector<Sample>& s) {
  EXPECT_EQ(Find(s, "haproxy.backend.up", Proxy("app")), 1.0);
  EXPECT_EQ(Find(s, "haproxy.backend.servers_up", Proxy("app")), 1.0);
  EXPECT_EQ(Find(s, "haproxy.backend.servers_down", Proxy("app")), 1.0);
  EXPECT_EQ(Find(s, "haproxy.backend.servers_maint", Proxy("app")), 0.0);
  // nocheck counts as up; maint (disabled) and drain as down, both deliberately so.
  EXPECT_EQ(Find(s, "haproxy.backend.up", Proxy("pool")), 1.0);
  EXPECT_EQ(Find(s, "haproxy.backend.servers_up", Proxy("pool")), 1.0);
  EXPECT_EQ(Find(s, "haproxy.backend.servers_down", Proxy("pool")), 2.0);
  EXPECT_EQ(Find(s, "haproxy.backend.servers_maint", Proxy("pool")), 2.0);
  EXPECT_EQ(Find(s, "haproxy.backend.up", Proxy("gone")), 0.0);
  EXPECT_EQ(Find(s, "haproxy.backend.servers_up", Proxy("gone")), 0.0);
  EXPECT_EQ(Find(s, "haproxy.backend.servers_down", Proxy("gone")), 2.0);
  EXPECT_EQ(Find(s, "haproxy.backend.up", Proxy("admin")), 1.0);
  EXPECT_EQ(Find(s, "haproxy.backend.servers_up", Proxy("admin")), 1.0);
}

TEST(HaproxyCheck, ServerCountsPerBackendOverTheStatsSocket) {
  HaproxyCheck check;
  ASSERT_THAT(InitWith(check, SocketConfig()), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectServerCounts(*s);
  // Gauges come from the first collection, rates do not.
  EXPECT_TRUE(Find(*s, "haproxy.sessions.current", Frontend("web")).has_value());
  EXPECT_TRUE(Find(*s, "haproxy.queue.current", Backend("app")).has_value());
  EXPECT_TRUE(Find(*s, "haproxy.queue.current", Server("app", "live")).has_value());
  EXPECT_FALSE(Find(*s, "haproxy.queue.current", Frontend("web")).has_value());
  EXPECT_FALSE(Find(*s, "haproxy.sessions_per_second", Frontend("web")).has_value());
  // A listen section's frontend and backend are told apart by `type`.
  EXPECT_TRUE(Find(*s, "haproxy.sessions.current", Frontend("admin")).has_value());
  EXPECT_TRUE(Find(*s, "haproxy.sessions.current", Backend("admin")).has_value());
}

TEST(HaproxyCheck, ServerCountsOverTheStatsPageWithBasicAuth) {
  HaproxyCheck check;
  ASSERT_THAT(InitWith(check, UrlConfig()), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  ExpectServerCounts(*s);
}

TEST(HaproxyCheck, WrongStatsPasswordIsAnError) {
  std::string password = haproxy->dir().Write("wrong.password", "nope\n");
  HaproxyCheck check;
  ASSERT_THAT(InitWith(check, "stats_url: " + haproxy->stats_url() +
                                  "\nusername: admin\npassword_file: " + password + "\n"),
              IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("HTTP status 401, expected 200"));
  EXPECT_THAT(std::string(s.status().message()), ::testing::Not(HasSubstr("nope")));
}

// 6 requests answered 200 and 4 answered 500 between two collections 10 s apart (the times
// passed to Collect; HAProxy's counters are exact whatever the real time).
TEST(HaproxyCheck, SessionAnd5xxRatesComeFromCounterDeltas) {
  HaproxyCheck check;
  ASSERT_THAT(InitWith(check, SocketConfig()), IsEmpty());
  ASSERT_TRUE(check.Collect(kT0).ok());
  for (int i = 0; i < 10; ++i) {
    long status = 0;
    testing::HttpGet(haproxy->web_url(i < 6 ? "/ok" : "/fail"), &status);
    ASSERT_EQ(status, i < 6 ? 200 : 500) << i;
  }
  // HAProxy closes a finished session a moment after the client has its answer.
  ASSERT_TRUE(testing::WaitFor(
      [] {
        std::string stat = SocketCommand(haproxy->socket_path(), "show stat");
        size_t at = stat.find("\nweb,FRONTEND,");
        if (at == std::string::npos) return false;
        std::vector<std::string> fields = absl::StrSplit(stat.substr(at + 1, 64), ',');
        return fields.size() > 4 && fields[4] == "0";  // scur
      },
      absl::Seconds(10)));
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(*Find(*s, "haproxy.sessions_per_second", Frontend("web")), 1.0);
  EXPECT_DOUBLE_EQ(*Find(*s, "haproxy.responses_5xx_per_second", Frontend("web")), 0.4);
  EXPECT_DOUBLE_EQ(*Find(*s, "haproxy.sessions_per_second", Backend("app")), 1.0);
  EXPECT_DOUBLE_EQ(*Find(*s, "haproxy.responses_5xx_per_second", Backend("app")), 0.4);
  // Every request went to the live server; the dead one got none.
  EXPECT_DOUBLE_EQ(*Find(*s, "haproxy.sessions_per_second", Server("app", "live")), 1.0);
  EXPECT_DOUBLE_EQ(*Find(*s, "haproxy.responses_5xx_per_second", Server("app", "live")), 0.4);
  EXPECT_DOUBLE_EQ(*Find(*s, "haproxy.sessions_per_second", Server("app", "dead")), 0.0);
  EXPECT_DOUBLE_EQ(*Find(*s, "haproxy.responses_5xx_per_second", Frontend("admin")), 0.0);
  EXPECT_EQ(Find(*s, "haproxy.sessions.current", Frontend("web")), 0.0);  // all answered
  EXPECT_EQ(Find(*s, "haproxy.queue.current", Backend("app")), 0.0);
  std::optional<double> rtime = Find(*s, "haproxy.response_time_avg_seconds", Backend("app"));
  ASSERT_TRUE(rtime.has_value());
  EXPECT_GE(*rtime, 0.0);
  EXPECT_LT(*rtime, 1.0);  // nginx answers at once
}

TEST(HaproxyCheck, ClearedCountersGiveNoNegativeRate) {
  HaproxyCheck check;
  ASSERT_THAT(InitWith(check, SocketConfig()), IsEmpty());
  for (int i = 0; i < 3; ++i) testing::HttpGet(haproxy->web_url("/fail"));
  ASSERT_TRUE(check.Collect(kT0).ok());
  SocketCommand(haproxy->socket_path(), "clear counters all");
  absl::StatusOr<std::vector<Sample>> s = check.Collect(kT0 + absl::Seconds(10));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(Find(*s, "haproxy.sessions_per_second", Frontend("web")).has_value());
  EXPECT_FALSE(Find(*s, "haproxy.responses_5xx_per_second", Frontend("web")).has_value());
  EXPECT_TRUE(Find(*s, "haproxy.sessions.current", Frontend("web")).has_value());
  // The next interval has rates again, from the cleared counters.
  testing::HttpGet(haproxy->web_url("/fail"));
  s = check.Collect(kT0 + absl::Seconds(20));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_DOUBLE_EQ(*Find(*s, "haproxy.responses_5xx_per_second", Frontend("web")), 0.1);
}

TEST(HaproxyCheck, StatsPageThatNeverAnswersFailsWithinTheTimeout) {
  HungServer hung;
  HaproxyCheck check;
  ASSERT_THAT(InitWith(check, absl::StrCat("stats_url: http://127.0.0.1:", hung.port(),
                                           "/stats\ntimeout: 2s\n")),
              IsEmpty());
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> s = check.Collect(start);
  absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded) << s.status();
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_EQ(hung.accepted(), 1);
}

TEST(HaproxyCheck, StatsSocketThatNeverAnswersFailsWithinTheTimeout) {
  std::string path = haproxy->dir().Join("hung.sock");
  HungServer hung(path);
  HaproxyCheck check;
  ASSERT_THAT(InitWith(check, "stats_socket: " + path + "\ntimeout: 2s\n"), IsEmpty());
  EXPECT_EQ(check.query_timeout(), absl::Milliseconds(1800));
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> s = check.Collect(start);
  absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(path + ": no complete answer"));
  EXPECT_GE(took, absl::Milliseconds(1750));
  EXPECT_LT(took, absl::Seconds(2));
}

TEST(HaproxyCheck, MissingSocketIsAnErrorNamingIt) {
  std::string path = haproxy->dir().Join("no-such.sock");
  HaproxyCheck check;
  ASSERT_THAT(InitWith(check, "stats_socket: " + path + "\n"), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(path + ": cannot connect"));
}

TEST(HaproxyCheck, APageThatIsNotStatisticsIsAnError) {
  HaproxyCheck html;  // nginx's /page answers "/page;csv" with an HTML page
  ASSERT_THAT(InitWith(html, "stats_url: " + haproxy->live_url("/page") + "\n"), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = html.Collect(absl::Now());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("/page;csv: line 1: header does not name pxname and svname"));

  HaproxyCheck missing;  // nginx answers "/ok;csv" with 404
  ASSERT_THAT(InitWith(missing, "stats_url: " + haproxy->live_url("/ok") + "\n"), IsEmpty());
  s = missing.Collect(absl::Now());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("HTTP status 404, expected 200"));
}

TEST(HaproxyCheck, ConfigErrors) {
  HaproxyCheck a;
  EXPECT_THAT(InitWith(a, "timeout: 1s\n"),
              ElementsAre(HasSubstr("stats_socket: exactly one of stats_socket")));
  HaproxyCheck b;
  EXPECT_THAT(InitWith(b, "stats_socket: run/haproxy.sock\nusername: admin\nproxies: [web]\n"),
              ElementsAre(HasSubstr("1:15: stats_socket: must be an absolute path"),
                          HasSubstr("2:11: username: applies to stats_url only"),
                          HasSubstr("3:1: unknown key 'proxies'")));
  HaproxyCheck c;
  EXPECT_THAT(InitWith(c, "stats_url: ftp://x/stats\npassword_env: PW\n"),
              ElementsAre(HasSubstr("stats_url: must start with http://"),
                          HasSubstr("password_env: a password needs a username")));
  HaproxyCheck d;
  EXPECT_THAT(InitWith(d, "stats_socket: /run/haproxy.sock\nstats_url: http://127.0.0.1/\n"),
              ElementsAre(HasSubstr("2:12: stats_url: exactly one of")));
}

}  // namespace
}  // namespace vigil::agent
