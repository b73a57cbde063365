// Tests of the kafka check against librdkafka's in-process mock cluster: a real Kafka protocol
// endpoint on 127.0.0.1 (metadata, produce, OffsetCommit/OffsetFetch, ListOffsets), started
// per test in milliseconds.
#include "agent/checks/kafka/kafka_check.h"

#include "agent/checks/check_testing.h"

// clang-format off: rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
// clang-format on
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/config.h"
#include "common/config_reader.h"
#include "common/log.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

void Quiet(const rd_kafka_t*, int, const char*, const char*) {}

rd_kafka_t* NewClient(rd_kafka_type_t type, const std::string& bootstrap,
                      const std::string& group) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, &Quiet);
  if (!bootstrap.empty()) {
    EXPECT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err)),
              RD_KAFKA_CONF_OK)
        << err;
  }
  if (!group.empty()) {
    EXPECT_EQ(rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof(err)),
              RD_KAFKA_CONF_OK)
        << err;
    EXPECT_EQ(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)),
              RD_KAFKA_CONF_OK);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  EXPECT_NE(rk, nullptr) << err;
  return rk;
}

// A mock Kafka cluster with a producer and a way to commit offsets as a group would.
class MockKafka {
 public:
  explicit MockKafka(int brokers) {
    host_ = NewClient(RD_KAFKA_PRODUCER, "", "");
    cluster_ = rd_kafka_mock_cluster_new(host_, brokers);
    if (cluster_ == nullptr) {
      ADD_FAILURE() << "rd_kafka_mock_cluster_new failed (librdkafka-dev 2.0.2 is required)";
      return;
    }
    bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    producer_ = NewClient(RD_KAFKA_PRODUCER, bootstrap_, "");
  }
  // Takes about a second: the mock cluster's thread wakes up once a second to notice.
  ~MockKafka() {
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(host_);
  }

  const std::string& bootstrap() const { return bootstrap_; }
  rd_kafka_mock_cluster_t* cluster() { return cluster_; }

  // Creates a topic and makes the producer learn of it at once (it would otherwise look again
  // only after a second).
  void CreateTopic(const std::string& topic, int partitions) {
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_t* handle = rd_kafka_topic_new(producer_, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    EXPECT_EQ(rd_kafka_metadata(producer_, 0, handle, &metadata, 15000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    rd_kafka_topic_destroy(handle);
  }

  // Produces `count` messages to one partition and waits until they are acknowledged.
  void Produce(const std::string& topic, int32_t partition, int count) {
    for (int i = 0; i < count; ++i) {
      std::string value = absl::StrCat("message ", i);
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ADD_FAILURE() << "produce to " << topic << ": " << rd_kafka_err2str(err);
        break;
      }
    }
    EXPECT_EQ(rd_kafka_flush(producer_, 15000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  // Commits explicit offsets for `group` (synchronously), as a consumer of that group would.
  void Commit(const std::string& group,
              const std::map<std::pair<std::string, int32_t>, int64_t>& offsets) {
    rd_kafka_t* consumer = NewClient(RD_KAFKA_CONSUMER, bootstrap_, group);
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (const auto& [tp, offset] : offsets) {
      rd_kafka_topic_partition_list_add(list, tp.first.c_str(), tp.second)->offset = offset;
    }
    EXPECT_EQ(rd_kafka_commit(consumer, list, /*async=*/0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
  }

 private:
  rd_kafka_t* host_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  rd_kafka_t* producer_ = nullptr;
  std::string bootstrap_;
};

Labels GroupTopic(const std::string& group, const std::string& topic) {
  return {{"group", group}, {"topic", topic}};
}
Labels GroupPartition(const std::string& group, const std::string& topic, int partition) {
  return {{"group", group}, {"partition", std::to_string(partition)}, {"topic", topic}};
}
Labels Partition(const std::string& topic, int partition) {
  return {{"partition", std::to_string(partition)}, {"topic", topic}};
}

int Count(const std::vector<Sample>& samples, const std::string& metric) {
  int n = 0;
  for (const Sample& s : samples) n += s.metric == metric ? 1 : 0;
  return n;
}

// Values of `label` over the samples of `metric`.
std::vector<std::string> LabelValues(const std::vector<Sample>& samples, const std::string& metric,
                                     const std::string& label) {
  std::vector<std::string> out;
  for (const Sample& s : samples) {
    if (s.metric != metric) continue;
    for (const auto& [k, v] : s.labels) {
      if (k == label) out.push_back(v);
    }
  }
  return out;
}

// Runs Init with `yaml` (the check's own keys plus timeout) and returns the config errors.
std::vector<std::string> InitWith(KafkaCheck& check, const std::string& yaml) {
  return InitCheckForTest(check, yaml);
}

// Captures what is written to stderr (fd 2, where VIGIL_LOG writes) while alive.
class StderrCapture {
 public:
  explicit StderrCapture(std::string path) : path_(std::move(path)) {
    saved_ = ::dup(2);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrCapture() { Stop(); }
  std::string Stop() {
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
    return testing::ReadFile(path_);
  }

 private:
  std::string path_;
  int saved_ = -1;
};

// One mock cluster for the whole binary (its teardown takes a second); each test uses its own
// topic and group names, made unique with the test's name. Tests that inject faults (brokers
// down, delayed or failed requests) use a second one, so that no fault can reach other tests.
MockKafka* shared_mock = nullptr;
MockKafka* fault_mock = nullptr;

class SharedMockEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    delete shared_mock;
    shared_mock = nullptr;
    delete fault_mock;
    fault_mock = nullptr;
  }
};
const auto* const kSharedMockEnvironment =
    ::testing::AddGlobalTestEnvironment(new SharedMockEnvironment);

MockKafka& SharedMock() {
  if (shared_mock == nullptr) shared_mock = new MockKafka(3);
  return *shared_mock;
}

MockKafka& FaultMock() {
  if (fault_mock == nullptr) fault_mock = new MockKafka(3);
  return *fault_mock;
}

// Each test starts with its own topic "orders" (3 partitions holding 10, 20 and 30 messages);
// Name("x") is the cluster-wide name of this test's topic or group "x".
class KafkaCheckTest : public ::testing::Test {
 protected:
  explicit KafkaCheckTest(MockKafka& mock = SharedMock()) : mock_(mock) {}

  void SetUp() override {
    ASSERT_FALSE(mock_.bootstrap().empty());
    orders_ = Name("orders");
    mock_.CreateTopic(orders_, 3);
    mock_.Produce(orders_, 0, 10);
    mock_.Produce(orders_, 1, 20);
    mock_.Produce(orders_, 2, 30);
  }

  static std::string Name(const std::string& base) {
    return absl::StrCat(base, "-", ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  void InitCheck(KafkaCheck& check, const std::string& extra) {
    ASSERT_THAT(InitWith(check, absl::StrCat("bootstrap_servers: ", mock_.bootstrap(),
                                             "\ntimeout: 5s\n", extra)),
                IsEmpty());
  }

  std::vector<Sample> CollectOk(KafkaCheck& check) {
    absl::StatusOr<std::vector<Sample>> samples = check.Collect(absl::Now());
    EXPECT_TRUE(samples.ok()) << samples.status();
    return samples.ok() ? *samples : std::vector<Sample>{};
  }

  MockKafka& mock_;
  std::string orders_;
};

class KafkaFaultTest : public KafkaCheckTest {
 protected:
  KafkaFaultTest() : KafkaCheckTest(FaultMock()) {}
};

TEST_F(KafkaCheckTest, LagPerPartitionAndTotalAreExact) {
  const std::string billing = Name("billing");
  mock_.Commit(billing, {{{orders_, 0}, 4}, {{orders_, 1}, 20}});  // partition 2: none
  KafkaCheck check;
  InitCheck(check, absl::StrCat("consumer_groups: [", billing, "]\n"));
  std::vector<Sample> s = CollectOk(check);

  EXPECT_EQ(FindSample(s, "kafka.brokers"), 3);
  EXPECT_EQ(FindSample(s, "kafka.partition.high_watermark", Partition(orders_, 0)), 10);
  EXPECT_EQ(FindSample(s, "kafka.partition.high_watermark", Partition(orders_, 1)), 20);
  EXPECT_EQ(FindSample(s, "kafka.partition.high_watermark", Partition(orders_, 2)), 30);
  EXPECT_EQ(FindSample(s, "kafka.consumer.committed_offset", GroupPartition(billing, orders_, 0)),
            4);
  EXPECT_EQ(FindSample(s, "kafka.consumer.committed_offset", GroupPartition(billing, orders_, 1)),
            20);
  EXPECT_EQ(FindSample(s, "kafka.consumer.committed_offset", GroupPartition(billing, orders_, 2)),
            std::nullopt);
  EXPECT_EQ(FindSample(s, "kafka.consumer.partition_lag", GroupPartition(billing, orders_, 0)), 6);
  EXPECT_EQ(FindSample(s, "kafka.consumer.partition_lag", GroupPartition(billing, orders_, 1)), 0);
  // Nothing committed: the whole retained backlog, high minus low watermark.
  EXPECT_EQ(FindSample(s, "kafka.consumer.partition_lag", GroupPartition(billing, orders_, 2)), 30);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 36);
  EXPECT_EQ(Count(s, "kafka.consumer.lag"), 1);
  EXPECT_EQ(Count(s, "kafka.consumer.partition_lag"), 3);
  EXPECT_EQ(Count(s, "kafka.consumer.committed_offset"), 2);
  EXPECT_EQ(Count(s, "kafka.partition.high_watermark"), 3);
}

TEST_F(KafkaCheckTest, LagGrowsByExactlyWhatIsProducedAndShrinksWithCommits) {
  const std::string billing = Name("billing");
  mock_.Commit(billing, {{{orders_, 0}, 4}, {{orders_, 1}, 20}});
  KafkaCheck check;
  InitCheck(check, absl::StrCat("consumer_groups: [", billing, "]\n"));
  std::vector<Sample> s = CollectOk(check);
  ASSERT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 36);

  mock_.Produce(orders_, 0, 5);
  mock_.Produce(orders_, 2, 7);
  s = CollectOk(check);
  EXPECT_EQ(FindSample(s, "kafka.consumer.partition_lag", GroupPartition(billing, orders_, 0)), 11);
  EXPECT_EQ(FindSample(s, "kafka.consumer.partition_lag", GroupPartition(billing, orders_, 1)), 0);
  EXPECT_EQ(FindSample(s, "kafka.consumer.partition_lag", GroupPartition(billing, orders_, 2)), 37);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 36 + 12);
  EXPECT_EQ(FindSample(s, "kafka.partition.high_watermark", Partition(orders_, 0)), 15);

  mock_.Commit(billing, {{{orders_, 0}, 15}, {{orders_, 2}, 30}});
  s = CollectOk(check);
  EXPECT_EQ(FindSample(s, "kafka.consumer.committed_offset", GroupPartition(billing, orders_, 2)),
            30);
  EXPECT_EQ(FindSample(s, "kafka.consumer.partition_lag", GroupPartition(billing, orders_, 2)), 7);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 7);
}

TEST_F(KafkaCheckTest, DefaultTopicsAreThoseTheGroupCommittedOn) {
  const std::string billing = Name("billing"), reporting = Name("reporting");
  const std::string payments = Name("payments"), audit = Name("audit");
  mock_.CreateTopic(payments, 1);
  mock_.CreateTopic(audit, 2);
  mock_.Produce(payments, 0, 8);
  mock_.Produce(audit, 1, 3);
  mock_.Commit(billing, {{{orders_, 1}, 15}, {{payments, 0}, 2}});
  mock_.Commit(reporting, {{{audit, 0}, 0}});
  KafkaCheck check;
  InitCheck(check, absl::StrCat("consumer_groups: [", billing, ", ", reporting, "]\n"));
  std::vector<Sample> s = CollectOk(check);

  // billing: orders 10 + 5 + 30, payments 6; nothing about audit.
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 45);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, payments)), 6);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, audit)), std::nullopt);
  // reporting: audit partition 0 committed at 0 (lag 0), partition 1 never (3 messages).
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(reporting, audit)), 3);
  EXPECT_EQ(Count(s, "kafka.consumer.lag"), 3);
  // Watermarks are per topic-partition, not per group: orders 3 + payments 1 + audit 2 (other
  // tests' topics are not asked for: no group of this check committed on them).
  EXPECT_EQ(Count(s, "kafka.partition.high_watermark"), 6);
}

TEST_F(KafkaCheckTest, TopicsFilterReportsListedTopicsEvenWithoutCommits) {
  const std::string billing = Name("billing");
  const std::string payments = Name("payments"), audit = Name("audit");
  mock_.CreateTopic(payments, 1);
  mock_.CreateTopic(audit, 2);
  mock_.Produce(audit, 0, 3);
  mock_.Produce(audit, 1, 4);
  mock_.Commit(billing, {{{orders_, 0}, 10}, {{payments, 0}, 0}});
  KafkaCheck check;
  InitCheck(check, absl::StrCat("consumer_groups: [", billing, "]\ntopics: [", audit, ", ", orders_,
                                ", not-there]\n"));
  std::vector<Sample> s = CollectOk(check);

  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 0 + 20 + 30);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, audit)), 7);
  EXPECT_THAT(LabelValues(s, "kafka.consumer.lag", "topic"), Not(Contains(payments)));
  EXPECT_THAT(LabelValues(s, "kafka.consumer.lag", "topic"), Not(Contains("not-there")));
  EXPECT_EQ(Count(s, "kafka.consumer.lag"), 2);
}

TEST_F(KafkaCheckTest, GroupWithoutCommitsReportsNoLagUnlessTopicsAreListed) {
  const std::string billing = Name("billing"), idle = Name("idle");
  mock_.Commit(billing, {{{orders_, 0}, 4}});
  KafkaCheck check;
  InitCheck(check, absl::StrCat("consumer_groups: [", billing, ", ", idle, "]\n"));
  std::vector<Sample> s = CollectOk(check);
  EXPECT_THAT(LabelValues(s, "kafka.consumer.lag", "group"), Not(Contains(idle)));
  EXPECT_THAT(LabelValues(s, "kafka.consumer.partition_lag", "group"), Not(Contains(idle)));
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 6 + 20 + 30);

  KafkaCheck listed;
  InitCheck(listed, absl::StrCat("consumer_groups: [", idle, "]\ntopics: [", orders_, "]\n"));
  s = CollectOk(listed);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(idle, orders_)), 60);
  EXPECT_EQ(Count(s, "kafka.consumer.committed_offset"), 0);
}

TEST_F(KafkaCheckTest, SaslPasswordAppearsInNoLogLineAndNoError) {
  const std::string kPassword = "pa55-Vigil-kafka-7f3c", kRotated = "r0tated-Vigil-kafka-91ab";
  testing::TempDir dir;
  std::string password_file = dir.Write("kafka.password", kPassword + "\n");
  LogSeverity saved_level = MinLogSeverity();
  SetMinLogSeverity(LogSeverity::kDebug);  // librdkafka's own lines too
  StderrCapture capture(dir.Join("stderr.txt"));
  std::string errors;
  {
    // The mock cluster speaks PLAINTEXT only: the SASL handshake fails.
    KafkaCheck check;
    std::vector<std::string> config_errors =
        InitWith(check, absl::StrCat("name: kafka-sasl\nbootstrap_servers: ", mock_.bootstrap(),
                                     "\nconsumer_groups: [billing]\ntimeout: 500ms\n"
                                     "security_protocol: sasl_plaintext\n"
                                     "sasl_mechanism: SCRAM-SHA-256\nusername: monitor\n"
                                     "password_file: ",
                                     password_file, "\n"));
    EXPECT_THAT(config_errors, IsEmpty());
    for (int i = 0; i < 3; ++i) {
      // The third collection reads a rotated password and makes a new client with it.
      if (i == 2) testing::WriteFile(password_file, kRotated + "\n");
      absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
      EXPECT_FALSE(s.ok());
      errors += s.status().ToString() + "\n";
    }
  }
  std::string logged = capture.Stop();
  SetMinLogSeverity(saved_level);
  EXPECT_THAT(errors, AllOf(Not(HasSubstr(kPassword)), Not(HasSubstr(kRotated))));
  EXPECT_THAT(errors, HasSubstr("SASL"));
  EXPECT_THAT(logged, AllOf(Not(HasSubstr(kPassword)), Not(HasSubstr(kRotated))));
  // The capture did see librdkafka's lines and the reconnection (so the above could fail).
  EXPECT_THAT(logged, HasSubstr("kafka check 'kafka-sasl': librdkafka"));
  EXPECT_THAT(logged, HasSubstr("kafka check 'kafka-sasl': the SASL password changed"));
}

// Listens on a loopback port and never accepts: connects succeed, nothing is ever answered.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Collect against `bootstrap` with a 1 s timeout: returns the error and checks it came in time.
absl::Status CollectFailsWithinTimeout(const std::string& bootstrap) {
  KafkaCheck check;
  EXPECT_THAT(InitWith(check, absl::StrCat("bootstrap_servers: ", bootstrap,
                                           "\nconsumer_groups: [billing]\ntimeout: 1s\n")),
              IsEmpty());
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> s = check.Collect(start);
  absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(s.ok());
  // The timeout plus slack for a loaded machine; librdkafka alone would wait 10 s and more.
  EXPECT_LT(took, absl::Seconds(3)) << took;
  return s.ok() ? absl::OkStatus() : s.status();
}

TEST(KafkaCheckUnreachable, ClosedPortFailsWithinTheTimeout) {
  std::string bootstrap = absl::StrCat("127.0.0.1:", testing::FreePort());
  absl::Status status = CollectFailsWithinTimeout(bootstrap);
  EXPECT_THAT(status.code(),
              AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(
      std::string(status.message()),
      AllOf(HasSubstr("cluster " + bootstrap + " (timeout 1s): cannot fetch cluster metadata"),
            HasSubstr("Connection refused")));
}

TEST(KafkaCheckUnreachable, BrokerThatNeverAnswersFailsWithinTheTimeout) {
  SilentServer server;
  std::string bootstrap = absl::StrCat("127.0.0.1:", server.port());
  absl::Status status = CollectFailsWithinTimeout(bootstrap);
  EXPECT_THAT(std::string(status.message()), HasSubstr("cannot fetch cluster metadata"));
}

// Kafka API keys, for the mock's fault injection.
constexpr int16_t kListOffsetsApi = 2;
constexpr int16_t kOffsetFetchApi = 9;

TEST_F(KafkaFaultTest, CoordinatorThatDoesNotAnswerFailsWithinTheTimeout) {
  const std::string billing = Name("billing");
  ASSERT_EQ(rd_kafka_mock_coordinator_set(mock_.cluster(), "group", billing.c_str(), 1),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  mock_.Commit(billing, {{{orders_, 0}, 4}});
  KafkaCheck check;
  ASSERT_THAT(InitWith(check, absl::StrCat("bootstrap_servers: ", mock_.bootstrap(),
                                           "\nconsumer_groups: [", billing, "]\ntimeout: 1s\n")),
              IsEmpty());
  ASSERT_TRUE(check.Collect(absl::Now()).ok());

  // The coordinator's next OffsetFetch answer comes 5 s late.
  ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(mock_.cluster(), 1, kOffsetFetchApi, 1,
                                                         RD_KAFKA_RESP_ERR_NO_ERROR, 5000),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> s = check.Collect(start);
  absl::Duration took = absl::Now() - start;
  ASSERT_FALSE(s.ok());
  EXPECT_LT(took, absl::Seconds(3)) << took;
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("group '" + billing + "'"));
}

TEST_F(KafkaFaultTest, GroupThatCannotBeReadIsLeftOutAndTheOthersReported) {
  const std::string billing = Name("billing"), reporting = Name("reporting");
  ASSERT_EQ(rd_kafka_mock_coordinator_set(mock_.cluster(), "group", billing.c_str(), 1),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_mock_coordinator_set(mock_.cluster(), "group", reporting.c_str(), 2),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  mock_.Commit(billing, {{{orders_, 0}, 4}});
  mock_.Commit(reporting, {{{orders_, 1}, 5}});
  KafkaCheck check;
  InitCheck(check, absl::StrCat("consumer_groups: [", billing, ", ", reporting, "]\n"));
  ASSERT_EQ(
      rd_kafka_mock_broker_push_request_error_rtts(mock_.cluster(), 2, kOffsetFetchApi, 1,
                                                   RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, 0),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<Sample> s = CollectOk(check);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 6 + 20 + 30);
  EXPECT_THAT(LabelValues(s, "kafka.consumer.lag", "group"), Not(Contains(reporting)));

  // The error was for one request only: the next collection has both groups.
  s = CollectOk(check);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 6 + 20 + 30);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(reporting, orders_)), 10 + 15 + 30);
}

TEST_F(KafkaFaultTest, TopicWithAnUnreadableWatermarkIsLeftOutNotUnderstated) {
  const std::string billing = Name("billing"), payments = Name("payments");
  mock_.CreateTopic(payments, 1);
  mock_.Produce(payments, 0, 9);
  for (int p = 0; p < 3; ++p) {
    ASSERT_EQ(rd_kafka_mock_partition_set_leader(mock_.cluster(), orders_.c_str(), p, 1),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_mock_partition_set_leader(mock_.cluster(), payments.c_str(), 0, 2),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  mock_.Commit(billing,
               {{{orders_, 0}, 4}, {{orders_, 1}, 20}, {{orders_, 2}, 30}, {{payments, 0}, 1}});
  KafkaCheck check;
  InitCheck(check, absl::StrCat("consumer_groups: [", billing, "]\n"));
  // Broker 2 refuses two ListOffsets requests: the one for every topic, then the one the check
  // makes for that topic alone.
  ASSERT_EQ(
      rd_kafka_mock_broker_push_request_error_rtts(mock_.cluster(), 2, kListOffsetsApi, 2,
                                                   RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 0,
                                                   RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 0),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<Sample> s = CollectOk(check);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 6);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, payments)), std::nullopt);
  EXPECT_EQ(FindSample(s, "kafka.partition.high_watermark", Partition(payments, 0)), std::nullopt);

  s = CollectOk(check);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, payments)), 8);
}

TEST_F(KafkaFaultTest, SameClientRecoversWhenTheBrokersComeBack) {
  const std::string billing = Name("billing");
  mock_.Commit(billing, {{{orders_, 0}, 2}});
  KafkaCheck check;
  ASSERT_THAT(InitWith(check, absl::StrCat("bootstrap_servers: ", mock_.bootstrap(),
                                           "\nconsumer_groups: [", billing, "]\ntimeout: 1s\n")),
              IsEmpty());
  std::vector<Sample> s = CollectOk(check);
  EXPECT_EQ(FindSample(s, "kafka.consumer.lag", GroupTopic(billing, orders_)), 8 + 20 + 30);

  for (int broker = 1; broker <= 3; ++broker) {
    ASSERT_EQ(rd_kafka_mock_broker_set_down(mock_.cluster(), broker), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  bool failed =
      testing::WaitFor([&] { return !check.Collect(absl::Now()).ok(); }, absl::Seconds(20));
  EXPECT_TRUE(failed) << "Collect kept succeeding with every broker down";

  for (int broker = 1; broker <= 3; ++broker) {
    ASSERT_EQ(rd_kafka_mock_broker_set_up(mock_.cluster(), broker), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  mock_.Produce(orders_, 0, 4);
  std::optional<double> lag;
  bool recovered = testing::WaitFor(
      [&] {
        absl::StatusOr<std::vector<Sample>> r = check.Collect(absl::Now());
        if (r.ok()) lag = FindSample(*r, "kafka.consumer.lag", GroupTopic(billing, orders_));
        return r.ok();
      },
      absl::Seconds(20));
  EXPECT_TRUE(recovered);
  EXPECT_EQ(lag, 12 + 20 + 30);
}

TEST(KafkaCheckSecrets, MissingPasswordFileFailsCollectNamingTheFile) {
  testing::TempDir dir;
  KafkaCheck check;
  std::string missing = dir.Join("no-such-password");
  ASSERT_THAT(InitWith(check, absl::StrCat("bootstrap_servers: 127.0.0.1:9092\n"
                                           "consumer_groups: [billing]\n"
                                           "security_protocol: sasl_ssl\nusername: monitor\n"
                                           "password_file: ",
                                           missing, "\n")),
              IsEmpty());
  absl::StatusOr<std::vector<Sample>> s = check.Collect(absl::Now());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()),
              AllOf(HasSubstr("SASL password"), HasSubstr(missing)));
}

TEST(KafkaCheckConfig, ValidConfigsHaveNoErrors) {
  for (const std::string yaml : {
           "bootstrap_servers: [k1:9092, k2:9092]\nconsumer_groups: [billing]\n",
           "bootstrap_servers: k1:9092,k2:9092\nconsumer_groups: billing\ntopics: [orders]\n",
           "bootstrap_servers: [k1:9093]\nconsumer_groups: [billing]\n"
           "security_protocol: SASL_SSL\nsasl_mechanism: scram-sha-512\nusername: monitor\n"
           "password_env: KAFKA_PASSWORD\nssl_ca_location: /etc/ssl/certs/ca.pem\n",
           "bootstrap_servers: [k1:9093]\nconsumer_groups: [billing]\nsecurity_protocol: ssl\n",
       }) {
    KafkaCheck check;
    EXPECT_THAT(InitWith(check, yaml), IsEmpty()) << yaml;
  }
}

TEST(KafkaCheckConfig, MistakesAreReportedWithTheirPosition) {
  struct Case {
    std::string yaml;
    std::string error;
  };
  const std::string kOk = "bootstrap_servers: k1:9092\nconsumer_groups: [billing]\n";
  const std::string kSasl = kOk + "security_protocol: sasl_plaintext\n";
  for (const Case& c : std::vector<Case>{
           {"consumer_groups: [billing]\n", "bootstrap_servers: required"},
           {"bootstrap_servers: kafka1\nconsumer_groups: [billing]\n",
            "agent.yaml:1:20: bootstrap_servers: expected host:port"},
           {"bootstrap_servers: [k1:9092, 'k2:x']\nconsumer_groups: [billing]\n",
            "port must be a number"},
           {"bootstrap_servers: {k1: 9092}\nconsumer_groups: [billing]\n",
            "bootstrap_servers: expected a list of strings"},
           {"bootstrap_servers: []\nconsumer_groups: [billing]\n", "at least one host:port"},
           {"bootstrap_servers: k1:9092\n", "consumer_groups: required"},
           {"bootstrap_servers: k1:9092\nconsumer_groups: []\n",
            "consumer_groups: must not be empty"},
           {"bootstrap_servers: k1:9092\nconsumer_groups: [a, b, a]\n", "'a' is listed twice"},
           {"bootstrap_servers: k1:9092\nconsumer_groups: ['']\n", "entries must not be empty"},
           {kOk + "topics: [orders, [x]]\n", "topics: expected a string"},
           {kOk + "security_protocol: tls\n",
            "'tls' is not one of plaintext, ssl, sasl_plaintext, sasl_ssl"},
           {kSasl + "password_file: /p\n", "username: required with security_protocol"},
           {kSasl + "username: monitor\n", "password_file or password_env is required"},
           {kSasl + "username: m\npassword_env: P\nsasl_mechanism: GSSAPI\n",
            "'GSSAPI' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
           {kOk + "username: monitor\n", "username is used only with security_protocol sasl"},
           {kOk + "password_env: P\n", "password_env is used only with security_protocol sasl"},
           {kOk + "sasl_mechanism: PLAIN\n", "sasl_mechanism is used only with"},
           {kSasl + "username: m\npassword: hunter2\n", "secrets are not written inline"},
           {kSasl + "username: m\npassword_file: /a\npassword_env: B\n", "not both"},
           {kOk + "ssl_ca_location: /ca.pem\n", "used only with security_protocol ssl or sasl_ssl"},
           {kOk + "consumer_group: [x]\n", "unknown key 'consumer_group'"},
       }) {
    KafkaCheck check;
    std::vector<std::string> errors = InitWith(check, c.yaml);
    EXPECT_THAT(errors, Contains(HasSubstr(c.error))) << c.yaml;
    for (const std::string& e : errors) {
      EXPECT_TRUE(absl::StartsWith(e, "agent.yaml:")) << e;
      EXPECT_THAT(e, Not(HasSubstr("hunter2")));
    }
  }
}

TEST(KafkaCheckConfig, LoadsThroughTheAgentConfigWithTheCommonKeys) {
  CheckFactory make = [](absl::string_view type) -> std::unique_ptr<Check> {
    if (type == "kafka") return std::make_unique<KafkaCheck>();
    return nullptr;
  };
  const std::string kEntry =
      "checks:\n"
      "  - type: kafka\n"
      "    name: kafka-prod\n"
      "    interval: 30s\n"
      "    bootstrap_servers: [k1:9092, k2:9092]\n"
      "    consumer_groups: [billing]\n";
  absl::StatusOr<AgentConfig> config =
      ParseAgentConfig(kEntry + "    timeout: 3s\n", "agent.yaml", make, {"kafka"});
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->checks.size(), 1u);
  EXPECT_EQ(config->checks[0].name, "kafka-prod");
  EXPECT_EQ(config->checks[0].timeout, absl::Seconds(3));

  // A bad timeout is the scheduler's to report, once; a bad key of the check is reported too.
  config = ParseAgentConfig(kEntry + "    timeout: 3x\n    topics: {a: b}\n", "agent.yaml", make,
                            {"kafka"});
  ASSERT_FALSE(config.ok());
  std::string message(config.status().message());
  EXPECT_THAT(message, HasSubstr("agent.yaml:7:14: timeout"));
  EXPECT_EQ(message.find("timeout"), message.rfind("timeout")) << message;
  EXPECT_THAT(message, HasSubstr("agent.yaml:8:13: topics: expected a list of strings"));
}

TEST(KafkaCheckConfig, MalformedAndTruncatedYamlIsAClearErrorNotACrash) {
  for (const std::string yaml : {
           "bootstrap_servers: [k1:9092\nconsumer_groups: [billing]\n",
           "bootstrap_servers: k1:9092\nconsumer_groups: [bil",
           "bootstrap_servers: k1:9092\nconsumer_groups:\n  - billing\n - reporting\n",
       }) {
    absl::StatusOr<YAML::Node> node = LoadYamlString(yaml, "agent.yaml");
    ASSERT_FALSE(node.ok()) << yaml;
    EXPECT_THAT(std::string(node.status().message()), HasSubstr("agent.yaml:")) << yaml;
  }
  // Truncated after a key: parses, and the check names what is missing.
  KafkaCheck check;
  EXPECT_THAT(InitWith(check, "bootstrap_servers:"),
              AllOf(Contains(HasSubstr("bootstrap_servers")),
                    Contains(HasSubstr("consumer_groups: required"))));
}

}  // namespace
}  // namespace vigil::agent
