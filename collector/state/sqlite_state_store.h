#ifndef VIGIL_COLLECTOR_STATE_SQLITE_STATE_STORE_H_
#define VIGIL_COLLECTOR_STATE_SQLITE_STATE_STORE_H_

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
#include "collector/state/open_state_store.h"
#include "collector/state/sqlite_db.h"
#include "collector/state/state_store.h"

namespace vigil::collector {

// The embedded StateStore: one SQLite file (<state_dir>/state.db) holding alarms, transitions,
// the outbox with its delivery attempts, the notification log, silences, stream positions and
// the lease. No server to run.
//
// Thread-safety: one mutex serializes every call on the single connection, so transactions
// never interleave; calls are short (none waits for a delivery or a network). Several store
// objects (processes) may share one file: SQLite's write lock serializes their transactions,
// and a writer waits up to 5 s for another before giving up with Unavailable.
//
// Durability (WAL mode): commits use synchronous=NORMAL, which survives a crash of the process
// (a committed transaction is in the WAL before COMMIT returns) but may lose the last commits to
// a power loss or an OS crash, never corrupting the file. That is enough for alarm states,
// transitions, stream positions, claims and the lease: the engine rewrites every state each
// round, the agent replays what an older position says, and claims and the lease are void
// after a restart anyway. A flush into the outbox (CommitFlush), a delivery record
// (RecordAttempt) and a silence (SaveSilence) commit with synchronous=FULL (fsync of the WAL):
// losing them to a power loss could lose a notification, send one twice, or forget a silence an
// operator was told exists. They are few (per flush, per attempt), so the fsyncs are too.
//
// Lease and fencing: the lease is a row (holder, epoch, expires_ms) judged by this process's
// wall clock. A fenced write checks the row's epoch inside its own write transaction, so a
// takeover by another store object on the same file (which needs the write lock) orders
// before or after it, never in between.
//
// Schema: forward-only migrations recorded in `schema_version`; version 1 is the alarm state of
// the first release (a state.db of the rule engine is migrated in place), version 2 adds the
// rest. A file written by a newer binary is refused.
class SqliteStateStore final : public StateStore,
                               public alerting::AlarmStore,
                               public alerting::NotificationStore,
                               public StreamPositionStore,
                               public LeaderLease {
 public:
  static constexpr int kSchemaVersion = 2;

  // Opens or creates the file at `path` (its directory must exist) and migrates it, up to
  // `migrate_to` when not 0 (tests make an older schema this way). Errors name `path`:
  // NotFound when the directory is missing, FailedPrecondition for a newer schema or a file
  // that is not a SQLite database.
  static absl::StatusOr<std::unique_ptr<SqliteStateStore>> Open(const std::string& path,
                                                                int migrate_to = 0);
  // Reads the schema version and the lease of an existing file without changing it.
  static absl::StatusOr<StateReport> Inspect(const std::string& path);

  ~SqliteStateStore() override;

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

  const std::string& path() const { return path_; }
  // The schema version the file had when it was opened.
  int migrated_from() const { return migrated_from_; }

  // Test-only: runs `sql` on the store's own connection (e.g. `PRAGMA max_page_count`, which is
  // per connection, to provoke a full database).
  absl::Status ExecForTesting(const std::string& sql);

 private:
  using Durability = sqlite::Database::Durability;

  SqliteStateStore(std::string path, std::unique_ptr<sqlite::Database> db, int migrated_from);
  absl::Status PrepareStatements() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A write transaction that first checks the fencing epoch against the lease row.
  absl::Status FencedWrite(absl::string_view operation, Durability durability,
                           absl::FunctionRef<absl::Status()> body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<LeaseInfo> ReadLease(absl::string_view operation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<alerting::DeliveryAttempt>> Attempts(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string path_;
  const int migrated_from_;

  std::atomic<int64_t> fencing_epoch_{0};

  absl::Mutex mu_;
  // The connection and its statements are used only under mu_.
  std::unique_ptr<sqlite::Database> db_ ABSL_GUARDED_BY(mu_);
  struct Statements;
  std::unique_ptr<Statements> st_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_STATE_SQLITE_STATE_STORE_H_
