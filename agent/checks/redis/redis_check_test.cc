#include "agent/checks/redis/redis_check.h"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/checks/check_testing.h"
#include "common/config_reader.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// The `redis` check against real Redis 7 servers started once for this binary on loopback:
// a master, a replica of it, and a standalone server with an ACL user, a default-user password
// and a unix socket (TEST-ENVIRONMENT.md section 2).

namespace vigil::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kRedisServer[] = "/usr/bin/redis-server";
constexpr char kRedisBenchmark[] = "/usr/bin/redis-benchmark";
constexpr char kAlicePassword[] = "alice-S3cret!";
constexpr char kDefaultPassword[] = "default-pw-42";

// Runs one command on a server (the test's own client, not the check's).
std::string Command(int port, const std::vector<std::string>& args,
                    const std::string& password = "") {
  timeval tv{5, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == nullptr || c->err != 0) {
    std::string e = c != nullptr ? c->errstr : "oom";
    redisFree(c);
    return "connect error: " + e;
  }
  redisSetTimeout(c, tv);
  if (!password.empty()) {
    freeReplyObject(redisCommand(c, "AUTH %b", password.data(), password.size()));
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  std::string out;
  if (r == nullptr) {
    out = std::string("error: ") + c->errstr;
  } else if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
             r->type == REDIS_REPLY_ERROR) {
    out.assign(r->str, r->len);
  } else if (r->type == REDIS_REPLY_INTEGER) {
    out = std::to_string(r->integer);
  }
  freeReplyObject(r);
  redisFree(c);
  return out;
}

bool Pings(int port, const std::string& password = "") {
  return Command(port, {"PING"}, password) == "PONG";
}

class RedisCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // As in the agent (common/program.cc): a write to a connection the server closed must
    // fail with EPIPE, not end the process.
    signal(SIGPIPE, SIG_IGN);
    if (access(kRedisServer, X_OK) != 0 || access(kRedisBenchmark, X_OK) != 0) {
      setup_error_ = new std::string(
          "redis-server and redis-benchmark are required (Debian packages redis-server and "
          "redis-tools; scripts/install-deps.sh installs them)");
      return;
    }
    dir_ = new testing::TempDir();
    master_port_ = testing::FreePort();
    replica_port_ = testing::FreePort();
    while (replica_port_ == master_port_) replica_port_ = testing::FreePort();
    standalone_port_ = testing::FreePort();
    while (standalone_port_ == master_port_ || standalone_port_ == replica_port_) {
      standalone_port_ = testing::FreePort();
    }
    StartMaster();
    replica_ = Start("replica", replica_port_,
                     {"--replicaof", "127.0.0.1", std::to_string(master_port_),
                      "--repl-diskless-load", "on-empty-db"});
    // alice has only what the check needs (the ACL documented for the agent's user).
    standalone_ = Start("standalone", standalone_port_,
                        {"--requirepass", kDefaultPassword, "--user", "alice", "on",
                         std::string(">") + kAlicePassword, "+info", "--unixsocket",
                         dir_->Join("redis.sock"), "--unixsocketperm", "700"});
    bool up = testing::WaitFor(
        [] {
          return Pings(master_port_) && Pings(replica_port_) &&
                 Pings(standalone_port_, kDefaultPassword);
        },
        absl::Seconds(20));
    if (!up) {
      setup_error_ = new std::string(absl::StrCat(
          "redis servers did not start; master log: ", master_->Stdout(),
          "\nreplica log: ", replica_->Stdout(), "\nstandalone log: ", standalone_->Stdout()));
      return;
    }
    if (!WaitForLinkUp(absl::Seconds(20))) {
      setup_error_ =
          new std::string("the replica did not connect to the master: " + replica_->Stdout());
    }
  }

  static void TearDownTestSuite() {
    for (testing::Process** p : {&master_, &replica_, &standalone_}) {
      if (*p != nullptr) (*p)->Stop(SIGTERM);
      delete *p;
      *p = nullptr;
    }
    delete dir_;
    dir_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  void SetUp() override { ASSERT_EQ(setup_error_, nullptr) << *setup_error_; }

  static testing::Process* Start(const std::string& name, int port,
                                 const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {
        kRedisServer, "--bind", "127.0.0.1",    "--port", std::to_string(port),
        "--save",     "",       "--appendonly", "no",     "--daemonize",
        "no",         "--dir",  dir_->path()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return new testing::Process(argv, dir_->Join(name + ".log"), dir_->Join(name + ".log"));
  }

  static void StartMaster() {
    master_ = Start("master", master_port_, {"--repl-diskless-sync-delay", "0"});
  }

  static bool WaitForLinkUp(absl::Duration timeout) {
    return testing::WaitFor(
        [] {
          return Command(replica_port_, {"INFO", "replication"}).find("master_link_status:up") !=
                 std::string::npos;
        },
        timeout);
  }

  // Init with `yaml`; returns the config errors.
  static std::vector<std::string> InitWith(RedisCheck& check, const std::string& yaml) {
    return InitCheckForTest(check, yaml);
  }

  static std::unique_ptr<RedisCheck> CheckOn(int port, const std::string& extra = "") {
    auto check = std::make_unique<RedisCheck>();
    EXPECT_THAT(InitWith(*check, absl::StrCat("port: ", port, "\ntimeout: 5s\n", extra)),
                IsEmpty());
    return check;
  }

  static std::vector<Sample> MustCollect(RedisCheck& check) {
    absl::StatusOr<std::vector<Sample>> r = check.Collect(absl::Now());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<Sample>{};
  }

  static testing::TempDir* dir_;
  static testing::Process* master_;
  static testing::Process* replica_;
  static testing::Process* standalone_;
  static int master_port_, replica_port_, standalone_port_;
  static std::string* setup_error_;
};

testing::TempDir* RedisCheckTest::dir_ = nullptr;
testing::Process* RedisCheckTest::master_ = nullptr;
testing::Process* RedisCheckTest::replica_ = nullptr;
testing::Process* RedisCheckTest::standalone_ = nullptr;
int RedisCheckTest::master_port_ = 0;
int RedisCheckTest::replica_port_ = 0;
int RedisCheckTest::standalone_port_ = 0;
std::string* RedisCheckTest::setup_error_ = nullptr;

TEST_F(RedisCheckTest, MasterReportsItsReplicaWithZeroLagWhenIdle) {
  auto check = CheckOn(master_port_);
  const Labels replica = {{"replica", absl::StrCat("127.0.0.1:", replica_port_)}};
  std::vector<Sample> samples;
  // The replica acknowledges every second; the master's periodic PING moves its offset.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        samples = MustCollect(*check);
        return FindSample(samples, "redis.replication.lag_bytes", replica) == 0;
      },
      absl::Seconds(15)));
  EXPECT_EQ(FindSample(samples, "redis.replication.is_master"), 1);
  EXPECT_EQ(FindSample(samples, "redis.replication.connected_replicas"), 1);
  EXPECT_FALSE(FindSample(samples, "redis.replication.master_link_up").has_value());
  // connected_clients leaves out replicas: the check's own connection.
  EXPECT_GE(FindSample(samples, "redis.clients.connected").value_or(0), 1);
  EXPECT_GT(FindSample(samples, "redis.memory.used_bytes").value_or(0), 100'000);
}

TEST_F(RedisCheckTest, ReplicaReportsLinkUpAndRecentMasterIo) {
  auto check = CheckOn(replica_port_);
  std::vector<Sample> samples = MustCollect(*check);
  EXPECT_EQ(FindSample(samples, "redis.replication.is_master"), 0);
  EXPECT_EQ(FindSample(samples, "redis.replication.master_link_up"), 1);
  ASSERT_TRUE(FindSample(samples, "redis.replication.master_last_io_seconds").has_value());
  // The master pings its replicas every 10 s (repl-ping-replica-period).
  EXPECT_LE(*FindSample(samples, "redis.replication.master_last_io_seconds"), 11);
  EXPECT_EQ(FindSample(samples, "redis.replication.sync_in_progress"), 0);
}

TEST_F(RedisCheckTest, StoppedReplicaMakesMasterLagGrowAndResumingBringsItBack) {
  auto check = CheckOn(master_port_);
  const Labels replica = {{"replica", absl::StrCat("127.0.0.1:", replica_port_)}};
  replica_->Signal(SIGSTOP);
  std::string value(10'000, 'x');
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Command(master_port_, {"SET", absl::StrCat("lag:", i), value}), "OK");
  }
  std::vector<Sample> samples = MustCollect(*check);
  replica_->Signal(SIGCONT);
  // At least the 20 values written while the replica could not acknowledge them.
  EXPECT_GE(FindSample(samples, "redis.replication.lag_bytes", replica).value_or(0), 200'000);
  EXPECT_TRUE(testing::WaitFor(
      [&] { return FindSample(MustCollect(*check), "redis.replication.lag_bytes", replica) == 0; },
      absl::Seconds(15)));
}

TEST_F(RedisCheckTest, MasterLinkGoesDownWithinAnIntervalOfStoppingTheMasterAndUpAfterRestart) {
  const absl::Duration interval = absl::Seconds(1);
  auto replica_check = CheckOn(replica_port_);
  auto master_check = CheckOn(master_port_);
  EXPECT_EQ(FindSample(MustCollect(*replica_check), "redis.replication.master_link_up"), 1);
  MustCollect(*master_check);  // keeps a connection the restart will break

  ASSERT_EQ(master_->Stop(SIGTERM), 0);
  const absl::Time stopped = absl::Now();
  std::vector<Sample> samples;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        samples = MustCollect(*replica_check);
        return FindSample(samples, "redis.replication.master_link_up") == 0;
      },
      interval))
      << "master_link_up still 1 one interval after the master stopped";
  EXPECT_LT(absl::Now() - stopped, interval);
  EXPECT_FALSE(FindSample(samples, "redis.replication.master_last_io_seconds").has_value());
  // The stopped master itself: the check fails.
  absl::StatusOr<std::vector<Sample>> gone = master_check->Collect(absl::Now());
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kUnavailable) << gone.status();
  EXPECT_THAT(gone.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", master_port_)));

  delete master_;
  StartMaster();
  ASSERT_TRUE(testing::WaitFor([] { return Pings(master_port_); }, absl::Seconds(20)))
      << master_->Stdout();
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return FindSample(MustCollect(*replica_check), "redis.replication.master_link_up") == 1;
      },
      absl::Seconds(30)))
      << "the replica did not report its link up after the master restarted";
  // The master's check reconnects by itself; a new server run gives no rates yet.
  std::vector<Sample> after = MustCollect(*master_check);
  EXPECT_EQ(FindSample(after, "redis.replication.is_master"), 1);
  EXPECT_FALSE(FindSample(after, "redis.ops_per_second").has_value());
}

TEST_F(RedisCheckTest, CpuAndOpsRiseUnderBenchmarkLoad) {
  auto check = CheckOn(master_port_);
  MustCollect(*check);
  absl::SleepFor(absl::Seconds(1));  // an idle measurement interval, not a wait for a condition
  std::vector<Sample> idle = MustCollect(*check);
  ASSERT_TRUE(FindSample(idle, "redis.cpu_pct").has_value());
  ASSERT_TRUE(FindSample(idle, "redis.ops_per_second").has_value());

  const absl::Time start = absl::Now();
  MustCollect(*check);
  testing::Process bench({kRedisBenchmark, "-h", "127.0.0.1", "-p", std::to_string(master_port_),
                          "-n", "50000", "-c", "10", "-t", "set,get", "-q"},
                         dir_->Join("bench.out"), dir_->Join("bench.err"));
  ASSERT_EQ(bench.Wait(absl::Seconds(120)), 0) << bench.Stderr();
  std::vector<Sample> load = MustCollect(*check);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  ASSERT_TRUE(FindSample(load, "redis.cpu_pct").has_value());
  ASSERT_TRUE(FindSample(load, "redis.ops_per_second").has_value());
  EXPECT_GT(*FindSample(load, "redis.cpu_pct"), *FindSample(idle, "redis.cpu_pct"));
  EXPECT_GT(*FindSample(load, "redis.cpu_pct"), 5) << "a benchmark should keep Redis busy";
  // 50000 SETs and 50000 GETs ran between the two INFOs, which were less than `seconds` apart.
  EXPECT_GE(*FindSample(load, "redis.ops_per_second"), 100'000 / seconds);
  EXPECT_GT(*FindSample(load, "redis.ops_per_second"),
            10 * *FindSample(idle, "redis.ops_per_second"));
  // redis-benchmark GETs the keys it SETs.
  EXPECT_GT(FindSample(load, "redis.keyspace.hit_ratio").value_or(0), 0.9);
}

TEST_F(RedisCheckTest, HitRatioCountsTheIntervalsLookups) {
  auto check = CheckOn(standalone_port_, std::string("password_env: VIGIL_TEST_REDIS_PW\n"));
  setenv("VIGIL_TEST_REDIS_PW", kDefaultPassword, 1);
  MustCollect(*check);
  ASSERT_EQ(Command(standalone_port_, {"SET", "hit", "1"}, kDefaultPassword), "OK");
  ASSERT_EQ(Command(standalone_port_, {"GET", "hit"}, kDefaultPassword), "1");
  ASSERT_EQ(Command(standalone_port_, {"GET", "hit"}, kDefaultPassword), "1");
  ASSERT_EQ(Command(standalone_port_, {"GET", "missing"}, kDefaultPassword), "");
  std::vector<Sample> samples = MustCollect(*check);
  ASSERT_TRUE(FindSample(samples, "redis.keyspace.hit_ratio").has_value());
  EXPECT_DOUBLE_EQ(*FindSample(samples, "redis.keyspace.hit_ratio"), 2.0 / 3.0);
  // No lookups since: no ratio at all rather than 0.
  EXPECT_FALSE(FindSample(MustCollect(*check), "redis.keyspace.hit_ratio").has_value());
  unsetenv("VIGIL_TEST_REDIS_PW");
}

TEST_F(RedisCheckTest, ExpiredAndEvictedKeysAreCountedPerSecond) {
  // Over the unix socket, with the default user's password from a file.
  auto check = std::make_unique<RedisCheck>();
  ASSERT_THAT(InitWith(*check, "unix_socket: " + dir_->Join("redis.sock") + "\npassword_file: " +
                                   dir_->Write("default.pw", kDefaultPassword) + "\n"),
              IsEmpty());
  MustCollect(*check);
  ASSERT_EQ(Command(standalone_port_, {"SET", "soon", "1", "PX", "1"}, kDefaultPassword), "OK");
  // Reading the key after its expiry removes it and counts it as expired.
  ASSERT_TRUE(testing::WaitFor(
      [] {
        return Command(standalone_port_, {"EXISTS", "soon"}, kDefaultPassword) == "0";
      },
      absl::Seconds(5)));
  std::vector<Sample> samples = MustCollect(*check);
  EXPECT_GT(FindSample(samples, "redis.keys.expired_per_second").value_or(0), 0);
  EXPECT_EQ(FindSample(samples, "redis.keys.evicted_per_second"), 0);

  // A memory limit just above what is used, then more data than fits.
  ASSERT_EQ(Command(standalone_port_, {"CONFIG", "SET", "maxmemory-policy", "allkeys-random"},
                    kDefaultPassword),
            "OK");
  ASSERT_EQ(Command(standalone_port_, {"CONFIG", "SET", "maxmemory", "3mb"}, kDefaultPassword),
            "OK");
  std::string value(20'000, 'v');
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(Command(standalone_port_, {"SET", absl::StrCat("big:", i), value}, kDefaultPassword),
              "OK");
  }
  samples = MustCollect(*check);
  EXPECT_EQ(FindSample(samples, "redis.memory.max_bytes"), 3 << 20);
  ASSERT_EQ(Command(standalone_port_, {"CONFIG", "SET", "maxmemory", "0"}, kDefaultPassword), "OK");
  ASSERT_EQ(Command(standalone_port_, {"FLUSHALL"}, kDefaultPassword), "OK");
  EXPECT_GT(FindSample(samples, "redis.keys.evicted_per_second").value_or(0), 0);
}

TEST_F(RedisCheckTest, AclUserWithPasswordFileCollects) {
  std::string pw = dir_->Write("alice.pw", std::string(kAlicePassword) + "\n");
  auto check = CheckOn(standalone_port_, "username: alice\npassword_file: " + pw + "\n");
  std::vector<Sample> samples = MustCollect(*check);
  EXPECT_EQ(FindSample(samples, "redis.replication.is_master"), 1);
  EXPECT_EQ(FindSample(samples, "redis.replication.connected_replicas"), 0);
  EXPECT_GE(FindSample(samples, "redis.clients.connected").value_or(0), 1);
  EXPECT_EQ(Command(standalone_port_, {"ACL", "WHOAMI"}, kDefaultPassword), "default");
}

TEST_F(RedisCheckTest, WrongPasswordIsPermissionDeniedWithoutThePassword) {
  const std::string wrong = "not-Alices-Pa55word";
  std::string pw = dir_->Write("wrong.pw", wrong);
  auto check = CheckOn(standalone_port_, "username: alice\npassword_file: " + pw + "\n");
  absl::StatusOr<std::vector<Sample>> r = check->Collect(absl::Now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("AUTH as user 'alice' failed: WRONGPASS"));
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", standalone_port_)));
  EXPECT_THAT(r.status().message(), Not(HasSubstr(wrong)));
}

TEST_F(RedisCheckTest, MissingPasswordIsNoauthAndMissingFileIsNamed) {
  auto none = CheckOn(standalone_port_);
  absl::StatusOr<std::vector<Sample>> r = none->Collect(absl::Now());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("NOAUTH"));
  EXPECT_THAT(r.status().message(), HasSubstr("password_file or password_env"));

  const std::string path = dir_->Join("does-not-exist.pw");
  auto missing = CheckOn(standalone_port_, "password_file: " + path + "\n");
  r = missing->Collect(absl::Now());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr(path));
}

TEST_F(RedisCheckTest, StoppedServerFailsWithinTheTimeout) {
  auto check = std::make_unique<RedisCheck>();
  ASSERT_THAT(InitWith(*check, absl::StrCat("port: ", replica_port_, "\ntimeout: 500ms\n")),
              IsEmpty());
  replica_->Signal(SIGSTOP);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> r = check->Collect(absl::Now());
  const absl::Duration took = absl::Now() - start;
  replica_->Signal(SIGCONT);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("no answer within"));
  EXPECT_GE(took, absl::Milliseconds(450));
  EXPECT_LT(took, absl::Seconds(2));
  // Resumed, it answers again on a new connection.
  EXPECT_TRUE(
      testing::WaitFor([&] { return check->Collect(absl::Now()).ok(); }, absl::Seconds(10)));
}

TEST_F(RedisCheckTest, ListenerThatNeverAnswersFailsWithinTheTimeout) {
  // The kernel completes the handshake for a listening socket nobody accepts from.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = 0;
  for (int attempt = 0; attempt < 20 && port == 0; ++attempt) {
    int p = testing::FreePort();
    addr.sin_port = htons(static_cast<uint16_t>(p));
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) port = p;
  }
  ASSERT_NE(port, 0);
  ASSERT_EQ(listen(fd, 8), 0);
  RedisCheck check;
  ASSERT_THAT(InitWith(check, absl::StrCat("port: ", port, "\ntimeout: 700ms\n")), IsEmpty());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> r = check.Collect(absl::Now());
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("redis 127.0.0.1:", port, ": INFO")));
  EXPECT_THAT(r.status().message(), HasSubstr("no answer within"));
  EXPECT_LT(took, absl::Seconds(2));

  // Without a timeout, a check with a short interval waits no longer than the interval.
  RedisCheck short_interval;
  ASSERT_THAT(InitWith(short_interval, absl::StrCat("port: ", port, "\ninterval: 1s\n")),
              IsEmpty());
  const absl::Time start2 = absl::Now();
  r = short_interval.Collect(absl::Now());
  const absl::Duration took2 = absl::Now() - start2;
  close(fd);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_GE(took2, absl::Milliseconds(900));
  EXPECT_LT(took2, absl::Seconds(3));
}

TEST_F(RedisCheckTest, NothingListeningIsUnavailable) {
  RedisCheck check;
  int port = testing::FreePort();
  ASSERT_THAT(InitWith(check, absl::StrCat("port: ", port, "\n")), IsEmpty());
  absl::StatusOr<std::vector<Sample>> r = check.Collect(absl::Now());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("cannot connect: Connection refused"));
}

TEST(RedisCheckConfig, TlsIsAConfigErrorNamingWhy) {
  RedisCheck check;
  absl::StatusOr<YAML::Node> node = LoadYamlString("port: 6380\ntls: true\n", "agent.yaml");
  ASSERT_TRUE(node.ok());
  ConfigErrors errors("agent.yaml");
  ConfigMap config(*node, &errors);
  ASSERT_TRUE(check.Init(config).ok());
  config.Finish();
  ASSERT_EQ(errors.messages().size(), 1u);
  EXPECT_THAT(errors.messages()[0], HasSubstr("agent.yaml:2:"));
  EXPECT_THAT(errors.messages()[0], HasSubstr("TLS is not available"));
  EXPECT_THAT(errors.messages()[0], HasSubstr("hiredis 0.14"));
}

TEST(RedisCheckConfig, BadKeysAreReportedWithTheirPosition) {
  struct Case {
    std::string yaml;
    std::string error;
  } cases[] = {
      {"port: 70000\n", "agent.yaml:1:"},
      {"hots: 127.0.0.1\n", "unknown key"},
      {"unix_socket: /run/redis.sock\nport: 6379\n", "either unix_socket or host/port"},
      {"unix_socket: redis.sock\n", "must be an absolute path"},
      {"username: alice\n", "needs password_file or password_env"},
      {"password: hunter2\n", "secrets are not written inline"},
      {"host: ''\n", "must not be empty"},
  };
  for (const Case& c : cases) {
    RedisCheck check;
    absl::StatusOr<YAML::Node> node = LoadYamlString(c.yaml, "agent.yaml");
    ASSERT_TRUE(node.ok()) << c.yaml;
    ConfigErrors errors("agent.yaml");
    ConfigMap config(*node, &errors);
    ASSERT_TRUE(check.Init(config).ok());
    config.Finish();
    ASSERT_FALSE(errors.messages().empty()) << c.yaml;
    EXPECT_THAT(errors.messages()[0], HasSubstr(c.error)) << c.yaml;
    for (const std::string& m : errors.messages()) EXPECT_THAT(m, Not(HasSubstr("hunter2")));
  }
}

}  // namespace
}  // namespace vigil::agent
