#ifndef VIGIL_AGENT_CHECKS_POSTGRES_PG_CONNECTION_H_
#define VIGIL_AGENT_CHECKS_POSTGRES_PG_CONNECTION_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/checks/postgres/pg_stats.h"

typedef struct pg_conn PGconn;

namespace vigil::agent::pg {

// One libpq connection whose connect and every query wait at most a given time. libpq's
// blocking calls have no bound for a server that accepts TCP and never answers, so the
// connection is driven in nonblocking mode (PQconnectStartParams/PQconnectPoll,
// PQsendQuery/PQconsumeInput) with poll(2) against a deadline. Host names are still resolved
// by libpq with a blocking getaddrinfo(3).
//
// Error messages are libpq's and the server's on one line, with the password (if it ever
// appeared) replaced by "***". Owns the PGconn; not thread-safe: one thread at a time.
class Connection {
 public:
  using Params = std::vector<std::pair<std::string, std::string>>;  // libpq keyword, value

  // Connects with libpq's keywords (host, port, user, password, sslmode, ...). Fails with
  // DeadlineExceeded when the server has not completed the startup within `timeout`,
  // Unavailable when it refused or failed (authentication included).
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const Params& params,
                                                          absl::Duration timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one SQL statement and returns its rows. DeadlineExceeded when no complete answer came
  // within `timeout` (the connection is then broken: its state is unknown); server errors keep
  // their SQLSTATE in the message (57014 statement timeout -> DeadlineExceeded, 42501 ->
  // PermissionDenied, connection loss -> Unavailable, others Unknown).
  absl::StatusOr<Table> Query(const std::string& sql, absl::Duration timeout);

  // True once the connection cannot be used again (lost, or a query timed out half-way);
  // the owner drops it and opens a new one.
  bool broken() const { return broken_; }
  // The server process serving this connection.
  int backend_pid() const;

 private:
  Connection(PGconn* conn, std::string password) : conn_(conn), password_(std::move(password)) {}
  // libpq's current error message, cleaned and redacted.
  std::string ErrorMessage() const;
  std::string Clean(const char* message) const;

  PGconn* conn_;
  std::string password_;  // only to redact it from messages
  bool broken_ = false;
};

}  // namespace vigil::agent::pg

#endif  // VIGIL_AGENT_CHECKS_POSTGRES_PG_CONNECTION_H_
