#ifndef VIGIL_AGENT_CHECKS_POSTGRES_POSTGRES_CHECK_H_
#define VIGIL_AGENT_CHECKS_POSTGRES_POSTGRES_CHECK_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "agent/checks/postgres/pg_stats.h"
#include "common/config_reader.h"
#include "common/postgres/pg_connection.h"
#include "common/secret.h"

namespace vigil::agent {
namespace pg {
using Connection = ::vigil::postgres::Connection;
}  // namespace pg

// The `postgres` check: connections, transaction rates, database sizes and replication of one
// PostgreSQL server (primary or standby) through libpq. One connection is kept open between
// collections and reopened when it fails. Metric names are listed in docs/metrics.md. The role
// needs pg_monitor to see other roles' backends, the standbys' positions and every size.
//
// Config keys (all optional):
//   host             host name, address, or Unix socket directory (default localhost)
//   port             default 5432
//   user             role (default: libpq's, the agent's OS user)
//   dbname           database to connect to (default postgres)
//   password_file / password_env   the password (see common/secret.h), read at each connect;
//                    without them libpq's PGPASSWORD / passfile rules apply
//   passfile         a .pgpass file (default: libpq's, ~/.pgpass or $PGPASSFILE)
//   sslmode          disable, allow, prefer, require, verify-ca, verify-full (default prefer)
//   sslrootcert      CA certificate file for verify-ca / verify-full
//   connect_timeout  bound on connecting, TLS and authentication included (default 5s)
//   query_timeout    bound on each query: the session's statement_timeout and the time the
//                    check waits for an answer (default 5s)
//
// Threading: Init() once, then Collect() from one thread at a time (see Check); the
// connection and the previous counters are owned by that thread.
class PostgresCheck : public Check {
 public:
  absl::Status Init(ConfigMap& config) override;
  // Fails when the server cannot be reached or its basic state (recovery, connections) cannot
  // be read; database and replication figures that fail are left out and logged once.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

  // The server process of the open connection, 0 when none is open (tests use it).
  int backend_pid() const { return conn_ != nullptr ? conn_->backend_pid() : 0; }

 private:
  struct DatabaseSnapshot {
    absl::Time time;
    std::vector<pg::DatabaseStat> databases;
  };

  absl::Status Connect();
  // Runs `sql` on the open connection; drops the connection when it broke. Errors are prefixed
  // with the endpoint.
  absl::StatusOr<pg::Table> Query(const char* sql);
  // The optional parts of a collection; each appends its samples or returns why it could not.
  absl::Status CollectDatabases(absl::Time now, std::vector<Sample>& out);
  absl::Status CollectPrimaryReplication(std::vector<Sample>& out);
  absl::Status CollectStandby(std::vector<Sample>& out);
  // Logs a failure of an optional part once per change of its message.
  void NoteOptionalPart(const absl::Status& status, std::string& last_error);
  absl::Status Prefixed(const absl::Status& status) const;

  // Set by Init(), read-only afterwards.
  std::string host_ = "localhost";
  int port_ = 5432;
  std::string user_;
  std::string dbname_ = "postgres";
  SecretRef password_;
  std::string passfile_;
  std::string sslmode_ = "prefer";
  std::string sslrootcert_;
  absl::Duration connect_timeout_ = absl::Seconds(5);
  absl::Duration query_timeout_ = absl::Seconds(5);
  std::string endpoint_;  // "host:port" for messages

  // State between Collect() calls (the collecting thread only).
  std::unique_ptr<pg::Connection> conn_;
  std::optional<DatabaseSnapshot> prev_databases_;
  std::string databases_error_, replication_error_, standby_error_;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_POSTGRES_POSTGRES_CHECK_H_
