#include "agent/checks/rabbitmq/rabbitmq_check.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/checks/check_testing.h"
#include "common/config_reader.h"
#include "common/http_client.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// The `rabbitmq` check against a real RabbitMQ 3.10 with the management plugin, started once
// for this binary on loopback ports with its own epmd (TEST-ENVIRONMENT.md section 10).

namespace vigil::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kRabbitmqServer[] = "/usr/lib/rabbitmq/bin/rabbitmq-server";
constexpr char kEpmd[] = "/usr/bin/epmd";
constexpr char kMonitorUser[] = "vigil-monitor";
constexpr char kMonitorPassword[] = "m0nitor-Secret";

std::optional<double> Find(const std::vector<Sample>& samples, const std::string& metric,
                           const Labels& labels) {
  for (const Sample& s : samples) {
    if (s.metric == metric && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

std::set<std::string> QueueNames(const std::vector<Sample>& samples) {
  std::set<std::string> out;
  for (const Sample& s : samples) {
    if (s.metric != "rabbitmq.queue.messages") continue;
    std::string queue, vhost;
    for (const auto& [k, v] : s.labels) {
      if (k == "queue") queue = v;
      if (k == "vhost") vhost = v;
    }
    out.insert(vhost + "/" + queue);
  }
  return out;
}

class RabbitmqCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (access(kRabbitmqServer, X_OK) != 0 || access(kEpmd, X_OK) != 0) {
      setup_error_ = new std::string(
          "RabbitMQ is required: /usr/lib/rabbitmq/bin/rabbitmq-server and /usr/bin/epmd "
          "(Debian package rabbitmq-server; scripts/install-deps.sh installs it)");
      return;
    }
    dir_ = new testing::TempDir();
    std::set<int> used;
    auto port = [&] {
      int p = testing::FreePort();
      while (!used.insert(p).second) p = testing::FreePort();
      return p;
    };
    const int amqp_port = port(), dist_port = port(), epmd_port = port();
    mgmt_port_ = port();
    node_ = "rabbit-vigil@localhost";
    testing::WriteFile(
        dir_->Join("rabbitmq.conf"),
        absl::StrCat("listeners.tcp.1 = 127.0.0.1:", amqp_port,
                     "\nmanagement.tcp.ip = 127.0.0.1\nmanagement.tcp.port = ", mgmt_port_,
                     // Counts and rates reach the API once per statistics emission and
                     // sample (5 s by default): 1 s keeps the waits short.
                     "\ncollect_statistics_interval = 500",
                     "\nmanagement.sample_retention_policies.global.60 = 1",
                     "\nmanagement.sample_retention_policies.basic.60 = 1",
                     "\nmanagement.sample_retention_policies.detailed.60 = 1\n"));
    testing::WriteFile(dir_->Join("enabled_plugins"), "[rabbitmq_management].\n");
    // Its own epmd on loopback; otherwise the node spawns one on 0.0.0.0:4369.
    epmd_ =
        new testing::Process({kEpmd, "-address", "127.0.0.1", "-port", std::to_string(epmd_port)},
                             dir_->Join("epmd.log"), dir_->Join("epmd.log"));
    // /usr/sbin/rabbitmq-server would `su rabbitmq` and lose this environment.
    server_ = new testing::Process(
        {"/usr/bin/env", "HOME=" + dir_->path(), "RABBITMQ_NODENAME=" + node_,
         "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1", absl::StrCat("RABBITMQ_NODE_PORT=", amqp_port),
         absl::StrCat("RABBITMQ_DIST_PORT=", dist_port), absl::StrCat("ERL_EPMD_PORT=", epmd_port),
         "RABBITMQ_CONFIG_FILE=" + dir_->Join("rabbitmq"),
         "RABBITMQ_ENABLED_PLUGINS_FILE=" + dir_->Join("enabled_plugins"),
         "RABBITMQ_MNESIA_BASE=" + dir_->Join("mnesia"), "RABBITMQ_LOG_BASE=" + dir_->Join("log"),
         "RABBITMQ_PID_FILE=" + dir_->Join("rabbit.pid"),
         "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
         kRabbitmqServer},
        dir_->Join("server.log"), dir_->Join("server.log"));
    // 4-8 s on this machine; generous for a loaded one.
    bool up = testing::WaitFor(
        [] {
          if (!server_->running()) return false;
          absl::StatusOr<HttpResponse> r = Api("GET", "/api/overview", "");
          return r.ok() && r->status == 200;
        },
        absl::Seconds(90));
    if (!up) {
      setup_error_ = new std::string(
          absl::StrCat("RabbitMQ did not start (management API on 127.0.0.1:", mgmt_port_,
                       " not answering); its output:\n", server_->Stdout()));
      return;
    }
    // A user with only the `monitoring` tag, as an operator would give the agent.
    std::string error = Expect2xx(
        Api("PUT", absl::StrCat("/api/users/", kMonitorUser),
            absl::StrCat(R"({"password":")", kMonitorPassword, R"(","tags":"monitoring"})")));
    if (error.empty()) {
      error = Expect2xx(Api("PUT", absl::StrCat("/api/permissions/%2F/", kMonitorUser),
                            R"({"configure":"","write":"","read":".*"})"));
    }
    if (!error.empty()) setup_error_ = new std::string(error);
  }

  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      // SIGTERM to the start script stops the node cleanly (rabbitmqctl stop).
      server_->Stop(SIGTERM, absl::Seconds(60));
      // If the script did not take the VM with it, end the VM itself (its pid file).
      std::string pid_text(absl::StripAsciiWhitespace(testing::ReadFile(dir_->Join("rabbit.pid"))));
      int pid = 0;
      if (absl::SimpleAtoi(pid_text, &pid) && pid > 0 && kill(pid, 0) == 0) kill(pid, SIGKILL);
      delete server_;
      server_ = nullptr;
    }
    if (epmd_ != nullptr) {
      epmd_->Stop(SIGTERM);
      delete epmd_;
      epmd_ = nullptr;
    }
    delete dir_;
    dir_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  void SetUp() override { ASSERT_EQ(setup_error_, nullptr) << *setup_error_; }

  // A management API call as the administrator (guest, allowed from loopback).
  static absl::StatusOr<HttpResponse> Api(const std::string& method, const std::string& path,
                                          const std::string& body) {
    HttpRequest r;
    r.method = method;
    r.url = absl::StrCat("http://127.0.0.1:", mgmt_port_, path);
    r.username = "guest";
    r.password = "guest";
    r.body = body;
    if (!body.empty()) r.headers.emplace_back("Content-Type", "application/json");
    r.connect_timeout = absl::Seconds(5);
    r.timeout = absl::Seconds(20);
    return HttpFetch(r);
  }

  static std::string Expect2xx(const absl::StatusOr<HttpResponse>& r) {
    if (!r.ok()) return std::string(r.status().message());
    if (r->status / 100 != 2) return absl::StrCat("HTTP ", r->status, ": ", r->body);
    return "";
  }

  static void DeclareQueue(const std::string& vhost_encoded, const std::string& name) {
    ASSERT_EQ(Expect2xx(Api("PUT", absl::StrCat("/api/queues/", vhost_encoded, "/", name),
                            R"({"durable":false,"auto_delete":false})")),
              "");
  }

  static void Publish(const std::string& vhost_encoded, const std::string& queue, int n) {
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<HttpResponse> r =
          Api("POST", absl::StrCat("/api/exchanges/", vhost_encoded, "/amq.default/publish"),
              absl::StrCat(R"({"properties":{},"routing_key":")", queue, R"(","payload":"message )",
                           i, R"(","payload_encoding":"string"})"));
      ASSERT_EQ(Expect2xx(r), "");
      ASSERT_THAT(r->body, HasSubstr("\"routed\":true"));
    }
  }

  static std::vector<std::string> InitWith(RabbitmqCheck& check, const std::string& yaml) {
    return InitCheckForTest(check, yaml);
  }

  // A check as the monitoring user, with the password from a file.
  static std::unique_ptr<RabbitmqCheck> MonitorCheck(
      const std::string& extra = "", const std::string& password = kMonitorPassword) {
    auto check = std::make_unique<RabbitmqCheck>();
    std::string pw = dir_->Write("monitor.pw", password + "\n");
    EXPECT_THAT(InitWith(*check, absl::StrCat("url: http://127.0.0.1:", mgmt_port_,
                                              "/\nusername: ", kMonitorUser,
                                              "\npassword_file: ", pw, "\ntimeout: 10s\n", extra)),
                IsEmpty());
    return check;
  }

  static std::vector<Sample> MustCollect(RabbitmqCheck& check) {
    absl::StatusOr<std::vector<Sample>> r = check.Collect(absl::Now());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<Sample>{};
  }

  static testing::TempDir* dir_;
  static testing::Process* epmd_;
  static testing::Process* server_;
  static int mgmt_port_;
  static std::string node_;
  static std::string* setup_error_;
};

testing::TempDir* RabbitmqCheckTest::dir_ = nullptr;
testing::Process* RabbitmqCheckTest::epmd_ = nullptr;
testing::Process* RabbitmqCheckTest::server_ = nullptr;
int RabbitmqCheckTest::mgmt_port_ = 0;
std::string RabbitmqCheckTest::node_;
std::string* RabbitmqCheckTest::setup_error_ = nullptr;

TEST_F(RabbitmqCheckTest, NodeIsRunningWithoutAlarms) {
  auto check = MonitorCheck();
  const Labels node = {{"node", node_}};
  std::vector<Sample> samples;
  // Right after start the node is listed as running before its first statistics.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        samples = MustCollect(*check);
        return Find(samples, "rabbitmq.node.mem_used_bytes", node).has_value();
      },
      absl::Seconds(30)));
  EXPECT_EQ(Find(samples, "rabbitmq.node.running", node), 1);
  EXPECT_EQ(Find(samples, "rabbitmq.node.mem_alarm", node), 0);
  EXPECT_EQ(Find(samples, "rabbitmq.node.disk_free_alarm", node), 0);
  EXPECT_GT(Find(samples, "rabbitmq.node.mem_used_bytes", node).value_or(0), 10 << 20);
  EXPECT_GT(Find(samples, "rabbitmq.node.mem_limit_bytes", node).value_or(0),
            Find(samples, "rabbitmq.node.mem_used_bytes", node).value_or(0));
  EXPECT_GT(Find(samples, "rabbitmq.node.fd_used", node).value_or(0), 0);
  EXPECT_GT(Find(samples, "rabbitmq.node.fd_total", node).value_or(0), 0);
  EXPECT_GT(Find(samples, "rabbitmq.node.disk_free_bytes", node).value_or(0),
            Find(samples, "rabbitmq.node.disk_free_limit_bytes", node).value_or(0));
}

TEST_F(RabbitmqCheckTest, PublishedMessagesAreCountedPerQueue) {
  constexpr int kMessages = 25;
  DeclareQueue("%2F", "vigil.orders");
  Publish("%2F", "vigil.orders", kMessages);
  auto check = MonitorCheck();
  const Labels queue = {{"queue", "vigil.orders"}, {"vhost", "/"}};
  std::vector<Sample> samples;
  // Counts reach the API with the broker's next statistics sample (every second here).
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        samples = MustCollect(*check);
        return Find(samples, "rabbitmq.queue.messages", queue) == kMessages;
      },
      absl::Seconds(30)))
      << "messages: " << Find(samples, "rabbitmq.queue.messages", queue).value_or(-1);
  EXPECT_EQ(Find(samples, "rabbitmq.queue.messages_ready", queue), kMessages);
  EXPECT_EQ(Find(samples, "rabbitmq.queue.messages_unacknowledged", queue), 0);
  EXPECT_EQ(Find(samples, "rabbitmq.queue.consumers", queue), 0);
  EXPECT_TRUE(Find(samples, "rabbitmq.queue.publish_per_second", queue).has_value());

  // Taking 5 off the queue (basic.get) leaves 20 and shows as deliveries.
  ASSERT_EQ(Expect2xx(Api("POST", "/api/queues/%2F/vigil.orders/get",
                          R"({"count":5,"ackmode":"ack_requeue_false","encoding":"auto"})")),
            "");
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        samples = MustCollect(*check);
        return Find(samples, "rabbitmq.queue.messages", queue) == kMessages - 5 &&
               Find(samples, "rabbitmq.queue.deliver_per_second", queue).has_value();
      },
      absl::Seconds(30)));
}

TEST_F(RabbitmqCheckTest, PublishRateIsReportedWhilePublishing) {
  DeclareQueue("%2F", "vigil.rate");
  auto check = MonitorCheck("queues: vigil\\.rate\n");
  const Labels queue = {{"queue", "vigil.rate"}, {"vhost", "/"}};
  // The broker's rate is over its last statistics samples, so keep publishing until it shows.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        Publish("%2F", "vigil.rate", 10);
        return Find(MustCollect(*check), "rabbitmq.queue.publish_per_second", queue).value_or(0) >
               0;
      },
      absl::Seconds(30)));
}

TEST_F(RabbitmqCheckTest, VhostAndQueueFiltersSelectQueues) {
  ASSERT_EQ(Expect2xx(Api("PUT", "/api/vhosts/staging", "")), "");
  ASSERT_EQ(Expect2xx(Api("PUT", absl::StrCat("/api/permissions/staging/", kMonitorUser),
                          R"({"configure":"","write":"","read":".*"})")),
            "");
  ASSERT_EQ(Expect2xx(Api("PUT", "/api/permissions/staging/guest",
                          R"({"configure":".*","write":".*","read":".*"})")),
            "");
  DeclareQueue("staging", "vigil.staged");
  DeclareQueue("%2F", "other.queue");

  auto staging = MonitorCheck("vhost: staging\n");
  std::set<std::string> names;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        names = QueueNames(MustCollect(*staging));
        return !names.empty();
      },
      absl::Seconds(30)));
  EXPECT_EQ(names, std::set<std::string>{"staging/vigil.staged"});

  auto filtered = MonitorCheck("queues: 'vigil\\..*'\n");
  EXPECT_TRUE(testing::WaitFor(
      [&] { return QueueNames(MustCollect(*filtered)).count("staging/vigil.staged") == 1; },
      absl::Seconds(30)));
  for (const std::string& n : QueueNames(MustCollect(*filtered))) {
    EXPECT_THAT(n, HasSubstr("/vigil.")) << "the regex is anchored: other.queue is left out";
  }
}

TEST_F(RabbitmqCheckTest, WrongPasswordIs401WithoutThePassword) {
  const std::string wrong = "Wr0ng-passw0rd";
  auto check = MonitorCheck("", wrong);
  absl::StatusOr<std::vector<Sample>> r = check->Collect(absl::Now());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(), HasSubstr("HTTP 401 (Login failed)"));
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("'", kMonitorUser, "'")));
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", mgmt_port_)));
  EXPECT_THAT(r.status().message(), Not(HasSubstr(wrong)));
}

TEST_F(RabbitmqCheckTest, UnknownVhostIsNotFound) {
  auto check = MonitorCheck("vhost: no-such-vhost\n");
  absl::StatusOr<std::vector<Sample>> r = check->Collect(absl::Now());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("vhost 'no-such-vhost'"));
}

TEST_F(RabbitmqCheckTest, ListenerThatNeverAnswersFailsWithinTheTimeout) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = 0;
  for (int attempt = 0; attempt < 20 && port == 0; ++attempt) {
    int p = testing::FreePort();
    addr.sin_port = htons(static_cast<uint16_t>(p));
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) port = p;
  }
  ASSERT_NE(port, 0);
  ASSERT_EQ(listen(fd, 8), 0);
  RabbitmqCheck check;
  ASSERT_THAT(
      InitWith(check, absl::StrCat("url: http://127.0.0.1:", port, "\nusername: u\npassword_file: ",
                                   dir_->Write("u.pw", "p"), "\ntimeout: 700ms\n")),
      IsEmpty());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Sample>> r = check.Collect(absl::Now());
  const absl::Duration took = absl::Now() - start;
  close(fd);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(took, absl::Seconds(3));
}

TEST(RabbitmqCheckConfig, BadKeysAreReportedWithTheirPosition) {
  struct Case {
    std::string yaml;
    std::string error;
  } cases[] = {
      {"password_env: X\n", "username: required"},
      {"username: u\n", "required: password_file or password_env"},
      {"username: u\npassword: hunter2\n", "secrets are not written inline"},
      {"username: u\npassword_env: X\nurl: 127.0.0.1:15672\n", "must start with http://"},
      {"username: u\npassword_env: X\nurl: http://u:hunter2@h:15672\n", "must not contain"},
      {"username: u\npassword_env: X\nqueues: '(unclosed'\n", "not a valid regular expression"},
      {"username: u\npassword_env: X\nvhost: ''\n", "must not be empty"},
      {"username: u\npassword_env: X\nmax_queues: 0\n", "agent.yaml:3:"},
      {"username: u\npassword_env: X\nqeues: x\n", "unknown key"},
  };
  for (const Case& c : cases) {
    RabbitmqCheck check;
    absl::StatusOr<YAML::Node> node = LoadYamlString(c.yaml, "agent.yaml");
    ASSERT_TRUE(node.ok()) << c.yaml;
    ConfigErrors errors("agent.yaml");
    ConfigMap config(*node, &errors);
    ASSERT_TRUE(check.Init(config).ok());
    config.Finish();
    ASSERT_FALSE(errors.messages().empty()) << c.yaml;
    EXPECT_THAT(errors.messages()[0], HasSubstr(c.error)) << c.yaml;
    for (const std::string& m : errors.messages()) EXPECT_THAT(m, Not(HasSubstr("hunter2")));
  }
}

}  // namespace
}  // namespace vigil::agent
