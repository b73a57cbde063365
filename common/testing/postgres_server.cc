#include "common/testing/postgres_server.h"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/postgres/pg_connection.h"

namespace vigil::testing {
namespace {

const char kPgBin[] = "/usr/lib/postgresql/15/bin";
// Generous: a loaded 2-core machine runs several servers' startups at once.
constexpr absl::Duration kStartTimeout = absl::Seconds(60);

std::string Tool(const char* name) { return absl::StrCat(kPgBin, "/", name); }

// Runs `argv` as the postgres user when we are root (initdb refuses root).
std::vector<std::string> AsPostgres(std::vector<std::string> argv) {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> out = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
                                  "--init-groups",    "--pdeathsig=KILL", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::string Tail(const std::string& text) {
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

// Runs a command to completion; the error has the end of its output.
absl::Status Run(std::vector<std::string> argv, const std::string& log) {
  const std::string what = argv[0];
  Process p(AsPostgres(std::move(argv)), log, log);
  int code = p.Wait(absl::Seconds(120));
  if (code == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, " exited with ", code, ":\n", Tail(ReadFile(log))));
}

}  // namespace

PostgresServer::PostgresServer() : PostgresServer(Options()) {}

PostgresServer::PostgresServer(Options options)
    : options_(std::move(options)), data_dir_(dir_.Join("data")), port_(FreePort()) {}

PostgresServer::~PostgresServer() { Stop(); }

absl::Status PostgresServer::Available() {
  for (const char* tool : {"postgres", "initdb", "pg_basebackup"}) {
    if (::access(Tool(tool).c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(Tool(tool),
                       " is missing: the PostgreSQL 15 server is required for these tests "
                       "(scripts/install-deps.sh installs postgresql-15)"));
    }
  }
  if (::geteuid() == 0 && ::getpwnam("postgres") == nullptr) {
    return absl::FailedPreconditionError(
        "no user 'postgres' (the postgresql-15 package creates it)");
  }
  return absl::OkStatus();
}

absl::Status PostgresServer::Init() {
  if (absl::Status s = Available(); !s.ok()) return s;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (::chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError(absl::StrCat("cannot chown ", dir_.path(), " to postgres"));
    }
  }
  if (options_.standby_of != nullptr) {
    // A fast checkpoint: the default spread one paces its writes over minutes.
    return Run({Tool("pg_basebackup"), "-h", "127.0.0.1", "-p",
                std::to_string(options_.standby_of->port()), "-U", "postgres", "-D", data_dir_,
                "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"},
               dir_.Join("basebackup.log"));
  }
  if (absl::Status s =
          Run({Tool("initdb"), "-D", data_dir_, "-A", "trust", "-U", "postgres", "--no-sync"},
              dir_.Join("initdb.log"));
      !s.ok()) {
    return s;
  }
  if (!options_.hba_prepend.empty()) {
    const std::string hba = data_dir_ + "/pg_hba.conf";
    WriteFile(hba, absl::StrCat(options_.hba_prepend, "\n", ReadFile(hba)));
  }
  return absl::OkStatus();
}

absl::Status PostgresServer::Start() {
  if (!initialized_) {
    if (absl::Status s = Init(); !s.ok()) return s;
    initialized_ = true;
  }
  std::vector<std::string> argv = {Tool("postgres"),
                                   "-D",
                                   data_dir_,
                                   "-p",
                                   std::to_string(port_),
                                   "-k",
                                   dir_.path(),
                                   "-c",
                                   "listen_addresses=127.0.0.1",
                                   "-c",
                                   "fsync=off",
                                   "-c",
                                   "autovacuum=off",
                                   "-c",
                                   "shared_buffers=16MB"};
  for (const std::string& setting : options_.settings) {
    argv.push_back("-c");
    argv.push_back(setting);
  }
  const std::string log_path = dir_.Join("postgres.log");
  process_ = std::make_unique<Process>(AsPostgres(argv), log_path, log_path);
  bool ready = WaitFor(
      [&] {
        return !process_->running() || postgres::Connection::Open({{"host", "127.0.0.1"},
                                                                   {"port", std::to_string(port_)},
                                                                   {"user", "postgres"},
                                                                   {"dbname", "postgres"}},
                                                                  absl::Seconds(2))
                                           .ok();
      },
      kStartTimeout);
  if (!ready || !process_->running()) {
    return absl::InternalError(
        absl::StrCat("postgres on port ", port_, " did not start:\n", Tail(log())));
  }
  return absl::OkStatus();
}

void PostgresServer::Stop() {
  if (process_ != nullptr) process_->Stop(SIGINT, absl::Seconds(30));
  process_.reset();
}

absl::Status PostgresServer::Restart() {
  Stop();
  return Start();
}

bool PostgresServer::running() { return process_ != nullptr && process_->running(); }

pid_t PostgresServer::pid() const { return process_ != nullptr ? process_->pid() : -1; }

std::string PostgresServer::log() const { return ReadFile(dir_.Join("postgres.log")); }

std::string PostgresServer::ConnectString(const std::string& dbname) const {
  return absl::StrCat("host=127.0.0.1 port=", port_, " user=postgres dbname=", dbname);
}

absl::Status PostgresServer::CreateDatabase(const std::string& name) {
  return Query(absl::StrCat("CREATE DATABASE ", postgres::QuoteIdentifier(name))).status();
}

absl::StatusOr<std::string> PostgresServer::Query(const std::string& sql,
                                                  const std::string& dbname) const {
  absl::StatusOr<std::unique_ptr<postgres::Connection>> conn =
      postgres::Connection::Open({{"host", "127.0.0.1"},
                                  {"port", std::to_string(port_)},
                                  {"user", "postgres"},
                                  {"dbname", dbname},
                                  {"application_name", "vigil-test-admin"}},
                                 absl::Seconds(10));
  if (!conn.ok()) return conn.status();
  absl::StatusOr<postgres::Table> table = (*conn)->Query(sql, absl::Seconds(60));
  if (!table.ok()) {
    return absl::Status(table.status().code(), absl::StrCat(sql, ": ", table.status().message()));
  }
  if (table->rows.empty() || table->rows[0].empty()) return std::string();
  const std::optional<std::string>& value = table->rows[0][0];
  return value.has_value() ? *value : std::string("NULL");
}

}  // namespace vigil::testing
