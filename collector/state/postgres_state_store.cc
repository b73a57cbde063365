#include "collector/state/postgres_state_store.h"

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/state/state_rows.h"
#include "common/log.h"
#include "common/secret.h"

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
using postgres::Param;
using postgres::Table;

constexpr absl::Duration kInitialBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
// Rows per statement of a batch (one transaction may hold several): bounds a message's size.
constexpr size_t kChunkRows = 2000;

struct Migration {
  int version;
  const char* sql;
};

// Forward-only; never edit a released one, add the next version. The same tables as the
// embedded store's migrations 1 and 2 (collector/state/sqlite_state_store.cc).
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE alarms (
  rule text NOT NULL CHECK (rule <> ''),
  instance text NOT NULL,
  state text NOT NULL CHECK (state IN ('OK', 'ALARM', 'INSUFFICIENT_DATA')),
  state_since_ms bigint NOT NULL,
  rule_fingerprint bigint NOT NULL,
  last_data_ms bigint NOT NULL,
  periods bytea NOT NULL,
  PRIMARY KEY (rule, instance)
);
-- An identity never reuses ids, even after a prune removed the newest rows of a rule.
CREATE TABLE transitions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rule text NOT NULL CHECK (rule <> ''),
  instance text NOT NULL,
  at_ms bigint NOT NULL,
  from_state text NOT NULL CHECK (from_state IN ('OK', 'ALARM', 'INSUFFICIENT_DATA')),
  to_state text NOT NULL CHECK (to_state IN ('OK', 'ALARM', 'INSUFFICIENT_DATA')),
  reason text NOT NULL
);
CREATE INDEX transitions_by_rule ON transitions (rule, id);
)sql"},
    {2, R"sql(
CREATE TABLE outbox (
  id text PRIMARY KEY CHECK (id <> ''),
  receiver text NOT NULL,
  integration integer NOT NULL,
  kind text NOT NULL,
  payload text NOT NULL,
  created_ms bigint NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL,
  next_attempt_ms bigint NOT NULL,
  lease_until_ms bigint NOT NULL,  -- claimed until; 0: not claimed
  claim_epoch bigint NOT NULL,     -- lease epoch of the last claim
  finished_ms bigint NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);
CREATE INDEX outbox_created ON outbox (created_ms);
CREATE TABLE delivery_attempts (
  notification_id text NOT NULL,
  attempt integer NOT NULL,
  at_ms bigint NOT NULL,
  result text NOT NULL,
  detail text NOT NULL,
  PRIMARY KEY (notification_id, attempt)
);
CREATE TABLE notification_log (
  receiver text NOT NULL,
  integration integer NOT NULL,
  group_key text NOT NULL,
  firing text NOT NULL,    -- JSON list of strings
  resolved text NOT NULL,  -- JSON list of strings
  last_notified_ms bigint NOT NULL,
  thread_id text NOT NULL,
  PRIMARY KEY (receiver, integration, group_key)
);
CREATE TABLE silences (
  id text PRIMARY KEY CHECK (id <> ''),
  matchers text NOT NULL,  -- JSON list of strings
  starts_at_ms bigint NOT NULL,
  ends_at_ms bigint NOT NULL,
  created_by text NOT NULL,
  comment text NOT NULL,
  updated_ms bigint NOT NULL
);
CREATE TABLE stream_positions (
  agent_id text PRIMARY KEY CHECK (agent_id <> ''),
  last_sequence bigint NOT NULL,
  updated_ms bigint NOT NULL
);
CREATE TABLE leader_lease (
  id integer PRIMARY KEY CHECK (id = 1),
  holder text NOT NULL,
  epoch bigint NOT NULL,
  expires_ms bigint NOT NULL  -- the server's clock, Unix milliseconds
);
INSERT INTO leader_lease (id, holder, epoch, expires_ms) VALUES (1, '', 0, 0);
)sql"},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == PostgresStateStore::kSchemaVersion,
              "one migration per schema version");

// The server's clock in Unix milliseconds.
#define VIGIL_SERVER_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
#define VIGIL_OUTBOX_COLUMNS \
  "id, receiver, integration, kind, payload, created_ms, attempts, next_attempt_ms"

// The prepared statements, named "vigil_<index>". Text is compared byte by byte (COLLATE "C")
// so that orders are those of the embedded store whatever the database's locale.
enum Statement {
  kLeaseForShare,
  kUpsertAlarms,
  kDeleteAlarms,
  kLoadAlarms,
  kInsertTransitions,
  kHistoryRule,
  kHistoryAll,
  kPruneTransitions,
  kInsertOutbox,
  kUpsertLog,
  kDeleteLog,
  kLoadLog,
  kClaim,
  kReleaseClaims,
  kFinishAttempt,
  kInsertAttempt,
  kNextAttempt,
  kCountPending,
  kListOutbox,
  kListAttempts,
  kUpsertSilence,
  kLoadSilences,
  kPruneAttempts,
  kPruneOutbox,
  kPruneSilences,
  kUpsertPositions,
  kLoadPositions,
  kAcquire,
  kReleaseLease,
  kCurrentLease,
  kSchemaVersionQuery,
  kStatementCount
};

const char* const kSql[kStatementCount] = {
    /* kLeaseForShare */ "SELECT epoch FROM leader_lease WHERE id = 1 FOR SHARE",
    /* kUpsertAlarms */
    "INSERT INTO alarms (rule, instance, state, state_since_ms, rule_fingerprint, last_data_ms, "
    "periods) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], "
    "$5::bigint[], $6::bigint[], $7::bytea[]) "
    "ON CONFLICT (rule, instance) DO UPDATE SET state = excluded.state, "
    "state_since_ms = excluded.state_since_ms, rule_fingerprint = excluded.rule_fingerprint, "
    "last_data_ms = excluded.last_data_ms, periods = excluded.periods",
    /* kDeleteAlarms */
    "DELETE FROM alarms a USING unnest($1::text[], $2::text[]) AS d(rule, instance) "
    "WHERE a.rule = d.rule AND a.instance = d.instance",
    /* kLoadAlarms */
    "SELECT rule, instance, state, state_since_ms, rule_fingerprint, last_data_ms, "
    "encode(periods, 'hex') FROM alarms ORDER BY rule COLLATE \"C\", instance COLLATE \"C\"",
    /* kInsertTransitions: ORDER BY the position, so ids follow the batch's order. */
    "INSERT INTO transitions (rule, instance, at_ms, from_state, to_state, reason) "
    "SELECT rule, instance, at_ms, from_state, to_state, reason FROM unnest($1::text[], "
    "$2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY "
    "AS t(rule, instance, at_ms, from_state, to_state, reason, n) ORDER BY n",
    /* kHistoryRule */
    "SELECT id, rule, instance, at_ms, from_state, to_state, reason FROM transitions "
    "WHERE rule = $1 ORDER BY id DESC LIMIT $2",
    /* kHistoryAll */
    "SELECT id, rule, instance, at_ms, from_state, to_state, reason FROM transitions "
    "ORDER BY id DESC LIMIT $1",
    /* kPruneTransitions */
    "DELETE FROM transitions t USING (SELECT id, row_number() OVER (PARTITION BY rule "
    "ORDER BY id DESC) AS n FROM transitions) r WHERE t.id = r.id AND r.n > $1",
    /* kInsertOutbox */
    "INSERT INTO outbox (id, receiver, integration, kind, payload, created_ms, state, attempts, "
    "next_attempt_ms, lease_until_ms, claim_epoch, finished_ms) "
    "VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, 0, 0, 0) ON CONFLICT (id) DO NOTHING",
    /* kUpsertLog */
    "INSERT INTO notification_log (receiver, integration, group_key, firing, resolved, "
    "last_notified_ms, thread_id) VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (receiver, integration, group_key) DO UPDATE SET firing = excluded.firing, "
    "resolved = excluded.resolved, last_notified_ms = excluded.last_notified_ms, "
    "thread_id = excluded.thread_id",
    /* kDeleteLog */
    "DELETE FROM notification_log WHERE receiver = $1 AND integration = $2 AND group_key = $3",
    /* kLoadLog */
    "SELECT receiver, integration, group_key, firing, resolved, last_notified_ms, thread_id "
    "FROM notification_log ORDER BY receiver COLLATE \"C\", integration, group_key COLLATE \"C\"",
    /* kClaim: a row another claimer has locked is skipped, not waited for. */
    "UPDATE outbox SET lease_until_ms = $2, claim_epoch = $3 WHERE id = (SELECT id FROM outbox "
    "WHERE state = 'pending' AND next_attempt_ms <= $1 AND lease_until_ms <= $1 "
    "ORDER BY next_attempt_ms, created_ms, id COLLATE \"C\" LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "RETURNING " VIGIL_OUTBOX_COLUMNS,
    /* kReleaseClaims */
    "UPDATE outbox SET lease_until_ms = 0 WHERE state = 'pending' AND lease_until_ms <> 0",
    /* kFinishAttempt */
    "UPDATE outbox SET state = $2, attempts = attempts + 1, next_attempt_ms = $3, "
    "lease_until_ms = 0, finished_ms = $4 WHERE id = $1 AND state = 'pending' RETURNING id",
    /* kInsertAttempt */
    "INSERT INTO delivery_attempts (notification_id, attempt, at_ms, result, detail) "
    "VALUES ($1, $2, $3, $4, $5)",
    /* kNextAttempt */ "SELECT MIN(next_attempt_ms) FROM outbox WHERE state = 'pending'",
    /* kCountPending */ "SELECT COUNT(*) FROM outbox WHERE state = 'pending'",
    /* kListOutbox */
    "SELECT " VIGIL_OUTBOX_COLUMNS
    ", state, finished_ms FROM outbox "
    "ORDER BY created_ms DESC, id COLLATE \"C\" LIMIT $1",
    /* kListAttempts */
    "SELECT notification_id, attempt, at_ms, result, detail FROM delivery_attempts "
    "WHERE notification_id = ANY($1::text[]) ORDER BY notification_id, attempt",
    /* kUpsertSilence */
    "INSERT INTO silences (id, matchers, starts_at_ms, ends_at_ms, created_by, comment, "
    "updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET "
    "matchers = excluded.matchers, starts_at_ms = excluded.starts_at_ms, "
    "ends_at_ms = excluded.ends_at_ms, created_by = excluded.created_by, "
    "comment = excluded.comment, updated_ms = excluded.updated_ms",
    /* kLoadSilences */
    "SELECT id, matchers, starts_at_ms, ends_at_ms, created_by, comment, updated_ms "
    "FROM silences ORDER BY starts_at_ms, id COLLATE \"C\"",
    /* kPruneAttempts */
    "DELETE FROM delivery_attempts WHERE notification_id IN (SELECT id FROM outbox "
    "WHERE state <> 'pending' AND finished_ms < $1)",
    /* kPruneOutbox */ "DELETE FROM outbox WHERE state <> 'pending' AND finished_ms < $1",
    /* kPruneSilences */ "DELETE FROM silences WHERE ends_at_ms < $1",
    /* kUpsertPositions: a lower sequence leaves the stored position as it is. */
    "INSERT INTO stream_positions (agent_id, last_sequence, updated_ms) "
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) "
    "ON CONFLICT (agent_id) DO UPDATE SET last_sequence = excluded.last_sequence, "
    "updated_ms = excluded.updated_ms "
    "WHERE excluded.last_sequence >= stream_positions.last_sequence",
    /* kLoadPositions */
    "SELECT agent_id, last_sequence, updated_ms FROM stream_positions "
    "ORDER BY agent_id COLLATE \"C\"",
    /* kAcquire: SET expressions read the row as it was, so epoch is compared before holder
       changes. A renewal keeps the epoch; taking a free or lapsed lease raises it. */
    "UPDATE leader_lease SET epoch = CASE WHEN holder = $1 AND expires_ms > n.now "
    "THEN epoch ELSE epoch + 1 END, holder = $1, expires_ms = n.now + $2 "
    "FROM (SELECT " VIGIL_SERVER_NOW_MS
    " AS now) n "
    "WHERE id = 1 AND (holder = $1 OR expires_ms <= n.now) RETURNING epoch",
    /* kReleaseLease */
    "UPDATE leader_lease SET expires_ms = LEAST(expires_ms, " VIGIL_SERVER_NOW_MS
    ") "
    "WHERE id = 1 AND holder = $1 AND epoch = $2",
    /* kCurrentLease */ "SELECT holder, epoch, expires_ms FROM leader_lease WHERE id = 1",
    /* kSchemaVersionQuery */ "SELECT COALESCE(MAX(version), 0) FROM schema_version",
};

std::string StatementName(int statement) { return absl::StrCat("vigil_", statement); }

// A PostgreSQL array literal ({"a","b"}, {1,2}) for one parameter of a batch statement.
class ArrayLiteral {
 public:
  void Text(absl::string_view value) {
    Separator();
    out_.push_back('"');
    for (char c : value) {
      if (c == '"' || c == '\\') out_.push_back('\\');
      out_.push_back(c);
    }
    out_.push_back('"');
  }
  void Int(int64_t value) {
    Separator();
    absl::StrAppend(&out_, value);
  }
  // bytea's hex input format.
  void Bytes(absl::string_view value) { Text(absl::StrCat("\\x", absl::BytesToHexString(value))); }
  std::string Finish() { return out_ + "}"; }

 private:
  void Separator() {
    if (out_.size() > 1) out_.push_back(',');
  }
  std::string out_ = "{";
};

// Reads the text cells of one result row; a cell that does not parse marks the row bad.
class Cells {
 public:
  explicit Cells(const std::vector<std::optional<std::string>>& row) : row_(row) {}
  std::string Text(size_t column) {
    if (column >= row_.size() || !row_[column].has_value()) {
      ok_ = false;
      return std::string();
    }
    return *row_[column];
  }
  int64_t Int(size_t column) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(Text(column), &value)) ok_ = false;
    return value;
  }
  std::optional<int64_t> OptionalInt(size_t column) {
    if (column < row_.size() && !row_[column].has_value()) return std::nullopt;
    return Int(column);
  }
  std::string Hex(size_t column) {
    const std::string hex = Text(column);
    if (hex.size() % 2 != 0 ||
        !std::all_of(hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
      ok_ = false;
      return std::string();
    }
    return absl::HexStringToBytes(hex);
  }
  bool ok() const { return ok_; }

 private:
  const std::vector<std::optional<std::string>>& row_;
  bool ok_ = true;
};

int64_t Bounded(size_t n) {
  return static_cast<int64_t>(std::min<uint64_t>(n, std::numeric_limits<int64_t>::max()));
}

OutboxNotification ReadOutboxRow(Cells& c) {
  OutboxNotification row;
  row.id = c.Text(0);
  row.receiver = c.Text(1);
  row.integration = static_cast<int>(c.Int(2));
  row.kind = c.Text(3);
  row.payload = c.Text(4);
  row.created_ms = c.Int(5);
  row.attempts = static_cast<int>(c.Int(6));
  row.next_attempt_ms = c.Int(7);
  return row;
}

absl::StatusOr<std::unique_ptr<postgres::Connection>> Connect(const PostgresStateConfig& c) {
  const int64_t statement_ms = absl::ToInt64Milliseconds(c.statement_timeout);
  postgres::Connection::Params params = {
      {"host", c.host},
      {"port", std::to_string(c.port)},
      {"dbname", c.dbname},
      {"user", c.user},
      {"sslmode", c.sslmode},
      {"application_name", "vigil-collector"},
      {"options", absl::StrCat("-c statement_timeout=", statement_ms)},
      // Not enforced by libpq in nonblocking mode (the Connection's deadline is); kept for a
      // server-side view of the intent.
      {"connect_timeout",
       std::to_string(std::max<int64_t>(
           2, absl::ToInt64Seconds(absl::Ceil(c.connect_timeout, absl::Seconds(1)))))},
      // A silent peer ends the connection instead of leaving it half-open.
      {"tcp_user_timeout",
       std::to_string(absl::ToInt64Milliseconds(std::max(c.connect_timeout, c.statement_timeout)))},
      {"keepalives", "1"},
      {"keepalives_idle", "30"},
      {"keepalives_interval", "10"},
      {"keepalives_count", "3"},
  };
  if (!c.sslrootcert.empty()) params.emplace_back("sslrootcert", c.sslrootcert);
  if (!c.password_file.empty()) {
    absl::StatusOr<std::string> password = ReadSecretFile(c.password_file);
    if (!password.ok()) {
      return absl::Status(password.status().code(),
                          absl::StrCat("password_file: ", password.status().message()));
    }
    params.emplace_back("password", *std::move(password));
  }
  return postgres::Connection::Open(params, c.connect_timeout);
}

}  // namespace

// The statements of one transaction, with errors that name the store and the operation.
class PostgresStateStore::Transaction {
 public:
  Transaction(const PostgresStateStore& store, postgres::Connection& conn,
              absl::string_view operation)
      : store_(store), conn_(conn), operation_(operation) {}

  absl::StatusOr<Table> Run(int statement, const std::vector<Param>& params) {
    absl::StatusOr<Table> t =
        conn_.ExecutePrepared(StatementName(statement), params, store_.answer_timeout_);
    if (!t.ok()) return store_.Prefixed(operation_, t.status());
    return t;
  }
  std::string Where() const { return store_.Where(operation_); }

 private:
  const PostgresStateStore& store_;
  postgres::Connection& conn_;
  const absl::string_view operation_;
};

std::string PostgresStateStore::Location(const PostgresStateConfig& config) {
  return absl::StrCat(config.host, ":", config.port, "/", config.dbname);
}

PostgresStateStore::PostgresStateStore(PostgresStateConfig config, int migrated_from)
    : config_(std::move(config)),
      location_(Location(config_)),
      answer_timeout_(config_.statement_timeout + absl::Seconds(1)),
      migrated_from_(migrated_from),
      backoff_(kInitialBackoff) {}

PostgresStateStore::~PostgresStateStore() = default;

std::string PostgresStateStore::Where(absl::string_view operation) const {
  return absl::StrCat("state database ", location_, ": ", operation);
}

absl::Status PostgresStateStore::Prefixed(absl::string_view operation,
                                          const absl::Status& status) const {
  return absl::Status(status.code(), absl::StrCat(Where(operation), ": ", status.message()));
}

void PostgresStateStore::Drop() {
  conn_.reset();
  prepared_ = false;
}

absl::StatusOr<std::unique_ptr<PostgresStateStore>> PostgresStateStore::Open(
    const PostgresStateConfig& config, int migrate_to) {
  std::unique_ptr<PostgresStateStore> store(new PostgresStateStore(config, 0));
  absl::MutexLock lock(&store->mu_);
  absl::StatusOr<int> found = store->Migrate(migrate_to);
  if (!found.ok()) return found.status();
  store->migrated_from_ = *found;
  if (migrate_to == 0 || migrate_to >= kSchemaVersion) {
    absl::StatusOr<postgres::Connection*> conn = store->Connected("prepare", /*prepare=*/true);
    if (!conn.ok()) return conn.status();
  }
  return store;
}

absl::StatusOr<postgres::Connection*> PostgresStateStore::Connected(absl::string_view operation,
                                                                    bool prepare) {
  if (conn_ != nullptr && conn_->broken()) Drop();
  if (conn_ == nullptr) {
    const absl::Time now = absl::Now();
    if (now < next_connect_) {
      return absl::UnavailableError(absl::StrCat(
          Where(operation), ": not connected; the last attempt failed (", last_connect_error_,
          "); the next one in ",
          absl::FormatDuration(absl::Ceil(next_connect_ - now, absl::Milliseconds(1)))));
    }
    absl::StatusOr<std::unique_ptr<postgres::Connection>> conn = Connect(config_);
    if (!conn.ok()) {
      last_connect_error_ = std::string(conn.status().message());
      next_connect_ = now + backoff_;
      backoff_ = std::min(backoff_ * 2, kMaxBackoff);
      return absl::Status(conn.status().code(),
                          absl::StrCat(Where(operation), ": connect: ", conn.status().message()));
    }
    conn_ = *std::move(conn);
    backoff_ = kInitialBackoff;
    next_connect_ = absl::InfinitePast();
  }
  if (prepare && !prepared_) {
    for (int i = 0; i < kStatementCount; ++i) {
      absl::Status s = conn_->Prepare(StatementName(i), kSql[i], answer_timeout_);
      if (!s.ok()) {
        Drop();
        return Prefixed(absl::StrCat(operation, ": prepare `", kSql[i], "`"), s);
      }
    }
    prepared_ = true;
  }
  return conn_.get();
}

absl::StatusOr<int> PostgresStateStore::Migrate(int migrate_to) {
  const int latest = kMigrations[kSchemaVersion - 1].version;
  if (migrate_to <= 0 || migrate_to > latest) migrate_to = latest;
  absl::StatusOr<postgres::Connection*> connected = Connected("migrate schema", false);
  if (!connected.ok()) return connected.status();
  postgres::Connection& conn = **connected;
  int found = 0;
  auto run = [&](const std::string& sql, const std::vector<Param>& params) {
    return conn.Execute(sql, params, answer_timeout_);
  };
  absl::Status status = [&]() -> absl::Status {
    if (absl::StatusOr<Table> t = conn.Query("BEGIN", answer_timeout_); !t.ok()) return t.status();
    // Replicas starting together wait here for each other; the second finds the work done.
    if (absl::StatusOr<Table> t =
            run("SELECT pg_advisory_xact_lock($1)", {std::to_string(kMigrationLockKey)});
        !t.ok()) {
      return t.status();
    }
    if (absl::StatusOr<Table> t =
            conn.Query("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                       "applied_at timestamptz NOT NULL DEFAULT now())",
                       answer_timeout_);
        !t.ok()) {
      return t.status();
    }
    absl::StatusOr<Table> current = conn.Query(kSql[kSchemaVersionQuery], answer_timeout_);
    if (!current.ok()) return current.status();
    Cells cells(current->rows.at(0));
    found = static_cast<int>(cells.Int(0));
    if (!cells.ok()) return absl::DataLossError("schema_version holds no number");
    if (found > latest) {
      return absl::FailedPreconditionError(
          absl::StrCat("has schema version ", found, ", newer than the version ", latest,
                       " this binary knows; it was written by a newer vigil. Run that version"));
    }
    for (const Migration& m : kMigrations) {
      if (m.version <= found || m.version > migrate_to) continue;
      if (absl::StatusOr<Table> t = conn.Query(m.sql, answer_timeout_); !t.ok()) {
        return absl::Status(t.status().code(), absl::StrCat("migrate schema to version ", m.version,
                                                            ": ", t.status().message()));
      }
      if (absl::StatusOr<Table> t =
              run("INSERT INTO schema_version (version) VALUES ($1)", {std::to_string(m.version)});
          !t.ok()) {
        return t.status();
      }
    }
    if (absl::StatusOr<Table> t = conn.Query("COMMIT", answer_timeout_); !t.ok()) {
      return t.status();
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    if (conn.broken()) {
      Drop();
    } else if (conn.in_transaction() && !conn.Query("ROLLBACK", answer_timeout_).ok()) {
      Drop();
    }
    if (absl::IsFailedPrecondition(status)) {
      return absl::FailedPreconditionError(
          absl::StrCat("state database ", location_, " ", status.message()));
    }
    return Prefixed("migrate schema", status);
  }
  for (int v = found + 1; v <= migrate_to; ++v) {
    VIGIL_LOG(Info) << "state database " << location_ << ": migrated schema to version " << v;
  }
  return found;
}

absl::StatusOr<StateReport> PostgresStateStore::Inspect(const PostgresStateConfig& config) {
  const std::string location = Location(config);
  auto prefixed = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("state database ", location, ": ", s.message()));
  };
  absl::StatusOr<std::unique_ptr<postgres::Connection>> conn = Connect(config);
  if (!conn.ok()) return prefixed(conn.status());
  const absl::Duration timeout = config.statement_timeout + absl::Seconds(1);
  StateReport report;
  report.schema = {kPostgresBackend, location, 0, kSchemaVersion};
  absl::StatusOr<Table> tables = (*conn)->Query(
      "SELECT to_regclass('schema_version') IS NOT NULL, to_regclass('leader_lease') IS NOT NULL",
      timeout);
  if (!tables.ok()) return prefixed(tables.status());
  if (tables->rows.at(0)[0] == "t") {
    absl::StatusOr<Table> v = (*conn)->Query(kSql[kSchemaVersionQuery], timeout);
    if (!v.ok()) return prefixed(v.status());
    Cells cells(v->rows.at(0));
    report.schema.version = static_cast<int>(cells.Int(0));
  }
  if (tables->rows.at(0)[1] == "t") {
    absl::StatusOr<Table> l = (*conn)->Query(kSql[kCurrentLease], timeout);
    if (!l.ok()) return prefixed(l.status());
    if (!l->rows.empty()) {
      Cells c(l->rows[0]);
      report.lease = {c.Text(0), c.Int(1), c.Int(2)};
    }
  }
  return report;
}

absl::Status PostgresStateStore::InTransaction(absl::string_view operation, bool fenced,
                                               absl::FunctionRef<absl::Status(Transaction&)> body) {
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<postgres::Connection*> connected = Connected(operation, true);
    if (!connected.ok()) return connected.status();
    postgres::Connection& conn = **connected;
    bool commit_sent = false;
    absl::Status status = [&]() -> absl::Status {
      if (absl::StatusOr<Table> t = conn.Query("BEGIN", answer_timeout_); !t.ok()) {
        return Prefixed(operation, t.status());
      }
      Transaction tx(*this, conn, operation);
      const int64_t fence = fencing_epoch_.load();
      if (fenced && fence > 0) {
        absl::StatusOr<Table> lease = tx.Run(kLeaseForShare, {});
        if (!lease.ok()) return lease.status();
        if (lease->rows.size() != 1) {
          return absl::DataLossError(absl::StrCat(tx.Where(), ": the lease row is missing"));
        }
        Cells cells(lease->rows[0]);
        const int64_t epoch = cells.Int(0);
        if (epoch != fence) return state_rows::Fenced(tx.Where(), epoch, fence);
      }
      if (absl::Status s = body(tx); !s.ok()) return s;
      commit_sent = true;
      if (absl::StatusOr<Table> t = conn.Query("COMMIT", answer_timeout_); !t.ok()) {
        return Prefixed(absl::StrCat(operation, ": commit"), t.status());
      }
      return absl::OkStatus();
    }();
    if (status.ok()) return status;
    if (conn.broken()) {
      Drop();
      if (commit_sent) {
        return absl::UnavailableError(absl::StrCat(
            status.message(),
            "; the connection was lost while committing, so whether the write was applied is "
            "unknown; it is not retried"));
      }
      // The server rolled the transaction back when the connection went: nothing was applied.
      if (attempt == 1 && absl::IsUnavailable(status)) continue;
      return status;
    }
    if (conn.in_transaction() && !conn.Query("ROLLBACK", answer_timeout_).ok()) Drop();
    return status;
  }
}

absl::StatusOr<Table> PostgresStateStore::Read(absl::string_view operation, int statement,
                                               const std::vector<Param>& params) {
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<postgres::Connection*> connected = Connected(operation, true);
    if (!connected.ok()) return connected.status();
    absl::StatusOr<Table> t =
        (*connected)->ExecutePrepared(StatementName(statement), params, answer_timeout_);
    if (t.ok()) return t;
    if ((*connected)->broken()) {
      Drop();
      if (attempt == 1 && absl::IsUnavailable(t.status())) continue;
    }
    return Prefixed(operation, t.status());
  }
}

absl::StatusOr<SchemaStatus> PostgresStateStore::Status() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Table> t = Read("Status", kSchemaVersionQuery, {});
  if (!t.ok()) return t.status();
  Cells c(t->rows.at(0));
  const int version = static_cast<int>(c.Int(0));
  if (!c.ok()) return absl::DataLossError(Where("Status: schema_version holds no number"));
  return SchemaStatus{kPostgresBackend, location_, version, kSchemaVersion};
}

// ---- AlarmStore

absl::Status PostgresStateStore::SaveAlarms(const std::vector<AlarmRecord>& alarms) {
  const std::string where = Where("SaveAlarms");
  // One row per key: a key twice in one INSERT ... ON CONFLICT is an error, and the last one
  // wins as in a sequence of upserts.
  std::map<std::pair<std::string, std::string>, const AlarmRecord*> unique;
  for (const AlarmRecord& a : alarms) {
    if (absl::Status s = state_rows::CheckAlarm(where, a); !s.ok()) return s;
    unique[{a.rule, a.instance}] = &a;
  }
  std::vector<const AlarmRecord*> rows;
  rows.reserve(unique.size());
  for (const auto& [key, a] : unique) rows.push_back(a);
  absl::MutexLock lock(&mu_);
  return InTransaction("SaveAlarms", true, [&](Transaction& tx) -> absl::Status {
    for (size_t begin = 0; begin < rows.size(); begin += kChunkRows) {
      ArrayLiteral rule, instance, state, since, fingerprint, last_data, periods;
      for (size_t i = begin; i < std::min(rows.size(), begin + kChunkRows); ++i) {
        const AlarmRecord& a = *rows[i];
        rule.Text(a.rule);
        instance.Text(a.instance);
        state.Text(state_rows::AlarmStateText(a.state));
        since.Int(a.state_since_ms);
        // Two's complement round trip: bigint is signed.
        fingerprint.Int(static_cast<int64_t>(a.rule_fingerprint));
        last_data.Int(a.last_data_ms);
        periods.Bytes(a.periods);
      }
      absl::StatusOr<Table> t =
          tx.Run(kUpsertAlarms, {rule.Finish(), instance.Finish(), state.Finish(), since.Finish(),
                                 fingerprint.Finish(), last_data.Finish(), periods.Finish()});
      if (!t.ok()) return t.status();
    }
    return absl::OkStatus();
  });
}

absl::Status PostgresStateStore::DeleteAlarms(
    const std::vector<std::pair<std::string, std::string>>& rule_instance) {
  absl::MutexLock lock(&mu_);
  return InTransaction("DeleteAlarms", true, [&](Transaction& tx) -> absl::Status {
    for (size_t begin = 0; begin < rule_instance.size(); begin += kChunkRows) {
      ArrayLiteral rules, instances;
      for (size_t i = begin; i < std::min(rule_instance.size(), begin + kChunkRows); ++i) {
        rules.Text(rule_instance[i].first);
        instances.Text(rule_instance[i].second);
      }
      absl::StatusOr<Table> t = tx.Run(kDeleteAlarms, {rules.Finish(), instances.Finish()});
      if (!t.ok()) return t.status();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<AlarmRecord>> PostgresStateStore::LoadAlarms() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Table> t = Read("LoadAlarms", kLoadAlarms, {});
  if (!t.ok()) return t.status();
  std::vector<AlarmRecord> alarms;
  alarms.reserve(t->rows.size());
  for (const auto& row : t->rows) {
    Cells c(row);
    AlarmRecord a;
    a.rule = c.Text(0);
    a.instance = c.Text(1);
    const std::string state = c.Text(2);
    std::optional<alerting::AlarmState> parsed = state_rows::ParseAlarmState(state);
    a.state_since_ms = c.Int(3);
    a.rule_fingerprint = static_cast<uint64_t>(c.Int(4));
    a.last_data_ms = c.Int(5);
    a.periods = c.Hex(6);
    if (!parsed || !c.ok()) {
      return absl::DataLossError(absl::StrCat(Where("LoadAlarms"), ": alarm ", a.rule, " ",
                                              a.instance, " is malformed (state '", state, "')"));
    }
    a.state = *parsed;
    alarms.push_back(std::move(a));
  }
  return alarms;
}

absl::Status PostgresStateStore::AppendTransitions(
    const std::vector<TransitionRecord>& transitions) {
  const std::string where = Where("AppendTransitions");
  for (const TransitionRecord& t : transitions) {
    if (absl::Status s = state_rows::CheckTransition(where, t); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  return InTransaction("AppendTransitions", true, [&](Transaction& tx) -> absl::Status {
    for (size_t begin = 0; begin < transitions.size(); begin += kChunkRows) {
      ArrayLiteral rule, instance, at, from, to, reason;
      for (size_t i = begin; i < std::min(transitions.size(), begin + kChunkRows); ++i) {
        const TransitionRecord& t = transitions[i];
        rule.Text(t.rule);
        instance.Text(t.instance);
        at.Int(t.at_ms);
        from.Text(state_rows::AlarmStateText(t.from));
        to.Text(state_rows::AlarmStateText(t.to));
        reason.Text(t.reason);
      }
      absl::StatusOr<Table> r =
          tx.Run(kInsertTransitions, {rule.Finish(), instance.Finish(), at.Finish(), from.Finish(),
                                      to.Finish(), reason.Finish()});
      if (!r.ok()) return r.status();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<TransitionRecord>> PostgresStateStore::History(const std::string& rule,
                                                                          size_t limit) {
  absl::MutexLock lock(&mu_);
  const std::string n = std::to_string(Bounded(limit));
  absl::StatusOr<Table> t =
      rule.empty() ? Read("History", kHistoryAll, {n}) : Read("History", kHistoryRule, {rule, n});
  if (!t.ok()) return t.status();
  std::vector<TransitionRecord> history;
  history.reserve(t->rows.size());
  for (const auto& row : t->rows) {
    Cells c(row);
    TransitionRecord r;
    r.id = c.Int(0);
    r.rule = c.Text(1);
    r.instance = c.Text(2);
    r.at_ms = c.Int(3);
    const std::string from = c.Text(4), to = c.Text(5);
    std::optional<alerting::AlarmState> parsed_from = state_rows::ParseAlarmState(from);
    std::optional<alerting::AlarmState> parsed_to = state_rows::ParseAlarmState(to);
    r.reason = c.Text(6);
    if (!parsed_from || !parsed_to || !c.ok()) {
      return absl::DataLossError(absl::StrCat(Where("History"), ": transition ", r.id,
                                              " is malformed (states '", from, "', '", to, "')"));
    }
    r.from = *parsed_from;
    r.to = *parsed_to;
    history.push_back(std::move(r));
  }
  return history;
}

absl::Status PostgresStateStore::PruneTransitions(size_t keep_per_rule) {
  absl::MutexLock lock(&mu_);
  return InTransaction("PruneTransitions", true, [&](Transaction& tx) -> absl::Status {
    return tx.Run(kPruneTransitions, {std::to_string(Bounded(keep_per_rule))}).status();
  });
}

// ---- NotificationStore

absl::Status PostgresStateStore::CommitFlush(const FlushBatch& batch) {
  const std::string where = Where("CommitFlush");
  for (const OutboxNotification& n : batch.notifications) {
    if (absl::Status s = state_rows::CheckNotification(where, n); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  return InTransaction("CommitFlush", true, [&](Transaction& tx) -> absl::Status {
    for (const OutboxNotification& n : batch.notifications) {
      absl::StatusOr<Table> t =
          tx.Run(kInsertOutbox, {n.id, n.receiver, std::to_string(n.integration), n.kind, n.payload,
                                 std::to_string(n.created_ms), std::to_string(n.next_attempt_ms)});
      if (!t.ok()) return t.status();
    }
    for (const NotificationLogEntry& e : batch.log_upserts) {
      absl::StatusOr<Table> t =
          tx.Run(kUpsertLog, {e.receiver, std::to_string(e.integration), e.group_key,
                              state_rows::JsonList(e.firing), state_rows::JsonList(e.resolved),
                              std::to_string(e.last_notified_ms), e.thread_id});
      if (!t.ok()) return t.status();
    }
    for (const LogKey& k : batch.log_deletes) {
      absl::StatusOr<Table> t =
          tx.Run(kDeleteLog, {k.receiver, std::to_string(k.integration), k.group_key});
      if (!t.ok()) return t.status();
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<NotificationLogEntry>> PostgresStateStore::LoadLog() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Table> t = Read("LoadLog", kLoadLog, {});
  if (!t.ok()) return t.status();
  std::vector<NotificationLogEntry> out;
  for (const auto& row : t->rows) {
    Cells c(row);
    NotificationLogEntry e;
    e.receiver = c.Text(0);
    e.integration = static_cast<int>(c.Int(1));
    e.group_key = c.Text(2);
    const bool lists = state_rows::ParseJsonList(c.Text(3), &e.firing) &&
                       state_rows::ParseJsonList(c.Text(4), &e.resolved);
    e.last_notified_ms = c.Int(5);
    e.thread_id = c.Text(6);
    if (!lists || !c.ok()) {
      return absl::DataLossError(absl::StrCat(Where("LoadLog"), ": entry of receiver ", e.receiver,
                                              " group ", e.group_key, " is malformed"));
    }
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::optional<OutboxNotification>> PostgresStateStore::ClaimDue(
    int64_t now_ms, int64_t lease_until_ms) {
  absl::MutexLock lock(&mu_);
  std::optional<OutboxNotification> claimed;
  absl::Status status = InTransaction("ClaimDue", true, [&](Transaction& tx) -> absl::Status {
    claimed.reset();
    absl::StatusOr<Table> t =
        tx.Run(kClaim, {std::to_string(now_ms), std::to_string(lease_until_ms),
                        std::to_string(fencing_epoch_.load())});
    if (!t.ok()) return t.status();
    if (t->rows.empty()) return absl::OkStatus();
    Cells c(t->rows[0]);
    OutboxNotification row = ReadOutboxRow(c);
    if (!c.ok()) {
      return absl::DataLossError(
          absl::StrCat(tx.Where(), ": notification ", row.id, " is malformed"));
    }
    claimed = std::move(row);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return claimed;
}

absl::Status PostgresStateStore::ReleaseClaims() {
  absl::MutexLock lock(&mu_);
  return InTransaction("ReleaseClaims", true,
                       [&](Transaction& tx) { return tx.Run(kReleaseClaims, {}).status(); });
}

absl::Status PostgresStateStore::RecordAttempt(const std::string& id,
                                               const DeliveryAttempt& attempt, OutboxState state,
                                               int64_t next_attempt_ms) {
  const char* state_text = state_rows::OutboxStateText(state);
  if (state_text == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where("RecordAttempt"), ": invalid outbox state ", static_cast<int>(state)));
  }
  absl::MutexLock lock(&mu_);
  return InTransaction("RecordAttempt", true, [&](Transaction& tx) -> absl::Status {
    const int64_t finished = state == OutboxState::kPending ? 0 : attempt.at_ms;
    absl::StatusOr<Table> t =
        tx.Run(kFinishAttempt,
               {id, state_text, std::to_string(next_attempt_ms), std::to_string(finished)});
    if (!t.ok()) return t.status();
    if (t->rows.size() != 1) {
      return absl::NotFoundError(absl::StrCat(tx.Where(), ": no pending notification ", id));
    }
    return tx
        .Run(kInsertAttempt, {id, std::to_string(attempt.attempt), std::to_string(attempt.at_ms),
                              attempt.result, attempt.detail})
        .status();
  });
}

absl::StatusOr<std::optional<int64_t>> PostgresStateStore::NextAttemptMs() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Table> t = Read("NextAttemptMs", kNextAttempt, {});
  if (!t.ok()) return t.status();
  Cells c(t->rows.at(0));
  std::optional<int64_t> next = c.OptionalInt(0);
  if (!c.ok()) return absl::DataLossError(Where("NextAttemptMs: not a number"));
  return next;
}

absl::StatusOr<int64_t> PostgresStateStore::CountPending() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Table> t = Read("CountPending", kCountPending, {});
  if (!t.ok()) return t.status();
  Cells c(t->rows.at(0));
  const int64_t n = c.Int(0);
  if (!c.ok()) return absl::DataLossError(Where("CountPending: not a number"));
  return n;
}

absl::StatusOr<std::vector<OutboxEntry>> PostgresStateStore::ListOutbox(size_t limit) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Table> t = Read("ListOutbox", kListOutbox, {std::to_string(Bounded(limit))});
  if (!t.ok()) return t.status();
  std::vector<OutboxEntry> out;
  std::map<std::string, size_t> index;
  ArrayLiteral ids;
  for (const auto& row : t->rows) {
    Cells c(row);
    OutboxEntry e;
    e.notification = ReadOutboxRow(c);
    const std::string state = c.Text(8);
    std::optional<OutboxState> parsed = state_rows::ParseOutboxState(state);
    e.finished_ms = c.Int(9);
    if (!parsed || !c.ok()) {
      return absl::DataLossError(absl::StrCat(Where("ListOutbox"), ": notification ",
                                              e.notification.id, " is malformed (state '", state,
                                              "')"));
    }
    e.state = *parsed;
    index[e.notification.id] = out.size();
    ids.Text(e.notification.id);
    out.push_back(std::move(e));
  }
  if (out.empty()) return out;
  absl::StatusOr<Table> attempts = Read("ListOutbox", kListAttempts, {ids.Finish()});
  if (!attempts.ok()) return attempts.status();
  for (const auto& row : attempts->rows) {
    Cells c(row);
    const std::string id = c.Text(0);
    DeliveryAttempt a;
    a.attempt = static_cast<int>(c.Int(1));
    a.at_ms = c.Int(2);
    a.result = c.Text(3);
    a.detail = c.Text(4);
    auto it = index.find(id);
    if (!c.ok() || it == index.end()) {
      return absl::DataLossError(
          absl::StrCat(Where("ListOutbox"), ": attempt of ", id, " is malformed"));
    }
    out[it->second].attempts.push_back(std::move(a));
  }
  return out;
}

absl::Status PostgresStateStore::SaveSilence(const Silence& s) {
  if (absl::Status c = state_rows::CheckSilence(Where("SaveSilence"), s); !c.ok()) return c;
  absl::MutexLock lock(&mu_);
  return InTransaction("SaveSilence", true, [&](Transaction& tx) {
    return tx
        .Run(kUpsertSilence,
             {s.id, state_rows::JsonList(s.matchers), std::to_string(s.starts_at_ms),
              std::to_string(s.ends_at_ms), s.created_by, s.comment, std::to_string(s.updated_ms)})
        .status();
  });
}

absl::StatusOr<std::vector<Silence>> PostgresStateStore::LoadSilences() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Table> t = Read("LoadSilences", kLoadSilences, {});
  if (!t.ok()) return t.status();
  std::vector<Silence> out;
  for (const auto& row : t->rows) {
    Cells c(row);
    Silence s;
    s.id = c.Text(0);
    const std::string matchers = c.Text(1);
    s.starts_at_ms = c.Int(2);
    s.ends_at_ms = c.Int(3);
    s.created_by = c.Text(4);
    s.comment = c.Text(5);
    s.updated_ms = c.Int(6);
    if (!c.ok()) {
      return absl::DataLossError(
          absl::StrCat(Where("LoadSilences"), ": silence ", s.id, " is malformed"));
    }
    if (absl::Status p = state_rows::ParseStoredMatchers(Where("LoadSilences"), matchers, &s);
        !p.ok()) {
      return p;
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::Status PostgresStateStore::Prune(int64_t before_ms) {
  absl::MutexLock lock(&mu_);
  const std::string before = std::to_string(before_ms);
  return InTransaction("Prune", true, [&](Transaction& tx) -> absl::Status {
    for (int statement : {kPruneAttempts, kPruneOutbox, kPruneSilences}) {
      if (absl::StatusOr<Table> t = tx.Run(statement, {before}); !t.ok()) return t.status();
    }
    return absl::OkStatus();
  });
}

// ---- StreamPositionStore

absl::Status PostgresStateStore::SavePositions(const std::vector<StreamPosition>& positions) {
  const std::string where = Where("SavePositions");
  // One row per agent (see SaveAlarms): the highest sequence, as a sequence of upserts keeps.
  std::map<std::string, const StreamPosition*> highest;
  for (const StreamPosition& p : positions) {
    if (absl::Status s = state_rows::CheckPosition(where, p); !s.ok()) return s;
    auto [it, inserted] = highest.emplace(p.agent_id, &p);
    if (!inserted && p.last_sequence >= it->second->last_sequence) it->second = &p;
  }
  absl::MutexLock lock(&mu_);
  return InTransaction("SavePositions", true, [&](Transaction& tx) -> absl::Status {
    ArrayLiteral agents, sequences, updated;
    size_t n = 0;
    for (const auto& [agent, p] : highest) {
      agents.Text(agent);
      sequences.Int(static_cast<int64_t>(p->last_sequence));
      updated.Int(p->updated_ms);
      if (++n % kChunkRows == 0 || n == highest.size()) {
        absl::StatusOr<Table> t =
            tx.Run(kUpsertPositions, {agents.Finish(), sequences.Finish(), updated.Finish()});
        if (!t.ok()) return t.status();
        agents = ArrayLiteral();
        sequences = ArrayLiteral();
        updated = ArrayLiteral();
      }
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<StreamPosition>> PostgresStateStore::LoadPositions() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Table> t = Read("LoadPositions", kLoadPositions, {});
  if (!t.ok()) return t.status();
  std::vector<StreamPosition> out;
  for (const auto& row : t->rows) {
    Cells c(row);
    StreamPosition p{c.Text(0), static_cast<uint64_t>(c.Int(1)), c.Int(2)};
    if (!c.ok()) {
      return absl::DataLossError(
          absl::StrCat(Where("LoadPositions"), ": position of ", p.agent_id, " is malformed"));
    }
    out.push_back(std::move(p));
  }
  return out;
}

// ---- LeaderLease

absl::StatusOr<std::optional<int64_t>> PostgresStateStore::Acquire(const std::string& holder,
                                                                   absl::Duration ttl) {
  if (holder.empty()) return absl::InvalidArgumentError(Where("Acquire: empty holder name"));
  absl::MutexLock lock(&mu_);
  std::optional<int64_t> held;
  absl::Status status = InTransaction("Acquire", false, [&](Transaction& tx) -> absl::Status {
    held.reset();
    absl::StatusOr<Table> t =
        tx.Run(kAcquire, {holder, std::to_string(absl::ToInt64Milliseconds(ttl))});
    if (!t.ok()) return t.status();
    if (t->rows.empty()) return absl::OkStatus();  // another holder's live lease
    Cells c(t->rows[0]);
    held = c.Int(0);
    if (!c.ok()) return absl::DataLossError(absl::StrCat(tx.Where(), ": epoch is not a number"));
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return held;
}

absl::Status PostgresStateStore::Release(const std::string& holder, int64_t epoch) {
  absl::MutexLock lock(&mu_);
  return InTransaction("Release", false, [&](Transaction& tx) {
    return tx.Run(kReleaseLease, {holder, std::to_string(epoch)}).status();
  });
}

absl::StatusOr<LeaseInfo> PostgresStateStore::Current() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Table> t = Read("Current", kCurrentLease, {});
  if (!t.ok()) return t.status();
  if (t->rows.size() != 1) return absl::DataLossError(Where("Current: the lease row is missing"));
  Cells c(t->rows[0]);
  LeaseInfo lease{c.Text(0), c.Int(1), c.Int(2)};
  if (!c.ok()) return absl::DataLossError(Where("Current: the lease row is malformed"));
  return lease;
}

}  // namespace vigil::collector
