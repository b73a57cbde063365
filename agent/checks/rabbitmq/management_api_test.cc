#include "agent/checks/rabbitmq/management_api.h"

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::rabbitmq {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/rabbitmq/testdata";
constexpr char kSource[] = "GET http://127.0.0.1:15672/api/queues";

// Responses recorded from RabbitMQ 3.10.8 (Debian 12) with the management plugin: queues
// `orders` (5 ready) and `emails` (being published to and read at ~17/s) in vhost `/` and
// `orders` (3 ready) in vhost `staging`; full objects and with the check's `?columns=`.
std::string Recorded(const std::string& name) {
  std::ifstream in(kTestData + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const QueueStats* FindQueue(const std::vector<QueueStats>& queues, const std::string& vhost,
                            const std::string& name) {
  for (const QueueStats& q : queues) {
    if (q.vhost == vhost && q.name == name) return &q;
  }
  return nullptr;
}

std::optional<double> Find(const std::vector<Sample>& samples, const std::string& metric,
                           const Labels& labels) {
  for (const Sample& s : samples) {
    if (s.metric == metric && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

void ExpectRecordedQueues(const std::vector<QueueStats>& queues) {
  ASSERT_EQ(queues.size(), 3u);
  const QueueStats* orders = FindQueue(queues, "/", "orders");
  ASSERT_NE(orders, nullptr);
  EXPECT_EQ(orders->messages, 5);
  EXPECT_EQ(orders->messages_ready, 5);
  EXPECT_EQ(orders->messages_unacknowledged, 0);
  EXPECT_EQ(orders->consumers, 0);
  EXPECT_EQ(orders->publish_rate, 0.0);
  const QueueStats* emails = FindQueue(queues, "/", "emails");
  ASSERT_NE(emails, nullptr);
  EXPECT_EQ(emails->messages, 0);
  EXPECT_EQ(emails->publish_rate, 17.0);
  EXPECT_EQ(emails->deliver_rate, 17.0);
  const QueueStats* staging = FindQueue(queues, "staging", "orders");
  ASSERT_NE(staging, nullptr);
  EXPECT_EQ(staging->messages, 3);
  EXPECT_EQ(staging->publish_rate, 0.0);
  // Nothing was ever read from it: no deliver_get in message_stats, so no rate.
  EXPECT_FALSE(staging->deliver_rate.has_value());
}

TEST(RabbitmqParseQueues, RecordedFullObjects) {
  absl::StatusOr<std::vector<QueueStats>> queues = ParseQueues(Recorded("queues.json"), kSource);
  ASSERT_TRUE(queues.ok()) << queues.status();
  ExpectRecordedQueues(*queues);
}

TEST(RabbitmqParseQueues, RecordedWithColumns) {
  absl::StatusOr<std::vector<QueueStats>> queues =
      ParseQueues(Recorded("queues_columns.json"), kSource);
  ASSERT_TRUE(queues.ok()) << queues.status();
  ExpectRecordedQueues(*queues);
}

TEST(RabbitmqParseQueues, JustDeclaredQueueHasNoCountsYet) {
  absl::StatusOr<std::vector<QueueStats>> queues =
      ParseQueues(Recorded("queues_new_queue.json"), kSource);
  ASSERT_TRUE(queues.ok()) << queues.status();
  const QueueStats* fresh = FindQueue(*queues, "/", "fresh");
  ASSERT_NE(fresh, nullptr);
  EXPECT_FALSE(fresh->messages.has_value());
  EXPECT_FALSE(fresh->consumers.has_value());
  std::vector<Sample> samples;
  AppendQueueSamples(*queues, samples);
  EXPECT_FALSE(Find(samples, "rabbitmq.queue.messages", {{"queue", "fresh"}, {"vhost", "/"}}));
  EXPECT_EQ(Find(samples, "rabbitmq.queue.messages", {{"queue", "orders"}, {"vhost", "/"}}), 5);
}

TEST(RabbitmqParseQueues, EmptyArrayIsNoQueues) {
  absl::StatusOr<std::vector<QueueStats>> queues = ParseQueues("[]", kSource);
  ASSERT_TRUE(queues.ok());
  EXPECT_THAT(*queues, IsEmpty());
}

TEST(RabbitmqParseNodes, RecordedFullAndColumns) {
  for (const char* file : {"nodes.json", "nodes_columns.json"}) {
    absl::StatusOr<std::vector<NodeStats>> nodes = ParseNodes(Recorded(file), kSource);
    ASSERT_TRUE(nodes.ok()) << file << ": " << nodes.status();
    ASSERT_EQ(nodes->size(), 1u) << file;
    const NodeStats& n = (*nodes)[0];
    EXPECT_EQ(n.name, "rabbit-rec@localhost");
    EXPECT_TRUE(n.running);
    EXPECT_EQ(n.mem_used_bytes, 138276864);
    EXPECT_EQ(n.mem_limit_bytes, 10110425497.0);
    EXPECT_EQ(n.mem_alarm, false);
    EXPECT_EQ(n.fd_used, 43);
    EXPECT_EQ(n.fd_total, 20000);
    EXPECT_EQ(n.disk_free_bytes, 79307829248.0);
    EXPECT_EQ(n.disk_free_limit_bytes, 50000000);
    EXPECT_EQ(n.disk_free_alarm, false);
  }
}

TEST(RabbitmqParseNodes, StoppedClusterNodeHasOnlyRunning) {
  absl::StatusOr<std::vector<NodeStats>> nodes = ParseNodes(
      R"([{"name":"rabbit@a","running":true,"mem_alarm":true,"mem_used":5},
          {"name":"rabbit@b","running":false}])",
      kSource);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  std::vector<Sample> samples;
  AppendNodeSamples(*nodes, samples);
  EXPECT_EQ(Find(samples, "rabbitmq.node.running", {{"node", "rabbit@a"}}), 1);
  EXPECT_EQ(Find(samples, "rabbitmq.node.mem_alarm", {{"node", "rabbit@a"}}), 1);
  EXPECT_EQ(Find(samples, "rabbitmq.node.mem_used_bytes", {{"node", "rabbit@a"}}), 5);
  EXPECT_EQ(Find(samples, "rabbitmq.node.running", {{"node", "rabbit@b"}}), 0);
  EXPECT_FALSE(Find(samples, "rabbitmq.node.mem_used_bytes", {{"node", "rabbit@b"}}));
}

TEST(RabbitmqAppendSamples, RecordedQueuesAndNodeGiveTheDocumentedMetrics) {
  absl::StatusOr<std::vector<QueueStats>> queues =
      ParseQueues(Recorded("queues_columns.json"), kSource);
  absl::StatusOr<std::vector<NodeStats>> nodes = ParseNodes(Recorded("nodes.json"), kSource);
  ASSERT_TRUE(queues.ok() && nodes.ok());
  std::vector<Sample> samples;
  AppendNodeSamples(*nodes, samples);
  AppendQueueSamples(*queues, samples);
  const Labels emails = {{"queue", "emails"}, {"vhost", "/"}};
  const Labels staging = {{"queue", "orders"}, {"vhost", "staging"}};
  EXPECT_EQ(Find(samples, "rabbitmq.queue.publish_per_second", emails), 17);
  EXPECT_EQ(Find(samples, "rabbitmq.queue.deliver_per_second", emails), 17);
  EXPECT_EQ(Find(samples, "rabbitmq.queue.messages_ready", staging), 3);
  EXPECT_EQ(Find(samples, "rabbitmq.queue.messages_unacknowledged", staging), 0);
  EXPECT_EQ(Find(samples, "rabbitmq.queue.consumers", staging), 0);
  const Labels node = {{"node", "rabbit-rec@localhost"}};
  EXPECT_EQ(Find(samples, "rabbitmq.node.running", node), 1);
  EXPECT_EQ(Find(samples, "rabbitmq.node.disk_free_alarm", node), 0);
  EXPECT_EQ(Find(samples, "rabbitmq.node.disk_free_bytes", node), 79307829248.0);
  EXPECT_EQ(Find(samples, "rabbitmq.node.fd_used", node), 43);
}

TEST(RabbitmqParseQueues, TruncatedJsonSaysWhere) {
  std::string text = Recorded("queues.json");
  for (size_t cut : {size_t{1}, text.size() / 4, text.size() / 2, text.size() - 1}) {
    absl::StatusOr<std::vector<QueueStats>> r = ParseQueues(text.substr(0, cut), kSource);
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()),
                HasSubstr(std::string(kSource) + ": invalid JSON (byte "));
  }
  // Only the closing bracket is missing.
  EXPECT_THAT(std::string(ParseQueues(text.substr(0, text.size() - 1), kSource).status().message()),
              HasSubstr("unexpected end of input; expected ']'"));
}

TEST(RabbitmqParseQueues, EveryPrefixFailsCleanly) {
  std::string text = Recorded("queues_columns.json");
  for (size_t cut = 0; cut < text.size(); ++cut) {
    absl::StatusOr<std::vector<QueueStats>> r = ParseQueues(text.substr(0, cut), kSource);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << cut;
  }
}

TEST(RabbitmqParseNodes, EveryPrefixFailsCleanly) {
  std::string text = Recorded("nodes.json");
  for (size_t cut = 0; cut < text.size(); ++cut) {
    EXPECT_EQ(ParseNodes(text.substr(0, cut), kSource).status().code(),
              absl::StatusCode::kInvalidArgument)
        << cut;
  }
}

TEST(RabbitmqParseQueues, MalformedDocumentsNameTheProblem) {
  struct Case {
    std::string json;
    std::string error;
  } cases[] = {
      {"", "empty response body"},
      {"<html>502 Bad Gateway</html>", "invalid JSON (byte 1"},
      {"{\"error\":\"x\"}", "expected a JSON array of queues, got object"},
      {"[1]", "queue #1: expected an object, got number"},
      {"[{\"vhost\":\"/\"}]", "queue #1: no 'name'"},
      {"[{\"name\":\"q\"}]", "queue #1: no 'vhost'"},
      {"[{\"name\":7,\"vhost\":\"/\"}]", "queue #1: 'name' is not a string (got number)"},
      {R"([{"name":"a","vhost":"/"},{"name":"q","vhost":"/","messages":"12"}])",
       "queue 'q' in vhost '/': 'messages' is not a number (got string)"},
      {R"([{"name":"q","vhost":"/","message_stats":{"publish_details":[1]}}])",
       "queue 'q' in vhost '/': 'message_stats.publish_details' is not an object (got array)"},
      {R"([{"name":"q","vhost":"/","message_stats":{"publish_details":{"rate":"x"}}}])",
       "'message_stats.publish_details.rate' is not a number (got string)"},
      {"[{\"name\":\"q\",\"vhost\":\"/\"}] trailing", "invalid JSON"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<QueueStats>> r = ParseQueues(c.json, kSource);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.error)) << c.json;
    EXPECT_THAT(r.status().message(), HasSubstr(kSource)) << c.json;
  }
}

TEST(RabbitmqParseNodes, MalformedDocumentsNameTheProblem) {
  EXPECT_THAT(ParseNodes("[{\"running\":true}]", kSource).status().message(),
              HasSubstr("node #1: no 'name'"));
  EXPECT_THAT(ParseNodes("[{\"name\":\"n\"}]", kSource).status().message(),
              HasSubstr("node 'n': no 'running'"));
  EXPECT_THAT(ParseNodes("[{\"name\":\"n\",\"running\":\"yes\"}]", kSource).status().message(),
              HasSubstr("node 'n': 'running' is not true or false (got string)"));
  EXPECT_THAT(
      ParseNodes("[{\"name\":\"n\",\"running\":true,\"fd_used\":{}}]", kSource).status().message(),
      HasSubstr("'fd_used' is not a number (got object)"));
}

TEST(RabbitmqErrorReason, ReasonOfTheBrokersErrorDocument) {
  EXPECT_EQ(ErrorReason(Recorded("unauthorized.json")), "Login failed");
  EXPECT_EQ(ErrorReason("{\"error\":\"Object Not Found\"}"), "Object Not Found");
  EXPECT_EQ(ErrorReason("  Service Unavailable\n"), "Service Unavailable");
  EXPECT_EQ(ErrorReason(std::string(300, 'x')), std::string(200, 'x') + "...");
}

TEST(RabbitmqEncodePathSegment, DefaultVhostAndSpecialCharacters) {
  EXPECT_EQ(EncodePathSegment("/"), "%2F");
  EXPECT_EQ(EncodePathSegment("staging"), "staging");
  EXPECT_EQ(EncodePathSegment("a b/c?d%"), "a%20b%2Fc%3Fd%25");
}

}  // namespace
}  // namespace vigil::agent::rabbitmq
