#include "collector/state/sqlite_db.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"

namespace vigil::collector::sqlite {
namespace {

// How long a writer waits for another connection (a second store object, or `sqlite3` opened
// by an operator) to release the file before giving up with Unavailable.
constexpr int kBusyTimeoutMs = 5000;

absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {  // the primary code of an extended one
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return absl::StatusCode::kInvalidArgument;
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_READONLY:
      return absl::StatusCode::kPermissionDenied;
    case SQLITE_CORRUPT:
      return absl::StatusCode::kDataLoss;
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

void StatementDeleter::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

ResetOnExit::~ResetOnExit() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int BindText(sqlite3_stmt* stmt, int index, absl::string_view text) {
  return sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

int BindBlob(sqlite3_stmt* stmt, int index, absl::string_view bytes) {
  // A non-null pointer, so an empty string binds an empty blob rather than NULL.
  static const char kEmpty = 0;
  return sqlite3_bind_blob64(stmt, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                             SQLITE_STATIC);
}

int BindInt64(sqlite3_stmt* stmt, int index, int64_t value) {
  return sqlite3_bind_int64(stmt, index, value);
}

int FirstError(std::initializer_list<int> results) {
  for (int rc : results) {
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

std::string ColumnText(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  if (text == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt, column));
}

std::string ColumnBlob(sqlite3_stmt* stmt, int column) {
  const void* bytes = sqlite3_column_blob(stmt, column);
  if (bytes == nullptr) return std::string();
  return std::string(static_cast<const char*>(bytes), sqlite3_column_bytes(stmt, column));
}

int64_t ColumnInt64(sqlite3_stmt* stmt, int column) { return sqlite3_column_int64(stmt, column); }

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path, bool read_only) {
  const std::string dir = DirName(path);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat("state database ", path, ": directory ", dir, " does not exist"));
  }
  if (read_only && stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("state database ", path, " does not exist"));
  }
  sqlite3* db = nullptr;
  const int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status(CodeFor(rc), absl::StrCat("state database ", path, ": open: ",
                                                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return status;
  }
  std::unique_ptr<Database> database(new Database(path, db));
  if (absl::Status s = database->Configure(read_only); !s.ok()) return s;
  return database;
}

Database::Database(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}

Database::~Database() {
  // Statements first: a connection with live statements does not close.
  for (Statement* stmt : {&begin_, &commit_, &rollback_, &sync_full_, &sync_normal_}) {
    stmt->reset();
  }
  int rc = sqlite3_close(db_);
  if (rc != SQLITE_OK) {
    VIGIL_LOG(Error) << "state database " << path_ << ": close: " << sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
  }
}

std::string Database::Where(absl::string_view operation) const {
  return absl::StrCat("state database ", path_, ": ", operation);
}

absl::Status Database::Error(absl::string_view operation, int rc) const {
  return absl::Status(CodeFor(rc), absl::StrCat(Where(operation), ": ", sqlite3_errmsg(db_)));
}

int64_t Database::changes() const { return sqlite3_changes64(db_); }

absl::Status Database::Exec(absl::string_view operation, const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(operation, rc);
  return absl::OkStatus();
}

absl::Status Database::Prepare(const char* sql, Statement* out) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(absl::StrCat("prepare `", sql, "`"), rc);
  }
  out->reset(stmt);
  return absl::OkStatus();
}

absl::Status Database::StepDone(absl::string_view operation, sqlite3_stmt* stmt) {
  ResetOnExit reset(stmt);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) return Error(operation, rc);
  return absl::OkStatus();
}

absl::Status Database::Configure(bool read_only) {
  sqlite3_extended_result_codes(db_, 1);
  int rc = sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  if (rc != SQLITE_OK) return Error("set busy_timeout", rc);
  // The first statement reads the file: a file that is not a database fails here.
  Statement journal;
  if (absl::Status s =
          Prepare(read_only ? "PRAGMA journal_mode" : "PRAGMA journal_mode=WAL", &journal);
      !s.ok()) {
    return s;
  }
  {
    // Switching a new file to WAL takes an exclusive lock without calling the busy handler, so
    // a second connection doing the same at that moment gets SQLITE_BUSY: wait and retry.
    const absl::Time give_up = absl::Now() + absl::Milliseconds(kBusyTimeoutMs);
    while ((rc = sqlite3_step(journal.get())) == SQLITE_BUSY && absl::Now() < give_up) {
      sqlite3_reset(journal.get());
      absl::SleepFor(absl::Milliseconds(5));
    }
    ResetOnExit reset(journal.get());
    if (rc != SQLITE_ROW) return Error("set journal_mode=WAL", rc);
    std::string mode = ColumnText(journal.get(), 0);
    if (mode != "wal" && !read_only) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state database ", path_, ": journal_mode is '", mode,
          "' after asking for WAL; the state directory must be on a local file system"));
    }
  }
  for (auto [stmt, sql] :
       {std::pair{&begin_, "BEGIN IMMEDIATE"}, std::pair{&commit_, "COMMIT"},
        std::pair{&rollback_, "ROLLBACK"}, std::pair{&sync_full_, "PRAGMA synchronous=FULL"},
        std::pair{&sync_normal_, "PRAGMA synchronous=NORMAL"}}) {
    if (absl::Status s = Prepare(sql, stmt); !s.ok()) return s;
  }
  return StepDone("set synchronous=NORMAL", sync_normal_.get());
}

absl::Status Database::InTransaction(absl::string_view operation, Durability durability,
                                     absl::FunctionRef<absl::Status()> body) {
  // synchronous is a property of the connection, read at each commit; it cannot change inside
  // a transaction, so it is switched around it.
  const bool full = durability == Durability::kFull;
  if (full) {
    if (absl::Status s = StepDone("set synchronous=FULL", sync_full_.get()); !s.ok()) return s;
  }
  absl::Status status = StepDone(absl::StrCat(operation, ": begin"), begin_.get());
  if (status.ok()) {
    status = body();
    if (status.ok()) status = StepDone(absl::StrCat(operation, ": commit"), commit_.get());
    // SQLite rolls back by itself after some errors (e.g. a full disk); roll back otherwise.
    if (!status.ok() && sqlite3_get_autocommit(db_) == 0) {
      absl::Status rolled_back = StepDone(absl::StrCat(operation, ": rollback"), rollback_.get());
      if (!rolled_back.ok()) VIGIL_LOG(Error) << rolled_back.message();
    }
  }
  if (full) {
    absl::Status s = StepDone("set synchronous=NORMAL", sync_normal_.get());
    if (!s.ok()) VIGIL_LOG(Error) << s.message();
  }
  return status;
}

absl::StatusOr<int> Database::SchemaVersion() {
  Statement exists;
  if (absl::Status s = Prepare(
          "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
          &exists);
      !s.ok()) {
    return s;
  }
  int rc = sqlite3_step(exists.get());
  if (rc != SQLITE_ROW) return Error("read schema_version", rc);
  if (sqlite3_column_int(exists.get(), 0) == 0) return 0;
  Statement current;
  if (absl::Status s = Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version", &current);
      !s.ok()) {
    return s;
  }
  rc = sqlite3_step(current.get());
  if (rc != SQLITE_ROW) return Error("read schema_version", rc);
  return static_cast<int>(sqlite3_column_int64(current.get(), 0));
}

absl::StatusOr<int> Database::Migrate(absl::Span<const Migration> migrations, int target) {
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  if (target <= 0 || target > latest) target = latest;
  int found = 0;
  absl::Status status = InTransaction("migrate schema", Durability::kFull, [&]() -> absl::Status {
    if (absl::Status s = Exec("create schema_version",
                              "CREATE TABLE IF NOT EXISTS schema_version ("
                              "version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)");
        !s.ok()) {
      return s;
    }
    absl::StatusOr<int> version = SchemaVersion();
    if (!version.ok()) return version.status();
    found = *version;
    if (found > latest) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state database ", path_, " has schema version ", found, ", newer than the version ",
          latest,
          " this binary knows; it was written by a newer vigil. Run that version, or move the "
          "file away to start from empty state"));
    }
    Statement record;
    if (absl::Status s =
            Prepare("INSERT INTO schema_version (version, applied_at_ms) VALUES (?1, ?2)", &record);
        !s.ok()) {
      return s;
    }
    for (const Migration& migration : migrations) {
      if (migration.version <= found || migration.version > target) continue;
      const std::string operation = absl::StrCat("migrate schema to version ", migration.version);
      if (absl::Status s = Exec(operation, migration.sql); !s.ok()) return s;
      int rc = FirstError({BindInt64(record.get(), 1, migration.version),
                           BindInt64(record.get(), 2, absl::ToUnixMillis(absl::Now()))});
      if (rc != SQLITE_OK) return Error(operation, rc);
      if (absl::Status s = StepDone(operation, record.get()); !s.ok()) return s;
      VIGIL_LOG(Info) << "state database " << path_ << ": migrated schema to version "
                      << migration.version;
    }
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return found;
}

}  // namespace vigil::collector::sqlite
