#include "agent/checks/http/http_check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
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

constexpr char kNginx[] = "/usr/sbin/nginx";
constexpr char kOpenssl[] = "/usr/bin/openssl";

// A loopback listener that accepts connections and never answers (a hung server). Connections
// are held open until destruction.
class HungServer {
 public:
  HungServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    port_ = testing::FreePort();
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
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

// One nginx per test binary, serving plain HTTP and HTTPS (a certificate made by `openssl`
// valid for 30 days), with a location proxied to a hung upstream.
class NginxEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    ASSERT_EQ(access(kNginx, X_OK), 0)
        << kNginx << " is missing: install the nginx package (scripts/install-deps.sh does)";
    ASSERT_EQ(access(kOpenssl, X_OK), 0)
        << kOpenssl << " is missing: install the openssl package (scripts/install-deps.sh does)";
    dir_ = std::make_unique<testing::TempDir>();
    hung_ = std::make_unique<HungServer>();
    const std::string d = dir_->path();

    testing::Process openssl(
        {kOpenssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d + "/key.pem",
         "-out", d + "/cert.pem", "-days", "30", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"},
        d + "/openssl.out", d + "/openssl.err");
    ASSERT_EQ(openssl.Wait(absl::Seconds(60)), 0) << testing::ReadFile(d + "/openssl.err");

    dir_->Write("htpasswd", "probe:{PLAIN}s3cret-pw\n");
    dir_->Write("private.txt", "private ok\n");
    http_port_ = testing::FreePort();
    https_port_ = testing::FreePort();
    dir_->Write(
        "nginx.conf",
        absl::StrCat(
            "daemon off; user root; pid ", d, "/nginx.pid; error_log ", d, "/error.log;\n",
            "events {}\nhttp { client_body_temp_path ", d, "/t1; proxy_temp_path ", d,
            "/t2; fastcgi_temp_path ", d, "/t3; uwsgi_temp_path ", d, "/t4; scgi_temp_path ", d,
            "/t5;\n access_log ", d, "/access.log;\n", " server { listen 127.0.0.1:", http_port_,
            ";\n", "  location = /health { return 200 \"database: ok\\ncache: ok\\n\"; }\n",
            "  location = /fail { return 500 \"database: unreachable\\n\"; }\n",
            "  location = /moved { return 302 /health; }\n",
            // `return` would answer before the access phase: serve a file to have auth apply.
            "  location = /private { auth_basic \"vigil\"; auth_basic_user_file ", d,
            "/htpasswd; default_type text/plain; alias ", d, "/private.txt; }\n",
            "  location = /needs-header { if ($http_x_probe != \"yes\") { return 403; } return "
            "200; "
            "}\n",
            "  location = /hang { proxy_read_timeout 60s; proxy_pass http://127.0.0.1:",
            hung_->port(), "; }\n", " }\n", " server { listen 127.0.0.1:", https_port_,
            " ssl; ssl_certificate ", d, "/cert.pem; ssl_certificate_key ", d, "/key.pem;\n",
            "  location = /health { return 200 \"database: ok\\n\"; } }\n}\n"));
    nginx_ = std::make_unique<testing::Process>(
        std::vector<std::string>{kNginx, "-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"},
        d + "/nginx.out", d + "/nginx.err");
    bool up = testing::WaitFor(
        [&] {
          long status = 0;
          testing::HttpGet(Url("/health"), &status);
          return status == 200;
        },
        absl::Seconds(20));
    ASSERT_TRUE(up) << "nginx did not start: " << testing::ReadFile(d + "/error.log")
                    << nginx_->Stderr();
  }

  void TearDown() override {
    if (nginx_) nginx_->Stop(SIGQUIT);
    nginx_.reset();
    hung_.reset();
    dir_.reset();
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", http_port_, path);
  }
  std::string HttpsUrl(const std::string& path) const {
    return absl::StrCat("https://127.0.0.1:", https_port_, path);
  }
  std::string CaFile() const { return dir_->Join("cert.pem"); }
  const testing::TempDir& dir() const { return *dir_; }

 private:
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<HungServer> hung_;
  std::unique_ptr<testing::Process> nginx_;
  int http_port_ = 0;
  int https_port_ = 0;
};

NginxEnvironment* const nginx = static_cast<NginxEnvironment*>(
    ::testing::AddGlobalTestEnvironment(new NginxEnvironment));  // owned by gtest

// Runs Init with `yaml` (the check's keys, as under `checks:`) and returns the config errors.
std::vector<std::string> InitWith(HttpCheck& check, const std::string& yaml) {
  return InitCheckForTest(check, yaml);
}

std::vector<Sample> Probe(const std::string& yaml) {
  HttpCheck check;
  EXPECT_THAT(InitWith(check, yaml), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : std::vector<Sample>{};
}

// Captures what is written to stderr (the log) while alive.
class StderrCapture {
 public:
  explicit StderrCapture(const std::string& path) : path_(path) {
    fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~StderrCapture() { Restore(); }
  std::string Restore() {
    if (saved_ >= 0) {
      fflush(stderr);
      dup2(saved_, STDERR_FILENO);
      close(saved_);
      saved_ = -1;
    }
    return testing::ReadFile(path_);
  }

 private:
  std::string path_;
  int saved_ = -1;
};

TEST(HttpCheck, HealthyPageIsUpWithStatusAndLatency) {
  std::vector<Sample> s = Probe("url: " + nginx->Url("/health") + "\nbody_contains: 'cache: ok'\n");
  EXPECT_EQ(FindSample(s, "http.up"), 1.0);
  EXPECT_EQ(FindSample(s, "http.status_code"), 200.0);
  ASSERT_TRUE(FindSample(s, "http.response_time_seconds").has_value());
  EXPECT_GT(*FindSample(s, "http.response_time_seconds"), 0.0);
  EXPECT_LT(*FindSample(s, "http.response_time_seconds"), 5.0);
  EXPECT_FALSE(FindSample(s, "http.tls.certificate_days_left").has_value());  // plain http
}

TEST(HttpCheck, Status500IsDownButReportsTheStatus) {
  std::vector<Sample> s = Probe("url: " + nginx->Url("/fail") + "\n");
  EXPECT_EQ(FindSample(s, "http.up"), 0.0);
  EXPECT_EQ(FindSample(s, "http.status_code"), 500.0);
  EXPECT_TRUE(FindSample(s, "http.response_time_seconds").has_value());
}

TEST(HttpCheck, ExpectedStatusCanAcceptAnError) {
  std::vector<Sample> s = Probe("url: " + nginx->Url("/fail") + "\nexpected_status: [500]\n");
  EXPECT_EQ(FindSample(s, "http.up"), 1.0);
  s = Probe("url: " + nginx->Url("/health") + "\nexpected_status: [5xx, 404]\n");
  EXPECT_EQ(FindSample(s, "http.up"), 0.0);
  EXPECT_EQ(FindSample(s, "http.status_code"), 200.0);
}

TEST(HttpCheck, MissingBodyTextIsDown) {
  std::vector<Sample> s =
      Probe("url: " + nginx->Url("/health") + "\nbody_contains: 'database: down'\n");
  EXPECT_EQ(FindSample(s, "http.up"), 0.0);
  EXPECT_EQ(FindSample(s, "http.status_code"), 200.0);
}

TEST(HttpCheck, HeadRequestGetsTheStatus) {
  std::vector<Sample> s = Probe("url: " + nginx->Url("/fail") + "\nmethod: HEAD\n");
  EXPECT_EQ(FindSample(s, "http.up"), 0.0);
  EXPECT_EQ(FindSample(s, "http.status_code"), 500.0);
}

TEST(HttpCheck, RedirectIsAnAnswerUnlessFollowed) {
  std::vector<Sample> s = Probe("url: " + nginx->Url("/moved") + "\n");
  EXPECT_EQ(FindSample(s, "http.status_code"), 302.0);
  EXPECT_EQ(FindSample(s, "http.up"), 1.0);  // 3xx is expected by default
  s = Probe("url: " + nginx->Url("/moved") +
            "\nfollow_redirects: true\nbody_contains: 'database: ok'\n");
  EXPECT_EQ(FindSample(s, "http.status_code"), 200.0);
  EXPECT_EQ(FindSample(s, "http.up"), 1.0);
}

TEST(HttpCheck, BasicAuthPasswordComesFromAFile) {
  std::string file = nginx->dir().Write("probe.password", "s3cret-pw\n");
  std::vector<Sample> s =
      Probe("url: " + nginx->Url("/private") + "\nusername: probe\npassword_file: " + file + "\n");
  EXPECT_EQ(FindSample(s, "http.status_code"), 200.0);
  EXPECT_EQ(FindSample(s, "http.up"), 1.0);
  s = Probe("url: " + nginx->Url("/private") + "\n");
  EXPECT_EQ(FindSample(s, "http.status_code"), 401.0);
  EXPECT_EQ(FindSample(s, "http.up"), 0.0);
}

TEST(HttpCheck, UnreadablePasswordFailsTheCollectionWithoutLeakingIt) {
  std::string file = nginx->dir().Join("no-such-password");
  HttpCheck check;
  ASSERT_THAT(InitWith(check, "url: " + nginx->Url("/private") +
                                  "\nusername: probe\npassword_file: " + file + "\n"),
              IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr(file));
}

TEST(HttpCheck, RequestHeadersAreSent) {
  std::vector<Sample> s = Probe("url: " + nginx->Url("/needs-header") + "\n");
  EXPECT_EQ(FindSample(s, "http.status_code"), 403.0);
  s = Probe("url: " + nginx->Url("/needs-header") + "\nheaders: {X-Probe: 'yes'}\n");
  EXPECT_EQ(FindSample(s, "http.status_code"), 200.0);
  EXPECT_EQ(FindSample(s, "http.up"), 1.0);
}

TEST(HttpCheck, HungUpstreamIsDownWithinTheTimeout) {
  HttpCheck check;
  ASSERT_THAT(InitWith(check, "url: " + nginx->Url("/hang") + "\ntimeout: 2s\n"), IsEmpty());
  EXPECT_EQ(check.request_timeout(), absl::Milliseconds(1800));
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> s = check.Collect(start);
  absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "http.up"), 0.0);
  EXPECT_FALSE(FindSample(*s, "http.status_code").has_value());
  EXPECT_GE(took, absl::Milliseconds(1750));
  EXPECT_LT(took, absl::Seconds(2));
}

TEST(HttpCheck, ServerThatAcceptsAndNeverAnswersIsDownWithinTheTimeout) {
  HungServer hung;
  HttpCheck check;
  ASSERT_THAT(InitWith(check, absl::StrCat("url: http://127.0.0.1:", hung.port(),
                                           "/health\ninterval: 2s\n")),
              IsEmpty());
  // No timeout key: the scheduler's default is the interval capped at 10 s, 90% of it here.
  EXPECT_EQ(check.request_timeout(), absl::Milliseconds(1800));
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> s = check.Collect(start);
  absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "http.up"), 0.0);
  EXPECT_LT(took, absl::Seconds(2));
  EXPECT_EQ(hung.accepted(), 1);
}

TEST(HttpCheck, ConnectionRefusedIsDown) {
  std::vector<Sample> s =
      Probe(absl::StrCat("url: http://127.0.0.1:", testing::FreePort(), "/health\n"));
  EXPECT_EQ(FindSample(s, "http.up"), 0.0);
  EXPECT_FALSE(FindSample(s, "http.status_code").has_value());
  EXPECT_FALSE(FindSample(s, "http.response_time_seconds").has_value());
}

TEST(HttpCheck, TlsCertificateDaysLeftComesFromTheServerCertificate) {
  std::vector<Sample> s =
      Probe("url: " + nginx->HttpsUrl("/health") + "\ntls: {ca_file: " + nginx->CaFile() + "}\n");
  EXPECT_EQ(FindSample(s, "http.up"), 1.0);
  EXPECT_EQ(FindSample(s, "http.status_code"), 200.0);
  std::optional<double> days = FindSample(s, "http.tls.certificate_days_left");
  ASSERT_TRUE(days.has_value());  // openssl req -days 30, made when the test started
  EXPECT_GT(*days, 29.0);
  EXPECT_LE(*days, 30.0);
}

TEST(HttpCheck, RelativeCaFileIsFoundBesideTheConfigFile) {
  absl::StatusOr<YAML::Node> node = LoadYamlString(
      "url: " + nginx->HttpsUrl("/health") + "\ntls: {ca_file: cert.pem}\n", "agent.yaml");
  ASSERT_TRUE(node.ok()) << node.status();
  ConfigErrors errors(nginx->dir().Join("agent.yaml"));  // cert.pem is in the same directory
  ConfigMap config(*node, &errors);
  HttpCheck check;
  ASSERT_TRUE(check.Init(config).ok());
  config.Finish();
  ASSERT_THAT(errors.messages(), IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FindSample(*s, "http.up"), 1.0);
}

TEST(HttpCheck, UnverifiableCertificateIsDownUnlessVerificationIsSkipped) {
  std::vector<Sample> s = Probe("url: " + nginx->HttpsUrl("/health") + "\n");  // system CAs
  EXPECT_EQ(FindSample(s, "http.up"), 0.0);
  EXPECT_FALSE(FindSample(s, "http.status_code").has_value());

  s = Probe("url: " + nginx->HttpsUrl("/health") + "\ntls: {insecure_skip_verify: true}\n");
  EXPECT_EQ(FindSample(s, "http.up"), 1.0);
  std::optional<double> days = FindSample(s, "http.tls.certificate_days_left");
  ASSERT_TRUE(days.has_value());
  EXPECT_GT(*days, 29.0);
  EXPECT_LE(*days, 30.0);
}

TEST(HttpCheck, FailureIsLoggedOncePerChangeOfUp) {
  HttpCheck check;
  ASSERT_THAT(InitWith(check, "url: " + nginx->Url("/fail") + "\n"), IsEmpty());
  HttpCheck healthy;
  ASSERT_THAT(InitWith(healthy, "url: " + nginx->Url("/health") + "\n"), IsEmpty());
  StderrCapture capture(nginx->dir().Join("stderr.log"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(check.Collect(absl::Now()).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(healthy.Collect(absl::Now()).ok());
  std::string log = capture.Restore();
  std::vector<std::string> lines = absl::StrSplit(log, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << log;
  EXPECT_THAT(lines[0], HasSubstr("probe fails: status 500 is not an expected status"));
  EXPECT_THAT(lines[0], HasSubstr("/fail"));
  EXPECT_THAT(lines[1], HasSubstr("/health: probe succeeds (status 200)"));
}

TEST(HttpCheck, ConfigErrorsNameTheKey) {
  HttpCheck check;
  std::vector<std::string> errors =
      InitWith(check,
               "url: ftp://example.com/\nmethod: POST\nexpected_status: [abc]\n"
               "password_env: PW\nfollow_redirect: true\n");
  EXPECT_THAT(errors, ElementsAre(HasSubstr("1:6: url: 'ftp://example.com/' must start with http"),
                                  HasSubstr("2:9: method: must be GET or HEAD, got 'POST'"),
                                  HasSubstr("3:18: expected_status: 'abc' is not a status code"),
                                  HasSubstr("4:15: password_env: a password needs a username"),
                                  HasSubstr("5:1: unknown key 'follow_redirect'")));
}

TEST(HttpCheck, UrlIsRequiredAndCredentialsStayOutOfIt) {
  HttpCheck a;
  EXPECT_THAT(InitWith(a, "method: GET\n"), ElementsAre(HasSubstr("url: required")));
  HttpCheck b;
  EXPECT_THAT(InitWith(b, "url: http://user:pw@127.0.0.1/x?token=abc\n"),
              ElementsAre(AllOf(HasSubstr("must not contain user information"),
                                ::testing::Not(HasSubstr("token=abc")))));
  HttpCheck c;
  EXPECT_THAT(InitWith(c, "url: http://127.0.0.1/\nmethod: HEAD\nbody_contains: ok\n"),
              ElementsAre(HasSubstr("HEAD request has no body")));
}

TEST(ExpectedStatus, DefaultIsAny2xxOr3xx) {
  ExpectedStatus e;
  EXPECT_FALSE(e.Matches(199));
  EXPECT_TRUE(e.Matches(200));
  EXPECT_TRUE(e.Matches(399));
  EXPECT_FALSE(e.Matches(404));
  EXPECT_TRUE(e.Add("2xx"));
  EXPECT_TRUE(e.Add("404"));
  EXPECT_FALSE(e.Matches(301));
  EXPECT_TRUE(e.Matches(404));
  EXPECT_TRUE(e.Matches(204));
  for (const char* bad : {"", "2x", "20", "2000", "600", "099", "abc", "6xx", "x00"}) {
    EXPECT_FALSE(e.Add(bad)) << bad;
  }
}

}  // namespace
}  // namespace vigil::agent
