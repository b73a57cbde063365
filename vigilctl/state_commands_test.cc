// vigilctl state migrate|status against a real PostgreSQL 15 (started once for this binary, a
// fresh database per test) and the embedded SQLite store.

#include "vigilctl/state_commands.h"

#include <sys/stat.h>

#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/state/postgres_state_store.h"
#include "common/testing/postgres_server.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vigilctl/commands.h"

namespace vigil::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

struct Output {
  int code = -1;
  std::string out, err;
};

// Runs the command line as vigilctl's main does.
Output Vigilctl(const std::vector<std::string>& args) {
  Output o;
  absl::StatusOr<Invocation> inv = ParseArgs(args, "");
  if (!inv.ok()) {
    o.code = kExitUsage;
    o.err = std::string(inv.status().message());
    return o;
  }
  std::istringstream in;
  std::ostringstream out, err;
  o.code = Run(*inv, in, out, err);
  o.out = out.str();
  o.err = err.str();
  return o;
}

class StateCommandsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::PostgresServer();
    setup_ = server_->Start();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(setup_.ok()) << setup_;
    static int counter = 0;
    dbname_ = absl::StrCat("vigilctl_", ++counter);
    ASSERT_TRUE(server_->CreateDatabase(dbname_).ok());
  }

  // A collector config on this test's database.
  std::string PostgresConfig(int port = 0) {
    return dir_.Write("collector.yaml",
                      absl::StrCat("state_dir: state\nstate:\n  backend: postgres\n  postgres:\n"
                                   "    port: ",
                                   port != 0 ? port : server_->port(), "\n    dbname: ", dbname_,
                                   "\n    user: postgres\n    connect_timeout: 2s\n"));
  }
  std::string Location() const { return absl::StrCat("127.0.0.1:", server_->port(), "/", dbname_); }

  static testing::PostgresServer* server_;
  static absl::Status setup_;
  testing::TempDir dir_;
  std::string dbname_;
};

testing::PostgresServer* StateCommandsTest::server_ = nullptr;
absl::Status StateCommandsTest::setup_;

TEST_F(StateCommandsTest, StatusOfANewDatabaseSaysNotCreatedAndChangesNothing) {
  Output o = Vigilctl({"state", "status", "--config", PostgresConfig()});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, absl::StrCat("backend:  postgres\nlocation: ", Location(),
                                "\nschema:   version 0 of 2 (not created yet: the collector "
                                "creates it at start, or run vigilctl state migrate)\n"
                                "lease:    never held\n"));
  EXPECT_EQ(*server_->Query("SELECT to_regclass('schema_version') IS NULL", dbname_), "t");
}

TEST_F(StateCommandsTest, MigrateCreatesTheSchemaOnceAndSaysSo) {
  const std::string config = PostgresConfig();
  Output o = Vigilctl({"state", "migrate", "--config", config});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, absl::StrCat("state database ", Location(),
                                " (postgres): migrated the schema from version 0 to 2\n"));
  o = Vigilctl({"state", "migrate", "--config", config});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, absl::StrCat("state database ", Location(),
                                " (postgres) is at schema version 2, the latest: nothing to "
                                "migrate\n"));
  EXPECT_EQ(*server_->Query("SELECT COUNT(*) FROM schema_version", dbname_), "2");
  o = Vigilctl({"state", "status", "--config", config});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_THAT(o.out, HasSubstr("schema:   version 2 of 2 (up to date)\n"));
}

TEST_F(StateCommandsTest, StatusShowsTheLeaseHolderEpochAndExpiry) {
  collector::PostgresStateConfig c;
  c.port = server_->port();
  c.dbname = dbname_;
  c.user = "postgres";
  auto store = collector::PostgresStateStore::Open(c);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_EQ(*(*store)->Acquire("collector-0", absl::Seconds(30)), 1);
  Output o = Vigilctl({"state", "status", "--config", PostgresConfig()});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_THAT(o.out, MatchesRegex(".*\nlease:    held by collector-0, epoch 1, expires "
                                  "20[0-9-]+T[0-9:.]+Z \\(in [0-9.]+s\\)\n"));
  ASSERT_TRUE((*store)->Release("collector-0", 1).ok());
  o = Vigilctl({"state", "status", "--config", PostgresConfig()});
  EXPECT_THAT(o.out, MatchesRegex(".*\nlease:    lapsed, last held by collector-0, epoch 1, "
                                  "expired .* ago\\)\n"));
}

TEST_F(StateCommandsTest, UnreachableServerFailsNamingIt) {
  const int port = testing::FreePort();
  Output o = Vigilctl({"state", "status", "--config", PostgresConfig(port)});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_THAT(o.err, HasSubstr(absl::StrCat("vigilctl: state database 127.0.0.1:", port, "/",
                                            dbname_, ": ")));
  o = Vigilctl({"state", "migrate", "--config", PostgresConfig(port)});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_THAT(o.err, HasSubstr("Connection refused"));
}

TEST_F(StateCommandsTest, SqliteMigrateCreatesStateDbInTheStateDirectory) {
  ASSERT_EQ(::mkdir(dir_.Join("state").c_str(), 0700), 0);
  const std::string config = dir_.Write("collector.yaml", "state_dir: state\n");
  const std::string db = dir_.Join("state/state.db");
  Output o = Vigilctl({"state", "status", "--config", config});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_THAT(o.out, HasSubstr("schema:   version 0 of 2 (not created yet"));
  o = Vigilctl({"state", "migrate", "--config", config});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, absl::StrCat("state database ", db,
                                " (sqlite): migrated the schema from version 0 "
                                "to 2\n"));
  o = Vigilctl({"state", "status", "--config", config});
  EXPECT_EQ(o.out, absl::StrCat("backend:  sqlite\nlocation: ", db,
                                "\nschema:   version 2 of 2 (up to date)\nlease:    never held\n"));
}

TEST_F(StateCommandsTest, BadConfigFailsWithItsProblems) {
  const std::string config = dir_.Write("collector.yaml", "state:\n  backend: mysql\n");
  Output o = Vigilctl({"state", "migrate", "--config", config});
  EXPECT_EQ(o.code, kExitFailure);
  EXPECT_EQ(o.err, absl::StrCat("vigilctl: ", config,
                                ":2:12: state.backend: must be sqlite or postgres, got 'mysql'\n"));
}

TEST(StateCommandsArgs, ConfigIsRequiredAndOnlyForStateCommands) {
  EXPECT_EQ(ParseArgs({"state", "status"}, "").status().message(),
            "state status: give --config FILE (the collector's config)");
  EXPECT_EQ(ParseArgs({"state", "rollback", "--config", "c.yaml"}, "").status().message(),
            "state: use 'state migrate|status --config FILE'");
  EXPECT_EQ(ParseArgs({"alarms", "--config", "c.yaml"}, "").status().message(),
            "--config only applies to the state commands");
  absl::StatusOr<Invocation> inv = ParseArgs({"state", "migrate", "--config=c.yaml"}, "");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, Invocation::Command::kStateMigrate);
  EXPECT_EQ(inv->collector_config, "c.yaml");
}

TEST(FormatStateReport, SchemaBehindOrAheadSaysWhatToDo) {
  collector::StateReport r;
  r.schema = {"sqlite", "/var/lib/vigil-collector/state.db", 1, 2};
  EXPECT_THAT(FormatStateReport(r, 0),
              HasSubstr("schema:   version 1 of 2 (run vigilctl state migrate, or start the "
                        "collector)\n"));
  r.schema.version = 3;
  EXPECT_THAT(FormatStateReport(r, 0),
              HasSubstr("schema:   version 3 of 2 (newer than this vigilctl knows)\n"));
  r.lease = {"a", 4, 10000};
  EXPECT_THAT(FormatStateReport(r, 7500),
              HasSubstr("lease:    held by a, epoch 4, expires 1970-01-01T00:00:10Z (in 2.5s)\n"));
}

}  // namespace
}  // namespace vigil::ctl
