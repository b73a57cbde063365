#ifndef VIGIL_ALERTING_STATE_SQLITE_STATE_STORE_H_
#define VIGIL_ALERTING_STATE_SQLITE_STATE_STORE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "alerting/state/alarm_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace vigil::alerting {

// AlarmStore in an embedded SQLite file (the collector's state directory). Thread-safe: one
// mutex serializes every call on the single connection, so batches never interleave; the
// callers (one evaluation round at a time, plus occasional readers) never contend for long.
//
// Durability: the file is in WAL mode with synchronous=NORMAL. A committed batch survives a
// crash of the process (it is in the WAL before COMMIT returns); only a crash of the operating
// system or a power loss may lose the last few batches, never corrupt the file. That is enough
// because the engine rewrites every instance's state each round: a lost round costs at most a
// re-evaluation, not a wrong state, and FULL would add an fsync to every round.
//
// Schema changes are forward-only migrations numbered from 1 and recorded in `schema_version`;
// opening applies the missing ones in place, and a file written by a newer binary (a higher
// version than this one knows) is refused rather than misread.
class SqliteStateStore : public AlarmStore {
 public:
  // The schema version this binary writes.
  static constexpr int kSchemaVersion = 1;

  // Opens or creates the database at `path` (its directory must exist) and migrates it to
  // kSchemaVersion. Errors name `path`: NotFound when the directory is missing,
  // FailedPrecondition for a newer schema or a file that is not a SQLite database.
  static absl::StatusOr<std::unique_ptr<SqliteStateStore>> Open(const std::string& path);

  ~SqliteStateStore() override;
  SqliteStateStore(const SqliteStateStore&) = delete;
  SqliteStateStore& operator=(const SqliteStateStore&) = delete;

  // Each batch is one transaction: on any error nothing of the batch is written. An empty
  // rule name is InvalidArgument (a CHECK constraint); a full disk is ResourceExhausted.
  absl::Status SaveAlarms(const std::vector<AlarmRecord>& alarms) override;
  absl::Status DeleteAlarms(
      const std::vector<std::pair<std::string, std::string>>& rule_instance) override;
  // Ordered by rule, then instance.
  absl::StatusOr<std::vector<AlarmRecord>> LoadAlarms() override;
  absl::Status AppendTransitions(const std::vector<TransitionRecord>& transitions) override;
  absl::StatusOr<std::vector<TransitionRecord>> History(const std::string& rule,
                                                        size_t limit) override;

  // Bounds the history: keeps the newest `keep_transitions_per_rule` transitions of every rule
  // and deletes the older ones, in one transaction. Ids of the kept rows do not change.
  absl::Status Prune(size_t keep_transitions_per_rule);

  const std::string& path() const { return path_; }

  // Test-only: runs `sql` on the store's own connection (e.g. `PRAGMA max_page_count`, which is
  // per connection, to provoke a full database).
  absl::Status ExecForTesting(const std::string& sql);

 private:
  struct StatementDeleter {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

  SqliteStateStore(std::string path, sqlite3* db);

  absl::Status Configure() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PrepareStatements() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(absl::string_view operation, const char* sql)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Prepare(const char* sql, Statement* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `body` between BEGIN IMMEDIATE and COMMIT; rolls back when `body` or COMMIT fails.
  absl::Status InTransaction(absl::string_view operation, absl::FunctionRef<absl::Status()> body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Steps a statement that returns no rows, then resets it.
  absl::Status StepDone(absl::string_view operation, sqlite3_stmt* stmt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The status for SQLite result `rc` of `operation`, with the connection's error message.
  absl::Status Error(absl::string_view operation, int rc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string path_;

  absl::Mutex mu_;
  // The connection and its statements are used only under mu_.
  sqlite3* db_ ABSL_GUARDED_BY(mu_);
  Statement begin_ ABSL_GUARDED_BY(mu_);
  Statement commit_ ABSL_GUARDED_BY(mu_);
  Statement rollback_ ABSL_GUARDED_BY(mu_);
  Statement upsert_alarm_ ABSL_GUARDED_BY(mu_);
  Statement delete_alarm_ ABSL_GUARDED_BY(mu_);
  Statement load_alarms_ ABSL_GUARDED_BY(mu_);
  Statement insert_transition_ ABSL_GUARDED_BY(mu_);
  Statement history_rule_ ABSL_GUARDED_BY(mu_);
  Statement history_all_ ABSL_GUARDED_BY(mu_);
  Statement transition_rules_ ABSL_GUARDED_BY(mu_);
  Statement prune_rule_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_STATE_SQLITE_STATE_STORE_H_
