#include "alerting/state/sqlite_state_store.h"

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A second, plain connection to inspect or tamper with the file behind the store's back.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  }
  ~RawDb() { sqlite3_close(db_); }
  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error ? error : "");
    sqlite3_free(error);
  }
  std::string QueryText(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string result;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return result;
  }

 private:
  sqlite3* db_ = nullptr;
};

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

class SqliteStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenStore(); }
  std::unique_ptr<SqliteStateStore> OpenStore() {
    auto store = SqliteStateStore::Open(path_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  vigil::testing::TempDir dir_;
  const std::string path_ = dir_.Join("state.db");
  std::unique_ptr<SqliteStateStore> store_;
};

TEST_F(SqliteStateStoreTest, SaveAndLoadRoundTripEveryField) {
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
  ASSERT_TRUE(store_->SaveAlarms({a, b, c}).ok());

  auto loaded = store_->LoadAlarms();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 3u);
  EXPECT_EQ(Keys(*loaded), (std::vector<std::string>{"agent-up {}", R"(db-cpu-prod {host="db1"})",
                                                     R"(db-cpu-prod {host="db2"})"}));
  const AlarmRecord& got = (*loaded)[1];
  EXPECT_EQ(got.rule, a.rule);
  EXPECT_EQ(got.instance, a.instance);
  EXPECT_EQ(got.state, AlarmState::kAlarm);
  EXPECT_EQ(got.state_since_ms, 1795305600000);
  EXPECT_EQ(got.rule_fingerprint, 0xFEDCBA9876543210ULL);
  EXPECT_EQ(got.last_data_ms, -5);
  EXPECT_EQ(got.periods, std::string("\x00\x01\xff\x00tail\x00", 9));
  EXPECT_EQ((*loaded)[2].state, AlarmState::kOk);
  EXPECT_EQ((*loaded)[2].periods, "");
  EXPECT_EQ((*loaded)[0].state, AlarmState::kInsufficientData);
}

TEST_F(SqliteStateStoreTest, StatesAreStoredAsText) {
  ASSERT_TRUE(store_->SaveAlarms({Alarm("r", "{}", AlarmState::kAlarm, 1)}).ok());
  ASSERT_TRUE(
      store_
          ->AppendTransitions({Transition("r", 1, AlarmState::kInsufficientData, AlarmState::kOk)})
          .ok());
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryText("SELECT state FROM alarms"), "ALARM");
  EXPECT_EQ(raw.QueryText("SELECT from_state || ' ' || to_state FROM transitions"),
            "INSUFFICIENT_DATA OK");
}

TEST_F(SqliteStateStoreTest, SaveReplacesExistingInstance) {
  ASSERT_TRUE(store_->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
  AlarmRecord updated = Alarm("r", "{a}", AlarmState::kAlarm, 2);
  updated.periods = "new";
  updated.rule_fingerprint = 43;
  ASSERT_TRUE(store_->SaveAlarms({updated}).ok());

  auto loaded = store_->LoadAlarms();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].state, AlarmState::kAlarm);
  EXPECT_EQ((*loaded)[0].state_since_ms, 2);
  EXPECT_EQ((*loaded)[0].last_data_ms, 3);
  EXPECT_EQ((*loaded)[0].rule_fingerprint, 43u);
  EXPECT_EQ((*loaded)[0].periods, "new");
}

TEST_F(SqliteStateStoreTest, DeleteRemovesOnlyTheNamedInstances) {
  ASSERT_TRUE(store_
                  ->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1),
                                Alarm("r", "{b}", AlarmState::kOk, 1),
                                Alarm("s", "{a}", AlarmState::kOk, 1)})
                  .ok());
  ASSERT_TRUE(store_->DeleteAlarms({{"r", "{a}"}, {"s", "{a}"}, {"absent", "{}"}}).ok());
  auto loaded = store_->LoadAlarms();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(Keys(*loaded), std::vector<std::string>{"r {b}"});
}

TEST_F(SqliteStateStoreTest, TransitionsAreAppendedInOrderWithIncreasingIds) {
  ASSERT_TRUE(store_->AppendTransitions({Transition("r", 10), Transition("r", 20)}).ok());
  ASSERT_TRUE(store_->AppendTransitions({Transition("r", 30)}).ok());
  auto history = store_->History("r", 10);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ(AtMs(*history), (std::vector<int64_t>{30, 20, 10}));
  EXPECT_EQ((*history)[2].id, 1);
  EXPECT_EQ((*history)[1].id, 2);
  EXPECT_EQ((*history)[0].id, 3);
  const TransitionRecord& t = (*history)[0];
  EXPECT_EQ(t.rule, "r");
  EXPECT_EQ(t.instance, "{}");
  EXPECT_EQ(t.from, AlarmState::kOk);
  EXPECT_EQ(t.to, AlarmState::kAlarm);
  EXPECT_EQ(t.reason, "reason 30");
}

TEST_F(SqliteStateStoreTest, HistoryOfOneRuleIsNewestFirstAndLimited) {
  ASSERT_TRUE(store_
                  ->AppendTransitions({Transition("r", 1), Transition("s", 2), Transition("r", 3),
                                       Transition("s", 4), Transition("r", 5)})
                  .ok());
  auto history = store_->History("r", 2);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(AtMs(*history), (std::vector<int64_t>{5, 3}));
  auto all_of_s = store_->History("s", 100);
  ASSERT_TRUE(all_of_s.ok());
  EXPECT_EQ(AtMs(*all_of_s), (std::vector<int64_t>{4, 2}));
  auto none = store_->History("r", 0);
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(SqliteStateStoreTest, HistoryOfAllRulesIsNewestFirstAndLimited) {
  ASSERT_TRUE(store_
                  ->AppendTransitions({Transition("r", 1), Transition("s", 2), Transition("r", 3),
                                       Transition("s", 4)})
                  .ok());
  auto history = store_->History("", 3);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(AtMs(*history), (std::vector<int64_t>{4, 3, 2}));
}

TEST_F(SqliteStateStoreTest, PruneKeepsTheNewestTransitionsOfEachRule) {
  ASSERT_TRUE(store_
                  ->AppendTransitions({Transition("r", 1), Transition("s", 2), Transition("r", 3),
                                       Transition("r", 4), Transition("t", 5), Transition("r", 6),
                                       Transition("s", 7)})
                  .ok());
  ASSERT_TRUE(store_->Prune(2).ok());
  auto history = store_->History("", 100);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(AtMs(*history), (std::vector<int64_t>{7, 6, 5, 4, 2}));
}

TEST_F(SqliteStateStoreTest, PruneToZeroDoesNotReuseIds) {
  ASSERT_TRUE(store_->AppendTransitions({Transition("r", 1), Transition("r", 2)}).ok());
  ASSERT_TRUE(store_->Prune(0).ok());
  auto empty = store_->History("", 100);
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(*empty, IsEmpty());
  ASSERT_TRUE(store_->AppendTransitions({Transition("r", 3)}).ok());
  auto history = store_->History("r", 100);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].id, 3);
}

TEST_F(SqliteStateStoreTest, DataSurvivesClosingAndReopening) {
  AlarmRecord a = Alarm("r", "{a}", AlarmState::kAlarm, 100);
  a.periods = std::string("\x00z", 2);
  ASSERT_TRUE(store_->SaveAlarms({a}).ok());
  ASSERT_TRUE(store_->AppendTransitions({Transition("r", 100)}).ok());
  store_.reset();

  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  auto loaded = store_->LoadAlarms();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].state, AlarmState::kAlarm);
  EXPECT_EQ((*loaded)[0].state_since_ms, 100);
  EXPECT_EQ((*loaded)[0].periods, std::string("\x00z", 2));
  auto history = store_->History("r", 10);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(AtMs(*history), std::vector<int64_t>{100});
  ASSERT_TRUE(store_->AppendTransitions({Transition("r", 200)}).ok());
  history = store_->History("r", 10);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ((*history)[0].id, 2);
}

TEST_F(SqliteStateStoreTest, ReopeningDoesNotRerunMigrations) {
  store_.reset();
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  store_.reset();
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryText("SELECT COUNT(*) || ' ' || MAX(version) FROM schema_version"), "1 1");
}

TEST_F(SqliteStateStoreTest, OpenSetsWalJournal) {
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryText("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStateStoreTest, NewerSchemaVersionIsRefused) {
  store_.reset();
  {
    RawDb raw(path_);
    raw.Exec("INSERT INTO schema_version (version, applied_at_ms) VALUES (99, 0)");
  }
  auto store = SqliteStateStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(),
              HasSubstr(absl::StrCat("state database ", path_,
                                     " has schema version 99, newer than the version 1 this "
                                     "binary knows")));
  RawDb raw(path_);
  EXPECT_EQ(raw.QueryText("SELECT MAX(version) FROM schema_version"), "99");
}

TEST(SqliteStateStoreOpen, MissingDirectoryIsNotFoundNamingThePath) {
  vigil::testing::TempDir dir;
  const std::string path = dir.Join("absent/state.db");
  auto store = SqliteStateStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.status().message(), absl::StrCat("state database ", path, ": directory ",
                                                   dir.Join("absent"), " does not exist"));
}

TEST(SqliteStateStoreOpen, FileThatIsNotADatabaseIsRefused) {
  vigil::testing::TempDir dir;
  const std::string path = dir.Write("state.db", std::string(4096, 'x'));
  auto store = SqliteStateStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  EXPECT_THAT(store.status().message(), HasSubstr("file is not a database"));
}

TEST_F(SqliteStateStoreTest, FailedSaveBatchWritesNothing) {
  ASSERT_TRUE(store_->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
  // The third record violates CHECK (rule <> '') after the first two were written.
  absl::Status status = store_->SaveAlarms({Alarm("r", "{a}", AlarmState::kAlarm, 2),
                                            Alarm("r", "{b}", AlarmState::kAlarm, 2),
                                            Alarm("", "{c}", AlarmState::kAlarm, 2)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("SaveAlarms: alarm  {c}: CHECK constraint failed"));

  auto loaded = store_->LoadAlarms();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(Keys(*loaded), std::vector<std::string>{"r {a}"});
  EXPECT_EQ((*loaded)[0].state, AlarmState::kOk);
  // The store is usable after the rollback.
  EXPECT_TRUE(store_->SaveAlarms({Alarm("r", "{b}", AlarmState::kAlarm, 2)}).ok());
}

TEST_F(SqliteStateStoreTest, FailedTransitionBatchWritesNothing) {
  absl::Status status =
      store_->AppendTransitions({Transition("r", 1), Transition("r", 2), Transition("", 3)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  auto history = store_->History("", 100);
  ASSERT_TRUE(history.ok());
  EXPECT_THAT(*history, IsEmpty());
}

TEST_F(SqliteStateStoreTest, StateOutsideTheEnumIsRejectedAndRolledBack) {
  AlarmRecord bad = Alarm("r", "{b}", AlarmState::kOk, 1);
  bad.state = static_cast<AlarmState>(7);
  absl::Status status = store_->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1), bad});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("has an invalid state 7"));
  auto loaded = store_->LoadAlarms();
  ASSERT_TRUE(loaded.ok());
  EXPECT_THAT(*loaded, IsEmpty());
}

TEST_F(SqliteStateStoreTest, FullDatabaseIsResourceExhaustedAndWritesNothing) {
  ASSERT_TRUE(store_->SaveAlarms({Alarm("r", "{a}", AlarmState::kOk, 1)}).ok());
  // A maximum below the current size is raised to the current size: the file cannot grow.
  ASSERT_TRUE(store_->ExecForTesting("PRAGMA max_page_count = 1").ok());
  AlarmRecord big = Alarm("r", "{big}", AlarmState::kAlarm, 2);
  big.periods = std::string(1 << 20, 'p');
  absl::Status status = store_->SaveAlarms({Alarm("r", "{b}", AlarmState::kOk, 2), big});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr("database or disk is full"));

  ASSERT_TRUE(store_->ExecForTesting("PRAGMA max_page_count = 1000000").ok());
  auto loaded = store_->LoadAlarms();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(Keys(*loaded), std::vector<std::string>{"r {a}"});
  EXPECT_TRUE(store_->SaveAlarms({big}).ok());
}

TEST_F(SqliteStateStoreTest, ConcurrentWritersAppendEveryTransition) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &results] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::Status s = store_->AppendTransitions({Transition(absl::StrCat("rule-", t), i)});
        if (!s.ok() && results[t].ok()) results[t] = s;
        // Readers interleave with the writers.
        if (i % 50 == 0 && !store_->History("", 10).ok()) results[t] = absl::InternalError("read");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;

  auto all = store_->History("", 10000);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 1; i < all->size(); ++i) {
    ASSERT_GT((*all)[i - 1].id, (*all)[i].id) << "at " << i;
  }
  EXPECT_EQ(all->front().id, kThreads * kPerThread);
  // Each writer's transitions are in its own order.
  for (int t = 0; t < kThreads; ++t) {
    auto history = store_->History(absl::StrCat("rule-", t), 10000);
    ASSERT_TRUE(history.ok());
    ASSERT_EQ(history->size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      ASSERT_EQ((*history)[i].at_ms, kPerThread - 1 - i) << "rule-" << t;
    }
  }
}

}  // namespace
}  // namespace vigil::alerting
