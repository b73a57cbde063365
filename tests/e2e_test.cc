// The real collector and agent on loopback: data arrives and matches /proc; wrong tokens,
// malformed batches and bad points are refused without disturbing anyone else.
#include <signal.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/stack.h"
#include "vigil/v1/ingest.grpc.pb.h"

namespace vigil::testing {
namespace {

using v1::AgentMessage;
using v1::CollectorMessage;

class EndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    stack_ = new Stack();
    stack_->StartCollector();
    stack_->StartAgent();
    // The agent is up once its first points are stored.
    ASSERT_TRUE(
        WaitFor([] { return stack_->Points("system.load.1").size() >= 2; }, absl::Seconds(30)))
        << stack_->agent()->Stderr();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }

  // A raw gRPC stream, as a foreign or broken client would open it.
  struct RawStream {
    grpc::ClientContext ctx;
    std::unique_ptr<v1::Ingest::Stub> stub;
    std::unique_ptr<grpc::ClientReaderWriter<AgentMessage, CollectorMessage>> rw;
  };
  static std::unique_ptr<RawStream> Open(const std::string& token) {
    auto s = std::make_unique<RawStream>();
    s->stub = v1::Ingest::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", stack_->grpc_port()), grpc::InsecureChannelCredentials()));
    if (!token.empty()) s->ctx.AddMetadata("authorization", "Bearer " + token);
    s->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    s->rw = s->stub->Stream(&s->ctx);
    return s;
  }
  static AgentMessage Hello(const std::string& agent_id) {
    AgentMessage m;
    m.mutable_hello()->set_agent_id(agent_id);
    m.mutable_hello()->set_hostname(agent_id);
    m.mutable_hello()->set_version("test");
    return m;
  }
  // A batch with one series `test.value{host=<host>}` and the given points.
  static AgentMessage Batch(uint64_t seq, const std::string& host, bool define,
                            std::vector<std::pair<int64_t, double>> points) {
    AgentMessage m;
    v1::Batch* b = m.mutable_batch();
    b->set_sequence(seq);
    if (define) {
      v1::SeriesDefinition* d = b->add_series();
      d->set_id(1);
      d->set_metric("test.value");
      v1::Label* l = d->add_labels();
      l->set_name("host");
      l->set_value(host);
    }
    for (auto [ts, v] : points) {
      v1::Point* p = b->add_points();
      p->set_series_id(1);
      p->set_timestamp_ms(ts);
      p->set_value(v);
    }
    return m;
  }
  static int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }
  static size_t SeriesCount(const std::string& selector) {
    return stack_->Api("/api/v1/series?match=" + UrlEncode(selector))["data"].size();
  }

  static Stack* stack_;
};
Stack* EndToEnd::stack_ = nullptr;

std::vector<double> ReadCpuJiffies() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  std::vector<double> v(8);
  for (double& x : v) in >> x;
  return v;  // user nice system idle iowait irq softirq steal
}

TEST_F(EndToEnd, LoadAverageMatchesProc) {
  nlohmann::json points = stack_->Points("system.load.1");
  ASSERT_FALSE(points.empty());
  double stored = points.back()[1].get<double>();
  std::ifstream in("/proc/loadavg");
  double load1 = 0;
  in >> load1;
  EXPECT_NEAR(stored, load1, std::max(0.5, 0.25 * load1));
}

TEST_F(EndToEnd, MemoryTotalMatchesProcExactly) {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  in >> key >> kib;
  ASSERT_EQ(key, "MemTotal:");
  nlohmann::json points = stack_->Points("system.memory.total_bytes");
  ASSERT_FALSE(points.empty());
  EXPECT_EQ(points.back()[1].get<double>(), kib * 1024);
}

TEST_F(EndToEnd, CpuUtilizationMatchesProcOverTheSameWindow) {
  // Our own measurement over [t0, t1] against the agent's points for ticks inside it.
  const int64_t t0 = NowMs();
  std::vector<double> a = ReadCpuJiffies();
  absl::SleepFor(absl::Seconds(4));
  std::vector<double> b = ReadCpuJiffies();
  const int64_t t1 = NowMs();
  double total = 0, idle = 0;
  for (int i = 0; i < 8; ++i) total += b[i] - a[i];
  idle = (b[3] - a[3]) + (b[4] - a[4]);
  const double ours = 100.0 * (total - idle) / total;
  ASSERT_TRUE(WaitFor(
      [&] {
        nlohmann::json p = stack_->Points("system.cpu.utilization");
        return !p.empty() && p.back()[0].get<int64_t>() >= t1 - 1000;
      },
      absl::Seconds(10)));
  double sum = 0;
  int n = 0;
  for (const auto& p : stack_->Points("system.cpu.utilization")) {
    int64_t ts = p[0].get<int64_t>();
    if (ts > t0 + 1000 && ts <= t1) {
      sum += p[1].get<double>();
      ++n;
    }
  }
  ASSERT_GE(n, 2);
  EXPECT_NEAR(sum / n, ours, 20.0) << "agent average over " << n << " ticks";
}

TEST_F(EndToEnd, HostLabelsAreOnEverySeries) {
  nlohmann::json r = stack_->Api("/api/v1/series?match=" +
                                 UrlEncode(absl::StrCat("{host=\"", Stack::kHost, "\"}")));
  ASSERT_GT(r["data"].size(), 10u);
  for (const auto& s : r["data"]) {
    EXPECT_EQ(s["labels"]["role"], "web") << s["series"];
    EXPECT_EQ(s["labels"]["env"], "test") << s["series"];
  }
  EXPECT_EQ(stack_->Points("system.up").back()[1].get<double>(), 1.0);
}

TEST_F(EndToEnd, WrongTokenIsRefusedAndNothingStored) {
  for (const std::string& token : {std::string("not-a-valid-token"), std::string()}) {
    auto s = Open(token);
    s->rw->Write(Hello("intruder"));
    s->rw->Write(Batch(1, "intruder", true, {{NowMs(), 1.0}}));
    s->rw->WritesDone();
    CollectorMessage m;
    EXPECT_FALSE(s->rw->Read(&m));
    grpc::Status st = s->rw->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  }
  EXPECT_EQ(SeriesCount("{host=\"intruder\"}"), 0u);
  long status = 0;
  std::string metrics =
      HttpGet(absl::StrCat("http://127.0.0.1:", stack_->http_port(), "/metrics"), &status);
  EXPECT_TRUE(
      absl::StrContains(metrics, "vigil_ingest_streams_rejected_total{code=\"unauthenticated\"} 2"))
      << metrics;
}

TEST_F(EndToEnd, MalformedBatchGetsInvalidArgumentAndOthersKeepServing) {
  auto bad = Open(stack_->token());
  ASSERT_TRUE(bad->rw->Write(Hello("malformed-client")));
  CollectorMessage welcome;
  ASSERT_TRUE(bad->rw->Read(&welcome));
  EXPECT_TRUE(welcome.has_welcome());
  // A point naming series id 1, which this stream never defined.
  bad->rw->Write(Batch(1, "malformed", /*define=*/false, {{NowMs(), 1.0}}));
  CollectorMessage m;
  EXPECT_FALSE(bad->rw->Read(&m));
  grpc::Status st = bad->rw->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "undefined series id 1")) << st.error_message();

  // Another client is served normally.
  auto good = Open(stack_->token());
  ASSERT_TRUE(good->rw->Write(Hello("well-behaved-client")));
  ASSERT_TRUE(good->rw->Read(&m));
  ASSERT_TRUE(good->rw->Write(
      Batch(m.welcome().last_sequence() + 1, "well-behaved", true, {{NowMs(), 42.0}})));
  ASSERT_TRUE(good->rw->Read(&m));
  ASSERT_TRUE(m.has_ack());
  EXPECT_EQ(m.ack().accepted_points(), 1u);
  good->rw->WritesDone();
  EXPECT_TRUE(good->rw->Finish().ok());

  // And the real agent's data keeps arriving.
  const int64_t after = NowMs();
  EXPECT_TRUE(WaitFor(
      [&] {
        nlohmann::json p = stack_->Points("system.load.1");
        return !p.empty() && p.back()[0].get<int64_t>() > after;
      },
      absl::Seconds(10)));
}

TEST_F(EndToEnd, BadPointsAreRejectedByReasonNotTheStream) {
  auto s = Open(stack_->token());
  ASSERT_TRUE(s->rw->Write(Hello("bad-points-client")));
  CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  const uint64_t seq = m.welcome().last_sequence() + 1;
  const int64_t now = NowMs();
  ASSERT_TRUE(s->rw->Write(Batch(seq, "bad-points", true,
                                 {{now - 2000, 1.0},
                                  {now - 1000, std::nan("")},
                                  {now + 3600 * 1000, 3.0},
                                  {now - 30LL * 24 * 3600 * 1000, 4.0}})));
  ASSERT_TRUE(s->rw->Read(&m));
  ASSERT_TRUE(m.has_ack());
  EXPECT_EQ(m.ack().sequence(), seq);
  EXPECT_EQ(m.ack().accepted_points(), 1u);
  EXPECT_EQ(m.ack().rejected_points(), 3u);
  std::map<std::string, uint32_t> reasons;
  for (const auto& r : m.ack().rejections()) reasons[r.reason()] = r.count();
  EXPECT_EQ(reasons["value_not_finite"], 1u);
  EXPECT_EQ(reasons["timestamp_too_new"], 1u);
  EXPECT_EQ(reasons["timestamp_too_old"], 1u);
  // The stream is still open: the next batch is acknowledged too.
  ASSERT_TRUE(s->rw->Write(Batch(seq + 1, "bad-points", false, {{now, 5.0}})));
  ASSERT_TRUE(s->rw->Read(&m));
  EXPECT_EQ(m.ack().sequence(), seq + 1);
  s->rw->WritesDone();
  EXPECT_TRUE(s->rw->Finish().ok());
  nlohmann::json r =
      stack_->Api("/api/v1/query?from=-1h&series=" + UrlEncode("test.value{host=\"bad-points\"}"));
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0]["points"].size(), 2u);
}

TEST_F(EndToEnd, OversizedBatchGetsInvalidArgumentWithTheLimit) {
  auto s = Open(stack_->token());
  ASSERT_TRUE(s->rw->Write(Hello("oversized-client")));
  CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  // About 4.4 MB: above the default 4 MiB limit, below gRPC's own backstop (limit + 1 MiB).
  std::vector<std::pair<int64_t, double>> points;
  const int64_t now = NowMs();
  for (int i = 0; i < 220000; ++i) points.emplace_back(now - i, 1.0);
  s->rw->Write(Batch(m.welcome().last_sequence() + 1, "oversized", true, points));
  EXPECT_FALSE(s->rw->Read(&m));
  grpc::Status st = s->rw->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "exceeds the limit of 4194304 bytes"))
      << st.error_message();
  EXPECT_EQ(SeriesCount("{host=\"oversized\"}"), 0u);
  EXPECT_TRUE(absl::StrContains(
      HttpGet(absl::StrCat("http://127.0.0.1:", stack_->http_port(), "/metrics")),
      "vigil_ingest_datapoints_rejected_total{reason=\"message_too_large\"} 220000"));
}

TEST_F(EndToEnd, ReplayedBatchIsStoredOnce) {
  const int64_t now = NowMs();
  uint64_t seq = 0;
  {
    auto s = Open(stack_->token());
    ASSERT_TRUE(s->rw->Write(Hello("replay-client")));
    CollectorMessage m;
    ASSERT_TRUE(s->rw->Read(&m));
    seq = m.welcome().last_sequence() + 1;
    ASSERT_TRUE(s->rw->Write(Batch(seq, "replay", true, {{now - 1000, 7.0}, {now, 8.0}})));
    ASSERT_TRUE(s->rw->Read(&m));
    EXPECT_EQ(m.ack().sequence(), seq);
    s->rw->WritesDone();
    s->rw->Finish();
  }
  // Reconnect: the collector says it has `seq`; a replay of it anyway is acknowledged, not stored.
  auto s = Open(stack_->token());
  ASSERT_TRUE(s->rw->Write(Hello("replay-client")));
  CollectorMessage m;
  ASSERT_TRUE(s->rw->Read(&m));
  EXPECT_EQ(m.welcome().last_sequence(), seq);
  ASSERT_TRUE(s->rw->Write(Batch(seq, "replay", true, {{now - 1000, 7.0}, {now, 8.0}})));
  ASSERT_TRUE(s->rw->Read(&m));
  EXPECT_TRUE(m.ack().duplicate());
  EXPECT_EQ(m.ack().sequence(), seq);
  s->rw->WritesDone();
  s->rw->Finish();
  nlohmann::json r =
      stack_->Api("/api/v1/query?from=-1h&series=" + UrlEncode("test.value{host=\"replay\"}"));
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0]["points"].size(), 2u);
}

TEST_F(EndToEnd, CheckConfigReportsFileLineAndExitsTwo) {
  WriteFile(stack_->dir().Join("broken.yaml"), "interval: 10s\nbogus_key: 1\n");
  Process p({VIGIL_BINARY_DIR "/agent/vigil-agent", "--config", stack_->dir().Join("broken.yaml"),
             "--check-config"},
            stack_->dir().Join("check.out"), stack_->dir().Join("check.err"));
  EXPECT_EQ(p.Wait(absl::Seconds(10)), 2);
  EXPECT_TRUE(absl::StrContains(p.Stderr(), "broken.yaml:2:1: unknown key 'bogus_key'"))
      << p.Stderr();
}

TEST_F(EndToEnd, AgentServesItsOwnMetrics) {
  const std::string url =
      absl::StrCat("http://127.0.0.1:", stack_->agent_metrics_port(), "/metrics");
  long status = 0;
  std::string body = HttpGet(url, &status);
  ASSERT_EQ(status, 200) << url;
  EXPECT_TRUE(absl::StrContains(body, "vigil_agent_connected 1")) << body;
  for (const char* name :
       {"vigil_agent_datapoints_collected_total", "vigil_agent_batches_acked_total",
        "vigil_agent_spool_bytes", "vigil_agent_spool_dropped_batches_total",
        "vigil_agent_reconnects_total",
        "vigil_agent_check_duration_seconds_count{check=\"system\"}",
        "vigil_agent_check_failures_total{check=\"system\"} 0"}) {
    EXPECT_TRUE(absl::StrContains(body, name)) << name;
  }
  // Acked batches grow while the agent runs.
  auto acked = [&] {
    const std::string prefix = "\nvigil_agent_batches_acked_total ";
    std::string b = HttpGet(url);
    size_t at = b.find(prefix);
    return at == std::string::npos ? -1.0 : std::strtod(b.c_str() + at + prefix.size(), nullptr);
  };
  const double before = acked();
  EXPECT_GT(before, 0);
  EXPECT_TRUE(WaitFor([&] { return acked() > before; }, absl::Seconds(10)));
}

TEST_F(EndToEnd, SelfMetricsCountAcceptedPoints) {
  const std::string url = absl::StrCat("http://127.0.0.1:", stack_->http_port(), "/metrics");
  EXPECT_TRUE(absl::StrContains(HttpGet(url), "vigil_ingest_datapoints_accepted_total"));
  // Only the real agent stays connected (test clients close their streams).
  EXPECT_TRUE(
      WaitFor([&] { return absl::StrContains(HttpGet(url), "vigil_ingest_connected_agents 1\n"); },
              absl::Seconds(10)))
      << HttpGet(url);
}

}  // namespace
}  // namespace vigil::testing
