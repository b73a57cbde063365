#ifndef VIGIL_AGENT_CHECKS_POSTGRES_PG_STATS_H_
#define VIGIL_AGENT_CHECKS_POSTGRES_PG_STATS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/postgres/pg_connection.h"

// The SQL the `postgres` check runs and the pure mapping of each result to values. A result
// arrives in libpq's text format as a Table; the mappers find columns by name and return
// InvalidArgument naming the query, the row and the column when something is missing or not a
// number, e.g. "pg_stat_database: row 2, column xact_commit: 'x1' is not an integer". They
// never touch the network and are thread-safe.

namespace vigil::agent::pg {

using Table = ::vigil::postgres::Table;  // common/postgres: rows of text values

// Works on a primary and on a standby.
extern const char kServerInfoQuery[];
// Client backends (not walsenders or background workers) by state.
extern const char kConnectionsQuery[];
// Counters and size of every database that is not a template.
extern const char kDatabasesQuery[];
// Primary only (pg_current_wal_lsn() fails during recovery): one row per walsender.
extern const char kReplicationQuery[];
// Standby only (pg_is_wal_replay_paused() fails outside recovery).
extern const char kStandbyQuery[];

struct ServerInfo {
  bool in_recovery = false;
  int64_t max_connections = 0;
};
absl::StatusOr<ServerInfo> ParseServerInfo(const Table& table);

// Client backends per state ("active", "idle", "idle in transaction", ...); a NULL state is
// counted as "unknown". A role without pg_monitor sees only its own sessions (the others have no
// backend_type for it), so only those are counted.
absl::StatusOr<std::map<std::string, int64_t>> ParseConnectionStates(const Table& table);

struct DatabaseStat {
  std::string name;
  int64_t xact_commit = 0;
  int64_t xact_rollback = 0;
  int64_t deadlocks = 0;
  std::string stats_reset;            // time of the last pg_stat_reset(), "" when never
  std::optional<int64_t> size_bytes;  // absent when the role may not connect to it
};
absl::StatusOr<std::vector<DatabaseStat>> ParseDatabaseStats(const Table& table);

// Increase of the counters summed over the databases present in both snapshots. nullopt when a
// database's counters were reset in between (a counter went down or stats_reset changed), so
// a reset never yields a negative or a spurious rate.
struct DatabaseCounterDelta {
  int64_t xact_commit = 0;
  int64_t xact_rollback = 0;
  int64_t deadlocks = 0;
};
std::optional<DatabaseCounterDelta> DatabaseCounterDeltas(const std::vector<DatabaseStat>& prev,
                                                          const std::vector<DatabaseStat>& cur);

// One standby (or other WAL receiver) connected to a primary.
struct StandbyStat {
  // application_name, or the client address when the name is empty, or "pid <pid>" for a
  // standby on a Unix socket. When two standbys share a name, each becomes "<name>@<address>".
  std::string name;
  std::string state;  // streaming, catchup, startup, stopping
  // Bytes between the primary's current WAL position and the standby's replay/write/flush
  // position; absent when the standby has not reported one yet (or the role may not see it).
  std::optional<double> replay_lag_bytes;
  std::optional<double> write_lag_bytes;
  std::optional<double> flush_lag_bytes;
  // pg_stat_replication's replay_lag/write_lag/flush_lag; NULL (the standby has caught up and
  // the primary is idle) reads 0.
  double replay_lag_seconds = 0;
  double write_lag_seconds = 0;
  double flush_lag_seconds = 0;
};
// Rows of base backups in progress (state "backup") are not standbys and are left out.
absl::StatusOr<std::vector<StandbyStat>> ParseReplication(const Table& table);

struct StandbyStatus {
  bool receiver_streaming = false;  // pg_stat_wal_receiver.status = 'streaming'
  bool replay_paused = false;
  // 0 when everything received has been replayed, else seconds since the last replayed
  // transaction; absent when no transaction has been replayed since the standby started.
  std::optional<double> lag_seconds;
};
absl::StatusOr<StandbyStatus> ParseStandbyStatus(const Table& table);

}  // namespace vigil::agent::pg

#endif  // VIGIL_AGENT_CHECKS_POSTGRES_PG_STATS_H_
