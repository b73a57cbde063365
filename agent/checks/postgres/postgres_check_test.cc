#include "agent/checks/postgres/postgres_check.h"

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/checks/check_testing.h"
#include "common/config_reader.h"
#include "common/testing/postgres_server.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// The `postgres` check against a real PostgreSQL 15 primary and a streaming standby made with
// pg_basebackup -R, both on loopback and started once for this binary (ONE_PROCESS).

namespace vigil::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const char kRightPassword[] = "Right-Pa55word-1138";
const char kWrongPassword[] = "Wr0ng-Secret-4711";
constexpr int kMaxConnections = 40;
constexpr absl::Duration kSettle = absl::Seconds(30);  // generous: a loaded 2-core machine

std::string Conninfo(int port, const std::string& extra = "") {
  return absl::StrCat("host=127.0.0.1 port=", port,
                      " user=postgres dbname=postgres connect_timeout=5 ", extra);
}

// A superuser connection of the test itself, kept open so that it is a known, constant part of
// the connection counts.
class AdminConnection {
 public:
  explicit AdminConnection(int port) : conn_(PQconnectdb(Conninfo(port).c_str())) {}
  ~AdminConnection() { PQfinish(conn_); }
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(conn_); }

  // The first value of the result ("" when there is none); an SQL error fails the test.
  std::string Value(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::string out;
    ExecStatusType s = PQresultStatus(r);
    EXPECT_TRUE(s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
        << sql << ": " << PQresultErrorMessage(r);
    if (s == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    return out;
  }

 private:
  PGconn* conn_;
};

struct Cluster {
  std::unique_ptr<testing::PostgresServer> primary, standby;
  std::unique_ptr<AdminConnection> primary_admin, standby_admin;

  static testing::PostgresServer::Options ServerOptions() {
    testing::PostgresServer::Options o;
    o.settings = {absl::StrCat("max_connections=", kMaxConnections), "wal_sender_timeout=5s",
                  "wal_receiver_status_interval=1s", "deadlock_timeout=100ms"};
    return o;
  }

  std::string Start() {
    testing::PostgresServer::Options p = ServerOptions();
    // First match wins: one role must give a password (SCRAM) over TCP; the rest is trusted.
    p.hba_prepend = "host all pwuser 127.0.0.1/32 scram-sha-256";
    primary = std::make_unique<testing::PostgresServer>(p);
    if (absl::Status s = primary->Start(); !s.ok()) return std::string(s.message());
    primary_admin = std::make_unique<AdminConnection>(primary->port());
    if (!primary_admin->ok()) return "admin connection: " + primary_admin->error();
    primary_admin->Value(absl::StrCat("CREATE ROLE pwuser LOGIN PASSWORD '", kRightPassword,
                                      "' IN ROLE pg_monitor"));

    testing::PostgresServer::Options s = ServerOptions();
    s.standby_of = primary.get();
    standby = std::make_unique<testing::PostgresServer>(s);
    if (absl::Status st = standby->Start(); !st.ok()) return std::string(st.message());
    standby_admin = std::make_unique<AdminConnection>(standby->port());
    if (!standby_admin->ok()) return "standby admin connection: " + standby_admin->error();
    if (!WaitForStreaming()) return "the standby never reached state streaming";
    return "";
  }

  bool WaitForStreaming() {
    return testing::WaitFor(
        [&] {
          return primary_admin->Value(
                     "SELECT count(*) FROM pg_stat_replication"
                     " WHERE state = 'streaming'") == "1";
        },
        kSettle);
  }

  void Stop() {
    primary_admin.reset();
    standby_admin.reset();
    standby.reset();
    primary.reset();
  }
};

bool HasMetric(const std::vector<Sample>& samples, const std::string& metric) {
  for (const Sample& s : samples) {
    if (s.metric == metric) return true;
  }
  return false;
}

// All samples on one line, for failure messages.
std::string Show(const std::vector<Sample>& samples) {
  std::vector<std::string> parts;
  for (const Sample& s : samples) {
    std::string labels;
    for (const auto& [k, v] : s.labels) absl::StrAppend(&labels, k, "=", v, ",");
    parts.push_back(absl::StrCat(s.metric, "{", labels, "}=", s.value));
  }
  return absl::StrJoin(parts, " ");
}

const Labels kStandby = {{"standby", "walreceiver"}};

class PostgresCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster;
    setup_error_ = cluster_->Start();
  }
  static void TearDownTestSuite() {
    cluster_->Stop();
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(setup_error_, "") << "cluster setup failed"; }

  int primary_port() const { return cluster_->primary->port(); }
  int standby_port() const { return cluster_->standby->port(); }
  AdminConnection& primary_admin() { return *cluster_->primary_admin; }
  AdminConnection& standby_admin() { return *cluster_->standby_admin; }

  // A check configured with `yaml` (its own keys).
  static std::unique_ptr<PostgresCheck> NewCheckFromYaml(const std::string& yaml) {
    auto check = std::make_unique<PostgresCheck>();
    absl::StatusOr<YAML::Node> node = LoadYamlString(yaml, "agent.yaml");
    EXPECT_TRUE(node.ok()) << node.status();
    ConfigErrors errors("agent.yaml");
    ConfigMap config(*node, &errors);
    EXPECT_TRUE(check->Init(config).ok());
    config.Finish();
    EXPECT_THAT(errors.messages(), IsEmpty());
    return check;
  }

  // A check on `port` as the superuser, plus `extra` keys.
  static std::unique_ptr<PostgresCheck> NewCheck(int port, const std::string& extra = "") {
    return NewCheckFromYaml(
        absl::StrCat("host: 127.0.0.1\nport: ", port, "\nuser: postgres\n", extra));
  }

  // Collects and expects success; the samples, empty on failure.
  static std::vector<Sample> Collect(PostgresCheck& check, absl::Time now = absl::Now()) {
    absl::StatusOr<std::vector<Sample>> r = check.Collect(now);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : std::vector<Sample>{};
  }

  // Waits until the primary has no client backend but the admin connection and `check`'s, so
  // that the sessions of earlier tests, which end asynchronously, are not counted.
  void WaitForOnlyKnownSessions() {
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          return primary_admin().Value(
                     "SELECT count(*) FROM pg_stat_activity"
                     " WHERE backend_type = 'client backend'") == "2";
        },
        kSettle));
  }

  static Cluster* cluster_;
  static std::string setup_error_;
};

Cluster* PostgresCheckTest::cluster_ = nullptr;
std::string PostgresCheckTest::setup_error_;

TEST_F(PostgresCheckTest, PrimaryAndStandbyReportTheirRoleAndLimits) {
  auto primary = NewCheck(primary_port());
  std::vector<Sample> p = Collect(*primary);
  EXPECT_EQ(FindSample(p, "postgres.in_recovery"), 0) << Show(p);
  EXPECT_EQ(FindSample(p, "postgres.max_connections"), kMaxConnections);
  for (const char* state :
       {"active", "idle", "idle in transaction", "idle in transaction (aborted)",
        "fastpath function call", "disabled"}) {
    EXPECT_TRUE(FindSample(p, "postgres.connections.by_state", {{"state", state}}).has_value())
        << state;
  }
  // The check's own session is the one active backend.
  EXPECT_EQ(FindSample(p, "postgres.connections.by_state", {{"state", "active"}}), 1);
  EXPECT_EQ(FindSample(p, "postgres.replication.standbys"), 1);
  EXPECT_FALSE(HasMetric(p, "postgres.replication.receiver_streaming"));
  // First collection: gauges only.
  EXPECT_FALSE(HasMetric(p, "postgres.transactions.committed_per_second"));

  const double size = std::stod(primary_admin().Value("SELECT pg_database_size('postgres')"));
  std::optional<double> reported =
      FindSample(p, "postgres.database.size_bytes", {{"database", "postgres"}});
  ASSERT_TRUE(reported.has_value()) << Show(p);
  EXPECT_NEAR(*reported, size, size * 0.1);
  EXPECT_FALSE(
      FindSample(p, "postgres.database.size_bytes", {{"database", "template1"}}).has_value());

  auto standby = NewCheck(standby_port());
  std::vector<Sample> s = Collect(*standby);
  EXPECT_EQ(FindSample(s, "postgres.in_recovery"), 1) << Show(s);
  EXPECT_EQ(FindSample(s, "postgres.replication.receiver_streaming"), 1);
  EXPECT_EQ(FindSample(s, "postgres.replication.replay_paused"), 0);
  EXPECT_FALSE(HasMetric(s, "postgres.replication.standbys"));
  EXPECT_FALSE(HasMetric(s, "postgres.replication.lag_bytes"));
}

TEST_F(PostgresCheckTest, ConnectionCountsFollowTheConnectionsTheTestOpens) {
  auto check = NewCheck(primary_port());
  Collect(*check);
  WaitForOnlyKnownSessions();
  std::vector<Sample> base = Collect(*check);
  // The admin connection (idle) and the check's own (active).
  ASSERT_EQ(FindSample(base, "postgres.connections"), 2) << Show(base);
  const double idle = *FindSample(base, "postgres.connections.by_state", {{"state", "idle"}});

  std::vector<std::unique_ptr<AdminConnection>> extra;
  for (int i = 0; i < 5; ++i) {
    extra.push_back(std::make_unique<AdminConnection>(primary_port()));
    ASSERT_TRUE(extra.back()->ok()) << extra.back()->error();
  }
  std::vector<Sample> s;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        s = Collect(*check);
        return FindSample(s, "postgres.connections.by_state", {{"state", "idle"}}) == idle + 5;
      },
      kSettle))
      << Show(s);
  EXPECT_EQ(FindSample(s, "postgres.connections"), 7);
  EXPECT_DOUBLE_EQ(*FindSample(s, "postgres.connections.usage_pct"), 100.0 * 7 / kMaxConnections);

  extra[0]->Value("BEGIN");
  s = Collect(*check);
  EXPECT_EQ(FindSample(s, "postgres.connections.by_state", {{"state", "idle in transaction"}}), 1);
  EXPECT_EQ(FindSample(s, "postgres.connections.by_state", {{"state", "idle"}}), idle + 4);

  extra.clear();
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        s = Collect(*check);
        return FindSample(s, "postgres.connections") == 2;
      },
      kSettle))
      << Show(s);
  EXPECT_EQ(FindSample(s, "postgres.connections.by_state", {{"state", "idle in transaction"}}), 0);
}

// Two sessions that each lock the row the other then wants: the server aborts one of them.
void MakeDeadlock(int port) {
  AdminConnection setup(port);
  setup.Value("CREATE TABLE IF NOT EXISTS deadlock_rows (id int PRIMARY KEY, v int)");
  setup.Value("INSERT INTO deadlock_rows VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING");
  PGconn* a = PQconnectdb(Conninfo(port).c_str());
  PGconn* b = PQconnectdb(Conninfo(port).c_str());
  PQclear(PQexec(a, "BEGIN"));
  PQclear(PQexec(a, "UPDATE deadlock_rows SET v = 1 WHERE id = 1"));
  PQclear(PQexec(b, "BEGIN"));
  PQclear(PQexec(b, "UPDATE deadlock_rows SET v = 1 WHERE id = 2"));
  ASSERT_EQ(PQsendQuery(a, "UPDATE deadlock_rows SET v = 2 WHERE id = 2"), 1);
  PGresult* rb = PQexec(b, "UPDATE deadlock_rows SET v = 2 WHERE id = 1");
  std::string states = PQresultErrorField(rb, PG_DIAG_SQLSTATE) != nullptr
                           ? PQresultErrorField(rb, PG_DIAG_SQLSTATE)
                           : "ok";
  PQclear(rb);
  while (PGresult* ra = PQgetResult(a)) {
    if (PQresultErrorField(ra, PG_DIAG_SQLSTATE) != nullptr) {
      absl::StrAppend(&states, " ", PQresultErrorField(ra, PG_DIAG_SQLSTATE));
    }
    PQclear(ra);
  }
  EXPECT_THAT(states, HasSubstr("40P01"));  // deadlock_detected
  PQclear(PQexec(a, "ROLLBACK"));
  PQclear(PQexec(b, "ROLLBACK"));
  PQfinish(a);
  PQfinish(b);
}

TEST_F(PostgresCheckTest, TransactionAndDeadlockRatesFromTheSecondCollection) {
  auto check = NewCheck(primary_port());
  const absl::Time t0 = absl::Now();
  std::vector<Sample> first = Collect(*check, t0);
  EXPECT_FALSE(HasMetric(first, "postgres.transactions.committed_per_second")) << Show(first);
  EXPECT_FALSE(HasMetric(first, "postgres.deadlocks_per_second"));
  const std::string sum_rollback =
      "SELECT sum(xact_rollback) FROM pg_stat_database WHERE datname = 'postgres'";
  const int64_t rollbacks_before = std::stoll(primary_admin().Value(sum_rollback));

  {
    AdminConnection client(primary_port());
    for (int i = 0; i < 20; ++i) client.Value("SELECT 1");
    for (int i = 0; i < 10; ++i) {
      client.Value("BEGIN");
      client.Value("ROLLBACK");
    }
  }
  MakeDeadlock(primary_port());
  // Each backend reports its counters when it exits, a moment after the client has gone.
  ASSERT_TRUE(testing::WaitFor(
      [&] { return std::stoll(primary_admin().Value(sum_rollback)) >= rollbacks_before + 12; },
      kSettle));

  std::vector<Sample> second = Collect(*check, t0 + absl::Seconds(10));
  std::optional<double> committed =
      FindSample(second, "postgres.transactions.committed_per_second");
  std::optional<double> rolled_back =
      FindSample(second, "postgres.transactions.rolled_back_per_second");
  ASSERT_TRUE(committed && rolled_back) << Show(second);
  EXPECT_GE(*committed, 2.0);  // the 20 SELECTs in 10 s, plus the test's and the check's own
  // 10 rollbacks and the two deadlocked transactions, in 10 s.
  EXPECT_GE(*rolled_back, 1.2);
  EXPECT_LT(*rolled_back, 2.0);
  EXPECT_DOUBLE_EQ(*FindSample(second, "postgres.deadlocks_per_second"), 0.1);
}

TEST_F(PostgresCheckTest, StatisticsResetGivesNoRateRatherThanANegativeOne) {
  auto check = NewCheck(primary_port());
  const absl::Time t0 = absl::Now();
  Collect(*check, t0);
  std::vector<Sample> s = Collect(*check, t0 + absl::Seconds(10));
  ASSERT_TRUE(HasMetric(s, "postgres.transactions.committed_per_second")) << Show(s);

  primary_admin().Value("SELECT pg_stat_reset()");
  s = Collect(*check, t0 + absl::Seconds(20));
  EXPECT_FALSE(HasMetric(s, "postgres.transactions.committed_per_second")) << Show(s);
  EXPECT_FALSE(HasMetric(s, "postgres.transactions.rolled_back_per_second"));
  EXPECT_FALSE(HasMetric(s, "postgres.deadlocks_per_second"));

  s = Collect(*check, t0 + absl::Seconds(30));
  ASSERT_TRUE(HasMetric(s, "postgres.transactions.committed_per_second")) << Show(s);
  EXPECT_GE(*FindSample(s, "postgres.transactions.committed_per_second"), 0);
}

TEST_F(PostgresCheckTest, ReplicationLagReadsZeroWhenIdle) {
  auto primary = NewCheck(primary_port());
  auto standby = NewCheck(standby_port());
  std::vector<Sample> p, s;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        p = Collect(*primary);
        return FindSample(p, "postgres.replication.standbys") == 1 &&
               FindSample(p, "postgres.replication.lag_bytes", kStandby) == 0 &&
               FindSample(p, "postgres.replication.write_lag_bytes", kStandby) == 0 &&
               FindSample(p, "postgres.replication.flush_lag_bytes", kStandby) == 0 &&
               FindSample(p, "postgres.replication.replay_lag_seconds", kStandby) == 0 &&
               FindSample(p, "postgres.replication.write_lag_seconds", kStandby) == 0 &&
               FindSample(p, "postgres.replication.flush_lag_seconds", kStandby) == 0;
      },
      kSettle))
      << Show(p);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        s = Collect(*standby);
        return FindSample(s, "postgres.replication.lag_seconds") == 0 &&
               FindSample(s, "postgres.replication.receiver_streaming") == 1;
      },
      kSettle))
      << Show(s);
}

TEST_F(PostgresCheckTest, PausedReplayMakesLagGrowAndResumingBringsItBackToZero) {
  auto primary = NewCheck(primary_port());
  auto standby = NewCheck(standby_port());
  // A replayed transaction first, so that the standby knows the time of its last replay.
  primary_admin().Value("CREATE TABLE IF NOT EXISTS warmup AS SELECT 1 AS x");
  ASSERT_TRUE(testing::WaitFor(
      [&] { return standby_admin().Value("SELECT to_regclass('warmup') IS NOT NULL") == "t"; },
      kSettle));

  standby_admin().Value("SELECT pg_wal_replay_pause()");
  std::vector<Sample> p, s;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        s = Collect(*standby);
        return FindSample(s, "postgres.replication.replay_paused") == 1;
      },
      kSettle))
      << Show(s);
  // About 8 MB of WAL that the standby receives but does not replay.
  primary_admin().Value(
      "CREATE TABLE lagging AS SELECT g, repeat('x', 200) AS pad"
      " FROM generate_series(1, 30000) g");
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        p = Collect(*primary);
        return FindSample(p, "postgres.replication.lag_bytes", kStandby) > 1e6 &&
               FindSample(p, "postgres.replication.replay_lag_seconds", kStandby) > 0;
      },
      kSettle))
      << Show(p);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        s = Collect(*standby);
        return FindSample(s, "postgres.replication.lag_seconds") > 0 &&
               FindSample(s, "postgres.replication.replay_paused") == 1;
      },
      kSettle))
      << Show(s);
  EXPECT_EQ(FindSample(s, "postgres.replication.receiver_streaming"), 1);

  standby_admin().Value("SELECT pg_wal_replay_resume()");
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        p = Collect(*primary);
        return FindSample(p, "postgres.replication.lag_bytes", kStandby) == 0 &&
               FindSample(p, "postgres.replication.replay_lag_seconds", kStandby) == 0;
      },
      kSettle))
      << Show(p);
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        s = Collect(*standby);
        return FindSample(s, "postgres.replication.lag_seconds") == 0 &&
               FindSample(s, "postgres.replication.replay_paused") == 0;
      },
      kSettle))
      << Show(s);
  primary_admin().Value("DROP TABLE lagging");
}

TEST_F(PostgresCheckTest, TerminatedSessionIsReplacedWithinTheSameCollection) {
  auto check = NewCheck(primary_port());
  Collect(*check);
  const int pid = check->backend_pid();
  ASSERT_GT(pid, 0);
  primary_admin().Value(absl::StrCat("SELECT pg_terminate_backend(", pid, ")"));
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return primary_admin().Value(
                   absl::StrCat("SELECT count(*) FROM pg_stat_activity WHERE pid = ", pid)) == "0";
      },
      kSettle));
  std::vector<Sample> s = Collect(*check);
  EXPECT_EQ(FindSample(s, "postgres.in_recovery"), 0) << Show(s);
  EXPECT_NE(check->backend_pid(), pid);
  EXPECT_GT(check->backend_pid(), 0);
}

TEST_F(PostgresCheckTest, StoppedBackendFailsWithinQueryTimeoutAndTheNextCollectionReconnects) {
  auto check = NewCheck(primary_port(), "query_timeout: 1s\n");
  Collect(*check);
  const int pid = check->backend_pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> r = check->Collect(start);
  const absl::Duration took = absl::Now() - start;
  ::kill(pid, SIGCONT);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("no answer to a query within 1s"));
  EXPECT_GE(took, absl::Milliseconds(950));
  EXPECT_LT(took, absl::Seconds(3));
  EXPECT_EQ(check->backend_pid(), 0);  // the half-used connection was dropped

  std::vector<Sample> s = Collect(*check);
  EXPECT_EQ(FindSample(s, "postgres.in_recovery"), 0) << Show(s);
  EXPECT_NE(check->backend_pid(), pid);
}

TEST_F(PostgresCheckTest, WrongPasswordFailsWithoutThePasswordInTheMessage) {
  testing::TempDir dir;
  const std::string wrong = dir.Write("wrong.password", std::string(kWrongPassword) + "\n");
  auto check = NewCheckFromYaml(absl::StrCat("host: 127.0.0.1\nport: ", primary_port(),
                                             "\nuser: pwuser\npassword_file: ", wrong, "\n"));
  absl::StatusOr<std::vector<Sample>> r = check->Collect(absl::Now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(),
              HasSubstr("password authentication failed for user \"pwuser\""));
  EXPECT_THAT(r.status().message(), Not(HasSubstr(kWrongPassword)));

  // Even a password the server's message happens to contain (here: the role's name) is masked.
  const std::string echoed = dir.Write("echoed.password", "pwuser\n");
  auto echo = NewCheckFromYaml(absl::StrCat("host: 127.0.0.1\nport: ", primary_port(),
                                            "\nuser: pwuser\npassword_file: ", echoed, "\n"));
  r = echo->Collect(absl::Now());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("password authentication failed for user \"***\""));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("pwuser")));

  // The right one, from the environment, with the role's pg_monitor membership.
  ASSERT_EQ(::setenv("VIGIL_TEST_PG_PASSWORD", kRightPassword, 1), 0);
  auto good =
      NewCheckFromYaml(absl::StrCat("host: 127.0.0.1\nport: ", primary_port(),
                                    "\nuser: pwuser\npassword_env: VIGIL_TEST_PG_PASSWORD\n"));
  std::vector<Sample> s = Collect(*good);
  EXPECT_EQ(FindSample(s, "postgres.in_recovery"), 0) << Show(s);
  EXPECT_EQ(FindSample(s, "postgres.replication.lag_bytes", kStandby).has_value(), true) << Show(s);
  ::unsetenv("VIGIL_TEST_PG_PASSWORD");
}

// Changes the cluster (stops the standby) and restores it, so it runs last.
TEST_F(PostgresCheckTest, StoppedStandbyIsGoneFromThePrimary) {
  auto primary = NewCheck(primary_port());
  auto standby = NewCheck(standby_port());
  std::vector<Sample> p = Collect(*primary);
  ASSERT_EQ(FindSample(p, "postgres.replication.standbys"), 1) << Show(p);
  Collect(*standby);

  cluster_->standby_admin.reset();
  cluster_->standby->Stop();
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        p = Collect(*primary);
        return FindSample(p, "postgres.replication.standbys") == 0;
      },
      kSettle))
      << Show(p);
  EXPECT_FALSE(HasMetric(p, "postgres.replication.lag_bytes")) << Show(p);
  EXPECT_FALSE(HasMetric(p, "postgres.replication.replay_lag_seconds"));
  absl::StatusOr<std::vector<Sample>> r = standby->Collect(absl::Now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();

  ASSERT_TRUE(cluster_->standby->Start().ok());
  cluster_->standby_admin = std::make_unique<AdminConnection>(standby_port());
  ASSERT_TRUE(cluster_->WaitForStreaming());
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        p = Collect(*primary);
        return FindSample(p, "postgres.replication.standbys") == 1;
      },
      kSettle))
      << Show(p);
}

}  // namespace
}  // namespace vigil::agent
