#ifndef VIGIL_COLLECTOR_STATE_POSTGRES_STATE_STORE_H_
#define VIGIL_COLLECTOR_STATE_POSTGRES_STATE_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "collector/state/open_state_store.h"
#include "collector/state/state_config.h"
#include "collector/state/state_store.h"
#include "common/postgres/pg_connection.h"

namespace vigil::collector {

// The StateStore in PostgreSQL, for replicated collectors (Kubernetes): the same tables as the
// embedded store, shared by every replica, plus the lease that picks the leader.
//
// Thread-safety: one connection under a mutex. Every call is short (one transaction of a few
// round trips: a batch per evaluation round, a claim and a record per delivery), so callers
// rarely wait for each other, and one connection per replica keeps the server's connection
// count and the order of a replica's writes simple. A call waits at most for the one before it
// plus its own statement_timeout.
//
// Connection loss: a broken connection is dropped and the next call reconnects; connecting
// again after a failure waits an exponential backoff (100 ms doubling up to 5 s), and calls
// in between fail at once with Unavailable naming host:port/dbname and the last error (never a
// password). A transaction whose connection broke before its COMMIT was sent was rolled back by
// the server and is retried once on a new connection (this hides a server restart or a killed
// backend from the caller); one that broke while its COMMIT was in flight is not retried (it
// may have been applied) and fails with Unavailable saying the outcome is unknown. Reads are
// retried once.
//
// Every statement runs under the session's statement_timeout; the client waits that long plus a
// second for an answer, so a server that stops answering costs a call that much, not forever.
// The password is read from password_file at each connect.
//
// Lease and fencing: the lease is a row (holder, epoch, expires_ms) judged by the server's clock.
// A fenced write transaction first reads it FOR SHARE and refuses when the epoch is not the
// fencing epoch; a takeover (an UPDATE of the row) therefore waits for the writes in flight,
// and the old leader's later writes see the new epoch and fail. Outbox claims use SELECT ...
// FOR UPDATE SKIP LOCKED, so two claimers never take the same row, and record the claiming
// epoch on it.
//
// Schema: versioned forward-only migrations recorded in `schema_version`, applied in one
// transaction under pg_advisory_xact_lock(kMigrationLockKey), so replicas starting together
// migrate once and both succeed. A database with a newer version than this binary knows is
// refused.
class PostgresStateStore final : public StateStore,
                                 public alerting::AlarmStore,
                                 public alerting::NotificationStore,
                                 public StreamPositionStore,
                                 public LeaderLease {
 public:
  static constexpr int kSchemaVersion = 2;
  // The advisory lock key of migrations ("vigilsta" in ASCII).
  static constexpr int64_t kMigrationLockKey = 0x76696769'6c737461;

  // Connects (bounded by connect_timeout), migrates (up to `migrate_to` when not 0: tests make
  // an older schema this way) and prepares the statements. Errors name host:port/dbname.
  static absl::StatusOr<std::unique_ptr<PostgresStateStore>> Open(const PostgresStateConfig& config,
                                                                  int migrate_to = 0);
  // Reads the schema version and the lease without changing anything.
  static absl::StatusOr<StateReport> Inspect(const PostgresStateConfig& config);
  // "host:port/dbname".
  static std::string Location(const PostgresStateConfig& config);

  ~PostgresStateStore() override;

  // StateStore.
  alerting::AlarmStore& alarms() override { return *this; }
  alerting::NotificationStore& notifications() override { return *this; }
  StreamPositionStore& streams() override { return *this; }
  LeaderLease& lease() override { return *this; }
  void SetFencingEpoch(int64_t epoch) override { fencing_epoch_.store(epoch); }
  absl::StatusOr<SchemaStatus> Status() override;

  // AlarmStore.
  absl::Status SaveAlarms(const std::vector<alerting::AlarmRecord>& alarms) override;
  absl::Status DeleteAlarms(
      const std::vector<std::pair<std::string, std::string>>& rule_instance) override;
  absl::StatusOr<std::vector<alerting::AlarmRecord>> LoadAlarms() override;
  absl::Status AppendTransitions(const std::vector<alerting::TransitionRecord>& t) override;
  absl::StatusOr<std::vector<alerting::TransitionRecord>> History(const std::string& rule,
                                                                  size_t limit) override;
  absl::Status PruneTransitions(size_t keep_per_rule) override;

  // NotificationStore.
  absl::Status CommitFlush(const alerting::FlushBatch& batch) override;
  absl::StatusOr<std::vector<alerting::NotificationLogEntry>> LoadLog() override;
  absl::StatusOr<std::optional<alerting::OutboxNotification>> ClaimDue(
      int64_t now_ms, int64_t lease_until_ms) override;
  absl::Status ReleaseClaims() override;
  absl::Status RecordAttempt(const std::string& id, const alerting::DeliveryAttempt& attempt,
                             alerting::OutboxState state, int64_t next_attempt_ms) override;
  absl::StatusOr<std::optional<int64_t>> NextAttemptMs() override;
  absl::StatusOr<int64_t> CountPending() override;
  absl::StatusOr<std::vector<alerting::OutboxEntry>> ListOutbox(size_t limit) override;
  absl::Status SaveSilence(const alerting::Silence& silence) override;
  absl::StatusOr<std::vector<alerting::Silence>> LoadSilences() override;
  absl::Status Prune(int64_t before_ms) override;

  // StreamPositionStore.
  absl::Status SavePositions(const std::vector<StreamPosition>& positions) override;
  absl::StatusOr<std::vector<StreamPosition>> LoadPositions() override;

  // LeaderLease.
  absl::StatusOr<std::optional<int64_t>> Acquire(const std::string& holder,
                                                 absl::Duration ttl) override;
  absl::Status Release(const std::string& holder, int64_t epoch) override;
  absl::StatusOr<LeaseInfo> Current() override;

  const std::string& location() const { return location_; }
  // The schema version the database had when the store was opened.
  int migrated_from() const { return migrated_from_; }

 private:
  class Transaction;
  using Table = postgres::Table;
  using Param = postgres::Param;

  PostgresStateStore(PostgresStateConfig config, int migrated_from);

  // The open connection, connecting first when there is none (subject to the backoff);
  // `prepare`: with the statements prepared (not before the migrations ran).
  absl::StatusOr<postgres::Connection*> Connected(absl::string_view operation, bool prepare)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `body` in a transaction (BEGIN, the fencing check when `fenced` and an epoch is set,
  // body, COMMIT), with the retry described in the class comment.
  absl::Status InTransaction(absl::string_view operation, bool fenced,
                             absl::FunctionRef<absl::Status(Transaction&)> body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One read-only prepared statement outside a transaction, retried once on a new connection.
  absl::StatusOr<Table> Read(absl::string_view operation, int statement,
                             const std::vector<Param>& params) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int> Migrate(int migrate_to) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `state database host:port/db: <operation>`.
  std::string Where(absl::string_view operation) const;
  absl::Status Prefixed(absl::string_view operation, const absl::Status& status) const;
  // Forgets a broken connection.
  void Drop() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const PostgresStateConfig config_;
  const std::string location_;
  const absl::Duration answer_timeout_;  // statement_timeout + 1 s
  int migrated_from_ = 0;                // set by Open

  std::atomic<int64_t> fencing_epoch_{0};

  absl::Mutex mu_;
  std::unique_ptr<postgres::Connection> conn_ ABSL_GUARDED_BY(mu_);
  bool prepared_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_connect_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_);
  std::string last_connect_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_STATE_POSTGRES_STATE_STORE_H_
