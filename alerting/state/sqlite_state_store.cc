#include "alerting/state/sqlite_state_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"

namespace vigil::alerting {
namespace {

// How long a writer waits for another connection (e.g. `sqlite3` opened by an operator) to
// release the file before giving up with Unavailable.
constexpr int kBusyTimeoutMs = 5000;

// Forward-only schema migrations. Never edit a released one: add the next version instead.
// Migration N runs on a database at version N-1, in the same transaction as the row that
// records it in schema_version.
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE alarms (
  rule TEXT NOT NULL CHECK (rule <> ''),
  instance TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('OK', 'ALARM', 'INSUFFICIENT_DATA')),
  state_since_ms INTEGER NOT NULL,
  rule_fingerprint INTEGER NOT NULL,
  last_data_ms INTEGER NOT NULL,
  periods BLOB NOT NULL,
  PRIMARY KEY (rule, instance)
);
-- AUTOINCREMENT: ids are never reused, even after Prune removed the newest rows of a rule.
CREATE TABLE transitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule TEXT NOT NULL CHECK (rule <> ''),
  instance TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  from_state TEXT NOT NULL CHECK (from_state IN ('OK', 'ALARM', 'INSUFFICIENT_DATA')),
  to_state TEXT NOT NULL CHECK (to_state IN ('OK', 'ALARM', 'INSUFFICIENT_DATA')),
  reason TEXT NOT NULL
);
CREATE INDEX transitions_by_rule ON transitions (rule, id);
)sql"},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == SqliteStateStore::kSchemaVersion,
              "one migration per schema version");

// The stored spelling of a state. Kept here rather than using StateName so that the file
// format cannot change when display names do.
const char* StateText(AlarmState state) {
  switch (state) {
    case AlarmState::kOk:
      return "OK";
    case AlarmState::kAlarm:
      return "ALARM";
    case AlarmState::kInsufficientData:
      return "INSUFFICIENT_DATA";
  }
  return nullptr;  // a value outside the enum; the caller reports it
}

std::optional<AlarmState> ParseStateText(absl::string_view text) {
  if (text == "OK") return AlarmState::kOk;
  if (text == "ALARM") return AlarmState::kAlarm;
  if (text == "INSUFFICIENT_DATA") return AlarmState::kInsufficientData;
  return std::nullopt;
}

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

// Resets a statement (and drops its bindings) when the scope ends, so that every reused
// statement starts clean and releases its read snapshot.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ResetOnExit() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

// Binding with SQLITE_STATIC: the bound strings outlive the step that reads them.
int BindText(sqlite3_stmt* stmt, int index, absl::string_view text) {
  return sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}

int BindBlob(sqlite3_stmt* stmt, int index, absl::string_view bytes) {
  // A non-null pointer, so an empty string binds an empty blob rather than NULL.
  static const char kEmpty = 0;
  return sqlite3_bind_blob64(stmt, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                             SQLITE_STATIC);
}

// The first error of a sequence of sqlite3_bind_* results.
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

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

void SqliteStateStore::StatementDeleter::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

absl::StatusOr<std::unique_ptr<SqliteStateStore>> SqliteStateStore::Open(const std::string& path) {
  const std::string dir = DirName(path);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat("state database ", path, ": directory ", dir, " does not exist"));
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status(CodeFor(rc), absl::StrCat("state database ", path, ": open: ",
                                                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return status;
  }
  std::unique_ptr<SqliteStateStore> store(new SqliteStateStore(path, db));
  absl::MutexLock lock(&store->mu_);
  if (absl::Status s = store->Configure(); !s.ok()) return s;
  if (absl::Status s = store->Migrate(); !s.ok()) return s;
  if (absl::Status s = store->PrepareStatements(); !s.ok()) return s;
  return store;
}

SqliteStateStore::SqliteStateStore(std::string path, sqlite3* db)
    : path_(std::move(path)), db_(db) {}

SqliteStateStore::~SqliteStateStore() {
  absl::MutexLock lock(&mu_);
  // Statements first: a connection with live statements does not close.
  for (Statement* stmt :
       {&begin_, &commit_, &rollback_, &upsert_alarm_, &delete_alarm_, &load_alarms_,
        &insert_transition_, &history_rule_, &history_all_, &transition_rules_, &prune_rule_}) {
    stmt->reset();
  }
  int rc = sqlite3_close(db_);
  if (rc != SQLITE_OK) {
    VIGIL_LOG(Error) << "state database " << path_ << ": close: " << sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
  }
}

absl::Status SqliteStateStore::Error(absl::string_view operation, int rc) {
  return absl::Status(CodeFor(rc), absl::StrCat("state database ", path_, ": ", operation, ": ",
                                                sqlite3_errmsg(db_)));
}

absl::Status SqliteStateStore::Exec(absl::string_view operation, const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(operation, rc);
  return absl::OkStatus();
}

absl::Status SqliteStateStore::Prepare(const char* sql, Statement* out) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(absl::StrCat("prepare `", sql, "`"), rc);
  }
  out->reset(stmt);
  return absl::OkStatus();
}

absl::Status SqliteStateStore::StepDone(absl::string_view operation, sqlite3_stmt* stmt) {
  ResetOnExit reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(operation, rc);
  return absl::OkStatus();
}

absl::Status SqliteStateStore::Configure() {
  sqlite3_extended_result_codes(db_, 1);
  int rc = sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  if (rc != SQLITE_OK) return Error("set busy_timeout", rc);
  // The first statement reads the file: a file that is not a database fails here.
  Statement journal;
  if (absl::Status s = Prepare("PRAGMA journal_mode=WAL", &journal); !s.ok()) return s;
  {
    ResetOnExit reset(journal.get());
    rc = sqlite3_step(journal.get());
    if (rc != SQLITE_ROW) return Error("set journal_mode=WAL", rc);
    std::string mode = ColumnText(journal.get(), 0);
    if (mode != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "state database ", path_, ": journal_mode is '", mode,
          "' after asking for WAL; the state directory must be on a local file system"));
    }
  }
  // See the class comment: NORMAL in WAL mode survives process crashes.
  return Exec("set synchronous=NORMAL", "PRAGMA synchronous=NORMAL");
}

absl::Status SqliteStateStore::Migrate() {
  if (absl::Status s = Prepare("BEGIN IMMEDIATE", &begin_); !s.ok()) return s;
  if (absl::Status s = Prepare("COMMIT", &commit_); !s.ok()) return s;
  if (absl::Status s = Prepare("ROLLBACK", &rollback_); !s.ok()) return s;
  return InTransaction("migrate schema", [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (absl::Status s = Exec("create schema_version",
                              "CREATE TABLE IF NOT EXISTS schema_version ("
                              "version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)");
        !s.ok()) {
      return s;
    }
    Statement current;
    if (absl::Status s = Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version", &current);
        !s.ok()) {
      return s;
    }
    int rc = sqlite3_step(current.get());
    if (rc != SQLITE_ROW) return Error("read schema_version", rc);
    const int64_t version = sqlite3_column_int64(current.get(), 0);
    current.reset();
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state database ", path_, " has schema version ", version, ", newer than the version ",
          kSchemaVersion,
          " this binary knows; it was written by a newer vigil. Run that version, or move the "
          "file away to start from empty state"));
    }
    Statement record;
    if (absl::Status s =
            Prepare("INSERT INTO schema_version (version, applied_at_ms) VALUES (?1, ?2)", &record);
        !s.ok()) {
      return s;
    }
    for (const Migration& migration : kMigrations) {
      if (migration.version <= version) continue;
      const std::string operation = absl::StrCat("migrate schema to version ", migration.version);
      if (absl::Status s = Exec(operation, migration.sql); !s.ok()) return s;
      rc = FirstError({sqlite3_bind_int(record.get(), 1, migration.version),
                       sqlite3_bind_int64(record.get(), 2, absl::ToUnixMillis(absl::Now()))});
      if (rc != SQLITE_OK) return Error(operation, rc);
      if (absl::Status s = StepDone(operation, record.get()); !s.ok()) return s;
      VIGIL_LOG(Info) << "state database " << path_ << ": migrated schema to version "
                      << migration.version;
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteStateStore::PrepareStatements() {
  struct {
    Statement* stmt;
    const char* sql;
  } const statements[] = {
      {&upsert_alarm_,
       "INSERT INTO alarms (rule, instance, state, state_since_ms, rule_fingerprint, "
       "last_data_ms, periods) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
       "ON CONFLICT (rule, instance) DO UPDATE SET state = excluded.state, "
       "state_since_ms = excluded.state_since_ms, rule_fingerprint = excluded.rule_fingerprint, "
       "last_data_ms = excluded.last_data_ms, periods = excluded.periods"},
      {&delete_alarm_, "DELETE FROM alarms WHERE rule = ?1 AND instance = ?2"},
      {&load_alarms_,
       "SELECT rule, instance, state, state_since_ms, rule_fingerprint, last_data_ms, periods "
       "FROM alarms ORDER BY rule, instance"},
      {&insert_transition_,
       "INSERT INTO transitions (rule, instance, at_ms, from_state, to_state, reason) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
      {&history_rule_,
       "SELECT id, rule, instance, at_ms, from_state, to_state, reason FROM transitions "
       "WHERE rule = ?1 ORDER BY id DESC LIMIT ?2"},
      {&history_all_,
       "SELECT id, rule, instance, at_ms, from_state, to_state, reason FROM transitions "
       "ORDER BY id DESC LIMIT ?1"},
      {&transition_rules_, "SELECT DISTINCT rule FROM transitions"},
      // Deletes the rule's rows from the (?2+1)-th newest down; none when it has ?2 or fewer.
      {&prune_rule_,
       "DELETE FROM transitions WHERE rule = ?1 AND id <= "
       "(SELECT id FROM transitions WHERE rule = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)"},
  };
  for (const auto& s : statements) {
    if (absl::Status status = Prepare(s.sql, s.stmt); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status SqliteStateStore::InTransaction(absl::string_view operation,
                                             absl::FunctionRef<absl::Status()> body) {
  if (absl::Status s = StepDone(absl::StrCat(operation, ": begin"), begin_.get()); !s.ok()) {
    return s;
  }
  absl::Status status = body();
  if (status.ok()) status = StepDone(absl::StrCat(operation, ": commit"), commit_.get());
  // SQLite rolls back by itself after some errors (e.g. a full disk); roll back otherwise.
  if (!status.ok() && sqlite3_get_autocommit(db_) == 0) {
    absl::Status rolled_back = StepDone(absl::StrCat(operation, ": rollback"), rollback_.get());
    if (!rolled_back.ok()) VIGIL_LOG(Error) << rolled_back.message();
  }
  return status;
}

absl::Status SqliteStateStore::SaveAlarms(const std::vector<AlarmRecord>& alarms) {
  absl::MutexLock lock(&mu_);
  return InTransaction("SaveAlarms", [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sqlite3_stmt* stmt = upsert_alarm_.get();
    for (const AlarmRecord& alarm : alarms) {
      const char* state = StateText(alarm.state);
      if (state == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("state database ", path_, ": SaveAlarms: alarm ", alarm.rule, " ",
                         alarm.instance, " has an invalid state ", static_cast<int>(alarm.state)));
      }
      ResetOnExit reset(stmt);
      int rc = FirstError(
          {BindText(stmt, 1, alarm.rule), BindText(stmt, 2, alarm.instance),
           BindText(stmt, 3, state), sqlite3_bind_int64(stmt, 4, alarm.state_since_ms),
           // Two's complement round trip: SQLite integers are signed.
           sqlite3_bind_int64(stmt, 5, static_cast<int64_t>(alarm.rule_fingerprint)),
           sqlite3_bind_int64(stmt, 6, alarm.last_data_ms), BindBlob(stmt, 7, alarm.periods)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return Error(absl::StrCat("SaveAlarms: alarm ", alarm.rule, " ", alarm.instance), rc);
      }
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteStateStore::DeleteAlarms(
    const std::vector<std::pair<std::string, std::string>>& rule_instance) {
  absl::MutexLock lock(&mu_);
  return InTransaction("DeleteAlarms", [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sqlite3_stmt* stmt = delete_alarm_.get();
    for (const auto& [rule, instance] : rule_instance) {
      ResetOnExit reset(stmt);
      int rc = FirstError({BindText(stmt, 1, rule), BindText(stmt, 2, instance)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return Error(absl::StrCat("DeleteAlarms: alarm ", rule, " ", instance), rc);
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<AlarmRecord>> SqliteStateStore::LoadAlarms() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = load_alarms_.get();
  ResetOnExit reset(stmt);
  std::vector<AlarmRecord> alarms;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    AlarmRecord alarm;
    alarm.rule = ColumnText(stmt, 0);
    alarm.instance = ColumnText(stmt, 1);
    const std::string state = ColumnText(stmt, 2);
    std::optional<AlarmState> parsed = ParseStateText(state);
    if (!parsed) {
      return absl::DataLossError(absl::StrCat("state database ", path_, ": LoadAlarms: alarm ",
                                              alarm.rule, " ", alarm.instance,
                                              " has unknown state '", state, "'"));
    }
    alarm.state = *parsed;
    alarm.state_since_ms = sqlite3_column_int64(stmt, 3);
    alarm.rule_fingerprint = static_cast<uint64_t>(sqlite3_column_int64(stmt, 4));
    alarm.last_data_ms = sqlite3_column_int64(stmt, 5);
    alarm.periods = ColumnBlob(stmt, 6);
    alarms.push_back(std::move(alarm));
  }
  if (rc != SQLITE_DONE) return Error("LoadAlarms", rc);
  return alarms;
}

absl::Status SqliteStateStore::AppendTransitions(const std::vector<TransitionRecord>& transitions) {
  absl::MutexLock lock(&mu_);
  return InTransaction("AppendTransitions", [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sqlite3_stmt* stmt = insert_transition_.get();
    for (const TransitionRecord& t : transitions) {
      const char* from = StateText(t.from);
      const char* to = StateText(t.to);
      if (from == nullptr || to == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "state database ", path_, ": AppendTransitions: transition of ", t.rule, " ",
            t.instance, " has an invalid state ", static_cast<int>(from ? t.to : t.from)));
      }
      ResetOnExit reset(stmt);
      int rc = FirstError({BindText(stmt, 1, t.rule), BindText(stmt, 2, t.instance),
                           sqlite3_bind_int64(stmt, 3, t.at_ms), BindText(stmt, 4, from),
                           BindText(stmt, 5, to), BindText(stmt, 6, t.reason)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return Error(absl::StrCat("AppendTransitions: transition of ", t.rule, " ", t.instance),
                     rc);
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<TransitionRecord>> SqliteStateStore::History(const std::string& rule,
                                                                        size_t limit) {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = rule.empty() ? history_all_.get() : history_rule_.get();
  ResetOnExit reset(stmt);
  const int64_t bounded_limit =
      static_cast<int64_t>(std::min<uint64_t>(limit, std::numeric_limits<int64_t>::max()));
  int rc = rule.empty()
               ? sqlite3_bind_int64(stmt, 1, bounded_limit)
               : FirstError({BindText(stmt, 1, rule), sqlite3_bind_int64(stmt, 2, bounded_limit)});
  if (rc != SQLITE_OK) return Error(absl::StrCat("History of '", rule, "'"), rc);
  std::vector<TransitionRecord> history;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    TransitionRecord t;
    t.id = sqlite3_column_int64(stmt, 0);
    t.rule = ColumnText(stmt, 1);
    t.instance = ColumnText(stmt, 2);
    t.at_ms = sqlite3_column_int64(stmt, 3);
    const std::string from = ColumnText(stmt, 4);
    const std::string to = ColumnText(stmt, 5);
    std::optional<AlarmState> parsed_from = ParseStateText(from);
    std::optional<AlarmState> parsed_to = ParseStateText(to);
    if (!parsed_from || !parsed_to) {
      return absl::DataLossError(absl::StrCat("state database ", path_, ": History: transition ",
                                              t.id, " has unknown state '", parsed_from ? to : from,
                                              "'"));
    }
    t.from = *parsed_from;
    t.to = *parsed_to;
    t.reason = ColumnText(stmt, 6);
    history.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return Error(absl::StrCat("History of '", rule, "'"), rc);
  return history;
}

absl::Status SqliteStateStore::ExecForTesting(const std::string& sql) {
  absl::MutexLock lock(&mu_);
  return Exec("ExecForTesting", sql.c_str());
}

absl::Status SqliteStateStore::Prune(size_t keep_transitions_per_rule) {
  absl::MutexLock lock(&mu_);
  const int64_t keep = static_cast<int64_t>(
      std::min<uint64_t>(keep_transitions_per_rule, std::numeric_limits<int64_t>::max()));
  return InTransaction("Prune", [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // Rules first, then deletes: deleting from a table while a read of it is open is avoided.
    std::vector<std::string> rules;
    {
      sqlite3_stmt* stmt = transition_rules_.get();
      ResetOnExit reset(stmt);
      int rc;
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) rules.push_back(ColumnText(stmt, 0));
      if (rc != SQLITE_DONE) return Error("Prune: list rules", rc);
    }
    sqlite3_stmt* stmt = prune_rule_.get();
    for (const std::string& rule : rules) {
      ResetOnExit reset(stmt);
      int rc = FirstError({BindText(stmt, 1, rule), sqlite3_bind_int64(stmt, 2, keep)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) return Error(absl::StrCat("Prune: rule ", rule), rc);
    }
    return absl::OkStatus();
  });
}

}  // namespace vigil::alerting
