#include "agent/checks/postgres/pg_stats.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::pg {
namespace {

using ::testing::HasSubstr;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/postgres/testdata";

// Reads `psql --csv -P null='\N'` output (see testdata/README.md): a header line, then rows;
// fields may be quoted with "" escapes; an unquoted \N is NULL. A short last line stays short,
// which is how the tests build a truncated result.
Table TableFromCsv(const std::string& text) {
  Table t;
  std::vector<std::optional<std::string>> row;
  std::string field;
  bool quoted = false, was_quoted = false, any = false;
  auto end_field = [&] {
    if (!was_quoted && field == "\\N") {
      row.emplace_back(std::nullopt);
    } else {
      row.emplace_back(field);
    }
    field.clear();
    was_quoted = false;
  };
  auto end_row = [&] {
    end_field();
    if (t.columns.empty()) {
      for (auto& v : row) t.columns.push_back(v.value_or(""));
    } else {
      t.rows.push_back(row);
    }
    row.clear();
    any = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
      continue;
    }
    any = true;
    if (c == '"') {
      quoted = was_quoted = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n') {
      end_row();
    } else {
      field.push_back(c);
    }
  }
  if (any) end_row();
  return t;
}

Table Load(const std::string& name) {
  std::ifstream in(kTestData + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return TableFromCsv(ss.str());
}

TEST(PgTableFromCsv, ReadsNullsAndQuotes) {
  Table t = TableFromCsv("a,b,c\n\\N,\"x,\"\"y\"\"\",\n");
  ASSERT_EQ(t.columns, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][0], std::nullopt);
  EXPECT_EQ(t.rows[0][1], "x,\"y\"");
  EXPECT_EQ(t.rows[0][2], "");
}

TEST(PgServerInfo, ReadsPrimaryAndStandby) {
  absl::StatusOr<ServerInfo> primary = ParseServerInfo(Load("server_info_primary.csv"));
  ASSERT_TRUE(primary.ok()) << primary.status();
  EXPECT_FALSE(primary->in_recovery);
  EXPECT_EQ(primary->max_connections, 100);
  absl::StatusOr<ServerInfo> standby = ParseServerInfo(Load("server_info_standby.csv"));
  ASSERT_TRUE(standby.ok()) << standby.status();
  EXPECT_TRUE(standby->in_recovery);
}

TEST(PgServerInfo, MalformedResultsAreErrorsNamingWhatAndWhere) {
  struct Case {
    const char* csv;
    const char* error;
  } cases[] = {
      {"in_recovery\n0\n", "server info: missing column max_connections"},
      {"in_recovery,max_connections\n0,1x0\n",
       "server info: row 1, column max_connections: '1x0' is not an integer"},
      {"in_recovery,max_connections\n2,100\n",
       "server info: row 1, column in_recovery: '2' is not 0 or 1"},
      {"in_recovery,max_connections\n\\N,100\n",
       "server info: row 1, column in_recovery: unexpected NULL"},
      {"in_recovery,max_connections\n", "server info: expected 1 row, got 0"},
      {"in_recovery,max_connections\n0\n", "server info: row 1 has 1 values for 2 columns"},
      {"", "server info: missing column in_recovery"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ServerInfo> info = ParseServerInfo(TableFromCsv(c.csv));
    ASSERT_FALSE(info.ok()) << c.csv;
    EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(info.status().message(), c.error) << c.csv;
  }
}

TEST(PgConnectionStates, CountsEveryStateOfTheRecordedServer) {
  absl::StatusOr<std::map<std::string, int64_t>> states =
      ParseConnectionStates(Load("connections.csv"));
  ASSERT_TRUE(states.ok()) << states.status();
  EXPECT_EQ(*states, (std::map<std::string, int64_t>{{"active", 1},
                                                     {"idle", 2},
                                                     {"idle in transaction", 1},
                                                     {"idle in transaction (aborted)", 1}}));
}

TEST(PgConnectionStates, NullStateIsUnknownAndBadCountsFail) {
  absl::StatusOr<std::map<std::string, int64_t>> states =
      ParseConnectionStates(TableFromCsv("state,connections\n\\N,3\nidle,2\n"));
  ASSERT_TRUE(states.ok()) << states.status();
  EXPECT_EQ((*states)["unknown"], 3);
  EXPECT_EQ((*states)["idle"], 2);

  states = ParseConnectionStates(TableFromCsv("state,connections\nidle,two\n"));
  ASSERT_FALSE(states.ok());
  EXPECT_EQ(states.status().message(),
            "pg_stat_activity: row 1, column connections: 'two' is not an integer");
  states = ParseConnectionStates(TableFromCsv("state\nidle\n"));
  ASSERT_FALSE(states.ok());
  EXPECT_EQ(states.status().message(), "pg_stat_activity: missing column connections");
}

TEST(PgDatabaseStats, ReadsCountersResetTimeAndSizes) {
  absl::StatusOr<std::vector<DatabaseStat>> dbs = ParseDatabaseStats(Load("databases.csv"));
  ASSERT_TRUE(dbs.ok()) << dbs.status();
  ASSERT_EQ(dbs->size(), 2u);
  const DatabaseStat& postgres = (*dbs)[0];
  EXPECT_EQ(postgres.name, "postgres");
  EXPECT_EQ(postgres.xact_commit, 33);
  EXPECT_EQ(postgres.xact_rollback, 2);
  EXPECT_EQ(postgres.deadlocks, 0);
  EXPECT_EQ(postgres.stats_reset, "2026-11-22 04:49:52.855556+00");
  EXPECT_EQ(postgres.size_bytes, 24690023);
  EXPECT_EQ((*dbs)[1].name, "app");
  EXPECT_EQ((*dbs)[1].stats_reset, "");
  EXPECT_EQ((*dbs)[1].size_bytes, 7708007);
}

TEST(PgDatabaseStats, SizeIsAbsentWhereTheRoleMayNotConnect) {
  absl::StatusOr<std::vector<DatabaseStat>> dbs =
      ParseDatabaseStats(Load("databases_unprivileged.csv"));
  ASSERT_TRUE(dbs.ok()) << dbs.status();
  ASSERT_EQ(dbs->size(), 2u);
  EXPECT_EQ((*dbs)[0].size_bytes, 17628519);
  EXPECT_EQ((*dbs)[1].name, "app");
  EXPECT_EQ((*dbs)[1].size_bytes, std::nullopt);
}

TEST(PgDatabaseStats, TruncatedAndMalformedRowsFail) {
  const std::string header =
      "database,xact_commit,xact_rollback,deadlocks,stats_reset,size_bytes\n";
  absl::StatusOr<std::vector<DatabaseStat>> dbs =
      ParseDatabaseStats(TableFromCsv(header + "postgres,1,0,0,,10\napp,4,0"));
  ASSERT_FALSE(dbs.ok());
  EXPECT_EQ(dbs.status().message(), "pg_stat_database: row 2 has 3 values for 6 columns");
  dbs = ParseDatabaseStats(TableFromCsv(header + "postgres,1,-,0,,10\n"));
  ASSERT_FALSE(dbs.ok());
  EXPECT_EQ(dbs.status().message(),
            "pg_stat_database: row 1, column xact_rollback: '-' is not an integer");
  dbs = ParseDatabaseStats(TableFromCsv(header + "\\N,1,0,0,,10\n"));
  ASSERT_FALSE(dbs.ok());
  EXPECT_EQ(dbs.status().message(), "pg_stat_database: row 1, column database: unexpected NULL");
  dbs = ParseDatabaseStats(TableFromCsv("database,xact_commit\npostgres,1\n"));
  ASSERT_FALSE(dbs.ok());
  EXPECT_THAT(dbs.status().message(), HasSubstr("missing column xact_rollback"));
}

DatabaseStat Db(std::string name, int64_t commit, int64_t rollback, int64_t deadlocks,
                std::string reset = "") {
  DatabaseStat d;
  d.name = std::move(name);
  d.xact_commit = commit;
  d.xact_rollback = rollback;
  d.deadlocks = deadlocks;
  d.stats_reset = std::move(reset);
  return d;
}

TEST(PgDatabaseCounterDeltas, SumsIncreasesOverDatabasesInBothSnapshots) {
  std::optional<DatabaseCounterDelta> d =
      DatabaseCounterDeltas({Db("a", 10, 1, 0), Db("b", 100, 5, 1), Db("dropped", 7, 7, 7)},
                            {Db("a", 15, 1, 0), Db("b", 130, 8, 2), Db("new", 50, 50, 50)});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->xact_commit, 35);
  EXPECT_EQ(d->xact_rollback, 3);
  EXPECT_EQ(d->deadlocks, 1);
}

TEST(PgDatabaseCounterDeltas, ResetGivesNoDelta) {
  // A counter went down (pg_stat_reset, or a crash that lost the statistics).
  EXPECT_FALSE(DatabaseCounterDeltas({Db("a", 10, 1, 0), Db("b", 100, 5, 1)},
                                     {Db("a", 15, 1, 0), Db("b", 3, 0, 0)})
                   .has_value());
  // Reset, then more transactions than before: only stats_reset shows it.
  EXPECT_FALSE(
      DatabaseCounterDeltas({Db("a", 10, 1, 0, "")}, {Db("a", 500, 1, 0, "2026-11-22 04:49:52+00")})
          .has_value());
}

TEST(PgReplication, IdleStandbyHasZeroLag) {
  absl::StatusOr<std::vector<StandbyStat>> r = ParseReplication(Load("replication_idle.csv"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  const StandbyStat& s = (*r)[0];
  EXPECT_EQ(s.name, "walreceiver");
  EXPECT_EQ(s.state, "streaming");
  EXPECT_EQ(s.replay_lag_bytes, 0);
  EXPECT_EQ(s.write_lag_bytes, 0);
  EXPECT_EQ(s.flush_lag_bytes, 0);
  // NULL lag times (caught up, nothing new) read 0.
  EXPECT_EQ(s.replay_lag_seconds, 0);
  EXPECT_EQ(s.write_lag_seconds, 0);
  EXPECT_EQ(s.flush_lag_seconds, 0);
}

TEST(PgReplication, PausedStandbyLagsInReplayOnly) {
  absl::StatusOr<std::vector<StandbyStat>> r = ParseReplication(Load("replication_paused.csv"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  const StandbyStat& s = (*r)[0];
  EXPECT_EQ(s.replay_lag_bytes, 8023552);
  EXPECT_EQ(s.write_lag_bytes, 0);
  EXPECT_EQ(s.flush_lag_bytes, 0);
  EXPECT_DOUBLE_EQ(s.replay_lag_seconds, 2.064830);
  EXPECT_DOUBLE_EQ(s.write_lag_seconds, 0.051161);
  EXPECT_DOUBLE_EQ(s.flush_lag_seconds, 0.058125);
}

TEST(PgReplication, RoleWithoutPgMonitorSeesTheStandbyButNoPositions) {
  absl::StatusOr<std::vector<StandbyStat>> r =
      ParseReplication(Load("replication_unprivileged.csv"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].name, "walreceiver");
  EXPECT_EQ((*r)[0].replay_lag_bytes, std::nullopt);
  EXPECT_EQ((*r)[0].flush_lag_bytes, std::nullopt);
}

TEST(PgReplication, NamesFallBackToAddressThenPidAndDuplicatesAreQualified) {
  const std::string header =
      "pid,application_name,client_addr,state,replay_lag_bytes,write_lag_bytes,"
      "flush_lag_bytes,replay_lag_seconds,write_lag_seconds,flush_lag_seconds\n";
  absl::StatusOr<std::vector<StandbyStat>> r = ParseReplication(
      TableFromCsv(header + "11,,10.0.0.7,streaming,0,0,0,\\N,\\N,\\N\n"
                            "12,,\\N,streaming,0,0,0,\\N,\\N,\\N\n"
                            "13,replica,10.0.0.8,streaming,5,0,0,\\N,\\N,\\N\n"
                            "14,replica,10.0.0.9,catchup,-3,0,0,0.5,\\N,\\N\n"
                            "15,pg_basebackup,10.0.0.10,backup,\\N,\\N,\\N,\\N,\\N,\\N\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 4u);  // the base backup is not a standby
  EXPECT_EQ((*r)[0].name, "10.0.0.7");
  EXPECT_EQ((*r)[1].name, "pid 12");
  EXPECT_EQ((*r)[2].name, "replica@10.0.0.8");
  EXPECT_EQ((*r)[3].name, "replica@10.0.0.9");
  EXPECT_EQ((*r)[3].replay_lag_bytes, 0);  // never negative
  EXPECT_EQ((*r)[3].replay_lag_seconds, 0.5);
}

TEST(PgReplication, MalformedAndTruncatedRowsFail) {
  const std::string header =
      "pid,application_name,client_addr,state,replay_lag_bytes,write_lag_bytes,"
      "flush_lag_bytes,replay_lag_seconds,write_lag_seconds,flush_lag_seconds\n";
  absl::StatusOr<std::vector<StandbyStat>> r =
      ParseReplication(TableFromCsv(header + "11,a,\\N,streaming,NaN,0,0,\\N,\\N,\\N\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "pg_stat_replication: row 1, column replay_lag_bytes: 'NaN' is not a finite number");
  r = ParseReplication(TableFromCsv(header + "11,a,\\N,streaming,0,0,0,1.5s,\\N,\\N\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("column replay_lag_seconds: '1.5s'"));
  r = ParseReplication(TableFromCsv(header + "11,a,\\N,stream"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "pg_stat_replication: row 1 has 4 values for 10 columns");
  r = ParseReplication(TableFromCsv("pid,application_name\n1,a\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "pg_stat_replication: missing column client_addr");
}

TEST(PgStandbyStatus, IdleStandbyStreamsWithZeroLag) {
  absl::StatusOr<StandbyStatus> s = ParseStandbyStatus(Load("standby_idle.csv"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->receiver_streaming);
  EXPECT_FALSE(s->replay_paused);
  EXPECT_EQ(s->lag_seconds, 0);
}

TEST(PgStandbyStatus, PausedStandbyLags) {
  absl::StatusOr<StandbyStatus> s = ParseStandbyStatus(Load("standby_paused.csv"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->receiver_streaming);
  EXPECT_TRUE(s->replay_paused);
  EXPECT_EQ(s->lag_seconds, 3.916913);
}

TEST(PgStandbyStatus, HiddenReceiverStatusIsNotStreaming) {
  absl::StatusOr<StandbyStatus> s = ParseStandbyStatus(Load("standby_unprivileged.csv"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->receiver_streaming);
  EXPECT_TRUE(s->replay_paused);
}

TEST(PgStandbyStatus, NoReplayedTransactionYetLeavesLagAbsent) {
  absl::StatusOr<StandbyStatus> s =
      ParseStandbyStatus(TableFromCsv("replay_paused,lag_seconds,receiver_status\n0,\\N,\\N\n"));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->lag_seconds, std::nullopt);
  EXPECT_FALSE(s->receiver_streaming);  // no WAL receiver running: no row, NULL status
}

TEST(PgStandbyStatus, MalformedResultsFail) {
  const std::string header = "replay_paused,lag_seconds,receiver_status\n";
  absl::StatusOr<StandbyStatus> s = ParseStandbyStatus(TableFromCsv(header + "t,0,streaming\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "standby status: row 1, column replay_paused: 't' is not an integer");
  s = ParseStandbyStatus(TableFromCsv(header + "0,0,streaming\n0,0,streaming\n"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "standby status: expected 1 row, got 2");
  s = ParseStandbyStatus(TableFromCsv(header + "0,"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "standby status: row 1 has 2 values for 3 columns");
}

}  // namespace
}  // namespace vigil::agent::pg
