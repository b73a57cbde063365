#include "collector/ingest/ingest_pipeline.h"

#include "absl/synchronization/mutex.h"
#include "common/testing/process.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace vigil::collector {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

// Collects what the pipeline sends back to a stream.
class RecordingSink : public StreamSink {
 public:
  void Send(v1::CollectorMessage m) override {
    absl::MutexLock lock(&mu_);
    messages_.push_back(std::move(m));
  }
  void Abort(const absl::Status& s) override {
    absl::MutexLock lock(&mu_);
    aborted_ = s;
  }
  std::vector<v1::CollectorMessage> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return messages_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return messages_;
  }

 private:
  absl::Mutex mu_;
  std::vector<v1::CollectorMessage> messages_;
  absl::Status aborted_;
};

IngestItem Batch(const std::string& agent, uint64_t seq, std::shared_ptr<StreamSink> sink,
                 std::vector<std::string> hosts) {
  IngestItem item;
  item.agent_id = agent;
  item.sink = std::move(sink);
  item.batch.sequence = seq;
  for (const std::string& h : hosts) {
    SeriesKey key{"test.value", {{"host", h}}};
    item.batch.series.push_back({key, {{kNow + static_cast<int64_t>(seq) * 1000, 1.0 * seq}}});
  }
  return item;
}

class IngestPipelineTest : public ::testing::Test {
 protected:
  std::unique_ptr<IngestPipeline> Start(uint32_t max_series = 100) {
    IngestPipeline::Options o;
    o.workers = 2;
    o.max_series_per_agent = max_series;
    o.wal_dir = dir_.Join("wal");
    o.now_ms = [] { return kNow + 60000; };
    auto p = IngestPipeline::Start(o, &store_, &metrics_);
    EXPECT_TRUE(p.ok()) << p.status();
    return std::move(*p);
  }
  size_t Points(const std::string& host) {
    return store_.Read({"test.value", {{"host", host}}}, 0, kNow * 2).size();
  }

  testing::TempDir dir_;
  prometheus::Registry registry_;
  IngestMetrics metrics_{registry_};
  SeriesStore store_{SeriesStore::Options{}};
};

TEST_F(IngestPipelineTest, ReplayedBatchIsAcknowledgedButStoredOnce) {
  auto p = Start();
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(p->Submit(Batch("a1", 1, sink, {"h"})));
  ASSERT_TRUE(p->Submit(Batch("a1", 2, sink, {"h"})));
  ASSERT_TRUE(p->Submit(Batch("a1", 1, sink, {"h"})));  // replay
  auto msgs = sink->WaitFor(3);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].ack().sequence(), 1u);
  EXPECT_EQ(msgs[1].ack().sequence(), 2u);
  EXPECT_TRUE(msgs[2].ack().duplicate());
  EXPECT_EQ(msgs[2].ack().sequence(), 2u);  // still the highest contiguous
  EXPECT_EQ(Points("h"), 2u);
  EXPECT_EQ(metrics_.duplicate_batches.Value(), 1);
}

TEST_F(IngestPipelineTest, RestartRecoversStoreAndPositionsFromTheLog) {
  {
    auto p = Start();
    auto sink = std::make_shared<RecordingSink>();
    for (uint64_t s = 1; s <= 5; ++s) ASSERT_TRUE(p->Submit(Batch("a1", s, sink, {"h"})));
    sink->WaitFor(5);
  }
  store_.Evict(kNow * 10);  // forget everything in memory: only the WAL remains
  ASSERT_EQ(Points("h"), 0u);
  auto p = Start();
  EXPECT_EQ(Points("h"), 5u);
  auto sink = std::make_shared<RecordingSink>();
  IngestItem hello;
  hello.agent_id = "a1";
  hello.sink = sink;
  hello.is_hello = true;
  ASSERT_TRUE(p->Submit(std::move(hello)));
  auto msgs = sink->WaitFor(1);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].welcome().last_sequence(), 5u);
}

TEST_F(IngestPipelineTest, HelloWithLaterFirstSequenceSkipsWhatTheAgentDropped) {
  auto p = Start();
  auto sink = std::make_shared<RecordingSink>();
  IngestItem hello;
  hello.agent_id = "a2";
  hello.sink = sink;
  hello.is_hello = true;
  hello.first_sequence = 40;  // batches 1..39 were dropped by the agent's full spool
  ASSERT_TRUE(p->Submit(std::move(hello)));
  EXPECT_EQ(sink->WaitFor(1)[0].welcome().last_sequence(), 39u);
}

TEST_F(IngestPipelineTest, SeriesLimitRejectsNewSeriesOnly) {
  auto p = Start(/*max_series=*/2);
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(p->Submit(Batch("a3", 1, sink, {"x", "y", "z"})));
  auto msgs = sink->WaitFor(1);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].ack().accepted_points(), 2u);
  EXPECT_EQ(msgs[0].ack().rejected_points(), 1u);
  EXPECT_EQ(msgs[0].ack().rejections(0).reason(), "series_limit");
  EXPECT_EQ(Points("z"), 0u);
}

TEST_F(IngestPipelineTest, ConcurrentAgentsKeepTheirOrder) {
  auto p = Start(1000);
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  std::vector<std::thread> threads;
  for (int a = 0; a < 4; ++a) {
    sinks.push_back(std::make_shared<RecordingSink>());
    threads.emplace_back([&, a] {
      for (uint64_t s = 1; s <= 200; ++s) {
        while (!p->Submit(
            Batch("agent" + std::to_string(a), s, sinks[a], {"host" + std::to_string(a)}))) {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int a = 0; a < 4; ++a) {
    auto msgs = sinks[a]->WaitFor(200);
    ASSERT_EQ(msgs.size(), 200u);
    for (uint64_t s = 1; s <= 200; ++s) EXPECT_EQ(msgs[s - 1].ack().sequence(), s);
    EXPECT_EQ(Points("host" + std::to_string(a)), 200u);
  }
}

}  // namespace
}  // namespace vigil::collector
