#ifndef VIGIL_COLLECTOR_STATE_STATE_CONFIG_H_
#define VIGIL_COLLECTOR_STATE_STATE_CONFIG_H_

#include <string>

#include "absl/time/time.h"

// The `state:` section of collector.yaml: where the collector's state lives (collector/config.cc
// parses it; collector/testdata/collector.example.yaml documents every key).

namespace vigil::collector {

inline constexpr char kSqliteBackend[] = "sqlite";
inline constexpr char kPostgresBackend[] = "postgres";

struct PostgresStateConfig {
  std::string host = "127.0.0.1";
  int port = 5432;
  std::string dbname = "vigil";
  std::string user = "vigil";
  // Holds the password; read (whitespace-trimmed) at each connect, so a rotated secret is
  // picked up by the next reconnect. Empty: libpq's own rules (~/.pgpass, PGPASSWORD, none).
  // Never logged.
  std::string password_file;
  std::string sslmode = "prefer";  // disable, allow, prefer, require, verify-ca, verify-full
  std::string sslrootcert;         // CA file for verify-ca / verify-full; empty: libpq's default
  absl::Duration connect_timeout = absl::Seconds(5);
  // The session's statement_timeout; also how long the collector waits for any answer.
  absl::Duration statement_timeout = absl::Seconds(10);
};

// Leadership among replicas sharing one PostgreSQL store.
struct HaConfig {
  bool enabled = false;  // requires backend postgres
  // This replica's name in the lease. The parser fills in the default: $POD_NAME, else the
  // host name.
  std::string replica_name;
  // With these defaults a dead leader is replaced within 15 s: its last renewal was at most
  // renew_interval before it died, the lease lapses lease_duration after that, and a standby
  // tries every renew_interval: at most lease_duration + renew_interval, plus its start.
  absl::Duration lease_duration = absl::Seconds(10);
  absl::Duration renew_interval = absl::Seconds(2);  // < lease_duration / 2
};

struct StateConfig {
  std::string backend =
      kSqliteBackend;  // kSqliteBackend (<state_dir>/state.db) or kPostgresBackend
  PostgresStateConfig postgres;
  HaConfig ha;
};

// $POD_NAME when set and not empty, else the host name ("localhost" if it has none).
std::string DefaultReplicaName();

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_STATE_STATE_CONFIG_H_
