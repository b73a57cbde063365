#include "agent/checks/postgres/pg_stats.h"

#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vigil::agent::pg {

const char kServerInfoQuery[] =
    "SELECT pg_is_in_recovery()::int AS in_recovery,"
    " current_setting('max_connections')::bigint AS max_connections";

const char kConnectionsQuery[] =
    "SELECT coalesce(state, 'unknown') AS state, count(*) AS connections"
    " FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1";

// pg_database_size() fails for a database the role may not connect to, so the size is asked
// only where it is allowed (pg_read_all_stats, part of pg_monitor, allows every database).
const char kDatabasesQuery[] =
    "SELECT s.datname AS database, s.xact_commit, s.xact_rollback, s.deadlocks,"
    " coalesce(s.stats_reset::text, '') AS stats_reset,"
    " CASE WHEN has_database_privilege(d.oid, 'CONNECT')"
    " OR pg_has_role('pg_read_all_stats', 'MEMBER')"
    " THEN pg_database_size(d.oid) END AS size_bytes"
    " FROM pg_stat_database s JOIN pg_database d ON d.oid = s.datid"
    " WHERE NOT d.datistemplate";

// pg_current_wal_lsn() is read once, so every standby is measured against the same position.
const char kReplicationQuery[] =
    "WITH c AS (SELECT pg_current_wal_lsn() AS lsn)"
    " SELECT r.pid, r.application_name, host(r.client_addr) AS client_addr, r.state,"
    " pg_wal_lsn_diff(c.lsn, r.replay_lsn) AS replay_lag_bytes,"
    " pg_wal_lsn_diff(c.lsn, r.write_lsn) AS write_lag_bytes,"
    " pg_wal_lsn_diff(c.lsn, r.flush_lsn) AS flush_lag_bytes,"
    " extract(epoch FROM r.replay_lag) AS replay_lag_seconds,"
    " extract(epoch FROM r.write_lag) AS write_lag_seconds,"
    " extract(epoch FROM r.flush_lag) AS flush_lag_seconds"
    " FROM pg_stat_replication r, c";

// The delay is 0 when everything received has been replayed: on an idle primary no new
// transaction arrives, and the time since the last replayed one is not a lag. `<=` rather than
// `=` because a restarted receiver reports from the start of a segment already replayed.
const char kStandbyQuery[] =
    "SELECT pg_is_wal_replay_paused()::int AS replay_paused,"
    " CASE WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0"
    " ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))"
    " END AS lag_seconds,"
    " (SELECT status FROM pg_stat_wal_receiver) AS receiver_status";

namespace {

// Reads the cells of one result by column name; every error names the query (`what`), the row
// (1-based) and the column.
class Rows {
 public:
  Rows(const Table& table, const char* what) : table_(table), what_(what) {}

  // Checks that every column in `names` exists and that each row has one value per column.
  absl::Status Require(std::initializer_list<const char*> names) {
    for (const char* name : names) {
      bool found = false;
      for (size_t i = 0; i < table_.columns.size(); ++i) {
        if (table_.columns[i] == name) {
          index_[name] = i;
          found = true;
          break;
        }
      }
      if (!found) {
        return absl::InvalidArgumentError(absl::StrCat(what_, ": missing column ", name));
      }
    }
    for (size_t r = 0; r < table_.rows.size(); ++r) {
      if (table_.rows[r].size() != table_.columns.size()) {
        return absl::InvalidArgumentError(absl::StrCat(what_, ": row ", r + 1, " has ",
                                                       table_.rows[r].size(), " values for ",
                                                       table_.columns.size(), " columns"));
      }
    }
    return absl::OkStatus();
  }

  size_t size() const { return table_.rows.size(); }

  const std::optional<std::string>& Cell(size_t row, const char* column) const {
    return table_.rows[row][index_.at(column)];
  }

  absl::StatusOr<std::optional<int64_t>> OptionalInt(size_t row, const char* column) const {
    const std::optional<std::string>& v = Cell(row, column);
    if (!v) return std::optional<int64_t>();
    int64_t out;
    if (!absl::SimpleAtoi(*v, &out)) return Bad(row, column, *v, "an integer");
    return std::optional<int64_t>(out);
  }

  absl::StatusOr<int64_t> Int(size_t row, const char* column) const {
    absl::StatusOr<std::optional<int64_t>> v = OptionalInt(row, column);
    if (!v.ok()) return v.status();
    if (!*v) return Null(row, column);
    return **v;
  }

  absl::StatusOr<bool> Bool01(size_t row, const char* column) const {
    absl::StatusOr<int64_t> v = Int(row, column);
    if (!v.ok()) return v.status();
    if (*v != 0 && *v != 1) return Bad(row, column, *Cell(row, column), "0 or 1");
    return *v == 1;
  }

  absl::StatusOr<std::optional<double>> OptionalDouble(size_t row, const char* column) const {
    const std::optional<std::string>& v = Cell(row, column);
    if (!v) return std::optional<double>();
    double out;
    if (!absl::SimpleAtod(*v, &out) || !std::isfinite(out)) {
      return Bad(row, column, *v, "a finite number");
    }
    return std::optional<double>(out);
  }

  absl::StatusOr<std::string> Text(size_t row, const char* column) const {
    const std::optional<std::string>& v = Cell(row, column);
    if (!v) return Null(row, column);
    return *v;
  }

 private:
  absl::Status Bad(size_t row, const char* column, const std::string& value,
                   const char* expected) const {
    // A value is a number or a short word; cut anything longer so a message stays one line.
    std::string shown = value.size() > 40 ? value.substr(0, 40) + "..." : value;
    return absl::InvalidArgumentError(absl::StrCat(what_, ": row ", row + 1, ", column ", column,
                                                   ": '", shown, "' is not ", expected));
  }
  absl::Status Null(size_t row, const char* column) const {
    return absl::InvalidArgumentError(
        absl::StrCat(what_, ": row ", row + 1, ", column ", column, ": unexpected NULL"));
  }

  const Table& table_;
  const char* what_;
  std::map<std::string, size_t> index_;
};

// Assigns the value of the StatusOr `expr` to `out`, or returns its error from the enclosing
// function.
#define PG_ASSIGN_OR_RETURN(out, expr)                  \
  do {                                                  \
    auto pg_value_or = (expr);                          \
    if (!pg_value_or.ok()) return pg_value_or.status(); \
    out = *std::move(pg_value_or);                      \
  } while (false)

double NonNegative(double v) { return v < 0 ? 0 : v; }

}  // namespace

absl::StatusOr<ServerInfo> ParseServerInfo(const Table& table) {
  Rows rows(table, "server info");
  absl::Status s = rows.Require({"in_recovery", "max_connections"});
  if (!s.ok()) return s;
  if (rows.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("server info: expected 1 row, got ", rows.size()));
  }
  ServerInfo info;
  PG_ASSIGN_OR_RETURN(info.in_recovery, rows.Bool01(0, "in_recovery"));
  PG_ASSIGN_OR_RETURN(info.max_connections, rows.Int(0, "max_connections"));
  return info;
}

absl::StatusOr<std::map<std::string, int64_t>> ParseConnectionStates(const Table& table) {
  Rows rows(table, "pg_stat_activity");
  absl::Status s = rows.Require({"state", "connections"});
  if (!s.ok()) return s;
  std::map<std::string, int64_t> out;
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::optional<std::string>& state = rows.Cell(r, "state");
    int64_t n;
    PG_ASSIGN_OR_RETURN(n, rows.Int(r, "connections"));
    out[state && !state->empty() ? *state : "unknown"] += n;
  }
  return out;
}

absl::StatusOr<std::vector<DatabaseStat>> ParseDatabaseStats(const Table& table) {
  Rows rows(table, "pg_stat_database");
  absl::Status s = rows.Require(
      {"database", "xact_commit", "xact_rollback", "deadlocks", "stats_reset", "size_bytes"});
  if (!s.ok()) return s;
  std::vector<DatabaseStat> out;
  for (size_t r = 0; r < rows.size(); ++r) {
    DatabaseStat d;
    PG_ASSIGN_OR_RETURN(d.name, rows.Text(r, "database"));
    PG_ASSIGN_OR_RETURN(d.xact_commit, rows.Int(r, "xact_commit"));
    PG_ASSIGN_OR_RETURN(d.xact_rollback, rows.Int(r, "xact_rollback"));
    PG_ASSIGN_OR_RETURN(d.deadlocks, rows.Int(r, "deadlocks"));
    d.stats_reset = rows.Cell(r, "stats_reset").value_or("");
    PG_ASSIGN_OR_RETURN(d.size_bytes, rows.OptionalInt(r, "size_bytes"));
    out.push_back(std::move(d));
  }
  return out;
}

std::optional<DatabaseCounterDelta> DatabaseCounterDeltas(const std::vector<DatabaseStat>& prev,
                                                          const std::vector<DatabaseStat>& cur) {
  std::map<std::string, const DatabaseStat*> before;
  for (const DatabaseStat& d : prev) before[d.name] = &d;
  DatabaseCounterDelta delta;
  for (const DatabaseStat& d : cur) {
    auto it = before.find(d.name);
    if (it == before.end()) continue;  // created since: its counters have no baseline yet
    const DatabaseStat& p = *it->second;
    if (d.stats_reset != p.stats_reset || d.xact_commit < p.xact_commit ||
        d.xact_rollback < p.xact_rollback || d.deadlocks < p.deadlocks) {
      return std::nullopt;
    }
    delta.xact_commit += d.xact_commit - p.xact_commit;
    delta.xact_rollback += d.xact_rollback - p.xact_rollback;
    delta.deadlocks += d.deadlocks - p.deadlocks;
  }
  return delta;
}

absl::StatusOr<std::vector<StandbyStat>> ParseReplication(const Table& table) {
  Rows rows(table, "pg_stat_replication");
  absl::Status s = rows.Require({"pid", "application_name", "client_addr", "state",
                                 "replay_lag_bytes", "write_lag_bytes", "flush_lag_bytes",
                                 "replay_lag_seconds", "write_lag_seconds", "flush_lag_seconds"});
  if (!s.ok()) return s;
  std::vector<StandbyStat> out;
  std::vector<std::string> addresses;
  for (size_t r = 0; r < rows.size(); ++r) {
    StandbyStat st;
    st.state = rows.Cell(r, "state").value_or("");
    if (st.state == "backup") continue;
    int64_t pid;
    PG_ASSIGN_OR_RETURN(pid, rows.Int(r, "pid"));
    std::string app = rows.Cell(r, "application_name").value_or("");
    std::string addr = rows.Cell(r, "client_addr").value_or("");
    std::string address = addr.empty() ? absl::StrCat("pid ", pid) : addr;
    st.name = !app.empty() ? app : address;
    std::optional<double> v;
    PG_ASSIGN_OR_RETURN(v, rows.OptionalDouble(r, "replay_lag_bytes"));
    if (v) st.replay_lag_bytes = NonNegative(*v);
    PG_ASSIGN_OR_RETURN(v, rows.OptionalDouble(r, "write_lag_bytes"));
    if (v) st.write_lag_bytes = NonNegative(*v);
    PG_ASSIGN_OR_RETURN(v, rows.OptionalDouble(r, "flush_lag_bytes"));
    if (v) st.flush_lag_bytes = NonNegative(*v);
    PG_ASSIGN_OR_RETURN(v, rows.OptionalDouble(r, "replay_lag_seconds"));
    st.replay_lag_seconds = NonNegative(v.value_or(0));
    PG_ASSIGN_OR_RETURN(v, rows.OptionalDouble(r, "write_lag_seconds"));
    st.write_lag_seconds = NonNegative(v.value_or(0));
    PG_ASSIGN_OR_RETURN(v, rows.OptionalDouble(r, "flush_lag_seconds"));
    st.flush_lag_seconds = NonNegative(v.value_or(0));
    out.push_back(std::move(st));
    addresses.push_back(std::move(address));
  }
  // Two standbys with the same application_name would collapse into one series.
  std::map<std::string, int> uses;
  for (const StandbyStat& st : out) ++uses[st.name];
  for (size_t i = 0; i < out.size(); ++i) {
    if (uses[out[i].name] > 1 && out[i].name != addresses[i]) {
      out[i].name = absl::StrCat(out[i].name, "@", addresses[i]);
    }
  }
  return out;
}

absl::StatusOr<StandbyStatus> ParseStandbyStatus(const Table& table) {
  Rows rows(table, "standby status");
  absl::Status s = rows.Require({"replay_paused", "lag_seconds", "receiver_status"});
  if (!s.ok()) return s;
  if (rows.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("standby status: expected 1 row, got ", rows.size()));
  }
  StandbyStatus out;
  PG_ASSIGN_OR_RETURN(out.replay_paused, rows.Bool01(0, "replay_paused"));
  std::optional<double> lag;
  PG_ASSIGN_OR_RETURN(lag, rows.OptionalDouble(0, "lag_seconds"));
  if (lag) out.lag_seconds = NonNegative(*lag);
  out.receiver_streaming = rows.Cell(0, "receiver_status").value_or("") == "streaming";
  return out;
}

#undef PG_ASSIGN_OR_RETURN

}  // namespace vigil::agent::pg
