#include "common/postgres/pg_connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace vigil::postgres {
namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

enum class WaitResult { kReady, kTimeout, kError };

// Waits until `fd` has one of `events` or `deadline` passes. *revents gets what happened.
WaitResult WaitSocket(int fd, short events, absl::Time deadline, short* revents) {
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return WaitResult::kTimeout;
    pollfd p{fd, events, 0};
    // Rounded up, so a wait of 0.3 ms does not spin with a 0 ms timeout.
    int ms = static_cast<int>(absl::ToInt64Milliseconds(left + absl::Microseconds(999)));
    int n = ::poll(&p, 1, ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return WaitResult::kError;
    }
    if (n == 0) continue;  // re-checks the deadline
    *revents = p.revents;
    return WaitResult::kReady;
  }
}

absl::Status StatusForSqlState(const std::string& sqlstate, std::string message) {
  auto in_class = [&](const char* prefix) { return sqlstate.rfind(prefix, 0) == 0; };
  if (sqlstate == "57014") return absl::DeadlineExceededError(message);
  if (sqlstate == "42501") return absl::PermissionDeniedError(message);
  // Class 08 (connection exception), 57P01..57P03 (shutdown, cannot connect now).
  if (in_class("08") || in_class("57P")) return absl::UnavailableError(message);
  // Integrity constraint violations and data exceptions: the statement's input was refused.
  if (in_class("23") || in_class("22")) return absl::InvalidArgumentError(message);
  // Insufficient resources: disk full, out of memory, too many connections.
  if (in_class("53")) return absl::ResourceExhaustedError(message);
  if (sqlstate == "40001" || sqlstate == "40P01") return absl::AbortedError(message);
  return absl::UnknownError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const Params& params,
                                                             absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<const char*> keys, values;
  std::string password;
  for (const auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
    if (k == "password") password = v;
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* raw = PQconnectStartParams(keys.data(), values.data(), /*expand_dbname=*/0);
  if (raw == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  std::unique_ptr<Connection> conn(new Connection(raw, std::move(password)));
  if (PQstatus(raw) == CONNECTION_BAD) return absl::UnavailableError(conn->ErrorMessage());

  // As libpq documents: behave as if the last PQconnectPoll returned PGRES_POLLING_WRITING.
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) return absl::UnavailableError(conn->ErrorMessage());
    int fd = PQsocket(raw);  // may change between calls (several hosts or addresses)
    if (fd < 0) return absl::UnavailableError(conn->ErrorMessage());
    short revents = 0;
    WaitResult w =
        WaitSocket(fd, state == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, &revents);
    if (w == WaitResult::kTimeout) {
      return absl::DeadlineExceededError(
          absl::StrCat("connection not established within ", absl::FormatDuration(timeout),
                       " (the server accepted no connection or did not answer the startup)"));
    }
    if (w == WaitResult::kError) {
      return absl::UnavailableError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    state = PQconnectPoll(raw);
  }
  if (PQsetnonblocking(raw, 1) != 0) return absl::UnavailableError(conn->ErrorMessage());
  return conn;
}

Connection::~Connection() { PQfinish(conn_); }

int Connection::backend_pid() const { return PQbackendPID(conn_); }

std::string Connection::Clean(const char* message) const {
  std::string s = message != nullptr ? message : "";
  if (!password_.empty()) s = absl::StrReplaceAll(s, {{password_, "***"}});
  // libpq ends lines with "\n" (one line per attempted address, server message, detail, ...)
  // and indents the continuation of a sentence with a tab: lines are joined with "; ",
  // continuations with a space, and runs of blanks ("FATAL:  ...") shrink to one space.
  std::string out;
  for (absl::string_view line : absl::StrSplit(s, '\n', absl::SkipWhitespace())) {
    if (!out.empty()) out += (line[0] == ' ' || line[0] == '\t') ? " " : "; ";
    bool blank = false;
    for (char c : absl::StripAsciiWhitespace(line)) {
      const bool is_blank = c == ' ' || c == '\t' || c == '\r';
      if (is_blank && blank) continue;
      out.push_back(is_blank ? ' ' : c);
      blank = is_blank;
    }
  }
  return out.empty() ? "unknown libpq error" : out;
}

std::string Connection::ErrorMessage() const { return Clean(PQerrorMessage(conn_)); }

std::string QuoteLiteral(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out.push_back(c);
    if (c == '\'') out.push_back('\'');
  }
  // standard_conforming_strings is on (the default since 9.1): backslashes are literal.
  out.push_back('\'');
  return out;
}

std::string QuoteIdentifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  out.push_back('"');
  return out;
}

absl::StatusOr<Table> Connection::Query(const std::string& sql, absl::Duration timeout) {
  if (broken_) return absl::FailedPreconditionError("connection is broken");
  return Finish(PQsendQuery(conn_, sql.c_str()) != 0, timeout);
}

namespace {

// libpq's view of parameters: pointers into `params`, which must outlive the call.
std::vector<const char*> ParamValues(const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(p.has_value() ? p->c_str() : nullptr);
  return values;
}

}  // namespace

absl::StatusOr<Table> Connection::Execute(const std::string& sql, const std::vector<Param>& params,
                                          absl::Duration timeout) {
  if (broken_) return absl::FailedPreconditionError("connection is broken");
  std::vector<const char*> values = ParamValues(params);
  return Finish(PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                  values.data(), nullptr, nullptr, /*resultFormat=*/0) != 0,
                timeout);
}

absl::Status Connection::Prepare(const std::string& name, const std::string& sql,
                                 absl::Duration timeout) {
  if (broken_) return absl::FailedPreconditionError("connection is broken");
  return Finish(PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) != 0, timeout).status();
}

absl::StatusOr<Table> Connection::ExecutePrepared(const std::string& name,
                                                  const std::vector<Param>& params,
                                                  absl::Duration timeout) {
  if (broken_) return absl::FailedPreconditionError("connection is broken");
  std::vector<const char*> values = ParamValues(params);
  return Finish(PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(params.size()),
                                    values.data(), nullptr, nullptr, /*resultFormat=*/0) != 0,
                timeout);
}

bool Connection::in_transaction() const {
  PGTransactionStatusType s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

absl::StatusOr<Table> Connection::Finish(bool sent, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto timed_out = [&] {
    broken_ = true;
    return absl::DeadlineExceededError(
        absl::StrCat("no answer to a query within ", absl::FormatDuration(timeout)));
  };
  auto lost = [&] {
    broken_ = true;
    return absl::UnavailableError(ErrorMessage());
  };

  if (!sent) return lost();
  for (;;) {
    int r = PQflush(conn_);
    if (r == 0) break;
    if (r < 0) return lost();
    short revents = 0;
    WaitResult w = WaitSocket(PQsocket(conn_), POLLIN | POLLOUT, deadline, &revents);
    if (w == WaitResult::kTimeout) return timed_out();
    if (w == WaitResult::kError) return lost();
    if ((revents & POLLIN) != 0 && PQconsumeInput(conn_) == 0) return lost();
  }

  ResultPtr rows;
  absl::Status error;
  for (;;) {
    while (PQisBusy(conn_) != 0) {
      short revents = 0;
      WaitResult w = WaitSocket(PQsocket(conn_), POLLIN, deadline, &revents);
      if (w == WaitResult::kTimeout) return timed_out();
      if (w == WaitResult::kError || PQconsumeInput(conn_) == 0) return lost();
    }
    ResultPtr result(PQgetResult(conn_));
    if (result == nullptr) break;
    ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
      if (rows == nullptr) rows = std::move(result);
    } else if (error.ok()) {
      const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      std::string state = sqlstate != nullptr ? sqlstate : "";
      std::string message = Clean(PQresultErrorMessage(result.get()));
      error = StatusForSqlState(
          state, state.empty() ? message : absl::StrCat(message, " (SQLSTATE ", state, ")"));
    }
  }
  if (PQstatus(conn_) != CONNECTION_OK) broken_ = true;
  if (!error.ok()) return error;
  if (rows == nullptr) {
    broken_ = true;
    return absl::UnavailableError(absl::StrCat("no result: ", ErrorMessage()));
  }

  Table table;
  const int ncols = PQnfields(rows.get());
  const int nrows = PQntuples(rows.get());
  for (int c = 0; c < ncols; ++c) table.columns.emplace_back(PQfname(rows.get(), c));
  table.rows.reserve(static_cast<size_t>(nrows));
  for (int r = 0; r < nrows; ++r) {
    std::vector<std::optional<std::string>> row;
    row.reserve(static_cast<size_t>(ncols));
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(rows.get(), r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(rows.get(), r, c),
                                     static_cast<size_t>(PQgetlength(rows.get(), r, c))));
      }
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

}  // namespace vigil::postgres
