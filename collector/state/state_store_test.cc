// One behavioural suite for both state stores (TYPED_TEST over embedded SQLite and a real
// PostgreSQL 15), so they cannot drift apart, then what only one backend has: reconnects,
// authentication and unanswered connects for PostgreSQL, a full disk and file problems for
// SQLite. PostgreSQL is started once for the binary; each test gets its own fresh database.

#include "collector/state/state_store.h"

#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/state/open_state_store.h"
#include "collector/state/postgres_state_store.h"
#include "collector/state/sqlite_state_store.h"
#include "common/testing/postgres_server.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::collector {
namespace {

using alerting::AlarmRecord;
using alerting::AlarmState;
using alerting::DeliveryAttempt;
using alerting::FlushBatch;
using alerting::NotificationLogEntry;
using alerting::OutboxEntry;
using alerting::OutboxNotification;
using alerting::OutboxState;
using alerting::Silence;
using alerting::TransitionRecord;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const char kPasswordRole[] = "pwuser";
const char kRightPassword[] = "Right-Pa55word-1138";
const char kWrongPassword[] = "Wr0ng-Secret-4711";

// ---- The PostgreSQL server of this binary, started at its first use.

std::unique_ptr<testing::PostgresServer>& Server() {
  static auto* server = new std::unique_ptr<testing::PostgresServer>();
  return *server;
}

absl::Status& ServerStatus() {
  static auto* status = new absl::Status(absl::UnknownError("not started"));
  return *status;
}

// A CA (ca.pem), a server certificate it signed for 127.0.0.1 (server.pem, server.key) and an
// unrelated CA (other-ca.pem), in a directory the postgres user owns.
const testing::TempDir& Certificates() {
  static auto* dir = new testing::TempDir();
  return *dir;
}

absl::Status MakeCertificates() {
  const testing::TempDir& dir = Certificates();
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  dir.Write("server.ext", "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  const std::string script = absl::StrCat(
      "set -e; cd ", dir.path(), "\n", "for ca in ca other-ca; do openssl req -x509 ", key,
      " -keyout $ca.key -out $ca.pem -days 2 -subj /CN=vigil-test-$ca",
      " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign; done\n",
      "openssl req ", key, " -keyout server.key -out server.csr -subj /CN=127.0.0.1\n",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2",
      " -extfile server.ext -out server.pem\n", "chmod 600 server.key\n",
      "if [ \"$(id -u)\" = 0 ]; then chown -R postgres: .; fi\n");
  testing::Process p({"/bin/sh", "-c", script}, dir.Join("openssl.log"), dir.Join("openssl.log"));
  if (p.Wait(absl::Seconds(30)) != 0) {
    return absl::InternalError("openssl: " + testing::ReadFile(dir.Join("openssl.log")));
  }
  return absl::OkStatus();
}

testing::PostgresServer* SharedServer() {
  if (Server() == nullptr) {
    testing::PostgresServer::Options options;
    // One role must give a password (SCRAM) over TCP; every other connection is trusted.
    options.hba_prepend = absl::StrCat("host all ", kPasswordRole, " 127.0.0.1/32 scram-sha-256");
    // TLS is offered; the client's sslmode decides.
    options.settings = {"ssl=on", "ssl_cert_file=" + Certificates().Join("server.pem"),
                        "ssl_key_file=" + Certificates().Join("server.key")};
    Server() = std::make_unique<testing::PostgresServer>(options);
    ServerStatus() = MakeCertificates();
    if (ServerStatus().ok()) ServerStatus() = Server()->Start();
    if (ServerStatus().ok()) {
      ServerStatus() = Server()
                           ->Query(absl::StrCat("CREATE ROLE ", kPasswordRole, " LOGIN PASSWORD '",
                                                kRightPassword, "'"))
                           .status();
    }
  }
  return ServerStatus().ok() ? Server().get() : nullptr;
}

class ServerEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { Server().reset(); }
};
::testing::Environment* const kServerEnvironment =
    ::testing::AddGlobalTestEnvironment(new ServerEnvironment);

// ---- Backends: how a test opens stores on one database and looks behind their back.

class SqliteBackend {
 public:
  static constexpr const char* kName = "Sqlite";

  absl::Status Ready() const { return absl::OkStatus(); }
  absl::StatusOr<std::unique_ptr<StateStore>> Open(int migrate_to = 0) {
    absl::StatusOr<std::unique_ptr<SqliteStateStore>> s = SqliteStateStore::Open(path_, migrate_to);
    if (!s.ok()) return s.status();
    return std::unique_ptr<StateStore>(*std::move(s));
  }
  absl::StatusOr<StateReport> Inspect() { return SqliteStateStore::Inspect(path_); }
  std::string Location() const { return path_; }
  const char* backend() const { return kSqliteBackend; }

  // The first value of `sql` on a separate connection ("" when there is no row).
  std::string Query(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db);
    std::string result;
    int rc = sqlite3_step(stmt);
    EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sql << ": " << sqlite3_errmsg(db);
    if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return result;
  }
  std::string InsertSchemaVersionSql(int version) const {
    return absl::StrCat("INSERT INTO schema_version (version, applied_at_ms) VALUES (", version,
                        ", 0)");
  }

  const std::string& path() const { return path_; }

 private:
  testing::TempDir dir_;
  const std::string path_ = dir_.Join("state.db");
};

class PostgresBackend {
 public:
  static constexpr const char* kName = "Postgres";

  PostgresBackend() : server_(SharedServer()) {
    static std::atomic<int> counter{0};
    dbname_ = absl::StrCat("state_test_", ++counter);
    if (server_ != nullptr) created_ = server_->CreateDatabase(dbname_);
  }

  absl::Status Ready() const {
    if (server_ == nullptr) return ServerStatus();
    return created_;
  }
  PostgresStateConfig Config() const {
    PostgresStateConfig c;
    c.host = "127.0.0.1";
    c.port = server_->port();
    c.dbname = dbname_;
    c.user = "postgres";
    c.connect_timeout = absl::Seconds(5);
    c.statement_timeout = absl::Seconds(5);
    return c;
  }
  absl::StatusOr<std::unique_ptr<StateStore>> Open(int migrate_to = 0) {
    absl::StatusOr<std::unique_ptr<PostgresStateStore>> s =
        PostgresStateStore::Open(Config(), migrate_to);
    if (!s.ok()) return s.status();
    return std::unique_ptr<StateStore>(*std::move(s));
  }
  absl::StatusOr<StateReport> Inspect() { return PostgresStateStore::Inspect(Config()); }
  std::string Location() const { return absl::StrCat("127.0.0.1:", server_->port(), "/", dbname_); }
  const char* backend() const { return kPostgresBackend; }

  std::string Query(const std::string& sql) {
    absl::StatusOr<std::string> v = server_->Query(sql, dbname_);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() && *v != "NULL" ? *v : std::string();
  }
  std::string InsertSchemaVersionSql(int version) const {
    return absl::StrCat("INSERT INTO schema_version (version) VALUES (", version, ")");
  }

  testing::PostgresServer& server() { return *server_; }
  const std::string& dbname() const { return dbname_; }

 private:
  testing::PostgresServer* server_;
  std::string dbname_;
  absl::Status created_;
};

// ---- Records.

AlarmRecord Alarm(const std::string& rule, const std::string& instance, AlarmState state,
                  int64_t since_ms) {
  AlarmRecord a;
  a.rule = rule;
  a.instance = instance;
  a.state = state;
  a.state_since_ms = since_ms;
  a.rule_fingerprint = 42;
  a.last_data_ms = since_ms + 1;
  a.periods = "p";
  return a;
}

TransitionRecord Transition(const std::string& rule, int64_t at_ms,
                            AlarmState from = AlarmState::kOk, AlarmState to = AlarmState::kAlarm) {
  TransitionRecord t;
  t.rule = rule;
  t.instance = "{}";
  t.at_ms = at_ms;
  t.from = from;
  t.to = to;
  t.reason = absl::StrCat("reason ", at_ms);
  return t;
}

std::vector<int64_t> AtMs(const std::vector<TransitionRecord>& history) {
  std::vector<int64_t> at;
  for (const TransitionRecord& t : history) at.push_back(t.at_ms);
  return at;
}

std::vector<std::string> Keys(const std::vector<AlarmRecord>& alarms) {
  std::vector<std::string> keys;
  for (const AlarmRecord& a : alarms) keys.push_back(a.rule + " " + a.instance);
  return keys;
}

OutboxNotification Row(const std::string& id, int64_t due, const std::string& payload = "{}") {
  OutboxNotification n;
  n.id = id;
  n.receiver = "oncall";
  n.integration = 0;
  n.kind = "record";
  n.payload = payload;
  n.created_ms = due;
  n.next_attempt_ms = due;
  return n;
}

NotificationLogEntry Entry(const std::string& group, std::vector<std::string> firing) {
  return {"oncall", 0, group, std::move(firing), {"b@5"}, 1234, "thread-1"};
}

Silence MakeSilence(const std::string& id, int64_t ends_at_ms) {
  return Silence{id, {"a=b"}, {}, 0, ends_at_ms, "alice", "maintenance", 0};
}

FlushBatch Flush(std::vector<OutboxNotification> notifications) {
  FlushBatch batch;
  batch.notifications = std::move(notifications);
  return batch;
}

// ---- The typed suite.

template <typename Backend>
class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backend_.Ready().ok()) << backend_.Ready();
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<StateStore> OpenStore(int migrate_to = 0) {
    absl::StatusOr<std::unique_ptr<StateStore>> s = backend_.Open(migrate_to);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }
  void Reopen() {
    store_.reset();
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }

  alerting::AlarmStore& alarms() { return store_->alarms(); }
  alerting::NotificationStore& notifications() { return store_->notifications(); }

  std::vector<AlarmRecord> LoadAlarms(StateStore& store) {
    absl::StatusOr<std::vector<AlarmRecord>> a = store.alarms().LoadAlarms();
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a : std::vector<AlarmRecord>{};
  }
  std::vector<TransitionRecord> History(const std::string& rule, size_t limit = 1000) {
    absl::StatusOr<std::vector<TransitionRecord>> h = alarms().History(rule, limit);
    EXPECT_TRUE(h.ok()) << h.status();
    return h.ok() ? *h : std::vector<TransitionRecord>{};
  }
  std::optional<OutboxNotification> Claim(int64_t now, StateStore* store = nullptr) {
    StateStore& s = store != nullptr ? *store : *store_;
    absl::StatusOr<std::optional<OutboxNotification>> c =
        s.notifications().ClaimDue(now, now + 1000);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::nullopt;
  }
  std::vector<OutboxEntry> Outbox(StateStore* store = nullptr) {
    StateStore& s = store != nullptr ? *store : *store_;
    absl::StatusOr<std::vector<OutboxEntry>> e = s.notifications().ListOutbox(1000);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : std::vector<OutboxEntry>();
  }
  std::vector<StreamPosition> Positions() {
    absl::StatusOr<std::vector<StreamPosition>> p = store_->streams().LoadPositions();
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : std::vector<StreamPosition>{};
  }

  Backend backend_;
  std::unique_ptr<StateStore> store_;
};

class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;
TYPED_TEST_SUITE(StateStoreTest, Backends, BackendNames);

// -- AlarmStore

TYPED_TEST(StateStoreTest, SaveAndLoadRoundTripEveryField) {
  AlarmRecord a;
  a.rule = "db-cpu-prod";
  a.instance = R"({host="db1"})";
  a.state = AlarmState::kAlarm;
  a.state_since_ms = 1795305600000;
  a.rule_fingerprint = 0xFEDCBA9876543210ULL;  // high bit set: stored as a signed integer
  a.last_data_ms = -5;
  a.periods = std::string("\x00\x01\xff\x00tail\x00", 9);
  AlarmRecord b = Alarm("db-cpu-prod", R"({host="db2"})", AlarmState::kOk, 7);
  b.periods = "";
  AlarmRecord c = Alarm("agent-up", "{}", AlarmState::kInsufficientData, 8);
  // Quotes, backslashes and braces survive the batch encoding.
  AlarmRecord d = Alarm("Z\"q\\", "{x=\"a,b}\"}", AlarmState::kOk, 9);
  ASSERT_TRUE(this->alarms().SaveAlarms({a, b, c, d}).ok());

  std::vector<AlarmRecord> loaded = this->LoadAlarms(*this->store_);
  ASSERT_EQ(loaded.size(), 4u);
  // Byte order: uppercase before lowercase, whatever the database's locale.
  EXPECT_EQ(Keys(loaded), (std::vector<std::string>{"Z\"q\\ {x=\"a,b}\"}", "agent-up {}",
                                                    R"(db-cpu-prod {host="db1"})",
                                                    R"(db-cpu-prod {host="db2"})"}));
  const AlarmRecord& got = loaded[2];
  EXPECT_EQ(got.rule, a.rule);
  EXPECT_EQ(got.instance, a.instance);
  EXPECT_EQ(got.state, AlarmState::kAlarm);
  EXPECT_EQ(got.state_since_ms, 1795305600000);
  EXPECT_EQ(got.rule_fingerprint, 0xFEDCBA9876543210ULL);
  EXPECT_EQ(got.last_data_ms, -5);
  EXPECT_EQ(got.periods, std::string("\x00\x01\xff\x00tail\x00", 9));
  EXPECT_EQ(loaded[3].state, AlarmState::kOk);
  EXPECT_EQ(loaded[3].periods, "");
  EXPECT_EQ(loaded[1].state, AlarmState::kInsufficientData);
  EXPECT_EQ(loaded[0].state_since_ms, 9);
}

TYPED_TEST(StateStoreTest, StatesAreStoredAsText) {
  ASSERT_TRUE(this->alarms().SaveAlarms({Alarm("r", "{}", AlarmState::kAlarm, 1)}).ok());
  ASSERT_TRUE(
      this->alarms()
          .AppendTransitions({Transition("r", 1, AlarmState::kInsufficientData, AlarmState::kOk)})
          .ok());
  EXPECT_EQ(this->backend_.Query("SELECT state FROM alarms"), "ALARM");
  EXPECT_EQ(this->backend_.Query("SELECT from_state || ' ' || to_state FROM transitions"),
            "INSUFFICIENT_DATA OK");
}

TYPED_TEST(StateStoreTest, SaveReplacesExistingInstance) {
  ASSERT_TRUE(this->alarms().SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
  AlarmRecord updated = Alarm("r", "{a}", AlarmState::kAlarm, 2);
  updated.periods = "new";
  updated.rule_fingerprint = 43;
  ASSERT_TRUE(this->alarms().SaveAlarms({updated}).ok());

  std::vector<AlarmRecord> loaded = this->LoadAlarms(*this->store_);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].state, AlarmState::kAlarm);
  EXPECT_EQ(loaded[0].state_since_ms, 2);
  EXPECT_EQ(loaded[0].last_data_ms, 3);
  EXPECT_EQ(loaded[0].rule_fingerprint, 43u);
  EXPECT_EQ(loaded[0].periods, "new");
}

TYPED_TEST(StateStoreTest, TheSameInstanceTwiceInOneBatchKeepsTheLast) {
  ASSERT_TRUE(this->alarms()
                  .SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1),
                               Alarm("r", "{a}", AlarmState::kAlarm, 2)})
                  .ok());
  std::vector<AlarmRecord> loaded = this->LoadAlarms(*this->store_);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].state, AlarmState::kAlarm);
}

TYPED_TEST(StateStoreTest, DeleteRemovesOnlyTheNamedInstances) {
  ASSERT_TRUE(
      this->alarms()
          .SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1), Alarm("r", "{b}", AlarmState::kOk, 1),
                       Alarm("s", "{a}", AlarmState::kOk, 1)})
          .ok());
  ASSERT_TRUE(this->alarms().DeleteAlarms({{"r", "{a}"}, {"s", "{a}"}, {"absent", "{}"}}).ok());
  EXPECT_EQ(Keys(this->LoadAlarms(*this->store_)), std::vector<std::string>{"r {b}"});
}

TYPED_TEST(StateStoreTest, TransitionsAreAppendedInOrderWithIncreasingIds) {
  ASSERT_TRUE(this->alarms().AppendTransitions({Transition("r", 10), Transition("r", 20)}).ok());
  ASSERT_TRUE(this->alarms().AppendTransitions({Transition("r", 30)}).ok());
  std::vector<TransitionRecord> history = this->History("r", 10);
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(AtMs(history), (std::vector<int64_t>{30, 20, 10}));
  EXPECT_EQ(history[2].id, 1);
  EXPECT_EQ(history[1].id, 2);
  EXPECT_EQ(history[0].id, 3);
  const TransitionRecord& t = history[0];
  EXPECT_EQ(t.rule, "r");
  EXPECT_EQ(t.instance, "{}");
  EXPECT_EQ(t.from, AlarmState::kOk);
  EXPECT_EQ(t.to, AlarmState::kAlarm);
  EXPECT_EQ(t.reason, "reason 30");
}

TYPED_TEST(StateStoreTest, HistoryOfOneRuleIsNewestFirstAndLimited) {
  ASSERT_TRUE(this->alarms()
                  .AppendTransitions({Transition("r", 1), Transition("s", 2), Transition("r", 3),
                                      Transition("s", 4), Transition("r", 5)})
                  .ok());
  EXPECT_EQ(AtMs(this->History("r", 2)), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(AtMs(this->History("s", 100)), (std::vector<int64_t>{4, 2}));
  EXPECT_THAT(this->History("r", 0), IsEmpty());
  EXPECT_THAT(this->History("absent", 10), IsEmpty());
}

TYPED_TEST(StateStoreTest, HistoryOfAllRulesIsNewestFirstAndLimited) {
  ASSERT_TRUE(this->alarms()
                  .AppendTransitions({Transition("r", 1), Transition("s", 2), Transition("r", 3),
                                      Transition("s", 4)})
                  .ok());
  EXPECT_EQ(AtMs(this->History("", 3)), (std::vector<int64_t>{4, 3, 2}));
}

TYPED_TEST(StateStoreTest, PruneTransitionsKeepsTheNewestOfEachRule) {
  ASSERT_TRUE(this->alarms()
                  .AppendTransitions({Transition("r", 1), Transition("s", 2), Transition("r", 3),
                                      Transition("r", 4), Transition("t", 5), Transition("r", 6),
                                      Transition("s", 7)})
                  .ok());
  ASSERT_TRUE(this->alarms().PruneTransitions(2).ok());
  EXPECT_EQ(AtMs(this->History("")), (std::vector<int64_t>{7, 6, 5, 4, 2}));
}

TYPED_TEST(StateStoreTest, PruneToZeroDoesNotReuseIds) {
  ASSERT_TRUE(this->alarms().AppendTransitions({Transition("r", 1), Transition("r", 2)}).ok());
  ASSERT_TRUE(this->alarms().PruneTransitions(0).ok());
  EXPECT_THAT(this->History(""), IsEmpty());
  ASSERT_TRUE(this->alarms().AppendTransitions({Transition("r", 3)}).ok());
  std::vector<TransitionRecord> history = this->History("r");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].id, 3);
}

TYPED_TEST(StateStoreTest, FailedSaveBatchWritesNothing) {
  ASSERT_TRUE(this->alarms().SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
  absl::Status status = this->alarms().SaveAlarms({Alarm("r", "{a}", AlarmState::kAlarm, 2),
                                                   Alarm("r", "{b}", AlarmState::kAlarm, 2),
                                                   Alarm("", "{c}", AlarmState::kAlarm, 2)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr(absl::StrCat("state database ", this->backend_.Location(),
                                     ": SaveAlarms: alarm {c} has an empty rule name")));
  std::vector<AlarmRecord> loaded = this->LoadAlarms(*this->store_);
  EXPECT_EQ(Keys(loaded), std::vector<std::string>{"r {a}"});
  EXPECT_EQ(loaded[0].state, AlarmState::kOk);
  // The store is usable afterwards.
  EXPECT_TRUE(this->alarms().SaveAlarms({Alarm("r", "{b}", AlarmState::kAlarm, 2)}).ok());
}

TYPED_TEST(StateStoreTest, FailedTransitionBatchWritesNothing) {
  absl::Status status =
      this->alarms().AppendTransitions({Transition("r", 1), Transition("r", 2), Transition("", 3)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(this->History(""), IsEmpty());
}

TYPED_TEST(StateStoreTest, StateOutsideTheEnumIsRejectedAndRolledBack) {
  AlarmRecord bad = Alarm("r", "{b}", AlarmState::kOk, 1);
  bad.state = static_cast<AlarmState>(7);
  absl::Status status = this->alarms().SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1), bad});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("has an invalid state 7"));
  EXPECT_THAT(this->LoadAlarms(*this->store_), IsEmpty());
}

TYPED_TEST(StateStoreTest, ConcurrentWritersAppendEveryTransition) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &results] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::Status s =
            this->alarms().AppendTransitions({Transition(absl::StrCat("rule-", t), i)});
        if (!s.ok() && results[t].ok()) results[t] = s;
        // Readers interleave with the writers.
        if (i % 25 == 0 && !this->alarms().History("", 10).ok()) {
          results[t] = absl::InternalError("read");
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;

  std::vector<TransitionRecord> all = this->History("", 10000);
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 1; i < all.size(); ++i) ASSERT_GT(all[i - 1].id, all[i].id) << "at " << i;
  EXPECT_EQ(all.front().id, kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    std::vector<TransitionRecord> history = this->History(absl::StrCat("rule-", t), 10000);
    ASSERT_EQ(history.size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      ASSERT_EQ(history[i].at_ms, kPerThread - 1 - i) << "rule-" << t;
    }
  }
}

// -- NotificationStore

TYPED_TEST(StateStoreTest, FlushWritesNotificationsAndLogTogetherAndSurvivesReopen) {
  FlushBatch batch = Flush({Row("n1", 100)});
  batch.log_upserts = {Entry("g1", {"a@1", "c@2~flapping"})};
  ASSERT_TRUE(this->notifications().CommitFlush(batch).ok());
  // The same id again is the same notification: kept once, as it was.
  batch.notifications[0].payload = "changed";
  ASSERT_TRUE(this->notifications().CommitFlush(batch).ok());
  this->Reopen();
  std::vector<OutboxEntry> outbox = this->Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].notification.id, "n1");
  EXPECT_EQ(outbox[0].notification.payload, "{}");
  EXPECT_EQ(outbox[0].notification.receiver, "oncall");
  EXPECT_EQ(outbox[0].notification.kind, "record");
  EXPECT_EQ(outbox[0].state, OutboxState::kPending);
  absl::StatusOr<std::vector<NotificationLogEntry>> log = this->notifications().LoadLog();
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->size(), 1u);
  EXPECT_THAT((*log)[0].firing, ElementsAre("a@1", "c@2~flapping"));
  EXPECT_THAT((*log)[0].resolved, ElementsAre("b@5"));
  EXPECT_EQ((*log)[0].last_notified_ms, 1234);
  EXPECT_EQ((*log)[0].thread_id, "thread-1");
  FlushBatch later;
  later.log_deletes = {{"oncall", 0, "g1"}};
  ASSERT_TRUE(this->notifications().CommitFlush(later).ok());
  log = this->notifications().LoadLog();
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, IsEmpty());
}

TYPED_TEST(StateStoreTest, FlushIsAllOrNothing) {
  FlushBatch batch = Flush({Row("n1", 100), Row("", 100)});
  batch.log_upserts = {Entry("g1", {"a@1"})};
  absl::Status s = this->notifications().CommitFlush(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(this->backend_.Location()));
  EXPECT_THAT(this->Outbox(), IsEmpty());
  absl::StatusOr<std::vector<NotificationLogEntry>> log = this->notifications().LoadLog();
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, IsEmpty());
}

TYPED_TEST(StateStoreTest, ClaimsTakeDueRowsInOrderAndHoldThemUntilRecorded) {
  ASSERT_TRUE(this->notifications().CommitFlush(Flush({Row("late", 200), Row("early", 100)})).ok());
  EXPECT_FALSE(this->Claim(99).has_value());
  std::optional<OutboxNotification> c = this->Claim(150);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->id, "early");
  EXPECT_EQ(c->kind, "record");
  EXPECT_EQ(c->created_ms, 100);
  EXPECT_FALSE(this->Claim(150).has_value()) << "claimed rows are not handed out twice";
  EXPECT_EQ(this->Claim(200)->id, "late");
  ASSERT_TRUE(this->notifications()
                  .RecordAttempt("early", {1, 160, "retry", "timeout"}, OutboxState::kPending, 300)
                  .ok());
  EXPECT_FALSE(this->Claim(250).has_value());
  absl::StatusOr<std::optional<int64_t>> next = this->notifications().NextAttemptMs();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(**next, 200);  // "late" is still claimed, and pending
  EXPECT_EQ(*this->notifications().CountPending(), 2);
  c = this->Claim(300);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->id, "early");
  EXPECT_EQ(c->attempts, 1);
  // A restart voids every claim.
  ASSERT_TRUE(this->notifications().ReleaseClaims().ok());
  EXPECT_EQ(this->Claim(300)->id, "late");
}

TYPED_TEST(StateStoreTest, DeliveredIsFinalAndNeverClaimedAgain) {
  ASSERT_TRUE(this->notifications().CommitFlush(Flush({Row("n1", 100)})).ok());
  ASSERT_TRUE(this->Claim(100).has_value());
  ASSERT_TRUE(
      this->notifications()
          .RecordAttempt("n1", {1, 110, "delivered", "250 OK"}, OutboxState::kDelivered, 110)
          .ok());
  ASSERT_TRUE(this->notifications().ReleaseClaims().ok());
  EXPECT_FALSE(this->Claim(1000000).has_value());
  absl::Status again = this->notifications().RecordAttempt("n1", {2, 120, "delivered", ""},
                                                           OutboxState::kDelivered, 120);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(again.message(), HasSubstr("no pending notification n1"));
  EXPECT_EQ(*this->notifications().CountPending(), 0);
  EXPECT_FALSE(this->notifications().NextAttemptMs()->has_value());
  std::vector<OutboxEntry> outbox = this->Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].state, OutboxState::kDelivered);
  EXPECT_EQ(outbox[0].finished_ms, 110);
  EXPECT_EQ(outbox[0].notification.attempts, 1);
  ASSERT_EQ(outbox[0].attempts.size(), 1u);
  EXPECT_EQ(outbox[0].attempts[0].attempt, 1);
  EXPECT_EQ(outbox[0].attempts[0].at_ms, 110);
  EXPECT_EQ(outbox[0].attempts[0].result, "delivered");
  EXPECT_EQ(outbox[0].attempts[0].detail, "250 OK");
}

TYPED_TEST(StateStoreTest, ListOutboxIsNewestFirstWithEachRowsAttempts) {
  ASSERT_TRUE(
      this->notifications().CommitFlush(Flush({Row("a", 100), Row("b", 300), Row("c", 200)})).ok());
  ASSERT_TRUE(this->Claim(100).has_value());
  ASSERT_TRUE(this->notifications()
                  .RecordAttempt("a", {1, 101, "retry", "x"}, OutboxState::kPending, 100)
                  .ok());
  ASSERT_TRUE(this->Claim(100).has_value());
  ASSERT_TRUE(this->notifications()
                  .RecordAttempt("a", {2, 102, "failed", "y"}, OutboxState::kFailed, 0)
                  .ok());
  std::vector<OutboxEntry> outbox = this->Outbox();
  std::vector<std::string> ids;
  for (const OutboxEntry& e : outbox) ids.push_back(e.notification.id);
  EXPECT_THAT(ids, ElementsAre("b", "c", "a"));
  EXPECT_THAT(outbox[0].attempts, IsEmpty());
  ASSERT_EQ(outbox[2].attempts.size(), 2u);
  EXPECT_EQ(outbox[2].attempts[1].detail, "y");
  EXPECT_EQ(outbox[2].state, OutboxState::kFailed);
  absl::StatusOr<std::vector<OutboxEntry>> two = this->notifications().ListOutbox(2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
}

TYPED_TEST(StateStoreTest, SilencesRoundTripAndUpdate) {
  Silence s;
  s.id = "abc";
  s.matchers = {"host=\"db-1\"", "env=~\"prod|stag\\\"ing\""};
  s.starts_at_ms = 10;
  s.ends_at_ms = 20;
  s.created_by = "alice";
  s.comment = "disk swap";
  s.updated_ms = 5;
  ASSERT_TRUE(this->notifications().SaveSilence(s).ok());
  s.ends_at_ms = 15;
  ASSERT_TRUE(this->notifications().SaveSilence(s).ok());
  this->Reopen();
  absl::StatusOr<std::vector<Silence>> loaded = this->notifications().LoadSilences();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  const Silence& l = (*loaded)[0];
  EXPECT_EQ(l.matchers, s.matchers);
  ASSERT_EQ(l.parsed.size(), 2u);
  EXPECT_EQ(l.parsed[1].value, "prod|stag\"ing");
  EXPECT_EQ(l.starts_at_ms, 10);
  EXPECT_EQ(l.ends_at_ms, 15);
  EXPECT_EQ(l.created_by, "alice");
  EXPECT_EQ(l.comment, "disk swap");
  EXPECT_EQ(l.updated_ms, 5);
}

TYPED_TEST(StateStoreTest, PruneDropsOnlyOldFinishedRowsAndEndedSilences) {
  ASSERT_TRUE(this->notifications()
                  .CommitFlush(Flush({Row("old", 100), Row("pending", 100), Row("recent", 100)}))
                  .ok());
  ASSERT_TRUE(this->notifications()
                  .RecordAttempt("old", {1, 150, "failed", "400"}, OutboxState::kFailed, 150)
                  .ok());
  ASSERT_TRUE(this->notifications()
                  .RecordAttempt("recent", {1, 900, "delivered", ""}, OutboxState::kDelivered, 900)
                  .ok());
  ASSERT_TRUE(this->notifications().SaveSilence(MakeSilence("s1", 100)).ok());
  ASSERT_TRUE(this->notifications().SaveSilence(MakeSilence("s2", 5000)).ok());
  ASSERT_TRUE(this->notifications().Prune(500).ok());
  std::vector<std::string> ids;
  for (const OutboxEntry& e : this->Outbox()) ids.push_back(e.notification.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_THAT(ids, ElementsAre("pending", "recent"));
  EXPECT_EQ(this->backend_.Query("SELECT COUNT(*) FROM delivery_attempts"), "1");
  absl::StatusOr<std::vector<Silence>> silences = this->notifications().LoadSilences();
  ASSERT_TRUE(silences.ok());
  ASSERT_EQ(silences->size(), 1u);
  EXPECT_EQ((*silences)[0].id, "s2");
}

TYPED_TEST(StateStoreTest, CorruptRowsAreReportedNotMisread) {
  this->backend_.Query(
      "INSERT INTO notification_log VALUES ('oncall', 0, 'g', '[\"a@1\"', '[]', 1, 't')");
  absl::StatusOr<std::vector<NotificationLogEntry>> log = this->notifications().LoadLog();
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(), HasSubstr("receiver oncall group g is malformed"));
  this->backend_.Query("INSERT INTO silences VALUES ('s', '[\"a~b\"]', 0, 1, 'a', 'b', 0)");
  absl::StatusOr<std::vector<Silence>> silences = this->notifications().LoadSilences();
  EXPECT_EQ(silences.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(silences.status().message(), HasSubstr("silence s has malformed matchers"));
}

TYPED_TEST(StateStoreTest, TwoClaimersNeverGetTheSameNotification) {
  constexpr int kRows = 60;
  std::vector<OutboxNotification> rows;
  for (int i = 0; i < kRows; ++i) rows.push_back(Row(absl::StrCat("n", i), 100 + i));
  ASSERT_TRUE(this->notifications().CommitFlush(Flush(rows)).ok());
  std::unique_ptr<StateStore> other = this->OpenStore();
  ASSERT_NE(other, nullptr);
  std::vector<std::string> got[2];
  absl::Status errors[2];
  auto claimer = [&](StateStore* store, int index) {
    for (;;) {
      absl::StatusOr<std::optional<OutboxNotification>> c =
          store->notifications().ClaimDue(1000000, 2000000);
      if (!c.ok()) {
        errors[index] = c.status();
        return;
      }
      if (!c->has_value()) return;
      got[index].push_back((*c)->id);
    }
  };
  std::thread a(claimer, this->store_.get(), 0);
  std::thread b(claimer, other.get(), 1);
  a.join();
  b.join();
  EXPECT_TRUE(errors[0].ok()) << errors[0];
  EXPECT_TRUE(errors[1].ok()) << errors[1];
  std::set<std::string> all(got[0].begin(), got[0].end());
  all.insert(got[1].begin(), got[1].end());
  EXPECT_EQ(all.size(), got[0].size() + got[1].size()) << "a notification was claimed twice";
  EXPECT_EQ(all.size(), static_cast<size_t>(kRows));
}

TYPED_TEST(StateStoreTest, ClaimRecordsTheClaimingEpoch) {
  ASSERT_TRUE(this->notifications().CommitFlush(Flush({Row("n1", 100)})).ok());
  absl::StatusOr<std::optional<int64_t>> epoch =
      this->store_->lease().Acquire("replica-a", absl::Seconds(30));
  ASSERT_TRUE(epoch.ok() && epoch->has_value()) << epoch.status();
  this->store_->SetFencingEpoch(**epoch);
  ASSERT_TRUE(this->Claim(100).has_value());
  EXPECT_EQ(this->backend_.Query("SELECT claim_epoch FROM outbox WHERE id = 'n1'"),
            std::to_string(**epoch));
}

// -- StreamPositionStore

TYPED_TEST(StateStoreTest, PositionsRiseNeverFallAndAreOrderedByAgent) {
  StreamPositionStore& streams = this->store_->streams();
  ASSERT_TRUE(streams.SavePositions({{"web-2", 10, 1000}, {"web-1", 5, 1000}}).ok());
  ASSERT_TRUE(streams.SavePositions({{"web-2", 7, 2000}, {"web-1", 9, 2000}}).ok());
  // Within one batch the highest wins.
  ASSERT_TRUE(
      streams.SavePositions({{"db-1", 3, 3000}, {"db-1", 8, 3000}, {"db-1", 4, 3000}}).ok());
  std::vector<StreamPosition> p = this->Positions();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].agent_id, "db-1");
  EXPECT_EQ(p[0].last_sequence, 8u);
  EXPECT_EQ(p[1].agent_id, "web-1");
  EXPECT_EQ(p[1].last_sequence, 9u);
  EXPECT_EQ(p[1].updated_ms, 2000);
  EXPECT_EQ(p[2].agent_id, "web-2");
  EXPECT_EQ(p[2].last_sequence, 10u) << "a lower sequence leaves the stored one";
  EXPECT_EQ(p[2].updated_ms, 1000);
}

TYPED_TEST(StateStoreTest, InvalidPositionsAreRefusedAndNothingIsWritten) {
  StreamPositionStore& streams = this->store_->streams();
  absl::Status s = streams.SavePositions({{"web-1", 1, 1}, {"", 2, 1}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("position has an empty agent id"));
  s = streams.SavePositions({{"web-1", uint64_t{1} << 63, 1}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(this->Positions(), IsEmpty());
}

// -- LeaderLease

TYPED_TEST(StateStoreTest, LeaseIsRenewedByItsHolderAndTakenOverWhenItLapses) {
  std::unique_ptr<StateStore> b = this->OpenStore();
  ASSERT_NE(b, nullptr);
  LeaderLease& lease_a = this->store_->lease();
  absl::StatusOr<LeaseInfo> never = lease_a.Current();
  ASSERT_TRUE(never.ok()) << never.status();
  EXPECT_EQ(never->holder, "");
  EXPECT_EQ(never->epoch, 0);

  absl::StatusOr<std::optional<int64_t>> a1 = lease_a.Acquire("a", absl::Seconds(1));
  ASSERT_TRUE(a1.ok()) << a1.status();
  EXPECT_EQ(*a1, 1);
  absl::StatusOr<std::optional<int64_t>> renewed = lease_a.Acquire("a", absl::Seconds(1));
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(*renewed, 1) << "a renewal keeps the epoch";
  absl::StatusOr<std::optional<int64_t>> refused = b->lease().Acquire("b", absl::Seconds(5));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(*refused, std::nullopt) << "a's lease is live";
  absl::StatusOr<LeaseInfo> current = b->lease().Current();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->holder, "a");
  EXPECT_EQ(current->epoch, 1);
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  EXPECT_GT(current->expires_ms, now_ms);
  EXPECT_LE(current->expires_ms, now_ms + 1000);

  // After expiry, b takes over with the next epoch, and a cannot renew.
  std::optional<int64_t> b2;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        absl::StatusOr<std::optional<int64_t>> r = b->lease().Acquire("b", absl::Seconds(5));
        if (r.ok()) b2 = *r;
        return b2.has_value();
      },
      absl::Seconds(5)));
  EXPECT_EQ(b2, 2);
  absl::StatusOr<std::optional<int64_t>> lost = lease_a.Acquire("a", absl::Seconds(5));
  ASSERT_TRUE(lost.ok());
  EXPECT_EQ(*lost, std::nullopt);
  current = lease_a.Current();
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(current->holder, "b");
  EXPECT_EQ(current->epoch, 2);
}

TYPED_TEST(StateStoreTest, ReleaseLetsAnotherTakeOverAtOnce) {
  LeaderLease& lease = this->store_->lease();
  ASSERT_EQ(*lease.Acquire("a", absl::Seconds(60)), 1);
  // Only the holder with its epoch can release.
  ASSERT_TRUE(lease.Release("b", 1).ok());
  ASSERT_TRUE(lease.Release("a", 7).ok());
  EXPECT_EQ(*lease.Acquire("b", absl::Seconds(60)), std::nullopt);
  ASSERT_TRUE(lease.Release("a", 1).ok());
  EXPECT_EQ(*lease.Acquire("b", absl::Seconds(60)), 2);
  EXPECT_EQ(lease.Current()->holder, "b");
}

TYPED_TEST(StateStoreTest, AHolderWhoseLeaseLapsedGetsANewEpoch) {
  LeaderLease& lease = this->store_->lease();
  ASSERT_EQ(*lease.Acquire("a", absl::Milliseconds(50)), 1);
  absl::SleepFor(absl::Milliseconds(120));  // the lease must lapse; nothing else to wait for
  EXPECT_EQ(*lease.Acquire("a", absl::Seconds(60)), 2)
      << "another replica may have held it in between";
  EXPECT_EQ(lease.Acquire("", absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// -- Fencing

TYPED_TEST(StateStoreTest, TheOldLeaderCannotWriteOrClaimAfterATakeover) {
  StateStore& a = *this->store_;
  std::unique_ptr<StateStore> b = this->OpenStore();
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(
      a.notifications().CommitFlush(Flush({Row("claimed-by-a", 100), Row("due", 100)})).ok());
  ASSERT_EQ(*a.lease().Acquire("a", absl::Milliseconds(300)), 1);
  a.SetFencingEpoch(1);
  // While it leads, a writes.
  ASSERT_TRUE(a.alarms().SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
  ASSERT_EQ(this->Claim(100, &a)->id, "claimed-by-a");

  std::optional<int64_t> epoch_b;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        absl::StatusOr<std::optional<int64_t>> r = b->lease().Acquire("b", absl::Seconds(60));
        if (r.ok()) epoch_b = *r;
        return epoch_b.has_value();
      },
      absl::Seconds(5)));
  ASSERT_EQ(epoch_b, 2);
  b->SetFencingEpoch(2);

  const std::string fenced = "fenced: lease epoch is now 2, this replica holds 1";
  auto expect_fenced = [&](const absl::Status& s, const char* what) {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << what << ": " << s;
    EXPECT_THAT(s.message(), HasSubstr(fenced)) << what;
    EXPECT_THAT(s.message(), HasSubstr(this->backend_.Location())) << what;
  };
  expect_fenced(a.alarms().SaveAlarms({Alarm("r", "{a}", AlarmState::kAlarm, 2),
                                       Alarm("r", "{new}", AlarmState::kAlarm, 2)}),
                "SaveAlarms");
  expect_fenced(a.alarms().DeleteAlarms({{"r", "{a}"}}), "DeleteAlarms");
  expect_fenced(a.alarms().AppendTransitions({Transition("r", 2)}), "AppendTransitions");
  expect_fenced(a.alarms().PruneTransitions(0), "PruneTransitions");
  expect_fenced(a.notifications().CommitFlush(Flush({Row("from-a", 100)})), "CommitFlush");
  expect_fenced(a.notifications().ClaimDue(100, 5000).status(), "ClaimDue");
  expect_fenced(a.notifications().RecordAttempt("claimed-by-a", {1, 150, "delivered", ""},
                                                OutboxState::kDelivered, 150),
                "RecordAttempt");
  expect_fenced(a.notifications().ReleaseClaims(), "ReleaseClaims");
  expect_fenced(a.notifications().SaveSilence(MakeSilence("s-a", 5000)), "SaveSilence");
  expect_fenced(a.notifications().Prune(1000000), "Prune");
  expect_fenced(a.streams().SavePositions({{"web-1", 5, 1}}), "SavePositions");

  // Nothing of it was written: b sees what a wrote while it led, and no more.
  std::vector<AlarmRecord> alarms = this->LoadAlarms(*b);
  EXPECT_EQ(Keys(alarms), std::vector<std::string>{"r {a}"});
  EXPECT_EQ(alarms[0].state, AlarmState::kOk);
  EXPECT_THAT(*b->alarms().History("", 10), IsEmpty());
  std::vector<OutboxEntry> outbox = this->Outbox(b.get());
  ASSERT_EQ(outbox.size(), 2u);
  for (const OutboxEntry& e : outbox) {
    EXPECT_EQ(e.state, OutboxState::kPending) << e.notification.id;
    EXPECT_THAT(e.attempts, IsEmpty());
  }
  EXPECT_THAT(*b->notifications().LoadSilences(), IsEmpty());
  EXPECT_THAT(*b->streams().LoadPositions(), IsEmpty());
  EXPECT_EQ(this->backend_.Query("SELECT claim_epoch FROM outbox WHERE id = 'due'"), "0");
  // The new leader writes, and takes over a's claim after ReleaseClaims.
  EXPECT_TRUE(b->alarms().SaveAlarms({Alarm("r", "{b}", AlarmState::kOk, 3)}).ok());
  ASSERT_TRUE(b->notifications().ReleaseClaims().ok());
  std::optional<OutboxNotification> c = this->Claim(100, b.get());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(
      this->backend_.Query(absl::StrCat("SELECT claim_epoch FROM outbox WHERE id = '", c->id, "'")),
      "2");
  // Reads stay possible for the fenced replica (it steps down on its own).
  EXPECT_TRUE(a.alarms().LoadAlarms().ok());
}

TYPED_TEST(StateStoreTest, EpochZeroWritesWhoeverHoldsTheLease) {
  std::unique_ptr<StateStore> b = this->OpenStore();
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(*b->lease().Acquire("b", absl::Seconds(60)), 1);
  EXPECT_TRUE(this->alarms().SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
  this->store_->SetFencingEpoch(1);
  EXPECT_TRUE(this->alarms().SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 2)}).ok());
  this->store_->SetFencingEpoch(3);
  EXPECT_EQ(this->alarms().SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 3)}).code(),
            absl::StatusCode::kFailedPrecondition);
}

// -- Reopening, schema, status

TYPED_TEST(StateStoreTest, ReopenKeepsEverything) {
  AlarmRecord a = Alarm("r", "{a}", AlarmState::kAlarm, 100);
  a.periods = std::string("\x00z", 2);
  ASSERT_TRUE(this->alarms().SaveAlarms({a}).ok());
  ASSERT_TRUE(this->alarms().AppendTransitions({Transition("r", 100)}).ok());
  FlushBatch batch = Flush({Row("n1", 100)});
  batch.log_upserts = {Entry("g1", {"a@1"})};
  ASSERT_TRUE(this->notifications().CommitFlush(batch).ok());
  ASSERT_TRUE(this->notifications().SaveSilence(MakeSilence("s1", 5000)).ok());
  ASSERT_TRUE(this->store_->streams().SavePositions({{"web-1", 42, 7}}).ok());
  ASSERT_EQ(*this->store_->lease().Acquire("a", absl::Seconds(60)), 1);
  this->Reopen();

  std::vector<AlarmRecord> loaded = this->LoadAlarms(*this->store_);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].state, AlarmState::kAlarm);
  EXPECT_EQ(loaded[0].state_since_ms, 100);
  EXPECT_EQ(loaded[0].periods, std::string("\x00z", 2));
  EXPECT_EQ(AtMs(this->History("r")), std::vector<int64_t>{100});
  ASSERT_TRUE(this->alarms().AppendTransitions({Transition("r", 200)}).ok());
  EXPECT_EQ(this->History("r")[0].id, 2);
  EXPECT_EQ(this->Outbox().size(), 1u);
  EXPECT_EQ(this->notifications().LoadLog()->size(), 1u);
  EXPECT_EQ(this->notifications().LoadSilences()->size(), 1u);
  ASSERT_EQ(this->Positions().size(), 1u);
  EXPECT_EQ(this->Positions()[0].last_sequence, 42u);
  EXPECT_EQ(this->store_->lease().Current()->holder, "a");
  EXPECT_EQ(*this->store_->lease().Acquire("a", absl::Seconds(60)), 1);
}

TYPED_TEST(StateStoreTest, StatusNamesBackendLocationAndVersion) {
  absl::StatusOr<SchemaStatus> status = this->store_->Status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->backend, this->backend_.backend());
  EXPECT_EQ(status->location, this->backend_.Location());
  EXPECT_EQ(status->version, 2);
  EXPECT_EQ(status->latest, 2);
  // Reopening does not rerun migrations.
  this->Reopen();
  EXPECT_EQ(this->backend_.Query("SELECT COUNT(*) || ' ' || MAX(version) FROM schema_version"),
            "2 2");
}

TYPED_TEST(StateStoreTest, InspectReadsVersionAndLeaseWithoutChangingAnything) {
  ASSERT_EQ(*this->store_->lease().Acquire("a", absl::Seconds(60)), 1);
  absl::StatusOr<StateReport> report = this->backend_.Inspect();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->schema.backend, this->backend_.backend());
  EXPECT_EQ(report->schema.location, this->backend_.Location());
  EXPECT_EQ(report->schema.version, 2);
  EXPECT_EQ(report->schema.latest, 2);
  EXPECT_EQ(report->lease.holder, "a");
  EXPECT_EQ(report->lease.epoch, 1);
}

TYPED_TEST(StateStoreTest, NewerSchemaIsRefused) {
  this->store_.reset();
  this->backend_.Query(this->backend_.InsertSchemaVersionSql(99));
  absl::StatusOr<std::unique_ptr<StateStore>> s = this->backend_.Open();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(),
              HasSubstr(absl::StrCat("state database ", this->backend_.Location(),
                                     " has schema version 99, newer than the version 2 this "
                                     "binary knows")));
  EXPECT_EQ(this->backend_.Query("SELECT MAX(version) FROM schema_version"), "99");
}

TYPED_TEST(StateStoreTest, AStoreOfThePreviousVersionIsMigratedInPlace) {
  this->store_.reset();
  // A fresh database made only as far as version 1 (the rule engine's alarm state).
  TypeParam fresh;
  ASSERT_TRUE(fresh.Ready().ok());
  {
    absl::StatusOr<std::unique_ptr<StateStore>> v1 = fresh.Open(/*migrate_to=*/1);
    ASSERT_TRUE(v1.ok()) << v1.status();
  }
  EXPECT_EQ(fresh.Query("SELECT MAX(version) FROM schema_version"), "1");
  fresh.Query("INSERT INTO alarms VALUES ('r', '{}', 'ALARM', 5, 6, 7, 'x')");
  absl::StatusOr<StateReport> before = fresh.Inspect();
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->schema.version, 1);
  EXPECT_EQ(before->lease.epoch, 0);

  absl::StatusOr<std::unique_ptr<StateStore>> store = fresh.Open();
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Status()->version, 2);
  std::vector<AlarmRecord> alarms = this->LoadAlarms(**store);
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].state, AlarmState::kAlarm);
  EXPECT_EQ(alarms[0].state_since_ms, 5);
  EXPECT_TRUE((*store)->notifications().CommitFlush(Flush({Row("n1", 1)})).ok());
}

TYPED_TEST(StateStoreTest, StoresOpenedTogetherMigrateOnceAndBothWork) {
  this->store_.reset();
  TypeParam fresh;
  ASSERT_TRUE(fresh.Ready().ok());
  absl::StatusOr<std::unique_ptr<StateStore>> stores[3] = {
      absl::UnknownError(""), absl::UnknownError(""), absl::UnknownError("")};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back([&, i] { stores[i] = fresh.Open(); });
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(stores[i].ok()) << i << ": " << stores[i].status();
    EXPECT_TRUE(
        (*stores[i])->alarms().SaveAlarms({Alarm("r", absl::StrCat(i), AlarmState::kOk, 1)}).ok());
  }
  EXPECT_EQ(fresh.Query("SELECT COUNT(*) || ' ' || MAX(version) FROM schema_version"), "2 2");
  EXPECT_EQ(fresh.Query("SELECT COUNT(*) FROM alarms"), "3");
}

// ---- PostgreSQL only.

class PostgresStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(backend_.Ready().ok()) << backend_.Ready(); }
  PostgresBackend backend_;
};

absl::StatusOr<std::unique_ptr<PostgresStateStore>> OpenPostgres(const PostgresStateConfig& c) {
  return PostgresStateStore::Open(c);
}

TEST_F(PostgresStateStoreTest, ReconnectsAfterItsBackendIsTerminated) {
  auto store = OpenPostgres(backend_.Config());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
  ASSERT_EQ(backend_.Query(absl::StrCat("SELECT COUNT(pg_terminate_backend(pid)) FROM "
                                        "pg_stat_activity WHERE application_name = "
                                        "'vigil-collector' AND datname = '",
                                        backend_.dbname(), "'")),
            "1");
  // The dead connection is noticed at BEGIN, before anything was sent: the write is retried
  // on a new connection, once.
  absl::Status s = (*store)->AppendTransitions({Transition("r", 1)});
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(backend_.Query("SELECT COUNT(*) FROM transitions"), "1");
  EXPECT_EQ(backend_.Query("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = "
                           "'vigil-collector'"),
            "1");
  // Reads likewise.
  ASSERT_EQ(backend_.Query(absl::StrCat("SELECT COUNT(pg_terminate_backend(pid)) FROM "
                                        "pg_stat_activity WHERE application_name = "
                                        "'vigil-collector' AND datname = '",
                                        backend_.dbname(), "'")),
            "1");
  absl::StatusOr<std::vector<AlarmRecord>> alarms = (*store)->LoadAlarms();
  ASSERT_TRUE(alarms.ok()) << alarms.status();
  EXPECT_EQ(alarms->size(), 1u);
}

TEST_F(PostgresStateStoreTest, ConnectionLostDuringCommitIsReportedAndNotRetried) {
  auto store = OpenPostgres(backend_.Config());
  ASSERT_TRUE(store.ok()) << store.status();
  // A deferred trigger makes COMMIT take a while, so the test can kill the session during it.
  backend_.Query(
      "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$");
  backend_.Query(
      "CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON alarms DEFERRABLE INITIALLY DEFERRED "
      "FOR EACH ROW EXECUTE FUNCTION slow_commit()");
  absl::Status status;
  std::thread writer(
      [&] { status = (*store)->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}); });
  const std::string committing = absl::StrCat(
      "FROM pg_stat_activity WHERE application_name = 'vigil-collector' AND datname = '",
      backend_.dbname(), "' AND state = 'active' AND query = 'COMMIT'");
  const bool seen = testing::WaitFor(
      [&] { return backend_.Query("SELECT COUNT(*) " + committing) == "1"; }, absl::Seconds(10));
  if (seen) backend_.Query("SELECT pg_terminate_backend(pid) " + committing);
  writer.join();
  ASSERT_TRUE(seen);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("whether the write was applied is unknown"));
  // Not retried: a retry would have committed the row (its COMMIT is only slow).
  EXPECT_EQ(backend_.Query("SELECT COUNT(*) FROM alarms"), "0");
  // The next call uses a new connection.
  backend_.Query("DROP TRIGGER slow ON alarms");
  EXPECT_TRUE((*store)->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 2)}).ok());
}

TEST_F(PostgresStateStoreTest, ServerDownIsUnavailableNamingItAndServerBackIsUsedAgain) {
  auto store = OpenPostgres(backend_.Config());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
  backend_.server().Stop();
  absl::Status down = (*store)->SaveAlarms({Alarm("r", "{a}", AlarmState::kAlarm, 2)});
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_THAT(down.message(), HasSubstr(absl::StrCat("state database ", backend_.Location())));
  // Within the backoff, calls fail at once without a connection attempt, saying why.
  absl::StatusOr<std::vector<AlarmRecord>> read = (*store)->LoadAlarms();
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(read.status().message(),
              HasSubstr("not connected; the last attempt failed (connection to server at "
                        "\"127.0.0.1\""));
  EXPECT_THAT(read.status().message(), HasSubstr("the next one in"));

  ASSERT_TRUE(backend_.server().Start().ok());
  absl::Status s;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        s = (*store)->SaveAlarms({Alarm("r", "{a}", AlarmState::kAlarm, 3)});
        return s.ok();
      },
      absl::Seconds(15)))
      << s;
  std::vector<AlarmRecord> alarms = *(*store)->LoadAlarms();
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].state_since_ms, 3);
}

TEST_F(PostgresStateStoreTest, ReconnectsAfterTheServerRestarts) {
  auto store = OpenPostgres(backend_.Config());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CommitFlush(Flush({Row("n1", 100)})).ok());
  ASSERT_TRUE(backend_.server().Restart().ok());
  absl::Status s = (*store)->CommitFlush(Flush({Row("n2", 100)}));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(*(*store)->CountPending(), 2);
}

TEST_F(PostgresStateStoreTest, WrongPasswordNamesTheServerButNeverThePassword) {
  testing::TempDir dir;
  ASSERT_TRUE(backend_.Query(absl::StrCat("GRANT ALL ON DATABASE ", backend_.dbname(), " TO ",
                                          kPasswordRole)) == "");
  ASSERT_TRUE(
      backend_
          .Query(absl::StrCat("ALTER DATABASE ", backend_.dbname(), " OWNER TO ", kPasswordRole))
          .empty());
  PostgresStateConfig c = backend_.Config();
  c.user = kPasswordRole;
  c.password_file = dir.Write("wrong", std::string(kWrongPassword) + "\n");
  auto store = OpenPostgres(c);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(),
              HasSubstr(absl::StrCat("state database ", backend_.Location(), ": ")));
  EXPECT_THAT(store.status().message(), HasSubstr("password authentication failed"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr(kWrongPassword)));

  c.password_file = dir.Join("absent");
  store = OpenPostgres(c);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr(c.password_file));

  // The right one, read from the file at connect (trailing newline trimmed).
  c.password_file = dir.Write("right", std::string(kRightPassword) + "\n");
  store = OpenPostgres(c);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE((*store)->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
}

TEST_F(PostgresStateStoreTest, ServerThatAcceptsTcpButNeverAnswersTimesOut) {
  // A listening socket whose backlog takes the connection, and nobody ever answers it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int port = testing::FreePort();
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  PostgresStateConfig c = backend_.Config();
  c.port = port;
  c.connect_timeout = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  auto store = OpenPostgres(c);
  const absl::Duration took = absl::Now() - start;
  ::close(fd);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDeadlineExceeded) << store.status();
  EXPECT_THAT(store.status().message(),
              HasSubstr(absl::StrCat("state database 127.0.0.1:", port, "/", backend_.dbname())));
  EXPECT_GE(took, absl::Milliseconds(450));
  EXPECT_LT(took, absl::Seconds(3));
}

// Whether the store's own session is encrypted, as the server sees it.
std::string StoreSessionUsesTls(PostgresBackend& backend) {
  return backend.Query(
      absl::StrCat("SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE "
                   "a.application_name = 'vigil-collector' AND a.datname = '",
                   backend.dbname(), "'"));
}

TEST_F(PostgresStateStoreTest, VerifyFullConnectsOverTlsToTheServerTheCaSigned) {
  PostgresStateConfig c = backend_.Config();
  c.sslmode = "verify-full";
  c.sslrootcert = Certificates().Join("ca.pem");
  auto store = OpenPostgres(c);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(StoreSessionUsesTls(backend_), "t");
  EXPECT_TRUE((*store)->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
}

TEST_F(PostgresStateStoreTest, VerifyFullRefusesAServerAnotherCaSigned) {
  PostgresStateConfig c = backend_.Config();
  c.sslmode = "verify-full";
  c.sslrootcert = Certificates().Join("other-ca.pem");
  auto store = OpenPostgres(c);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr("certificate verify failed"));
  EXPECT_THAT(store.status().message(), HasSubstr(backend_.Location()));
}

TEST_F(PostgresStateStoreTest, SslmodeDisableConnectsInTheClear) {
  PostgresStateConfig c = backend_.Config();
  c.sslmode = "disable";
  auto store = OpenPostgres(c);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(StoreSessionUsesTls(backend_), "f");
}

TEST_F(PostgresStateStoreTest, RoleWithoutCreatePrivilegeGetsPermissionDenied) {
  // PostgreSQL 15 grants no CREATE on schema public to ordinary roles: the operator must make
  // the role the database's owner (docs/operations.md).
  testing::TempDir dir;
  ASSERT_TRUE(backend_.Query(absl::StrCat("GRANT CONNECT ON DATABASE ", backend_.dbname(), " TO ",
                                          kPasswordRole)) == "");
  PostgresStateConfig c = backend_.Config();
  c.user = kPasswordRole;
  c.password_file = dir.Write("right", kRightPassword);
  auto store = OpenPostgres(c);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("permission denied for schema public"));
}

TEST_F(PostgresStateStoreTest, OpenStateStorePicksTheConfiguredBackend) {
  StateConfig config;
  config.backend = kPostgresBackend;
  config.postgres = backend_.Config();
  absl::StatusOr<std::unique_ptr<StateStore>> store = OpenStateStore(config, "/nonexistent");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Status()->backend, "postgres");
}

// ---- SQLite only.

class SqliteStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = SqliteStateStore::Open(backend_.path());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }
  SqliteBackend backend_;
  std::unique_ptr<SqliteStateStore> store_;
};

TEST_F(SqliteStateStoreTest, FullDatabaseIsResourceExhaustedAndWritesNothing) {
  ASSERT_TRUE(store_->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
  // A maximum below the current size is raised to the current size: the file cannot grow.
  ASSERT_TRUE(store_->ExecForTesting("PRAGMA max_page_count = 1").ok());
  AlarmRecord big = Alarm("r", "{big}", AlarmState::kAlarm, 2);
  big.periods = std::string(1 << 20, 'p');
  absl::Status status = store_->SaveAlarms({Alarm("r", "{b}", AlarmState::kOk, 2), big});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr("database or disk is full"));
  FlushBatch batch = Flush({Row("n1", 1, std::string(1 << 20, 'x'))});
  batch.log_upserts = {Entry("g", {"a@1"})};
  status = store_->CommitFlush(batch);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;

  ASSERT_TRUE(store_->ExecForTesting("PRAGMA max_page_count = 1000000").ok());
  EXPECT_EQ(Keys(*store_->LoadAlarms()), std::vector<std::string>{"r {a}"});
  EXPECT_THAT(*store_->ListOutbox(10), IsEmpty());
  EXPECT_THAT(*store_->LoadLog(), IsEmpty());
  EXPECT_TRUE(store_->SaveAlarms({big}).ok());
  EXPECT_TRUE(store_->CommitFlush(batch).ok());
}

TEST_F(SqliteStateStoreTest, OpenSetsWalJournal) {
  EXPECT_EQ(backend_.Query("PRAGMA journal_mode"), "wal");
}

TEST(SqliteStateStoreOpen, MissingDirectoryIsNotFoundNamingThePath) {
  testing::TempDir dir;
  const std::string path = dir.Join("absent/state.db");
  auto store = SqliteStateStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.status().message(), absl::StrCat("state database ", path, ": directory ",
                                                   dir.Join("absent"), " does not exist"));
}

TEST(SqliteStateStoreOpen, FileThatIsNotADatabaseIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.Write("state.db", std::string(4096, 'x'));
  auto store = SqliteStateStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_THAT(store.status().message(), HasSubstr("file is not a database"));
}

TEST(SqliteStateStoreOpen, OpenStateStoreUsesStateDbInTheStateDirectory) {
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<StateStore>> store = OpenStateStore(StateConfig(), dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<SchemaStatus> status = (*store)->Status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->backend, "sqlite");
  EXPECT_EQ(status->location, dir.Join("state.db"));
}

TEST(SqliteStateStoreOpen, InspectOfAMissingFileCreatesNothing) {
  testing::TempDir dir;
  absl::StatusOr<StateReport> report = InspectStateStore(StateConfig(), dir.path());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->schema.version, 0);
  EXPECT_EQ(report->schema.latest, 2);
  EXPECT_NE(::access(dir.Join("state.db").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace vigil::collector
