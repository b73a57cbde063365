#include "agent/checks/kafka/consumer_lag.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::kafka {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(PartitionLag, IsHighWatermarkMinusCommittedOffset) {
  EXPECT_EQ(PartitionLag(4, 0, 10), 6);
  EXPECT_EQ(PartitionLag(20, 0, 20), 0);
  // The low watermark does not matter once the group has committed, even below it.
  EXPECT_EQ(PartitionLag(3, 8, 10), 7);
}

TEST(PartitionLag, WithoutCommitIsTheRetainedBacklog) {
  EXPECT_EQ(PartitionLag(std::nullopt, 0, 30), 30);
  EXPECT_EQ(PartitionLag(std::nullopt, 25, 30), 5);
  EXPECT_EQ(PartitionLag(std::nullopt, 30, 30), 0);
}

TEST(PartitionLag, CommittedBeyondHighWatermarkReadsZero) {
  EXPECT_EQ(PartitionLag(50, 0, 10), 0);
  EXPECT_EQ(PartitionLag(std::nullopt, 12, 10), 0);
}

const TopicPartitions kCluster = {{"orders", {0, 1, 2}}, {"payments", {0}}, {"audit", {1, 0}}};

TEST(TopicsToReport, WithoutFilterAreTheTopicsTheGroupCommittedOn) {
  std::map<TopicPartition, int64_t> committed = {
      {{"payments", 0}, 3}, {{"orders", 2}, 1}, {{"orders", 0}, 5}};
  EXPECT_THAT(TopicsToReport({}, kCluster, committed), ElementsAre("orders", "payments"));
  EXPECT_THAT(TopicsToReport({}, kCluster, {}), IsEmpty());
}

TEST(TopicsToReport, FilterKeepsTopicsOfTheClusterEvenWithoutCommits) {
  EXPECT_THAT(TopicsToReport({"payments", "missing", "audit"}, kCluster, {}),
              ElementsAre("audit", "payments"));
}

TEST(ComputeGroupLag, SumsPartitionsAndUsesLowWatermarkWhereNothingIsCommitted) {
  std::map<TopicPartition, int64_t> committed = {{{"orders", 0}, 4}, {{"orders", 1}, 20}};
  Watermarks w;
  w.high = {{{"orders", 0}, 10}, {{"orders", 1}, 20}, {{"orders", 2}, 30}};
  w.low = {{{"orders", 2}, 5}};
  GroupLag lag = ComputeGroupLag({"orders"}, kCluster, committed, w);
  ASSERT_EQ(lag.topics.size(), 1u);
  EXPECT_THAT(lag.incomplete, IsEmpty());
  const TopicLagReport& t = lag.topics[0];
  EXPECT_EQ(t.topic, "orders");
  EXPECT_EQ(t.total_lag, 6 + 0 + 25);
  ASSERT_EQ(t.partitions.size(), 3u);
  EXPECT_EQ(t.partitions[0].partition, 0);
  EXPECT_EQ(t.partitions[0].committed, 4);
  EXPECT_EQ(t.partitions[0].high_watermark, 10);
  EXPECT_EQ(t.partitions[0].lag, 6);
  EXPECT_EQ(t.partitions[1].lag, 0);
  EXPECT_EQ(t.partitions[2].committed, std::nullopt);
  EXPECT_EQ(t.partitions[2].lag, 25);
}

TEST(ComputeGroupLag, PartitionsAreReportedInIdOrder) {
  Watermarks w;
  w.high = {{{"audit", 0}, 1}, {{"audit", 1}, 2}};
  std::map<TopicPartition, int64_t> committed = {{{"audit", 0}, 0}, {{"audit", 1}, 0}};
  GroupLag lag = ComputeGroupLag({"audit"}, kCluster, committed, w);
  ASSERT_EQ(lag.topics.size(), 1u);
  ASSERT_EQ(lag.topics[0].partitions.size(), 2u);
  EXPECT_EQ(lag.topics[0].partitions[0].partition, 0);
  EXPECT_EQ(lag.topics[0].partitions[1].partition, 1);
  EXPECT_EQ(lag.topics[0].total_lag, 3);
}

TEST(ComputeGroupLag, TopicWithAMissingWatermarkIsLeftOutNotUnderstated) {
  std::map<TopicPartition, int64_t> committed = {{{"orders", 0}, 4}, {{"payments", 0}, 1}};
  Watermarks w;
  w.high = {{{"orders", 0}, 10}, {{"orders", 2}, 30}, {{"payments", 0}, 9}};
  w.low = {{{"orders", 1}, 0}, {{"orders", 2}, 0}};
  GroupLag lag = ComputeGroupLag({"orders", "payments"}, kCluster, committed, w);
  ASSERT_EQ(lag.topics.size(), 1u);
  EXPECT_EQ(lag.topics[0].topic, "payments");
  EXPECT_EQ(lag.topics[0].total_lag, 8);
  EXPECT_EQ(lag.incomplete, (std::map<std::string, int32_t>{{"orders", 1}}));
}

TEST(ComputeGroupLag, MissingLowWatermarkMattersOnlyWithoutCommit) {
  std::map<TopicPartition, int64_t> committed = {{{"payments", 0}, 1}};
  Watermarks w;
  w.high = {{{"payments", 0}, 9}};
  GroupLag lag = ComputeGroupLag({"payments"}, kCluster, committed, w);
  ASSERT_EQ(lag.topics.size(), 1u);
  EXPECT_EQ(lag.topics[0].total_lag, 8);

  lag = ComputeGroupLag({"payments"}, kCluster, {}, w);
  EXPECT_THAT(lag.topics, IsEmpty());
  EXPECT_EQ(lag.incomplete, (std::map<std::string, int32_t>{{"payments", 0}}));
}

TEST(AddWatermarkNeeds, HighForAllPartitionsLowOnlyWithoutCommit) {
  WatermarkRequest request;
  AddWatermarkNeeds({"orders"}, kCluster, {{{"orders", 0}, 4}}, request);
  AddWatermarkNeeds({"orders", "payments"}, kCluster, {{{"orders", 1}, 4}}, request);
  EXPECT_EQ(request.high, (std::set<TopicPartition>{
                              {"orders", 0}, {"orders", 1}, {"orders", 2}, {"payments", 0}}));
  // orders[0] lacks a commit of the second group, orders[1] of the first.
  EXPECT_EQ(request.low, (std::set<TopicPartition>{
                             {"orders", 0}, {"orders", 1}, {"orders", 2}, {"payments", 0}}));

  WatermarkRequest one;
  AddWatermarkNeeds({"orders"}, kCluster, {{{"orders", 0}, 4}, {{"orders", 2}, 1}}, one);
  EXPECT_EQ(one.low, (std::set<TopicPartition>{{"orders", 1}}));
}

TEST(ParseBootstrapServers, AcceptsListsAndCommaSeparatedStrings) {
  absl::StatusOr<std::vector<std::string>> s =
      ParseBootstrapServers({"k1:9092, k2:9093", "[::1]:9094", "kafka.example.com:9092"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, ElementsAre("k1:9092", "k2:9093", "[::1]:9094", "kafka.example.com:9092"));
}

TEST(ParseBootstrapServers, MalformedEntriesAreNamed) {
  struct Case {
    std::vector<std::string> input;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "at least one host:port"},
           {{"kafka1"}, "expected host:port"},
           {{"kafka1:"}, "port must be a number"},
           {{":9092"}, "missing host"},
           {{"kafka1:99999"}, "port must be a number from 1 to 65535"},
           {{"kafka1:0"}, "port must be a number from 1 to 65535"},
           {{"kafka1:90x2"}, "got '90x2'"},
           {{"k1:9092,,k2:9092"}, "empty server in 'k1:9092,,k2:9092'"},
           {{"k1:9092,"}, "empty server"},
           {{""}, "empty server"},
           {{"::1:9092"}, "IPv6 hosts go in brackets"},
           {{"[::1:9092"}, "bad IPv6 host"},
       }) {
    absl::StatusOr<std::vector<std::string>> s = ParseBootstrapServers(c.input);
    ASSERT_FALSE(s.ok()) << ::testing::PrintToString(c.input);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.status().message(), HasSubstr(c.error)) << ::testing::PrintToString(c.input);
  }
}

}  // namespace
}  // namespace vigil::agent::kafka
