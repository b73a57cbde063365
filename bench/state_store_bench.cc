// Benchmark of the collector's state stores (collector/state/): the cost of persisting one
// evaluation round (SaveAlarms of 1,000 records in one transaction) and of one notification's
// trip through the outbox (flush, claim, delivery record), on the embedded SQLite store and on
// PostgreSQL 15 (started by the benchmark on loopback, as the tests do). Figures are recorded in
// docs/performance.md, section "State store".

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "collector/state/postgres_state_store.h"
#include "collector/state/sqlite_state_store.h"
#include "common/testing/postgres_server.h"
#include "common/testing/process.h"

namespace vigil::collector {
namespace {

using alerting::AlarmRecord;
using alerting::AlarmState;

constexpr int kBatch = 1000;       // records per SaveAlarms call (one transaction)
constexpr int kPeriodBytes = 480;  // ~30 serialized periods per instance

enum Backend { kSqlite = 0, kPostgres = 1 };

// The PostgreSQL server of this run, started at the first PostgreSQL benchmark.
testing::PostgresServer* Server() {
  static testing::PostgresServer* server = [] {
    // Durable commits, as in production (the tests' default is fsync=off).
    testing::PostgresServer::Options options;
    options.settings = {"fsync=on"};
    auto* s = new testing::PostgresServer(options);
    absl::Status started = s->Start();
    if (!started.ok()) {
      delete s;
      return static_cast<testing::PostgresServer*>(nullptr);
    }
    return s;
  }();
  return server;
}

// A fresh store of `backend` (SQLite in `dir`, PostgreSQL in a new database).
absl::StatusOr<std::unique_ptr<StateStore>> FreshStore(Backend backend,
                                                       const testing::TempDir& dir) {
  if (backend == kSqlite) {
    absl::StatusOr<std::unique_ptr<SqliteStateStore>> s =
        SqliteStateStore::Open(dir.Join("state.db"));
    if (!s.ok()) return s.status();
    return std::unique_ptr<StateStore>(*std::move(s));
  }
  testing::PostgresServer* server = Server();
  if (server == nullptr) return absl::UnavailableError("PostgreSQL did not start");
  static int counter = 0;
  const std::string dbname = absl::StrCat("bench_", ++counter);
  if (absl::Status s = server->CreateDatabase(dbname); !s.ok()) return s;
  PostgresStateConfig c;
  c.port = server->port();
  c.dbname = dbname;
  c.user = "postgres";
  absl::StatusOr<std::unique_ptr<PostgresStateStore>> s = PostgresStateStore::Open(c);
  if (!s.ok()) return s.status();
  return std::unique_ptr<StateStore>(*std::move(s));
}

// SaveAlarms of kBatch records per transaction into a table holding state.range(1) instances
// (the batch walks over them, so every call updates existing rows as a running engine does).
void BM_SaveAlarms(benchmark::State& state) {
  const Backend backend = static_cast<Backend>(state.range(0));
  const int instances = static_cast<int>(state.range(1));
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<StateStore>> store = FreshStore(backend, dir);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  alerting::AlarmStore& alarms = (*store)->alarms();
  std::vector<AlarmRecord> records(instances);
  for (int i = 0; i < instances; ++i) {
    AlarmRecord& r = records[i];
    r.rule = absl::StrCat("rule-", i % 100);
    r.instance = absl::StrCat("{host=\"host-", i / 100, "\"}");
    r.state = AlarmState::kOk;
    r.state_since_ms = 1795305600000;
    r.rule_fingerprint = 0x9e3779b97f4a7c15ULL * (i % 100);
    r.last_data_ms = 1795305600000;
    r.periods.assign(kPeriodBytes, static_cast<char>(i));
  }
  for (int begin = 0; begin < instances; begin += kBatch) {
    std::vector<AlarmRecord> batch(records.begin() + begin,
                                   records.begin() + std::min(begin + kBatch, instances));
    if (!alarms.SaveAlarms(batch).ok()) {
      state.SkipWithError("initial fill failed");
      return;
    }
  }

  int64_t round = 0;
  std::vector<AlarmRecord> batch(kBatch);
  for (auto _ : state) {
    state.PauseTiming();
    const int begin = static_cast<int>((round * kBatch) % instances);
    for (int i = 0; i < kBatch; ++i) {
      batch[i] = records[(begin + i) % instances];
      batch[i].last_data_ms += 60000 * (round + 1);
    }
    ++round;
    state.ResumeTiming();
    absl::Status status = alarms.SaveAlarms(batch);
    if (!status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_SaveAlarms)
    ->ArgNames({"postgres", "instances"})
    ->Args({kSqlite, 1000})
    ->Args({kSqlite, 100000})
    ->Args({kPostgres, 1000})
    ->Args({kPostgres, 100000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// One notification through the outbox as the dispatcher and a delivery worker drive it: a
// flush of one notification with its log entry, a claim, and a delivery record, with the
// fencing check of a leader (epoch 1) on every write.
void BM_NotificationRoundTrip(benchmark::State& state) {
  const Backend backend = static_cast<Backend>(state.range(0));
  testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<StateStore>> store = FreshStore(backend, dir);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  absl::StatusOr<std::optional<int64_t>> epoch = (*store)->lease().Acquire("bench", absl::Hours(1));
  if (!epoch.ok() || !epoch->has_value()) {
    state.SkipWithError("no lease");
    return;
  }
  (*store)->SetFencingEpoch(**epoch);
  alerting::NotificationStore& outbox = (*store)->notifications();
  const std::string payload(2000, 'j');  // an encoded notification of a few alerts
  int64_t n = 0;
  for (auto _ : state) {
    ++n;
    alerting::FlushBatch batch;
    alerting::OutboxNotification notification;
    notification.id = absl::StrCat("notification-", n);
    notification.receiver = "oncall";
    notification.kind = "email";
    notification.payload = payload;
    notification.created_ms = n;
    notification.next_attempt_ms = n;
    batch.notifications.push_back(notification);
    batch.log_upserts.push_back({"oncall", 0, "{}:{alertname=\"x\"}", {"f@1"}, {}, n, "t"});
    absl::Status s = outbox.CommitFlush(batch);
    absl::StatusOr<std::optional<alerting::OutboxNotification>> claimed =
        s.ok() ? outbox.ClaimDue(n, n + 60000) : s;
    if (!claimed.ok() || !claimed->has_value()) {
      state.SkipWithError("flush or claim failed");
      return;
    }
    s = outbox.RecordAttempt((*claimed)->id, {1, n, "delivered", "250 OK"},
                             alerting::OutboxState::kDelivered, n);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NotificationRoundTrip)
    ->ArgNames({"postgres"})
    ->Arg(kSqlite)
    ->Arg(kPostgres)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
}  // namespace vigil::collector

BENCHMARK_MAIN();
