#ifndef VIGIL_ALERTING_NOTIFY_SQLITE_NOTIFICATION_STORE_H_
#define VIGIL_ALERTING_NOTIFY_SQLITE_NOTIFICATION_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "alerting/notify/notification_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace vigil::alerting {

// NotificationStore in its own embedded SQLite file in the collector's state directory
// (notifications.db beside the alarm state). Thread-safe: one mutex serializes every call on
// the single connection; calls are short (no call waits for a delivery).
//
// Durability: WAL mode with synchronous=FULL, unlike the alarm state (NORMAL): a committed
// flush or delivery record must survive a power loss too, or a notification could be lost or
// sent twice. Writes are per flush and per delivery attempt, so the fsyncs are few.
//
// Schema changes are forward-only migrations recorded in `schema_version`, as in
// SqliteStateStore; a file written by a newer binary is refused.
class SqliteNotificationStore : public NotificationStore {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens or creates the database at `path` (its directory must exist). Errors name `path`:
  // NotFound for a missing directory, FailedPrecondition for a newer schema or a file that is
  // not a SQLite database.
  static absl::StatusOr<std::unique_ptr<SqliteNotificationStore>> Open(const std::string& path);

  ~SqliteNotificationStore() override;
  SqliteNotificationStore(const SqliteNotificationStore&) = delete;
  SqliteNotificationStore& operator=(const SqliteNotificationStore&) = delete;

  absl::Status CommitFlush(const FlushBatch& batch) override;
  absl::StatusOr<std::vector<NotificationLogEntry>> LoadLog() override;
  absl::StatusOr<std::optional<OutboxNotification>> ClaimDue(int64_t now_ms,
                                                             int64_t lease_until_ms) override;
  absl::Status ReleaseClaims() override;
  // NotFound when `id` is not a pending notification.
  absl::Status RecordAttempt(const std::string& id, const DeliveryAttempt& attempt,
                             OutboxState state, int64_t next_attempt_ms) override;
  absl::StatusOr<std::optional<int64_t>> NextAttemptMs() override;
  absl::StatusOr<int64_t> CountPending() override;
  absl::StatusOr<std::vector<OutboxEntry>> ListOutbox(size_t limit) override;
  absl::Status SaveSilence(const Silence& silence) override;
  absl::StatusOr<std::vector<Silence>> LoadSilences() override;
  absl::Status Prune(int64_t before_ms) override;

  const std::string& path() const { return path_; }

  // Test-only: runs `sql` on the store's connection (to corrupt a row, or fill the disk).
  absl::Status ExecForTesting(const std::string& sql);

 private:
  struct StatementDeleter {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

  SqliteNotificationStore(std::string path, sqlite3* db);

  absl::Status Configure() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PrepareStatements() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(absl::string_view operation, const char* sql)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Prepare(const char* sql, Statement* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InTransaction(absl::string_view operation, absl::FunctionRef<absl::Status()> body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StepDone(absl::string_view operation, sqlite3_stmt* stmt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(absl::string_view operation, int rc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<DeliveryAttempt>> Attempts(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string path_;

  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
  Statement begin_ ABSL_GUARDED_BY(mu_);
  Statement commit_ ABSL_GUARDED_BY(mu_);
  Statement rollback_ ABSL_GUARDED_BY(mu_);
  Statement insert_outbox_ ABSL_GUARDED_BY(mu_);
  Statement upsert_log_ ABSL_GUARDED_BY(mu_);
  Statement delete_log_ ABSL_GUARDED_BY(mu_);
  Statement load_log_ ABSL_GUARDED_BY(mu_);
  Statement claim_ ABSL_GUARDED_BY(mu_);
  Statement release_ ABSL_GUARDED_BY(mu_);
  Statement insert_attempt_ ABSL_GUARDED_BY(mu_);
  Statement finish_attempt_ ABSL_GUARDED_BY(mu_);
  Statement next_attempt_ ABSL_GUARDED_BY(mu_);
  Statement count_pending_ ABSL_GUARDED_BY(mu_);
  Statement list_outbox_ ABSL_GUARDED_BY(mu_);
  Statement list_attempts_ ABSL_GUARDED_BY(mu_);
  Statement upsert_silence_ ABSL_GUARDED_BY(mu_);
  Statement load_silences_ ABSL_GUARDED_BY(mu_);
  Statement prune_attempts_ ABSL_GUARDED_BY(mu_);
  Statement prune_outbox_ ABSL_GUARDED_BY(mu_);
  Statement prune_silences_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_SQLITE_NOTIFICATION_STORE_H_
