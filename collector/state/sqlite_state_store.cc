#include "collector/state/sqlite_state_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/state/state_rows.h"

namespace vigil::collector {
namespace {

using alerting::AlarmRecord;
using alerting::DeliveryAttempt;
using alerting::FlushBatch;
using alerting::LogKey;
using alerting::NotificationLogEntry;
using alerting::OutboxEntry;
using alerting::OutboxNotification;
using alerting::OutboxState;
using alerting::Silence;
using alerting::TransitionRecord;
using sqlite::BindBlob;
using sqlite::BindInt64;
using sqlite::BindText;
using sqlite::ColumnBlob;
using sqlite::ColumnInt64;
using sqlite::ColumnText;
using sqlite::FirstError;
using sqlite::ResetOnExit;
using sqlite::Statement;

constexpr sqlite::Migration kMigrations[] = {
    // The alarm state of the rule engine's first release, unchanged.
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
-- AUTOINCREMENT: ids are never reused, even after a prune removed the newest rows of a rule.
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
    // Alert delivery, stream positions and the lease join the alarm state in one file.
    {2, R"sql(
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
  lease_until_ms INTEGER NOT NULL,  -- claimed until; 0: not claimed
  claim_epoch INTEGER NOT NULL,     -- lease epoch of the last claim
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
  firing TEXT NOT NULL,    -- JSON list of strings
  resolved TEXT NOT NULL,  -- JSON list of strings
  last_notified_ms INTEGER NOT NULL,
  thread_id TEXT NOT NULL,
  PRIMARY KEY (receiver, integration, group_key)
);
CREATE TABLE silences (
  id TEXT PRIMARY KEY CHECK (id <> ''),
  matchers TEXT NOT NULL,  -- JSON list of strings
  starts_at_ms INTEGER NOT NULL,
  ends_at_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  comment TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE stream_positions (
  agent_id TEXT PRIMARY KEY CHECK (agent_id <> ''),
  last_sequence INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE leader_lease (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  holder TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
);
INSERT INTO leader_lease (id, holder, epoch, expires_ms) VALUES (1, '', 0, 0);
)sql"},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == SqliteStateStore::kSchemaVersion,
              "one migration per schema version");

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
  row.created_ms = ColumnInt64(stmt, 5);
  row.attempts = sqlite3_column_int(stmt, 6);
  row.next_attempt_ms = ColumnInt64(stmt, 7);
  return row;
}

int64_t Bounded(size_t n) {
  return static_cast<int64_t>(std::min<uint64_t>(n, std::numeric_limits<int64_t>::max()));
}

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

struct SqliteStateStore::Statements {
  Statement upsert_alarm, delete_alarm, load_alarms, insert_transition, history_rule, history_all,
      transition_rules, prune_rule;
  Statement insert_outbox, upsert_log, delete_log, load_log, claim, release, insert_attempt,
      finish_attempt, next_attempt, count_pending, list_outbox, list_attempts, upsert_silence,
      load_silences, prune_attempts, prune_outbox, prune_silences;
  Statement upsert_position, load_positions;
  Statement read_lease, write_lease, release_lease;
};

absl::StatusOr<std::unique_ptr<SqliteStateStore>> SqliteStateStore::Open(const std::string& path,
                                                                         int migrate_to) {
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db = sqlite::Database::Open(path);
  if (!db.ok()) return db.status();
  absl::StatusOr<int> found = (*db)->Migrate(kMigrations, migrate_to);
  if (!found.ok()) return found.status();
  std::unique_ptr<SqliteStateStore> store(new SqliteStateStore(path, *std::move(db), *found));
  if (migrate_to == 0 || migrate_to >= kSchemaVersion) {
    absl::MutexLock lock(&store->mu_);
    if (absl::Status s = store->PrepareStatements(); !s.ok()) return s;
  }
  return store;
}

absl::StatusOr<StateReport> SqliteStateStore::Inspect(const std::string& path) {
  absl::StatusOr<std::unique_ptr<sqlite::Database>> db =
      sqlite::Database::Open(path, /*read_only=*/true);
  if (!db.ok()) return db.status();
  StateReport report;
  report.schema.backend = kSqliteBackend;
  report.schema.location = path;
  report.schema.latest = kSchemaVersion;
  absl::StatusOr<int> version = (*db)->SchemaVersion();
  if (!version.ok()) return version.status();
  report.schema.version = *version;
  if (*version >= 2) {
    Statement lease;
    if (absl::Status s = (*db)->Prepare(
            "SELECT holder, epoch, expires_ms FROM leader_lease WHERE id = 1", &lease);
        !s.ok()) {
      return s;
    }
    int rc = sqlite3_step(lease.get());
    if (rc == SQLITE_ROW) {
      report.lease = {ColumnText(lease.get(), 0), ColumnInt64(lease.get(), 1),
                      ColumnInt64(lease.get(), 2)};
    } else if (rc != SQLITE_DONE) {
      return (*db)->Error("read lease", rc);
    }
  }
  return report;
}

SqliteStateStore::SqliteStateStore(std::string path, std::unique_ptr<sqlite::Database> db,
                                   int migrated_from)
    : path_(std::move(path)),
      migrated_from_(migrated_from),
      db_(std::move(db)),
      st_(std::make_unique<Statements>()) {}

SqliteStateStore::~SqliteStateStore() {
  absl::MutexLock lock(&mu_);
  st_.reset();  // statements before the connection
  db_.reset();
}

absl::Status SqliteStateStore::PrepareStatements() {
  Statements& s = *st_;
  struct {
    Statement* stmt;
    const char* sql;
  } const statements[] = {
      {&s.upsert_alarm,
       "INSERT INTO alarms (rule, instance, state, state_since_ms, rule_fingerprint, "
       "last_data_ms, periods) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
       "ON CONFLICT (rule, instance) DO UPDATE SET state = excluded.state, "
       "state_since_ms = excluded.state_since_ms, rule_fingerprint = excluded.rule_fingerprint, "
       "last_data_ms = excluded.last_data_ms, periods = excluded.periods"},
      {&s.delete_alarm, "DELETE FROM alarms WHERE rule = ?1 AND instance = ?2"},
      {&s.load_alarms,
       "SELECT rule, instance, state, state_since_ms, rule_fingerprint, last_data_ms, periods "
       "FROM alarms ORDER BY rule, instance"},
      {&s.insert_transition,
       "INSERT INTO transitions (rule, instance, at_ms, from_state, to_state, reason) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
      {&s.history_rule,
       "SELECT id, rule, instance, at_ms, from_state, to_state, reason FROM transitions "
       "WHERE rule = ?1 ORDER BY id DESC LIMIT ?2"},
      {&s.history_all,
       "SELECT id, rule, instance, at_ms, from_state, to_state, reason FROM transitions "
       "ORDER BY id DESC LIMIT ?1"},
      {&s.transition_rules, "SELECT DISTINCT rule FROM transitions"},
      // Deletes the rule's rows from the (?2+1)-th newest down; none when it has ?2 or fewer.
      {&s.prune_rule,
       "DELETE FROM transitions WHERE rule = ?1 AND id <= "
       "(SELECT id FROM transitions WHERE rule = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)"},
      {&s.insert_outbox,
       "INSERT INTO outbox (id, receiver, integration, kind, payload, created_ms, state, "
       "attempts, next_attempt_ms, lease_until_ms, claim_epoch, finished_ms) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, 0, 0, 0) ON CONFLICT (id) DO NOTHING"},
      {&s.upsert_log,
       "INSERT INTO notification_log (receiver, integration, group_key, firing, resolved, "
       "last_notified_ms, thread_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
       "ON CONFLICT (receiver, integration, group_key) DO UPDATE SET firing = excluded.firing, "
       "resolved = excluded.resolved, last_notified_ms = excluded.last_notified_ms, "
       "thread_id = excluded.thread_id"},
      {&s.delete_log,
       "DELETE FROM notification_log WHERE receiver = ?1 AND integration = ?2 AND group_key = ?3"},
      {&s.load_log,
       "SELECT receiver, integration, group_key, firing, resolved, last_notified_ms, thread_id "
       "FROM notification_log ORDER BY receiver, integration, group_key"},
      {&s.claim,
       "UPDATE outbox SET lease_until_ms = ?2, claim_epoch = ?3 WHERE id = (SELECT id FROM outbox "
       "WHERE state = 'pending' AND next_attempt_ms <= ?1 AND lease_until_ms <= ?1 "
       "ORDER BY next_attempt_ms, created_ms, id LIMIT 1) RETURNING " VIGIL_OUTBOX_COLUMNS},
      {&s.release, "UPDATE outbox SET lease_until_ms = 0 WHERE state = 'pending'"},
      {&s.insert_attempt,
       "INSERT INTO delivery_attempts (notification_id, attempt, at_ms, result, detail) "
       "VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&s.finish_attempt,
       "UPDATE outbox SET state = ?2, attempts = attempts + 1, next_attempt_ms = ?3, "
       "lease_until_ms = 0, finished_ms = ?4 WHERE id = ?1 AND state = 'pending'"},
      {&s.next_attempt, "SELECT MIN(next_attempt_ms) FROM outbox WHERE state = 'pending'"},
      {&s.count_pending, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'"},
      {&s.list_outbox, "SELECT " VIGIL_OUTBOX_COLUMNS ", state, finished_ms FROM outbox "
                       "ORDER BY created_ms DESC, id LIMIT ?1"},
      {&s.list_attempts,
       "SELECT attempt, at_ms, result, detail FROM delivery_attempts WHERE notification_id = ?1 "
       "ORDER BY attempt"},
      {&s.upsert_silence,
       "INSERT INTO silences (id, matchers, starts_at_ms, ends_at_ms, created_by, comment, "
       "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET "
       "matchers = excluded.matchers, starts_at_ms = excluded.starts_at_ms, "
       "ends_at_ms = excluded.ends_at_ms, created_by = excluded.created_by, "
       "comment = excluded.comment, updated_ms = excluded.updated_ms"},
      {&s.load_silences,
       "SELECT id, matchers, starts_at_ms, ends_at_ms, created_by, comment, updated_ms "
       "FROM silences ORDER BY starts_at_ms, id"},
      {&s.prune_attempts,
       "DELETE FROM delivery_attempts WHERE notification_id IN (SELECT id FROM outbox "
       "WHERE state <> 'pending' AND finished_ms < ?1)"},
      {&s.prune_outbox, "DELETE FROM outbox WHERE state <> 'pending' AND finished_ms < ?1"},
      {&s.prune_silences, "DELETE FROM silences WHERE ends_at_ms < ?1"},
      {&s.upsert_position,
       "INSERT INTO stream_positions (agent_id, last_sequence, updated_ms) VALUES (?1, ?2, ?3) "
       // A lower sequence leaves the stored position as it is.
       "ON CONFLICT (agent_id) DO UPDATE SET last_sequence = excluded.last_sequence, "
       "updated_ms = excluded.updated_ms "
       "WHERE excluded.last_sequence >= stream_positions.last_sequence"},
      {&s.load_positions,
       "SELECT agent_id, last_sequence, updated_ms FROM stream_positions ORDER BY agent_id"},
      {&s.read_lease, "SELECT holder, epoch, expires_ms FROM leader_lease WHERE id = 1"},
      {&s.write_lease,
       "UPDATE leader_lease SET holder = ?1, epoch = ?2, expires_ms = ?3 WHERE id = 1"},
      {&s.release_lease,
       "UPDATE leader_lease SET expires_ms = MIN(expires_ms, ?3) "
       "WHERE id = 1 AND holder = ?1 AND epoch = ?2"},
  };
  for (const auto& stmt : statements) {
    if (absl::Status status = db_->Prepare(stmt.sql, stmt.stmt); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<LeaseInfo> SqliteStateStore::ReadLease(absl::string_view operation) {
  sqlite3_stmt* stmt = st_->read_lease.get();
  ResetOnExit reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) {
    return rc == SQLITE_DONE ? absl::DataLossError(db_->Where(
                                   absl::StrCat(operation, ": the lease row is missing")))
                             : db_->Error(absl::StrCat(operation, ": read lease"), rc);
  }
  return LeaseInfo{ColumnText(stmt, 0), ColumnInt64(stmt, 1), ColumnInt64(stmt, 2)};
}

absl::Status SqliteStateStore::FencedWrite(absl::string_view operation, Durability durability,
                                           absl::FunctionRef<absl::Status()> body) {
  const int64_t fence = fencing_epoch_.load();
  return db_->InTransaction(operation, durability, [&]() -> absl::Status {
    if (fence > 0) {
      absl::StatusOr<LeaseInfo> lease = ReadLease(operation);
      if (!lease.ok()) return lease.status();
      if (lease->epoch != fence)
        return state_rows::Fenced(db_->Where(operation), lease->epoch, fence);
    }
    return body();
  });
}

absl::StatusOr<SchemaStatus> SqliteStateStore::Status() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<int> version = db_->SchemaVersion();
  if (!version.ok()) return version.status();
  return SchemaStatus{kSqliteBackend, path_, *version, kSchemaVersion};
}

// ---- AlarmStore

absl::Status SqliteStateStore::SaveAlarms(const std::vector<AlarmRecord>& alarms) {
  const std::string where = absl::StrCat("state database ", path_, ": SaveAlarms");
  for (const AlarmRecord& a : alarms) {
    if (absl::Status s = state_rows::CheckAlarm(where, a); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  return FencedWrite("SaveAlarms", Durability::kNormal, [&]() -> absl::Status {
    sqlite3_stmt* stmt = st_->upsert_alarm.get();
    for (const AlarmRecord& alarm : alarms) {
      ResetOnExit reset(stmt);
      int rc =
          FirstError({BindText(stmt, 1, alarm.rule), BindText(stmt, 2, alarm.instance),
                      BindText(stmt, 3, state_rows::AlarmStateText(alarm.state)),
                      BindInt64(stmt, 4, alarm.state_since_ms),
                      // Two's complement round trip: SQLite integers are signed.
                      BindInt64(stmt, 5, static_cast<int64_t>(alarm.rule_fingerprint)),
                      BindInt64(stmt, 6, alarm.last_data_ms), BindBlob(stmt, 7, alarm.periods)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return db_->Error(absl::StrCat("SaveAlarms: alarm ", alarm.rule, " ", alarm.instance), rc);
      }
    }
    return absl::OkStatus();
  });
}

absl::Status SqliteStateStore::DeleteAlarms(
    const std::vector<std::pair<std::string, std::string>>& rule_instance) {
  absl::MutexLock lock(&mu_);
  return FencedWrite("DeleteAlarms", Durability::kNormal, [&]() -> absl::Status {
    sqlite3_stmt* stmt = st_->delete_alarm.get();
    for (const auto& [rule, instance] : rule_instance) {
      ResetOnExit reset(stmt);
      int rc = FirstError({BindText(stmt, 1, rule), BindText(stmt, 2, instance)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return db_->Error(absl::StrCat("DeleteAlarms: alarm ", rule, " ", instance), rc);
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<AlarmRecord>> SqliteStateStore::LoadAlarms() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = st_->load_alarms.get();
  ResetOnExit reset(stmt);
  std::vector<AlarmRecord> alarms;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    AlarmRecord alarm;
    alarm.rule = ColumnText(stmt, 0);
    alarm.instance = ColumnText(stmt, 1);
    const std::string state = ColumnText(stmt, 2);
    std::optional<alerting::AlarmState> parsed = state_rows::ParseAlarmState(state);
    if (!parsed) {
      return absl::DataLossError(absl::StrCat(db_->Where("LoadAlarms"), ": alarm ", alarm.rule, " ",
                                              alarm.instance, " has unknown state '", state, "'"));
    }
    alarm.state = *parsed;
    alarm.state_since_ms = ColumnInt64(stmt, 3);
    alarm.rule_fingerprint = static_cast<uint64_t>(ColumnInt64(stmt, 4));
    alarm.last_data_ms = ColumnInt64(stmt, 5);
    alarm.periods = ColumnBlob(stmt, 6);
    alarms.push_back(std::move(alarm));
  }
  if (rc != SQLITE_DONE) return db_->Error("LoadAlarms", rc);
  return alarms;
}

absl::Status SqliteStateStore::AppendTransitions(const std::vector<TransitionRecord>& transitions) {
  const std::string where = absl::StrCat("state database ", path_, ": AppendTransitions");
  for (const TransitionRecord& t : transitions) {
    if (absl::Status s = state_rows::CheckTransition(where, t); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  return FencedWrite("AppendTransitions", Durability::kNormal, [&]() -> absl::Status {
    sqlite3_stmt* stmt = st_->insert_transition.get();
    for (const TransitionRecord& t : transitions) {
      ResetOnExit reset(stmt);
      int rc = FirstError(
          {BindText(stmt, 1, t.rule), BindText(stmt, 2, t.instance), BindInt64(stmt, 3, t.at_ms),
           BindText(stmt, 4, state_rows::AlarmStateText(t.from)),
           BindText(stmt, 5, state_rows::AlarmStateText(t.to)), BindText(stmt, 6, t.reason)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return db_->Error(
            absl::StrCat("AppendTransitions: transition of ", t.rule, " ", t.instance), rc);
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<TransitionRecord>> SqliteStateStore::History(const std::string& rule,
                                                                        size_t limit) {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = rule.empty() ? st_->history_all.get() : st_->history_rule.get();
  ResetOnExit reset(stmt);
  int rc = rule.empty() ? BindInt64(stmt, 1, Bounded(limit))
                        : FirstError({BindText(stmt, 1, rule), BindInt64(stmt, 2, Bounded(limit))});
  if (rc != SQLITE_OK) return db_->Error(absl::StrCat("History of '", rule, "'"), rc);
  std::vector<TransitionRecord> history;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    TransitionRecord t;
    t.id = ColumnInt64(stmt, 0);
    t.rule = ColumnText(stmt, 1);
    t.instance = ColumnText(stmt, 2);
    t.at_ms = ColumnInt64(stmt, 3);
    const std::string from = ColumnText(stmt, 4);
    const std::string to = ColumnText(stmt, 5);
    std::optional<alerting::AlarmState> parsed_from = state_rows::ParseAlarmState(from);
    std::optional<alerting::AlarmState> parsed_to = state_rows::ParseAlarmState(to);
    if (!parsed_from || !parsed_to) {
      return absl::DataLossError(absl::StrCat(db_->Where("History"), ": transition ", t.id,
                                              " has unknown state '", parsed_from ? to : from,
                                              "'"));
    }
    t.from = *parsed_from;
    t.to = *parsed_to;
    t.reason = ColumnText(stmt, 6);
    history.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) return db_->Error(absl::StrCat("History of '", rule, "'"), rc);
  return history;
}

absl::Status SqliteStateStore::PruneTransitions(size_t keep_per_rule) {
  absl::MutexLock lock(&mu_);
  return FencedWrite("PruneTransitions", Durability::kNormal, [&]() -> absl::Status {
    // Rules first, then deletes: deleting from a table while a read of it is open is avoided.
    std::vector<std::string> rules;
    {
      sqlite3_stmt* stmt = st_->transition_rules.get();
      ResetOnExit reset(stmt);
      int rc;
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) rules.push_back(ColumnText(stmt, 0));
      if (rc != SQLITE_DONE) return db_->Error("PruneTransitions: list rules", rc);
    }
    sqlite3_stmt* stmt = st_->prune_rule.get();
    for (const std::string& rule : rules) {
      ResetOnExit reset(stmt);
      int rc = FirstError({BindText(stmt, 1, rule), BindInt64(stmt, 2, Bounded(keep_per_rule))});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) return db_->Error(absl::StrCat("PruneTransitions: rule ", rule), rc);
    }
    return absl::OkStatus();
  });
}

// ---- NotificationStore

absl::Status SqliteStateStore::CommitFlush(const FlushBatch& batch) {
  const std::string where = absl::StrCat("state database ", path_, ": CommitFlush");
  for (const OutboxNotification& n : batch.notifications) {
    if (absl::Status s = state_rows::CheckNotification(where, n); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  return FencedWrite("CommitFlush", Durability::kFull, [&]() -> absl::Status {
    for (const OutboxNotification& n : batch.notifications) {
      sqlite3_stmt* stmt = st_->insert_outbox.get();
      ResetOnExit reset(stmt);
      int rc = FirstError({BindText(stmt, 1, n.id), BindText(stmt, 2, n.receiver),
                           BindInt64(stmt, 3, n.integration), BindText(stmt, 4, n.kind),
                           BindText(stmt, 5, n.payload), BindInt64(stmt, 6, n.created_ms),
                           BindInt64(stmt, 7, n.next_attempt_ms)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return db_->Error(absl::StrCat("CommitFlush: notification ", n.id), rc);
      }
    }
    for (const NotificationLogEntry& e : batch.log_upserts) {
      sqlite3_stmt* stmt = st_->upsert_log.get();
      ResetOnExit reset(stmt);
      const std::string firing = state_rows::JsonList(e.firing);
      const std::string resolved = state_rows::JsonList(e.resolved);
      int rc = FirstError({BindText(stmt, 1, e.receiver), BindInt64(stmt, 2, e.integration),
                           BindText(stmt, 3, e.group_key), BindText(stmt, 4, firing),
                           BindText(stmt, 5, resolved), BindInt64(stmt, 6, e.last_notified_ms),
                           BindText(stmt, 7, e.thread_id)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return db_->Error(absl::StrCat("CommitFlush: log of ", e.receiver, " ", e.group_key), rc);
      }
    }
    for (const LogKey& k : batch.log_deletes) {
      sqlite3_stmt* stmt = st_->delete_log.get();
      ResetOnExit reset(stmt);
      int rc = FirstError({BindText(stmt, 1, k.receiver), BindInt64(stmt, 2, k.integration),
                           BindText(stmt, 3, k.group_key)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return db_->Error(absl::StrCat("CommitFlush: delete log of ", k.receiver, " ", k.group_key),
                          rc);
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<NotificationLogEntry>> SqliteStateStore::LoadLog() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = st_->load_log.get();
  ResetOnExit reset(stmt);
  std::vector<NotificationLogEntry> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    NotificationLogEntry e;
    e.receiver = ColumnText(stmt, 0);
    e.integration = sqlite3_column_int(stmt, 1);
    e.group_key = ColumnText(stmt, 2);
    if (!state_rows::ParseJsonList(ColumnText(stmt, 3), &e.firing) ||
        !state_rows::ParseJsonList(ColumnText(stmt, 4), &e.resolved)) {
      return absl::DataLossError(absl::StrCat(db_->Where("LoadLog"), ": entry of receiver ",
                                              e.receiver, " group ", e.group_key, " is malformed"));
    }
    e.last_notified_ms = ColumnInt64(stmt, 5);
    e.thread_id = ColumnText(stmt, 6);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return db_->Error("LoadLog", rc);
  return out;
}

absl::StatusOr<std::optional<OutboxNotification>> SqliteStateStore::ClaimDue(
    int64_t now_ms, int64_t lease_until_ms) {
  absl::MutexLock lock(&mu_);
  std::optional<OutboxNotification> claimed;
  absl::Status status = FencedWrite("ClaimDue", Durability::kNormal, [&]() -> absl::Status {
    sqlite3_stmt* stmt = st_->claim.get();
    ResetOnExit reset(stmt);
    int rc = FirstError({BindInt64(stmt, 1, now_ms), BindInt64(stmt, 2, lease_until_ms),
                         BindInt64(stmt, 3, fencing_epoch_.load())});
    if (rc != SQLITE_OK) return db_->Error("ClaimDue", rc);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) return absl::OkStatus();
    if (rc != SQLITE_ROW) return db_->Error("ClaimDue", rc);
    claimed = ReadOutboxRow(stmt);
    // Step to the end so the UPDATE completes before the statement is reset.
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) return db_->Error("ClaimDue", rc);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return claimed;
}

absl::Status SqliteStateStore::ReleaseClaims() {
  absl::MutexLock lock(&mu_);
  return FencedWrite("ReleaseClaims", Durability::kNormal,
                     [&] { return db_->StepDone("ReleaseClaims", st_->release.get()); });
}

absl::Status SqliteStateStore::RecordAttempt(const std::string& id, const DeliveryAttempt& attempt,
                                             OutboxState state, int64_t next_attempt_ms) {
  const char* state_text = state_rows::OutboxStateText(state);
  if (state_text == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("state database ", path_,
                                                   ": RecordAttempt: invalid outbox state ",
                                                   static_cast<int>(state)));
  }
  absl::MutexLock lock(&mu_);
  return FencedWrite("RecordAttempt", Durability::kFull, [&]() -> absl::Status {
    {
      sqlite3_stmt* stmt = st_->finish_attempt.get();
      ResetOnExit reset(stmt);
      const int64_t finished = state == OutboxState::kPending ? 0 : attempt.at_ms;
      int rc = FirstError({BindText(stmt, 1, id), BindText(stmt, 2, state_text),
                           BindInt64(stmt, 3, next_attempt_ms), BindInt64(stmt, 4, finished)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE)
        return db_->Error(absl::StrCat("RecordAttempt: notification ", id), rc);
      if (db_->changes() != 1) {
        return absl::NotFoundError(
            absl::StrCat(db_->Where("RecordAttempt"), ": no pending notification ", id));
      }
    }
    sqlite3_stmt* stmt = st_->insert_attempt.get();
    ResetOnExit reset(stmt);
    int rc = FirstError({BindText(stmt, 1, id), BindInt64(stmt, 2, attempt.attempt),
                         BindInt64(stmt, 3, attempt.at_ms), BindText(stmt, 4, attempt.result),
                         BindText(stmt, 5, attempt.detail)});
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) return db_->Error(absl::StrCat("RecordAttempt: attempt of ", id), rc);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<int64_t>> SqliteStateStore::NextAttemptMs() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = st_->next_attempt.get();
  ResetOnExit reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) return db_->Error("NextAttemptMs", rc);
  if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) return std::optional<int64_t>();
  return std::optional<int64_t>(ColumnInt64(stmt, 0));
}

absl::StatusOr<int64_t> SqliteStateStore::CountPending() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = st_->count_pending.get();
  ResetOnExit reset(stmt);
  int rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) return db_->Error("CountPending", rc);
  return ColumnInt64(stmt, 0);
}

absl::StatusOr<std::vector<DeliveryAttempt>> SqliteStateStore::Attempts(const std::string& id) {
  sqlite3_stmt* stmt = st_->list_attempts.get();
  ResetOnExit reset(stmt);
  int rc = BindText(stmt, 1, id);
  if (rc != SQLITE_OK) return db_->Error("ListOutbox: attempts", rc);
  std::vector<DeliveryAttempt> out;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    DeliveryAttempt a;
    a.attempt = sqlite3_column_int(stmt, 0);
    a.at_ms = ColumnInt64(stmt, 1);
    a.result = ColumnText(stmt, 2);
    a.detail = ColumnText(stmt, 3);
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE) return db_->Error("ListOutbox: attempts", rc);
  return out;
}

absl::StatusOr<std::vector<OutboxEntry>> SqliteStateStore::ListOutbox(size_t limit) {
  absl::MutexLock lock(&mu_);
  std::vector<OutboxEntry> out;
  {
    sqlite3_stmt* stmt = st_->list_outbox.get();
    ResetOnExit reset(stmt);
    int rc = BindInt64(stmt, 1, Bounded(limit));
    if (rc != SQLITE_OK) return db_->Error("ListOutbox", rc);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      OutboxEntry e;
      e.notification = ReadOutboxRow(stmt);
      const std::string state = ColumnText(stmt, 8);
      std::optional<OutboxState> parsed = state_rows::ParseOutboxState(state);
      if (!parsed) {
        return absl::DataLossError(absl::StrCat(db_->Where("ListOutbox"), ": notification ",
                                                e.notification.id, " has unknown state '", state,
                                                "'"));
      }
      e.state = *parsed;
      e.finished_ms = ColumnInt64(stmt, 9);
      out.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return db_->Error("ListOutbox", rc);
  }
  for (OutboxEntry& e : out) {
    absl::StatusOr<std::vector<DeliveryAttempt>> attempts = Attempts(e.notification.id);
    if (!attempts.ok()) return attempts.status();
    e.attempts = *std::move(attempts);
  }
  return out;
}

absl::Status SqliteStateStore::SaveSilence(const Silence& s) {
  if (absl::Status c =
          state_rows::CheckSilence(absl::StrCat("state database ", path_, ": SaveSilence"), s);
      !c.ok()) {
    return c;
  }
  absl::MutexLock lock(&mu_);
  return FencedWrite("SaveSilence", Durability::kFull, [&]() -> absl::Status {
    sqlite3_stmt* stmt = st_->upsert_silence.get();
    ResetOnExit reset(stmt);
    const std::string matchers = state_rows::JsonList(s.matchers);
    int rc = FirstError({BindText(stmt, 1, s.id), BindText(stmt, 2, matchers),
                         BindInt64(stmt, 3, s.starts_at_ms), BindInt64(stmt, 4, s.ends_at_ms),
                         BindText(stmt, 5, s.created_by), BindText(stmt, 6, s.comment),
                         BindInt64(stmt, 7, s.updated_ms)});
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) return db_->Error(absl::StrCat("SaveSilence ", s.id), rc);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<Silence>> SqliteStateStore::LoadSilences() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = st_->load_silences.get();
  ResetOnExit reset(stmt);
  std::vector<Silence> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    Silence s;
    s.id = ColumnText(stmt, 0);
    s.starts_at_ms = ColumnInt64(stmt, 2);
    s.ends_at_ms = ColumnInt64(stmt, 3);
    s.created_by = ColumnText(stmt, 4);
    s.comment = ColumnText(stmt, 5);
    s.updated_ms = ColumnInt64(stmt, 6);
    if (absl::Status p =
            state_rows::ParseStoredMatchers(db_->Where("LoadSilences"), ColumnText(stmt, 1), &s);
        !p.ok()) {
      return p;
    }
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return db_->Error("LoadSilences", rc);
  return out;
}

absl::Status SqliteStateStore::Prune(int64_t before_ms) {
  absl::MutexLock lock(&mu_);
  return FencedWrite("Prune", Durability::kNormal, [&]() -> absl::Status {
    for (sqlite3_stmt* stmt :
         {st_->prune_attempts.get(), st_->prune_outbox.get(), st_->prune_silences.get()}) {
      ResetOnExit reset(stmt);
      int rc = BindInt64(stmt, 1, before_ms);
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) return db_->Error("Prune", rc);
    }
    return absl::OkStatus();
  });
}

// ---- StreamPositionStore

absl::Status SqliteStateStore::SavePositions(const std::vector<StreamPosition>& positions) {
  const std::string where = absl::StrCat("state database ", path_, ": SavePositions");
  for (const StreamPosition& p : positions) {
    if (absl::Status s = state_rows::CheckPosition(where, p); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  return FencedWrite("SavePositions", Durability::kNormal, [&]() -> absl::Status {
    sqlite3_stmt* stmt = st_->upsert_position.get();
    for (const StreamPosition& p : positions) {
      ResetOnExit reset(stmt);
      int rc = FirstError({BindText(stmt, 1, p.agent_id),
                           BindInt64(stmt, 2, static_cast<int64_t>(p.last_sequence)),
                           BindInt64(stmt, 3, p.updated_ms)});
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc != SQLITE_DONE) {
        return db_->Error(absl::StrCat("SavePositions: agent ", p.agent_id), rc);
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<StreamPosition>> SqliteStateStore::LoadPositions() {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = st_->load_positions.get();
  ResetOnExit reset(stmt);
  std::vector<StreamPosition> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    out.push_back(
        {ColumnText(stmt, 0), static_cast<uint64_t>(ColumnInt64(stmt, 1)), ColumnInt64(stmt, 2)});
  }
  if (rc != SQLITE_DONE) return db_->Error("LoadPositions", rc);
  return out;
}

// ---- LeaderLease

absl::StatusOr<std::optional<int64_t>> SqliteStateStore::Acquire(const std::string& holder,
                                                                 absl::Duration ttl) {
  if (holder.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("state database ", path_, ": Acquire: empty holder name"));
  }
  absl::MutexLock lock(&mu_);
  std::optional<int64_t> held;
  absl::Status status = db_->InTransaction("Acquire", Durability::kNormal, [&]() -> absl::Status {
    absl::StatusOr<LeaseInfo> lease = ReadLease("Acquire");
    if (!lease.ok()) return lease.status();
    const int64_t now = NowMs();
    const bool live = lease->expires_ms > now;
    int64_t epoch;
    if (live && lease->holder == holder) {
      epoch = lease->epoch;  // a renewal
    } else if (!live) {
      epoch = lease->epoch + 1;  // taken over, or retaken after it lapsed
    } else {
      return absl::OkStatus();  // another holder's live lease
    }
    sqlite3_stmt* stmt = st_->write_lease.get();
    ResetOnExit reset(stmt);
    int rc = FirstError({BindText(stmt, 1, holder), BindInt64(stmt, 2, epoch),
                         BindInt64(stmt, 3, now + absl::ToInt64Milliseconds(ttl))});
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) return db_->Error("Acquire", rc);
    held = epoch;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return held;
}

absl::Status SqliteStateStore::Release(const std::string& holder, int64_t epoch) {
  absl::MutexLock lock(&mu_);
  sqlite3_stmt* stmt = st_->release_lease.get();
  ResetOnExit reset(stmt);
  int rc = FirstError(
      {BindText(stmt, 1, holder), BindInt64(stmt, 2, epoch), BindInt64(stmt, 3, NowMs())});
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return db_->Error("Release", rc);
  return absl::OkStatus();
}

absl::StatusOr<LeaseInfo> SqliteStateStore::Current() {
  absl::MutexLock lock(&mu_);
  return ReadLease("Current");
}

absl::Status SqliteStateStore::ExecForTesting(const std::string& sql) {
  absl::MutexLock lock(&mu_);
  return db_->Exec("ExecForTesting", sql.c_str());
}

}  // namespace vigil::collector
