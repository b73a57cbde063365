#include "alerting/notify/sqlite_notification_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <initializer_list>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "nlohmann/json.hpp"

namespace vigil::alerting {
namespace {

using json = nlohmann::json;

constexpr int kBusyTimeoutMs = 5000;

// Forward-only schema migrations; never edit a released one, add the next version.
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE outbox (
  id TEXT PRIMARY KEY CHECK (id <> ''),
  receiver TEXT NOT NULL,
  integration INTEGER NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  lease_until_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);
CREATE INDEX outbox_created ON outbox (created_ms);
CREATE TABLE delivery_attempts (
  notification_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  result TEXT NOT NULL,
  detail TEXT NOT NULL,
  PRIMARY KEY (notification_id, attempt)
);
CREATE TABLE notification_log (
  receiver TEXT NOT NULL,
  integration INTEGER NOT NULL,
  group_key TEXT NOT NULL,
  firing TEXT NOT NULL,
  resolved TEXT NOT NULL,
  last_notified_ms INTEGER NOT NULL,
  thread_id TEXT NOT NULL,
  PRIMARY KEY (receiver, integration, group_key)
);
CREATE TABLE silences (
  id TEXT PRIMARY KEY CHECK (id <> ''),
  matchers TEXT NOT NULL,
  starts_at_ms INTEGER NOT NULL,
  ends_at_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  comment TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);
)sql"},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) ==
                  SqliteNotificationStore::kSchemaVersion,
              "one migration per schema version");

absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
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

const char* StateText(OutboxState s) {
  switch (s) {
    case OutboxState::kPending:
      return "pending";
    case OutboxState::kDelivered:
      return "delivered";
    case OutboxState::kFailed:
      return "failed";
  }
  return "pending";
}

// Resets a statement and its bindings when the scope ends.
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

int BindText(sqlite3_stmt* stmt, int index, absl::string_view text) {
  return sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
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

std::string JsonList(const std::vector<std::string>& items) { return json(items).dump(); }

bool ParseJsonList(const std::string& text, std::vector<std::string>* out) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return false;
  for (const json& item : j) {
    if (!item.is_string()) return false;
    out->push_back(item.get<std::string>());
  }
  return true;
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// The outbox columns every query reads, in this order.
#define VIGIL_OUTBOX_COLUMNS \
  "id, receiver, integration, kind, payload, created_ms, attempts, next_attempt_ms"

OutboxNotification ReadOutboxRow(sqlite3_stmt* stmt) {
  OutboxNotification row;
  row.id = ColumnText(stmt, 0);
  row.receiver = ColumnText(stmt, 1);
  row.integration = sqlite3_column_int(stmt, 2);
  row.kind = ColumnText(stmt, 3);
  row.payload = ColumnText(stmt, 4);
  row.created_ms = sqlite3_column_int64(stmt, 5);
  row.attempts = sqlite3_column_int(stmt, 6);
  row.next_attempt_ms = sqlite3_column_int64(stmt, 7);
  return row;
}

}  // namespace

void SqliteNotificationStore::StatementDeleter::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

absl::StatusOr<std::unique_ptr<SqliteNotificationStore>> SqliteNotificationStore::Open(
    const std::string& path) {
  const std::string dir = DirOf(path);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(
        absl::StrCat("notification database ", path, ": directory ", dir, " does not exist"));
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status(CodeFor(rc), absl::StrCat("notification database ", path, ": open: ",
                                                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return status;
  }
  std::unique_ptr<SqliteNotificationStore> store(new SqliteNotificationStore(path, db));
  absl::MutexLock lock(&store->mu_);
  if (absl::Status s = store->Configure(); !s.ok()) return s;
  if (absl::Status s = store->Migrate(); !s.ok()) return s;
  if (absl::Status s = store->PrepareStatements(); !s.ok()) return s;
  return store;
}

SqliteNotificationStore::SqliteNotificationStore(std::string path, sqlite3* db)
    : path_(std::move(path)), db_(db) {}

SqliteNotificationStore::~SqliteNotificationStore() {
  absl::MutexLock lock(&mu_);
  for (Statement* stmt :
       {&begin_,          &commit_,        &rollback_,       &insert_outbox_, &upsert_log_,
        &delete_log_,     &load_log_,      &claim_,          &release_,       &insert_attempt_,
        &finish_attempt_, &next_attempt_,  &count_pending_,  &list_outbox_,   &list_attempts_,
        &upsert_silence_, &load_silences_, &prune_attempts_, &prune_outbox_,  &prune_silences_}) {
    stmt->reset();
  }
  int rc = sqlite3_close(db_);
  if (rc != SQLITE_OK) {
    VIGIL_LOG(Error) << "notification database " << path_ << ": close: " << sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
  }
}

absl::Status SqliteNotificationStore::Error(absl::string_view operation, int rc) {
  return absl::Status(CodeFor(rc), absl::StrCat("notification database ", path_, ": ", operation,
                                                ": ", sqlite3_errmsg(db_)));
}

absl::Status SqliteNotificationStore::Exec(absl::string_view operation, const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(operation, rc);
  return absl::OkStatus();
}

absl::Status SqliteNotificationStore::Prepare(const char* sql, Statement* out) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(absl::StrCat("prepare `", sql, "`"), rc);
  }
  out->reset(stmt);
  return absl::OkStatus();
}

absl::Status SqliteNotificationStore::StepDone(absl::string_view operation, sqlite3_stmt* stmt) {
  ResetOnExit reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(operation, rc);
  return absl::OkStatus();
}

absl::Status SqliteNotificationStore::Configure() {
  sqlite3_extended_result_codes(db_, 1);
  int rc = sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  if (rc != SQLITE_OK) return Error("set busy_timeout", rc);
  Statement journal;
  if (absl::Status s = Prepare("PRAGMA journal_mode=WAL", &journal); !s.ok()) return s;
  {
    ResetOnExit reset(journal.get());
    rc = sqlite3_step(journal.get());
    if (rc != SQLITE_ROW) return Error("set journal_mode=WAL", rc);
    std::string mode = ColumnText(journal.get(), 0);
    if (mode != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "notification database ", path_, ": journal_mode is '", mode,
          "' after asking for WAL; the state directory must be on a local file system"));
    }
  }
  // See the class comment: a committed outbox row must survive a power loss.
  return Exec("set synchronous=FULL", "PRAGMA synchronous=FULL");
}

absl::Status SqliteNotificationStore::Migrate() {
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
          "notification database ", path_, " has schema version ", version,
          ", newer than the version ", kSchemaVersion,
          " this binary knows; it was written by a newer vigil. Run that version, or move the "
          "file away (pending notifications in it are then not delivered)"));
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
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteNotificationStore::PrepareStatements() {
  struct {
    Statement* stmt;
    const char* sql;
  } const statements[] = {
      {&insert_outbox_,
       "INSERT INTO outbox (id, receiver, integration, kind, payload, created_ms, state, "
       "attempts, next_attempt_ms, lease_until_ms, finished_ms) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, 0, 0) ON CONFLICT (id) DO NOTHING"},
      {&upsert_log_,
       "INSERT INTO notification_log (receiver, integration, group_key, firing, resolved, "
       "last_notified_ms, thread_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
       "ON CONFLICT (receiver, integration, group_key) DO UPDATE SET firing = excluded.firing, "
       "resolved = excluded.resolved, last_notified_ms = excluded.last_notified_ms, "
       "thread_id = excluded.thread_id"},
      {&delete_log_,
       "DELETE FROM notification_log WHERE receiver = ?1 AND integration = ?2 AND group_key = ?3"},
      {&load_log_,
       "SELECT receiver, integration, group_key, firing, resolved, last_notified_ms, thread_id "
       "FROM notification_log ORDER BY receiver, integration, group_key"},
      {&claim_,
       "UPDATE outbox SET lease_until_ms = ?2 WHERE id = (SELECT id FROM outbox "
       "WHERE state = 'pending' AND next_attempt_ms <= ?1 AND lease_until_ms <= ?1 "
       "ORDER BY next_attempt_ms, created_ms, id LIMIT 1) RETURNING " VIGIL_OUTBOX_COLUMNS},
      {&release_, "UPDATE outbox SET lease_until_ms = 0 WHERE state = 'pending'"},
      {&insert_attempt_,
       "INSERT INTO delivery_attempts (notification_id, attempt, at_ms, result, detail) "
       "VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&finish_attempt_,
       "UPDATE outbox SET state = ?2, attempts = attempts + 1, next_attempt_ms = ?3, "
       "lease_until_ms = 0, finished_ms = ?4 WHERE id = ?1 AND state = 'pending'"},
      {&next_attempt_, "SELECT MIN(next_attempt_ms) FROM outbox WHERE state = 'pending'"},
      {&count_pending_, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'"},
      {&list_outbox_, "SELECT " VIGIL_OUTBOX_COLUMNS ", state, finished_ms FROM outbox "
                      "ORDER BY created_ms DESC, id LIMIT ?1"},
      {&list_attempts_,
       "SELECT attempt, at_ms, result, detail FROM delivery_attempts WHERE notification_id = ?1 "
       "ORDER BY attempt"},
      {&upsert_silence_,
       "INSERT INTO silences (id, matchers, starts_at_ms, ends_at_ms, created_by, comment, "
       "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET "
       "matchers = excluded.matchers, starts_at_ms = excluded.starts_at_ms, "
       "ends_at_ms = excluded.ends_at_ms, created_by = excluded.created_by, "
       "comment = excluded.comment, updated_ms = excluded.updated_ms"},
      {&load_silences_,
       "SELECT id, matchers, starts_at_ms, ends_at_ms, created_by, comment, updated_ms "
       "FROM silences ORDER BY starts_at_ms, id"},
      {&prune_attempts_,
       "DELETE FROM delivery_attempts WHERE notification_id IN (SELECT id FROM outbox "
       "WHERE state <> 'pending' AND finished_ms < ?1)"},
      {&prune_outbox_, "DELETE FROM outbox WHERE state <> 'pending' AND finished_ms < ?1"},
      {&prune_silences_, "DELETE FROM silences WHERE ends_at_ms < ?1"},
  };
  for (const auto& s : statements) {
    if (absl::Status status = Prepare(s.sql, s.stmt); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status SqliteNotificationStore::InTransaction(absl::string_view operation,
                                                    absl::FunctionRef<absl::Status()> body) {
  if (absl::Status s = StepDone(absl::StrCat(operation, ": begin"), begin_.get()); !s.ok()) {
    return s;
  }
  absl::Status status = body();
  if (status.ok()) status = StepDone(absl::StrCat(operation, ": commit"), commit_.get());
  if (!status.ok() && sqlite3_get_autocommit(db_) == 0) {
    absl::Status rolled_back = StepDone(absl::StrCat(operation, ": rollback"), rollback_.get());
    if (!rolled_back.ok()) VIGIL_LOG(Error) << rolled_back.message();
  }
  return status;
}

absl::Status SqliteNotificationStore::CommitFlush(const FlushBatch& batch) {
  absl::MutexLock lock(&mu_);
  return InTransaction("CommitFlush", [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const OutboxNotification& n : batch.notifications) {
      sqlite3_stmt* stmt = insert_outbox_.get();
      ResetOnExit reset(stmt);
      int rc = FirstError({BindText(stmt, 1, n.id), BindText(stmt, 2, n.receiver),
                           sqlite3_bind_int(stmt, 3, n.integration), BindText(stmt, 4, n.kind),
                           BindText(stmt, 5, n.payload), sqlite3_bind_int64(stmt, 6, n.created_ms),
                           sqlite3_bind_int64(stmt, 7, n.next_attempt_ms)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) return Error(absl::StrCat("CommitFlush: notification ", n.id), rc);
    }
    for (const NotificationLogEntry& e : batch.log_upserts) {
      sqlite3_stmt* stmt = upsert_log_.get();
      ResetOnExit reset(stmt);
      const std::string firing = JsonList(e.firing);
      const std::string resolved = JsonList(e.resolved);
      int rc = FirstError(
          {BindText(stmt, 1, e.receiver), sqlite3_bind_int(stmt, 2, e.integration),
           BindText(stmt, 3, e.group_key), BindText(stmt, 4, firing), BindText(stmt, 5, resolved),
           sqlite3_bind_int64(stmt, 6, e.last_notified_ms), BindText(stmt, 7, e.thread_id)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return Error(absl::StrCat("CommitFlush: log of ", e.receiver, " ", e.group_key), rc);
      }
    }
    for (const LogKey& k : batch.log_deletes) {
      sqlite3_stmt* stmt = delete_log_.get();
      ResetOnExit reset(stmt);
      int rc = FirstError({BindText(stmt, 1, k.receiver), sqlite3_bind_int(stmt, 2, k.integration),
                           BindText(stmt, 3, k.group_key)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return Error(absl::StrCat("CommitFlush: delete log of ", k.receiver, " ", k.group_key), rc);
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<NotificationLogEntry>> SqliteNotificationStore::LoadLog() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = load_log_.get();
  ResetOnExit reset(stmt);
  std::vector<NotificationLogEntry> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    NotificationLogEntry e;
    e.receiver = ColumnText(stmt, 0);
    e.integration = sqlite3_column_int(stmt, 1);
    e.group_key = ColumnText(stmt, 2);
    if (!ParseJsonList(ColumnText(stmt, 3), &e.firing) ||
        !ParseJsonList(ColumnText(stmt, 4), &e.resolved)) {
      return absl::DataLossError(absl::StrCat("notification database ", path_,
                                              ": LoadLog: entry of receiver ", e.receiver,
                                              " group ", e.group_key, " is malformed"));
    }
    e.last_notified_ms = sqlite3_column_int64(stmt, 5);
    e.thread_id = ColumnText(stmt, 6);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return Error("LoadLog", rc);
  return out;
}

absl::StatusOr<std::optional<OutboxNotification>> SqliteNotificationStore::ClaimDue(
    int64_t now_ms, int64_t lease_until_ms) {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = claim_.get();
  ResetOnExit reset(stmt);
  int rc = FirstError(
      {sqlite3_bind_int64(stmt, 1, now_ms), sqlite3_bind_int64(stmt, 2, lease_until_ms)});
  if (rc != SQLITE_OK) return Error("ClaimDue", rc);
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) return std::optional<OutboxNotification>();
  if (rc != SQLITE_ROW) return Error("ClaimDue", rc);
  OutboxNotification row = ReadOutboxRow(stmt);
  // Step to the end so the UPDATE completes before the statement is reset.
  rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return Error("ClaimDue", rc);
  return std::optional<OutboxNotification>(std::move(row));
}

absl::Status SqliteNotificationStore::ReleaseClaims() {
  absl::MutexLock lock(&mu_);
  return StepDone("ReleaseClaims", release_.get());
}

absl::Status SqliteNotificationStore::RecordAttempt(const std::string& id,
                                                    const DeliveryAttempt& attempt,
                                                    OutboxState state, int64_t next_attempt_ms) {
  absl::MutexLock lock(&mu_);
  return InTransaction("RecordAttempt", [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    {
      sqlite3_stmt* stmt = finish_attempt_.get();
      ResetOnExit reset(stmt);
      const int64_t finished = state == OutboxState::kPending ? 0 : attempt.at_ms;
      int rc = FirstError({BindText(stmt, 1, id), BindText(stmt, 2, StateText(state)),
                           sqlite3_bind_int64(stmt, 3, next_attempt_ms),
                           sqlite3_bind_int64(stmt, 4, finished)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) return Error(absl::StrCat("RecordAttempt: notification ", id), rc);
      if (sqlite3_changes(db_) != 1) {
        return absl::NotFoundError(absl::StrCat("notification database ", path_,
                                                ": RecordAttempt: no pending notification ", id));
      }
    }
    sqlite3_stmt* stmt = insert_attempt_.get();
    ResetOnExit reset(stmt);
    int rc = FirstError({BindText(stmt, 1, id), sqlite3_bind_int(stmt, 2, attempt.attempt),
                         sqlite3_bind_int64(stmt, 3, attempt.at_ms),
                         BindText(stmt, 4, attempt.result), BindText(stmt, 5, attempt.detail)});
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) return Error(absl::StrCat("RecordAttempt: attempt of ", id), rc);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<int64_t>> SqliteNotificationStore::NextAttemptMs() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = next_attempt_.get();
  ResetOnExit reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) return Error("NextAttemptMs", rc);
  if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) return std::optional<int64_t>();
  return std::optional<int64_t>(sqlite3_column_int64(stmt, 0));
}

absl::StatusOr<int64_t> SqliteNotificationStore::CountPending() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = count_pending_.get();
  ResetOnExit reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) return Error("CountPending", rc);
  return sqlite3_column_int64(stmt, 0);
}

absl::StatusOr<std::vector<DeliveryAttempt>> SqliteNotificationStore::Attempts(
    const std::string& id) {
  sqlite3_stmt* stmt = list_attempts_.get();
  ResetOnExit reset(stmt);
  int rc = BindText(stmt, 1, id);
  if (rc != SQLITE_OK) return Error("ListOutbox: attempts", rc);
  std::vector<DeliveryAttempt> out;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    DeliveryAttempt a;
    a.attempt = sqlite3_column_int(stmt, 0);
    a.at_ms = sqlite3_column_int64(stmt, 1);
    a.result = ColumnText(stmt, 2);
    a.detail = ColumnText(stmt, 3);
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return Error("ListOutbox: attempts", rc);
  return out;
}

absl::StatusOr<std::vector<OutboxEntry>> SqliteNotificationStore::ListOutbox(size_t limit) {
  absl::MutexLock lock(&mu_);
  std::vector<OutboxEntry> out;
  {
    sqlite3_stmt* stmt = list_outbox_.get();
    ResetOnExit reset(stmt);
    int rc = sqlite3_bind_int64(
        stmt, 1,
        static_cast<int64_t>(std::min<uint64_t>(limit, std::numeric_limits<int64_t>::max())));
    if (rc != SQLITE_OK) return Error("ListOutbox", rc);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      OutboxEntry e;
      e.notification = ReadOutboxRow(stmt);
      const std::string state = ColumnText(stmt, 8);
      e.state = state == "delivered" ? OutboxState::kDelivered
                : state == "failed"  ? OutboxState::kFailed
                                     : OutboxState::kPending;
      e.finished_ms = sqlite3_column_int64(stmt, 9);
      out.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return Error("ListOutbox", rc);
  }
  for (OutboxEntry& e : out) {
    absl::StatusOr<std::vector<DeliveryAttempt>> attempts = Attempts(e.notification.id);
    if (!attempts.ok()) return attempts.status();
    e.attempts = *std::move(attempts);
  }
  return out;
}

absl::Status SqliteNotificationStore::SaveSilence(const Silence& s) {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = upsert_silence_.get();
  ResetOnExit reset(stmt);
  const std::string matchers = JsonList(s.matchers);
  int rc = FirstError({BindText(stmt, 1, s.id), BindText(stmt, 2, matchers),
                       sqlite3_bind_int64(stmt, 3, s.starts_at_ms),
                       sqlite3_bind_int64(stmt, 4, s.ends_at_ms), BindText(stmt, 5, s.created_by),
                       BindText(stmt, 6, s.comment), sqlite3_bind_int64(stmt, 7, s.updated_ms)});
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return Error(absl::StrCat("SaveSilence ", s.id), rc);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Silence>> SqliteNotificationStore::LoadSilences() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = load_silences_.get();
  ResetOnExit reset(stmt);
  std::vector<Silence> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    Silence s;
    s.id = ColumnText(stmt, 0);
    bool ok = ParseJsonList(ColumnText(stmt, 1), &s.matchers);
    s.starts_at_ms = sqlite3_column_int64(stmt, 2);
    s.ends_at_ms = sqlite3_column_int64(stmt, 3);
    s.created_by = ColumnText(stmt, 4);
    s.comment = ColumnText(stmt, 5);
    s.updated_ms = sqlite3_column_int64(stmt, 6);
    absl::Status parsed = ok ? ParseSilenceMatchers(&s) : absl::InvalidArgumentError("not a list");
    if (!parsed.ok()) {
      return absl::DataLossError(absl::StrCat("notification database ", path_, ": silence ", s.id,
                                              " has malformed matchers: ", parsed.message()));
    }
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Error("LoadSilences", rc);
  return out;
}

absl::Status SqliteNotificationStore::Prune(int64_t before_ms) {
  absl::MutexLock lock(&mu_);
  return InTransaction("Prune", [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (sqlite3_stmt* stmt : {prune_attempts_.get(), prune_outbox_.get(), prune_silences_.get()}) {
      ResetOnExit reset(stmt);
      int rc = sqlite3_bind_int64(stmt, 1, before_ms);
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) return Error("Prune", rc);
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteNotificationStore::ExecForTesting(const std::string& sql) {
  absl::MutexLock lock(&mu_);
  return Exec("ExecForTesting", sql.c_str());
}

}  // namespace vigil::alerting
