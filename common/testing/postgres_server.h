#ifndef VIGIL_COMMON_TESTING_POSTGRES_SERVER_H_
#define VIGIL_COMMON_TESTING_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/testing/process.h"

// Test-only: a real PostgreSQL 15 server (Debian's postgresql-15) on 127.0.0.1 and a free port,
// with its data directory in a temporary directory. As root, initdb and the server run as the
// `postgres` user (initdb refuses root; setpriv, which execs, so the child is the server), and
// the temporary directory is handed to that user (mkdtemp makes it 0700 root). The server is
// the test's child and dies with it (parent-death signal), so a crashed test leaves none behind.
// Every TCP connection is trusted as any role unless Options::hba_prepend says otherwise.
// Not thread-safe; start and stop it from one thread (connections to it may come from any).

namespace vigil::testing {

class PostgresServer {
 public:
  struct Options {
    // Lines put before pg_hba.conf's (the first match wins), e.g. a role that must give a
    // password: "host all pwuser 127.0.0.1/32 scram-sha-256".
    std::string hba_prepend;
    // Server settings ("name=value"), after the defaults (fsync=off, autovacuum=off,
    // shared_buffers=16MB), which they override.
    std::vector<std::string> settings;
    // When set, the server is a streaming standby of this (running) primary, copied with
    // pg_basebackup -R instead of initdb.
    const PostgresServer* standby_of = nullptr;
  };

  PostgresServer();
  explicit PostgresServer(Options options);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // FailedPrecondition naming what is missing when the PostgreSQL 15 binaries or the postgres
  // user are not there (scripts/install-deps.sh installs postgresql-15).
  static absl::Status Available();

  // Creates the data directory the first time, starts the server and waits until it accepts
  // connections. The error ends with the server log's tail.
  absl::Status Start();
  // Fast shutdown (SIGINT: sessions are disconnected), waiting for the exit. Idempotent.
  void Stop();
  // Stop, then Start on the same port and data.
  absl::Status Restart();
  bool running();

  int port() const { return port_; }
  pid_t pid() const;
  const std::string& data_dir() const { return data_dir_; }
  std::string log() const;

  // A libpq connection string for `dbname` as the superuser `postgres` over TCP.
  std::string ConnectString(const std::string& dbname = "postgres") const;
  // CREATE DATABASE `name` (a fresh, empty database: one per test keeps tests independent).
  absl::Status CreateDatabase(const std::string& name);
  // Runs `sql` as `postgres` in `dbname` on a new connection; the first value of the first
  // row ("" when there is none, "NULL" for SQL NULL).
  absl::StatusOr<std::string> Query(const std::string& sql,
                                    const std::string& dbname = "postgres") const;

 private:
  absl::Status Init();

  const Options options_;
  TempDir dir_;
  const std::string data_dir_;
  const int port_;
  bool initialized_ = false;
  std::unique_ptr<Process> process_;
};

}  // namespace vigil::testing

#endif  // VIGIL_COMMON_TESTING_POSTGRES_SERVER_H_
