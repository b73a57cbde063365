#ifndef VIGIL_COLLECTOR_STATE_SQLITE_DB_H_
#define VIGIL_COLLECTOR_STATE_SQLITE_DB_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

struct sqlite3;
struct sqlite3_stmt;

// The SQLite plumbing of the embedded state store: one connection in WAL mode, forward-only
// migrations, cached statements, transactions and the mapping of SQLite's result codes to
// absl::Status. Every error names the file ("state database /var/lib/x/state.db: op: msg").

namespace vigil::collector::sqlite {

struct StatementDeleter {
  void operator()(sqlite3_stmt* stmt) const;
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

// Resets a statement (and drops its bindings) when the scope ends, so that every reused
// statement starts clean and releases its read snapshot.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ResetOnExit();
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// Binding with SQLITE_STATIC: the bound strings must outlive the step that reads them.
int BindText(sqlite3_stmt* stmt, int index, absl::string_view text);
// An empty string binds an empty blob, not NULL.
int BindBlob(sqlite3_stmt* stmt, int index, absl::string_view bytes);
int BindInt64(sqlite3_stmt* stmt, int index, int64_t value);
// The first error of a sequence of sqlite3_bind_* results (SQLITE_OK when none).
int FirstError(std::initializer_list<int> results);
std::string ColumnText(sqlite3_stmt* stmt, int column);
std::string ColumnBlob(sqlite3_stmt* stmt, int column);
int64_t ColumnInt64(sqlite3_stmt* stmt, int column);

// A forward-only schema change. Never edit a released one: add the next version instead.
struct Migration {
  int version;  // 1, 2, ...: migration N runs on a database at version N-1
  const char* sql;
};

// One connection. Not thread-safe: the owner serializes every call (the store's mutex).
class Database {
 public:
  // How far a commit must be on disk when COMMIT returns. In WAL mode kNormal survives a crash
  // of the process (the commit is in the WAL), not necessarily a power loss; kFull also
  // survives a power loss (the WAL is fsync'ed at the commit).
  enum class Durability { kNormal, kFull };

  // Opens or creates the database at `path` (its directory must exist) in WAL mode with
  // synchronous=NORMAL. NotFound when the directory is missing, FailedPrecondition for a file
  // that is not a SQLite database or a file system without WAL support. `read_only` opens an
  // existing file without creating or changing it (NotFound when it does not exist).
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path,
                                                        bool read_only = false);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The highest applied migration (table schema_version); 0 for a new file.
  absl::StatusOr<int> SchemaVersion();
  // Applies the migrations after the current version, up to `target` (0: all), each recorded
  // in schema_version, all in one transaction. Returns the version found before.
  // FailedPrecondition when the file has a newer version than `migrations` knows.
  absl::StatusOr<int> Migrate(absl::Span<const Migration> migrations, int target = 0);

  absl::Status Prepare(const char* sql, Statement* out);
  absl::Status Exec(absl::string_view operation, const char* sql);
  // Steps a statement that returns no rows (or whose rows are not needed), then resets it.
  absl::Status StepDone(absl::string_view operation, sqlite3_stmt* stmt);
  // Runs `body` between BEGIN IMMEDIATE (the write lock, so writers of other connections wait
  // up to the busy timeout) and COMMIT with `durability`; rolls back when `body` or COMMIT
  // fails.
  absl::Status InTransaction(absl::string_view operation, Durability durability,
                             absl::FunctionRef<absl::Status()> body);
  // The status for SQLite result `rc` of `operation`, with the connection's error message.
  absl::Status Error(absl::string_view operation, int rc) const;
  // "state database <path>: <operation>", the prefix of every message.
  std::string Where(absl::string_view operation) const;
  // Rows changed by the last statement.
  int64_t changes() const;

  const std::string& path() const { return path_; }

 private:
  Database(std::string path, sqlite3* db);
  absl::Status Configure(bool read_only);

  const std::string path_;
  sqlite3* db_;
  Statement begin_, commit_, rollback_, sync_full_, sync_normal_;
};

}  // namespace vigil::collector::sqlite

#endif  // VIGIL_COLLECTOR_STATE_SQLITE_DB_H_
