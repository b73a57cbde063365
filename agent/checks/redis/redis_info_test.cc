#include "agent/checks/redis/redis_info.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_replace.h"
#include "agent/checks/check_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::redis {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/redis/testdata";
const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
constexpr char kSource[] = "redis 127.0.0.1:6379";

// INFO replies recorded from Redis 7.0.15 (Debian 12): a master with one replica, that
// replica, and the same replica 1.5 s later, after the master was stopped.
std::string Recorded(const std::string& name) {
  std::ifstream in(kTestData + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RedisStats StatsOf(const std::string& text) {
  absl::StatusOr<InfoReply> info = ParseInfo(text, kSource);
  EXPECT_TRUE(info.ok()) << info.status();
  if (!info.ok()) return {};
  absl::StatusOr<RedisStats> stats = ExtractStats(*info, kSource);
  EXPECT_TRUE(stats.ok()) << stats.status();
  return stats.ok() ? *stats : RedisStats{};
}

absl::Status ErrorOf(const std::string& text) {
  absl::StatusOr<InfoReply> info = ParseInfo(text, kSource);
  if (!info.ok()) return info.status();
  return ExtractStats(*info, kSource).status();
}

// Replaces the value of `field` in an INFO reply.
std::string WithField(const std::string& text, const std::string& field, const std::string& from,
                      const std::string& to) {
  return absl::StrReplaceAll(text, {{field + ":" + from + "\r\n", field + ":" + to + "\r\n"}});
}

TEST(RedisParseInfo, RecordedMasterHasSectionsAndFields) {
  std::string text = Recorded("info_master.txt");
  ASSERT_NE(text.find("\r\n"), std::string::npos) << "testdata must keep Redis's CRLF line ends";
  absl::StatusOr<InfoReply> info = ParseInfo(text, kSource);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->sections,
              ElementsAre("Server", "Clients", "Memory", "Persistence", "Stats", "Replication",
                          "CPU", "Modules", "Errorstats", "Cluster", "Keyspace"));
  EXPECT_EQ(info->fields.at("redis_version"), "7.0.15");
  EXPECT_EQ(info->fields.at("role"), "master");
  // Values keep everything after the first colon and lose the \r.
  EXPECT_EQ(info->fields.at("slave0"), "ip=127.0.0.1,port=26380,state=online,offset=127,lag=0");
}

TEST(RedisExtractStats, RecordedMaster) {
  RedisStats s = StatsOf(Recorded("info_master.txt"));
  EXPECT_EQ(s.run_id, "e267133321cada23b46746c93e0f24132e12c6b7");
  EXPECT_EQ(s.uptime_seconds, 3);
  EXPECT_EQ(s.server_time_usec, 1795322602797600);
  EXPECT_DOUBLE_EQ(s.cpu_seconds, 0.002402 + 0.010410);
  EXPECT_EQ(s.connected_clients, 1);
  EXPECT_EQ(s.used_memory_bytes, 1083872);
  EXPECT_EQ(s.used_memory_rss_bytes, 12206080);
  EXPECT_DOUBLE_EQ(s.fragmentation_ratio, 11.70);
  EXPECT_EQ(s.maxmemory_bytes, 0);
  EXPECT_EQ(s.total_commands_processed, 11u);
  EXPECT_EQ(s.expired_keys, 1u);
  EXPECT_EQ(s.evicted_keys, 0u);
  EXPECT_EQ(s.keyspace_hits, 1u);
  EXPECT_EQ(s.keyspace_misses, 1u);
  EXPECT_TRUE(s.is_master);
  EXPECT_EQ(s.connected_replicas, 1);
  EXPECT_EQ(s.master_repl_offset, 127);
  ASSERT_EQ(s.replicas.size(), 1u);
  EXPECT_EQ(s.replicas[0].address, "127.0.0.1:26380");
  EXPECT_EQ(s.replicas[0].state, "online");
  EXPECT_EQ(s.replicas[0].offset, 127);
  EXPECT_EQ(s.replicas[0].last_ack_seconds, 0);
  EXPECT_FALSE(s.master_link_up.has_value());
  ASSERT_EQ(s.databases.count("db0"), 1u);
  EXPECT_EQ(s.databases.at("db0").keys, 1);
  EXPECT_EQ(s.databases.at("db0").expires, 0);
}

TEST(RedisExtractStats, RecordedReplicaWithLinkUp) {
  RedisStats s = StatsOf(Recorded("info_replica.txt"));
  EXPECT_FALSE(s.is_master);
  EXPECT_EQ(s.master_link_up, true);
  EXPECT_EQ(s.master_last_io_seconds, 1);
  EXPECT_FALSE(s.master_link_down_seconds.has_value());
  EXPECT_EQ(s.master_sync_in_progress, false);
  EXPECT_TRUE(s.replicas.empty());
  EXPECT_EQ(s.master_repl_offset, 127);
}

TEST(RedisExtractStats, RecordedReplicaWithLinkDown) {
  RedisStats s = StatsOf(Recorded("info_replica_link_down.txt"));
  EXPECT_EQ(s.master_link_up, false);
  // master_last_io_seconds_ago:-1 means "no link", not a value.
  EXPECT_FALSE(s.master_last_io_seconds.has_value());
  EXPECT_EQ(s.master_link_down_seconds, 2);
}

TEST(RedisStatsToSamples, FirstSnapshotOfMasterHasGaugesAndReplicaLagButNoRates) {
  Snapshot cur{StatsOf(Recorded("info_master.txt")), kT0};
  std::vector<Sample> samples = StatsToSamples(cur, nullptr);
  EXPECT_EQ(FindSample(samples, "redis.clients.connected"), 1);
  EXPECT_EQ(FindSample(samples, "redis.memory.used_bytes"), 1083872);
  EXPECT_EQ(FindSample(samples, "redis.memory.fragmentation_ratio"), 11.70);
  EXPECT_EQ(FindSample(samples, "redis.replication.is_master"), 1);
  EXPECT_EQ(FindSample(samples, "redis.replication.connected_replicas"), 1);
  EXPECT_EQ(FindSample(samples, "redis.replication.lag_bytes", {{"replica", "127.0.0.1:26380"}}),
            0);
  EXPECT_EQ(FindSample(samples, "redis.keyspace.keys", {{"db", "db0"}}), 1);
  EXPECT_FALSE(FindSample(samples, "redis.replication.master_link_up").has_value());
  EXPECT_FALSE(FindSample(samples, "redis.memory.max_bytes").has_value());  // maxmemory 0: no limit
  for (const char* rate : {"redis.cpu_pct", "redis.ops_per_second", "redis.keyspace.hit_ratio",
                           "redis.keys.expired_per_second", "redis.keys.evicted_per_second"}) {
    EXPECT_FALSE(FindSample(samples, rate).has_value()) << rate;
  }
}

TEST(RedisStatsToSamples, ReplicaLagIsMasterOffsetMinusReplicaOffset) {
  std::string text = Recorded("info_master.txt");
  text = WithField(text, "master_repl_offset", "127", "5127");
  text = WithField(text, "slave0", "ip=127.0.0.1,port=26380,state=online,offset=127,lag=0",
                   "ip=127.0.0.1,port=26380,state=online,offset=1127,lag=3");
  std::vector<Sample> samples = StatsToSamples({StatsOf(text), kT0}, nullptr);
  Labels replica = {{"replica", "127.0.0.1:26380"}};
  EXPECT_EQ(FindSample(samples, "redis.replication.lag_bytes", replica), 4000);
  EXPECT_EQ(FindSample(samples, "redis.replication.replica_last_ack_seconds", replica), 3);
}

TEST(RedisStatsToSamples, RecordedReplicaPairGivesLinkDownAndRatesOverServerClock) {
  Snapshot prev{StatsOf(Recorded("info_replica.txt")), kT0};
  // The agent's clock says 10 s; the server's clock (server_time_usec) says 1.526926 s.
  Snapshot cur{StatsOf(Recorded("info_replica_link_down.txt")), kT0 + absl::Seconds(10)};
  std::vector<Sample> up = StatsToSamples(prev, nullptr);
  EXPECT_EQ(FindSample(up, "redis.replication.master_link_up"), 1);
  EXPECT_EQ(FindSample(up, "redis.replication.master_last_io_seconds"), 1);
  EXPECT_EQ(FindSample(up, "redis.replication.is_master"), 0);

  std::vector<Sample> down = StatsToSamples(cur, &prev);
  EXPECT_EQ(FindSample(down, "redis.replication.master_link_up"), 0);
  EXPECT_FALSE(FindSample(down, "redis.replication.master_last_io_seconds").has_value());
  EXPECT_EQ(FindSample(down, "redis.replication.master_link_down_seconds"), 2);
  const double seconds = 1.526926;
  ASSERT_TRUE(FindSample(down, "redis.cpu_pct").has_value());
  EXPECT_NEAR(*FindSample(down, "redis.cpu_pct"),
              100 * ((0.004271 + 0.012813) - (0.003564 + 0.010692)) / seconds, 1e-9);
  EXPECT_NEAR(*FindSample(down, "redis.ops_per_second"), 1 / seconds, 1e-9);
  EXPECT_EQ(FindSample(down, "redis.keys.expired_per_second"), 0);
  // No lookups in the interval: no hit ratio rather than 0 or NaN.
  EXPECT_FALSE(FindSample(down, "redis.keyspace.hit_ratio").has_value());
}

TEST(RedisStatsToSamples, HitRatioIsHitsOverLookupsInTheInterval) {
  RedisStats a = StatsOf(Recorded("info_master.txt"));
  RedisStats b = a;
  b.keyspace_hits += 30;
  b.keyspace_misses += 10;
  b.server_time_usec = *a.server_time_usec + 2'000'000;
  b.cpu_seconds = a.cpu_seconds + 0.5;
  b.total_commands_processed = a.total_commands_processed + 1000;
  b.evicted_keys = a.evicted_keys + 20;
  Snapshot prev{a, kT0}, cur{b, kT0 + absl::Seconds(2)};
  std::vector<Sample> samples = StatsToSamples(cur, &prev);
  EXPECT_EQ(FindSample(samples, "redis.keyspace.hit_ratio"), 0.75);
  EXPECT_EQ(FindSample(samples, "redis.cpu_pct"), 25);  // 0.5 s of CPU in 2 s
  EXPECT_EQ(FindSample(samples, "redis.ops_per_second"), 500);
  EXPECT_EQ(FindSample(samples, "redis.keys.evicted_per_second"), 10);
}

TEST(RedisStatsToSamples, AgentClockIsUsedWithoutServerTime) {
  RedisStats a = StatsOf(Recorded("info_master.txt"));
  a.server_time_usec.reset();  // Redis < 6.2
  RedisStats b = a;
  b.total_commands_processed += 400;
  Snapshot prev{a, kT0}, cur{b, kT0 + absl::Seconds(4)};
  EXPECT_EQ(FindSample(StatsToSamples(cur, &prev), "redis.ops_per_second"), 100);
}

TEST(RedisStatsToSamples, RestartedServerGivesNoRates) {
  RedisStats a = StatsOf(Recorded("info_master.txt"));
  RedisStats b = a;
  b.run_id = "0000000000000000000000000000000000000000";
  b.total_commands_processed = 2;
  b.server_time_usec = *a.server_time_usec + 1'000'000;
  Snapshot prev{a, kT0}, cur{b, kT0 + absl::Seconds(1)};
  std::vector<Sample> samples = StatsToSamples(cur, &prev);
  EXPECT_FALSE(FindSample(samples, "redis.ops_per_second").has_value());
  EXPECT_FALSE(FindSample(samples, "redis.cpu_pct").has_value());
  EXPECT_EQ(FindSample(samples, "redis.clients.connected"), 1);  // gauges still there
}

TEST(RedisStatsToSamples, CounterThatWentDownGivesNoNegativeRate) {
  RedisStats a = StatsOf(Recorded("info_master.txt"));
  RedisStats b = a;
  b.expired_keys = 0;  // CONFIG RESETSTAT
  b.total_commands_processed += 10;
  b.server_time_usec = *a.server_time_usec + 1'000'000;
  Snapshot prev{a, kT0}, cur{b, kT0 + absl::Seconds(1)};
  std::vector<Sample> samples = StatsToSamples(cur, &prev);
  EXPECT_FALSE(FindSample(samples, "redis.keys.expired_per_second").has_value());
  EXPECT_EQ(FindSample(samples, "redis.ops_per_second"), 10);
}

TEST(RedisParseInfo, EmptyReplyIsAnError) {
  absl::Status s = ErrorOf("");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("redis 127.0.0.1:6379: empty INFO reply"));
  EXPECT_THAT(ErrorOf("\r\n\r\n# Server\r\n").message(), HasSubstr("no fields"));
}

TEST(RedisParseInfo, ReplyCutInsideALineIsTruncated) {
  std::string text = Recorded("info_master.txt");
  for (size_t cut : {size_t{1}, text.size() / 3, text.size() / 2, text.size() - 1}) {
    absl::Status s = ErrorOf(text.substr(0, cut));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << cut;
    EXPECT_THAT(s.message(), HasSubstr("truncated")) << cut;
  }
}

TEST(RedisParseInfo, ReplyCutAtALineEndNamesTheMissingField) {
  std::string text = Recorded("info_master.txt");
  // Everything up to the Replication section: role and the CPU fields are missing.
  std::string head = text.substr(0, text.find("# Replication"));
  absl::Status s = ErrorOf(head);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("has no field 'used_cpu_sys' (incomplete reply?)"));
}

TEST(RedisParseInfo, EveryPrefixIsHandledWithoutCrashing) {
  std::string text = Recorded("info_replica.txt");
  int failures = 0;
  for (size_t cut = 0; cut < text.size(); ++cut) {
    absl::Status s = ErrorOf(text.substr(0, cut));
    // A cut after the CPU section (the last required fields) still has every value needed.
    if (!s.ok()) {
      ++failures;
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << cut;
    }
  }
  EXPECT_GT(failures, static_cast<int>(text.size()) * 9 / 10);
  EXPECT_TRUE(ErrorOf(text).ok());
}

TEST(RedisParseInfo, LineWithoutColonNamesTheLine) {
  absl::Status s = ErrorOf("# Server\r\nredis_version:7.0.15\r\nthis is not a field\r\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              HasSubstr("INFO line 3: expected 'name:value', got 'this is not a field'"));
  EXPECT_THAT(ErrorOf(":value\r\n").message(), HasSubstr("INFO line 1"));
}

TEST(RedisParseInfo, RepeatedFieldIsAnError) {
  EXPECT_THAT(ErrorOf("a:1\r\nb:2\r\na:3\r\n").message(),
              HasSubstr("INFO line 3: field 'a' appears twice"));
}

TEST(RedisParseInfo, BinaryGarbageIsAnError) {
  std::string garbage("\x00\xff\x01\r\n\x02\x03", 7);
  garbage += "\n";
  EXPECT_EQ(ErrorOf(garbage).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RedisExtractStats, NonNumericValueNamesTheField) {
  std::string text = WithField(Recorded("info_master.txt"), "used_memory", "1083872", "lots");
  EXPECT_THAT(ErrorOf(text).message(),
              HasSubstr("INFO field 'used_memory': expected a number, got 'lots'"));
}

TEST(RedisExtractStats, UnknownRoleIsAnError) {
  std::string text = WithField(Recorded("info_master.txt"), "role", "master", "sentinel");
  EXPECT_THAT(ErrorOf(text).message(),
              HasSubstr("INFO field 'role': expected master or slave, got 'sentinel'"));
}

TEST(RedisExtractStats, MalformedReplicaLineNamesIt) {
  std::string text =
      WithField(Recorded("info_master.txt"), "slave0",
                "ip=127.0.0.1,port=26380,state=online,offset=127,lag=0", "ip=127.0.0.1,state=x");
  EXPECT_THAT(ErrorOf(text).message(),
              HasSubstr("INFO field 'slave0': expected ip=,port=,offset="));
  text = WithField(Recorded("info_master.txt"), "slave0",
                   "ip=127.0.0.1,port=26380,state=online,offset=127,lag=0",
                   "ip=127.0.0.1,port=26380,offset=12x");
  EXPECT_THAT(ErrorOf(text).message(), HasSubstr("'slave0.offset': expected a number"));
}

TEST(RedisExtractStats, MalformedKeyspaceLineNamesIt) {
  std::string text =
      WithField(Recorded("info_master.txt"), "db0", "keys=1,expires=0,avg_ttl=0", "expires=0");
  EXPECT_THAT(ErrorOf(text).message(), HasSubstr("INFO field 'db0': expected keys="));
}

TEST(RedisExtractStats, ReplicaWithoutLinkStatusIsAnError) {
  std::string text = WithField(Recorded("info_replica.txt"), "master_link_status", "up", "up");
  text = absl::StrReplaceAll(text, {{"master_link_status:up\r\n", ""}});
  EXPECT_THAT(ErrorOf(text).message(), HasSubstr("no field 'master_link_status'"));
}

}  // namespace
}  // namespace vigil::agent::redis
