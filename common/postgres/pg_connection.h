#ifndef VIGIL_COMMON_POSTGRES_PG_CONNECTION_H_
#define VIGIL_COMMON_POSTGRES_PG_CONNECTION_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

typedef struct pg_conn PGconn;

namespace vigil::postgres {

// One query result: column names and rows of text values, SQL NULL as nullopt.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

// A statement parameter in libpq's text format; nullopt is SQL NULL.
using Param = std::optional<std::string>;

// One libpq connection whose connect and every statement wait at most a given time. libpq's
// blocking calls have no bound for a server that accepts TCP and never answers, so the
// connection is driven in nonblocking mode (PQconnectStartParams/PQconnectPoll,
// PQsend*/PQconsumeInput) with poll(2) against a deadline. Host names are still resolved
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

  // Every statement returns its rows (none for a command). DeadlineExceeded when no complete
  // answer came within `timeout` (the connection is then broken: its state is unknown);
  // server errors keep their SQLSTATE in the message and map to a code: 57014 statement
  // timeout -> DeadlineExceeded, 42501 -> PermissionDenied, connection loss (class 08, 57P0x)
  // -> Unavailable, integrity violations (class 23) and bad input (22) -> InvalidArgument,
  // insufficient resources (53) -> ResourceExhausted, serialization failure and deadlock
  // (40001, 40P01) -> Aborted, others Unknown.

  // One or more SQL statements as text (the simple query protocol); the first result's rows.
  absl::StatusOr<Table> Query(const std::string& sql, absl::Duration timeout);
  // One statement with $1.. parameters, sent separately from the SQL (no quoting needed).
  absl::StatusOr<Table> Execute(const std::string& sql, const std::vector<Param>& params,
                                absl::Duration timeout);
  // Prepares `sql` under `name` on this connection (statements live as long as it does).
  absl::Status Prepare(const std::string& name, const std::string& sql, absl::Duration timeout);
  // Runs the statement prepared as `name`.
  absl::StatusOr<Table> ExecutePrepared(const std::string& name, const std::vector<Param>& params,
                                        absl::Duration timeout);

  // True once the connection cannot be used again (lost, or a statement timed out half-way);
  // the owner drops it and opens a new one.
  bool broken() const { return broken_; }
  // True while a transaction is open (or failed and not yet rolled back) on the server.
  bool in_transaction() const;
  // The server process serving this connection.
  int backend_pid() const;

 private:
  Connection(PGconn* conn, std::string password) : conn_(conn), password_(std::move(password)) {}
  // Waits for the results of the statement just sent (`sent` is the PQsend* result).
  absl::StatusOr<Table> Finish(bool sent, absl::Duration timeout);
  // libpq's current error message, cleaned and redacted.
  std::string ErrorMessage() const;
  std::string Clean(const char* message) const;

  PGconn* conn_;
  std::string password_;  // only to redact it from messages
  bool broken_ = false;
};

// `text` as a quoted SQL literal ('it''s'), for the few statements that cannot take parameters
// (SET, CREATE DATABASE).
std::string QuoteLiteral(const std::string& text);
// `name` as a quoted SQL identifier ("my db").
std::string QuoteIdentifier(const std::string& name);

}  // namespace vigil::postgres

#endif  // VIGIL_COMMON_POSTGRES_PG_CONNECTION_H_
