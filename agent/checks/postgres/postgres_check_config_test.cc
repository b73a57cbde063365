#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/checks/postgres/postgres_check.h"
#include "common/config_reader.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// The check's config and its behaviour against endpoints that are not PostgreSQL servers (no
// server needed): a port nobody listens on, and a listener that accepts and never answers.

namespace vigil::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::vector<std::string> InitWith(PostgresCheck& check, const std::string& yaml) {
  absl::StatusOr<YAML::Node> node = LoadYamlString(yaml, "agent.yaml");
  EXPECT_TRUE(node.ok()) << node.status();
  ConfigErrors errors("agent.yaml");
  ConfigMap config(*node, &errors);
  EXPECT_TRUE(check.Init(config).ok());
  config.Finish();
  return errors.messages();
}

TEST(PostgresCheckConfig, EmptyConfigUsesDefaults) {
  PostgresCheck check;
  EXPECT_THAT(InitWith(check, "{}"), IsEmpty());
}

TEST(PostgresCheckConfig, AcceptsEveryDocumentedKey) {
  testing::TempDir dir;
  std::string ca = dir.Write("ca.pem", "not parsed at Init\n");
  PostgresCheck check;
  EXPECT_THAT(InitWith(check, absl::StrCat("host: db1.example\n"
                                           "port: 5433\n"
                                           "user: vigil\n"
                                           "dbname: app\n"
                                           "password_file: /etc/vigil/pg.password\n"
                                           "passfile: /etc/vigil/pgpass\n"
                                           "sslmode: verify-full\n"
                                           "sslrootcert: ",
                                           ca,
                                           "\n"
                                           "connect_timeout: 2s\n"
                                           "query_timeout: 1500ms\n")),
              IsEmpty());
}

TEST(PostgresCheckConfig, ProblemsAreReportedWithTheirPosition) {
  PostgresCheck check;
  EXPECT_THAT(InitWith(check,
                       "host: ''\n"
                       "port: 70000\n"
                       "sslmode: required\n"
                       "sslrootcert: /nonexistent/ca.pem\n"
                       "query_timeout: 0s\n"
                       "database: app\n"),
              ElementsAre("agent.yaml:1:7: host: must not be empty",
                          "agent.yaml:2:7: port: 70000 is out of range [1, 65535]",
                          "agent.yaml:3:10: sslmode: 'required' is not one of disable, allow, "
                          "prefer, require, verify-ca, verify-full",
                          "agent.yaml:4:14: sslrootcert: '/nonexistent/ca.pem' is not a "
                          "readable file",
                          "agent.yaml:5:16: query_timeout: must be at least 1ms",
                          "agent.yaml:6:1: unknown key 'database'"));
}

TEST(PostgresCheckConfig, PasswordIsNeverInline) {
  PostgresCheck check;
  std::vector<std::string> errors = InitWith(check, "password: hunter2\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("password_file"));
  EXPECT_THAT(errors[0], Not(HasSubstr("hunter2")));

  PostgresCheck both;
  EXPECT_THAT(InitWith(both, "password_file: /x\npassword_env: PGPW\n"),
              ElementsAre(HasSubstr("not both")));
}

TEST(PostgresCheck, MissingPasswordFileFailsNamingTheFile) {
  testing::TempDir dir;
  PostgresCheck check;
  ASSERT_THAT(InitWith(check, absl::StrCat("host: 127.0.0.1\nport: ", testing::FreePort(),
                                           "\npassword_file: ", dir.Join("missing"), "\n")),
              IsEmpty());
  absl::StatusOr<std::vector<Sample>> r = check.Collect(absl::Now());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(dir.Join("missing")));
}

TEST(PostgresCheck, RefusedConnectionFailsAtOnce) {
  PostgresCheck check;
  const int port = testing::FreePort();
  ASSERT_THAT(InitWith(check, absl::StrCat("host: 127.0.0.1\nport: ", port, "\n")), IsEmpty());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> r = check.Collect(start);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("postgres 127.0.0.1:", port, ": ")));
  EXPECT_THAT(r.status().message(), HasSubstr("Connection refused"));
}

// A TCP listener whose backlog completes the handshake but which never accepts or answers: a
// hung server as the agent sees it.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(PostgresCheck, ServerThatNeverAnswersFailsWithinConnectTimeout) {
  SilentListener hung;
  for (const char* sslmode : {"prefer", "disable"}) {
    PostgresCheck check;
    ASSERT_THAT(InitWith(check, absl::StrCat("host: 127.0.0.1\nport: ", hung.port(),
                                             "\nsslmode: ", sslmode, "\nconnect_timeout: 1s\n")),
                IsEmpty());
    const absl::Time start = absl::Now();
    absl::StatusOr<std::vector<Sample>> r = check.Collect(start);
    const absl::Duration took = absl::Now() - start;
    ASSERT_FALSE(r.ok()) << sslmode;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr("not established within 1s"));
    EXPECT_GE(took, absl::Milliseconds(950)) << sslmode;
    EXPECT_LT(took, absl::Seconds(3)) << sslmode;
  }
}

}  // namespace
}  // namespace vigil::agent
