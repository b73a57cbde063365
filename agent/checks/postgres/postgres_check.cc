#include "agent/checks/postgres/postgres_check.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"

namespace vigil::agent {
namespace {

constexpr const char* kSslModes[] = {"disable", "allow",     "prefer",
                                     "require", "verify-ca", "verify-full"};

// pg_stat_activity states, always emitted (0 when no backend is in them) so that a rule on
// "idle in transaction" has data before the first such backend appears.
constexpr const char* kBackendStates[] = {"active",
                                          "idle",
                                          "idle in transaction",
                                          "idle in transaction (aborted)",
                                          "fastpath function call",
                                          "disabled"};

void Add(std::vector<Sample>& out, std::string metric, Labels labels, double value) {
  out.push_back(Sample{std::move(metric), std::move(labels), value});
}

}  // namespace

absl::Status PostgresCheck::Init(ConfigMap& config) {
  const std::string dir = config.errors() != nullptr ? DirName(config.errors()->file()) : "";
  host_ = config.String("host", "localhost");
  if (host_.empty()) config.Error("host", "must not be empty");
  port_ = static_cast<int>(config.Int("port", 5432, 1, 65535));
  user_ = config.String("user");
  if (config.Has("user") && user_.empty()) config.Error("user", "must not be empty");
  dbname_ = config.String("dbname", "postgres");
  if (dbname_.empty()) config.Error("dbname", "must not be empty");
  password_ = ReadSecretRef(config, "password");
  passfile_ = ResolvePath(dir, config.String("passfile"));

  sslmode_ = config.String("sslmode", "prefer");
  if (std::find(std::begin(kSslModes), std::end(kSslModes), sslmode_) == std::end(kSslModes)) {
    config.Error("sslmode",
                 absl::StrCat("'", sslmode_, "' is not one of ", absl::StrJoin(kSslModes, ", ")));
  }
  sslrootcert_ = ResolvePath(dir, config.String("sslrootcert"));
  struct stat st;
  if (!sslrootcert_.empty() && (::stat(sslrootcert_.c_str(), &st) != 0 || !S_ISREG(st.st_mode))) {
    config.Error("sslrootcert", absl::StrCat("'", sslrootcert_, "' is not a readable file"));
  }

  connect_timeout_ = config.Duration("connect_timeout", absl::Seconds(5));
  if (connect_timeout_ < absl::Milliseconds(1)) {
    config.Error("connect_timeout", "must be at least 1ms");
    connect_timeout_ = absl::Seconds(5);
  }
  query_timeout_ = config.Duration("query_timeout", absl::Seconds(5));
  // statement_timeout is in whole milliseconds, and 0 would switch it off.
  if (query_timeout_ < absl::Milliseconds(1)) {
    config.Error("query_timeout", "must be at least 1ms");
    query_timeout_ = absl::Seconds(5);
  }
  endpoint_ = host_.find(':') != std::string::npos ? absl::StrCat("[", host_, "]:", port_)
                                                   : absl::StrCat(host_, ":", port_);
  return absl::OkStatus();
}

absl::Status PostgresCheck::Prefixed(const absl::Status& status) const {
  return absl::Status(status.code(), absl::StrCat("postgres ", endpoint_, ": ", status.message()));
}

absl::Status PostgresCheck::Connect() {
  conn_.reset();
  const int64_t query_ms = absl::ToInt64Milliseconds(query_timeout_);
  const int64_t connect_s =
      std::max<int64_t>(2, absl::ToInt64Seconds(absl::Ceil(connect_timeout_, absl::Seconds(1))));
  pg::Connection::Params params = {
      {"host", host_},
      {"port", std::to_string(port_)},
      {"dbname", dbname_},
      {"application_name", "vigil-agent"},
      {"sslmode", sslmode_},
      // Not enforced by libpq in nonblocking mode (the Connection's deadline is); kept for a
      // server-side view of the intent.
      {"connect_timeout", std::to_string(connect_s)},
      // An unacknowledged send or a silent peer ends the kept connection instead of leaving
      // it half-open until the next query times out.
      {"tcp_user_timeout",
       std::to_string(absl::ToInt64Milliseconds(std::max(connect_timeout_, query_timeout_)))},
      {"keepalives", "1"},
      {"keepalives_idle", "30"},
      {"keepalives_interval", "10"},
      {"keepalives_count", "3"},
  };
  if (!user_.empty()) params.emplace_back("user", user_);
  if (!passfile_.empty()) params.emplace_back("passfile", passfile_);
  if (!sslrootcert_.empty()) params.emplace_back("sslrootcert", sslrootcert_);
  if (!password_.empty()) {
    absl::StatusOr<std::string> password = password_.Read();
    if (!password.ok()) {
      return Prefixed(absl::Status(password.status().code(),
                                   absl::StrCat("password: ", password.status().message())));
    }
    params.emplace_back("password", *std::move(password));
  }
  absl::StatusOr<std::unique_ptr<pg::Connection>> conn =
      pg::Connection::Open(params, connect_timeout_);
  if (!conn.ok()) return Prefixed(conn.status());
  conn_ = *std::move(conn);
  const std::string set = absl::StrCat("SET statement_timeout = ", query_ms);
  absl::StatusOr<pg::Table> r = Query(set.c_str());
  if (!r.ok()) {
    conn_.reset();
    return r.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<pg::Table> PostgresCheck::Query(const char* sql) {
  if (conn_ == nullptr) return Prefixed(absl::UnavailableError("not connected"));
  absl::StatusOr<pg::Table> r = conn_->Query(sql, query_timeout_);
  if (conn_->broken()) conn_.reset();
  if (!r.ok()) return Prefixed(r.status());
  return r;
}

void PostgresCheck::NoteOptionalPart(const absl::Status& status, std::string& last_error) {
  if (status.ok()) {
    if (!last_error.empty()) VIGIL_LOG(Info) << "postgres check: recovered from: " << last_error;
    last_error.clear();
    return;
  }
  std::string message(status.message());
  if (message != last_error) {
    VIGIL_LOG(Warning) << "postgres check: skipping part of the collection: " << message;
    last_error = std::move(message);
  }
}

absl::StatusOr<std::vector<Sample>> PostgresCheck::Collect(absl::Time now) {
  bool fresh = false;
  if (conn_ == nullptr) {
    absl::Status s = Connect();
    if (!s.ok()) return s;
    fresh = true;
  }
  absl::StatusOr<pg::Table> info_rows = Query(pg::kServerInfoQuery);
  // A kept connection may have been closed by a server restart or pg_terminate_backend since
  // the last collection: reconnect once. Not after a timeout: a hung server would then cost a
  // second full wait.
  if (!info_rows.ok() && !fresh && conn_ == nullptr &&
      !absl::IsDeadlineExceeded(info_rows.status())) {
    VIGIL_LOG(Info) << "postgres check: reconnecting after: " << info_rows.status().message();
    absl::Status s = Connect();
    if (!s.ok()) return s;
    info_rows = Query(pg::kServerInfoQuery);
  }
  if (!info_rows.ok()) return info_rows.status();
  absl::StatusOr<pg::ServerInfo> info = pg::ParseServerInfo(*info_rows);
  if (!info.ok()) return Prefixed(info.status());

  absl::StatusOr<pg::Table> activity_rows = Query(pg::kConnectionsQuery);
  if (!activity_rows.ok()) return activity_rows.status();
  absl::StatusOr<std::map<std::string, int64_t>> states = pg::ParseConnectionStates(*activity_rows);
  if (!states.ok()) return Prefixed(states.status());

  std::vector<Sample> out;
  Add(out, "postgres.in_recovery", {}, info->in_recovery ? 1 : 0);
  Add(out, "postgres.max_connections", {}, static_cast<double>(info->max_connections));
  int64_t connections = 0;
  for (const auto& [state, n] : *states) connections += n;
  for (const char* state : kBackendStates) states->emplace(state, 0);
  Add(out, "postgres.connections", {}, static_cast<double>(connections));
  if (info->max_connections > 0) {
    Add(out, "postgres.connections.usage_pct", {},
        100.0 * static_cast<double>(connections) / static_cast<double>(info->max_connections));
  }
  for (const auto& [state, n] : *states) {
    Add(out, "postgres.connections.by_state", {{"state", state}}, static_cast<double>(n));
  }

  // The optional parts: a failure is logged and its figures left out, unless it lost the
  // connection, which fails the whole collection.
  absl::Status s = CollectDatabases(now, out);
  if (!s.ok() && conn_ == nullptr) return s;
  NoteOptionalPart(s, databases_error_);
  if (info->in_recovery) {
    s = CollectStandby(out);
    if (!s.ok() && conn_ == nullptr) return s;
    NoteOptionalPart(s, standby_error_);
  } else {
    s = CollectPrimaryReplication(out);
    if (!s.ok() && conn_ == nullptr) return s;
    NoteOptionalPart(s, replication_error_);
  }
  return out;
}

absl::Status PostgresCheck::CollectDatabases(absl::Time now, std::vector<Sample>& out) {
  absl::StatusOr<pg::Table> rows = Query(pg::kDatabasesQuery);
  if (!rows.ok()) return rows.status();
  absl::StatusOr<std::vector<pg::DatabaseStat>> databases = pg::ParseDatabaseStats(*rows);
  if (!databases.ok()) return Prefixed(databases.status());
  for (const pg::DatabaseStat& d : *databases) {
    if (d.size_bytes) {
      Add(out, "postgres.database.size_bytes", {{"database", d.name}},
          static_cast<double>(*d.size_bytes));
    }
  }
  if (prev_databases_ && now > prev_databases_->time) {
    std::optional<pg::DatabaseCounterDelta> delta =
        pg::DatabaseCounterDeltas(prev_databases_->databases, *databases);
    if (delta) {
      const double seconds = absl::ToDoubleSeconds(now - prev_databases_->time);
      Add(out, "postgres.transactions.committed_per_second", {},
          static_cast<double>(delta->xact_commit) / seconds);
      Add(out, "postgres.transactions.rolled_back_per_second", {},
          static_cast<double>(delta->xact_rollback) / seconds);
      Add(out, "postgres.deadlocks_per_second", {},
          static_cast<double>(delta->deadlocks) / seconds);
    }
  }
  prev_databases_ = DatabaseSnapshot{now, *std::move(databases)};
  return absl::OkStatus();
}

absl::Status PostgresCheck::CollectPrimaryReplication(std::vector<Sample>& out) {
  absl::StatusOr<pg::Table> rows = Query(pg::kReplicationQuery);
  if (!rows.ok()) return rows.status();
  absl::StatusOr<std::vector<pg::StandbyStat>> standbys = pg::ParseReplication(*rows);
  if (!standbys.ok()) return Prefixed(standbys.status());
  Add(out, "postgres.replication.standbys", {}, static_cast<double>(standbys->size()));
  for (const pg::StandbyStat& st : *standbys) {
    Labels labels = {{"standby", st.name}};
    if (st.replay_lag_bytes)
      Add(out, "postgres.replication.lag_bytes", labels, *st.replay_lag_bytes);
    if (st.write_lag_bytes) {
      Add(out, "postgres.replication.write_lag_bytes", labels, *st.write_lag_bytes);
    }
    if (st.flush_lag_bytes) {
      Add(out, "postgres.replication.flush_lag_bytes", labels, *st.flush_lag_bytes);
    }
    Add(out, "postgres.replication.replay_lag_seconds", labels, st.replay_lag_seconds);
    Add(out, "postgres.replication.write_lag_seconds", labels, st.write_lag_seconds);
    Add(out, "postgres.replication.flush_lag_seconds", labels, st.flush_lag_seconds);
  }
  return absl::OkStatus();
}

absl::Status PostgresCheck::CollectStandby(std::vector<Sample>& out) {
  absl::StatusOr<pg::Table> rows = Query(pg::kStandbyQuery);
  if (!rows.ok()) return rows.status();
  absl::StatusOr<pg::StandbyStatus> status = pg::ParseStandbyStatus(*rows);
  if (!status.ok()) return Prefixed(status.status());
  Add(out, "postgres.replication.receiver_streaming", {}, status->receiver_streaming ? 1 : 0);
  Add(out, "postgres.replication.replay_paused", {}, status->replay_paused ? 1 : 0);
  if (status->lag_seconds) Add(out, "postgres.replication.lag_seconds", {}, *status->lag_seconds);
  return absl::OkStatus();
}

}  // namespace vigil::agent
