// Backpressure: a collector with a tiny ingest queue answers RESOURCE_EXHAUSTED to streams that
// outrun it, counts them, and stores every batch it acknowledged; the real agent, caught in the
// same flood, backs off and loses none of its points.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/stack.h"
#include "vigil/v1/ingest.grpc.pb.h"

namespace vigil::testing {
namespace {

using v1::AgentMessage;
using v1::CollectorMessage;

constexpr int kStreams = 8;
constexpr int kBatchesPerStream = 400;
constexpr int kPointsPerBatch = 20;

// What one flooding stream saw.
struct FloodResult {
  std::string host;
  uint64_t first_sequence = 0;  // of this stream's batches
  uint64_t attempted = 0;       // highest sequence written (a failed Write may have arrived)
  uint64_t acked = 0;           // highest acknowledged sequence
  grpc::Status status;
};

// A batch of `test.value{host=<host>}` with kPointsPerBatch points at consecutive milliseconds
// after base_ms; the stream's first batch defines the series as id 1.
AgentMessage Batch(uint64_t seq, const std::string& host, bool define, int64_t base_ms) {
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
  for (int j = 0; j < kPointsPerBatch; ++j) {
    v1::Point* p = b->add_points();
    p->set_series_id(1);
    p->set_timestamp_ms(base_ms + j);
    p->set_value(static_cast<double>(seq));
  }
  return m;
}

// Sends the batches after the collector's last sequence for `host` up to kBatchesPerStream as
// fast as the stream takes them, with at most `window` unacknowledged, reading acks on a second
// thread, until all are sent or the collector ends the stream. Batch `seq` holds the points at
// start_ms + (seq - 1) * kPointsPerBatch + [0, kPointsPerBatch).
FloodResult Flood(int port, const std::string& token, const std::string& host, int64_t start_ms,
                  uint64_t window = kBatchesPerStream) {
  FloodResult r;
  r.host = host;
  auto stub = v1::Ingest::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto rw = stub->Stream(&ctx);
  AgentMessage hello;
  hello.mutable_hello()->set_agent_id(host);
  hello.mutable_hello()->set_hostname(host);
  hello.mutable_hello()->set_version("test");
  CollectorMessage welcome;
  if (!rw->Write(hello) || !rw->Read(&welcome) || !welcome.has_welcome()) {
    r.status = rw->Finish();
    return r;
  }
  r.first_sequence = welcome.welcome().last_sequence() + 1;
  absl::Mutex mu;
  uint64_t acked = r.first_sequence - 1;  // the welcome says the collector has these
  bool reader_done = false;
  std::thread reader([&] {
    CollectorMessage m;
    while (rw->Read(&m)) {
      absl::MutexLock lock(&mu);
      if (m.has_ack() && m.ack().sequence() > acked) acked = m.ack().sequence();
    }
    absl::MutexLock lock(&mu);
    reader_done = true;
  });
  for (uint64_t seq = r.first_sequence; seq <= kBatchesPerStream; ++seq) {
    {
      absl::MutexLock lock(&mu);
      auto room = [&] { return reader_done || seq <= acked + window; };
      if (!mu.AwaitWithTimeout(absl::Condition(&room), absl::Seconds(10)) || reader_done) break;
    }
    r.attempted = seq;
    if (!rw->Write(Batch(seq, host, seq == r.first_sequence,
                         start_ms + static_cast<int64_t>(seq - 1) * kPointsPerBatch)))
      break;
  }
  rw->WritesDone();
  reader.join();
  r.status = rw->Finish();
  absl::MutexLock lock(&mu);
  r.acked = acked;
  return r;
}

// Sum of the points stored for `host` (counted per hour bucket, so no point limit applies).
uint64_t StoredPoints(const Stack& stack, const std::string& host) {
  nlohmann::json r = stack.Api("/api/v1/query?from=-3h&step=1h&stat=count&series=" +
                               UrlEncode("test.value{host=\"" + host + "\"}"));
  if (!r.contains("data") || r["data"].empty()) return 0;
  uint64_t n = 0;
  for (const auto& p : r["data"][0]["points"]) n += static_cast<uint64_t>(p[1].get<double>());
  return n;
}

TEST(Backpressure, FullQueueAnswersResourceExhaustedAndAckedBatchesAreStored) {
  Stack stack;
  stack.AppendCollectorConfig("limits: {queue_capacity: 2}\ningest: {workers: 1}\n");
  stack.StartCollector();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());

  // Points in the past hour, each stream in its own series. Even streams flood once; odd ones
  // behave like agents: one batch in flight, and when refused they back off, reconnect and
  // resume after the collector's last sequence, until every batch is acknowledged.
  const int64_t start_ms = absl::ToUnixMillis(absl::Now() - absl::Minutes(50));
  std::vector<FloodResult> results(kStreams);
  std::vector<int> refusals(kStreams, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      const std::string host = absl::StrCat("flood-", i);
      if (i % 2 == 0) {
        results[i] = Flood(stack.grpc_port(), stack.token(), host, start_ms);
        return;
      }
      for (int attempt = 1; attempt <= 200; ++attempt) {
        results[i] = Flood(stack.grpc_port(), stack.token(), host, start_ms, /*window=*/1);
        if (results[i].status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) break;
        ++refusals[i];
        absl::SleepFor(absl::Milliseconds(std::min(10 * attempt, 200)));  // the client's backoff
      }
    });
  }
  for (std::thread& t : threads) t.join();

  int exhausted = 0;
  for (int i = 0; i < kStreams; ++i) {
    const FloodResult& r = results[i];
    exhausted += refusals[i];
    if (r.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      EXPECT_EQ(r.status.error_message(), "ingest queue is full; retry with backoff");
    } else {
      EXPECT_TRUE(r.status.ok()) << r.host << ": " << r.status.error_code() << " "
                                 << r.status.error_message();
    }
    // The retrying clients got through in the end.
    if (i % 2 == 1) {
      EXPECT_TRUE(r.status.ok()) << r.host << " refused " << refusals[i] << " times";
    }
  }
  EXPECT_GE(exhausted, 1) << "no stream was refused; the queue never filled";

  const std::string metrics =
      HttpGet(absl::StrCat("http://127.0.0.1:", stack.http_port(), "/metrics"));
  const std::string counter = "vigil_ingest_streams_rejected_total{code=\"resource_exhausted\"} ";
  const size_t at = metrics.find(counter);
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_EQ(std::stoi(metrics.substr(at + counter.size())), exhausted);

  // Every acknowledged batch (and every batch before the last welcome's sequence) is stored;
  // nothing beyond what was sent is. Sequences run from 1 on every host.
  uint64_t acked_total = 0;
  for (const FloodResult& r : results) {
    const uint64_t welcomed = r.first_sequence > 0 ? r.first_sequence - 1 : 0;
    const uint64_t acked_batches = std::max(r.acked, welcomed);
    const uint64_t sent_batches = std::max(r.attempted, welcomed);
    acked_total += acked_batches;
    const uint64_t stored = StoredPoints(stack, r.host);
    EXPECT_GE(stored, acked_batches * kPointsPerBatch) << r.host;
    EXPECT_LE(stored, sent_batches * kPointsPerBatch) << r.host;
    if (r.status.ok()) {
      // The collector ends a stream the client closed before its queued batches are processed
      // (their acks are not sent): they are stored shortly after.
      const uint64_t all = uint64_t{kBatchesPerStream} * kPointsPerBatch;
      EXPECT_TRUE(WaitFor([&] { return StoredPoints(stack, r.host) == all; }, absl::Seconds(10)))
          << r.host << ": " << StoredPoints(stack, r.host) << " of " << all;
    }
  }
  EXPECT_GT(acked_total, 0u);
}

// Lines of `text` that contain `needle`.
std::string LinesWith(const std::string& text, const std::string& needle) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line, needle)) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

// The real agent (1 s interval) on a collector with a tiny queue, while raw streams flood it
// for 5 s, reopening refused streams, each stream on a host of its own. Returns when the
// agent has stored a tick 2 s after the flood, or fails.
void RunAgentThroughFlood(Stack* stack) {
  stack->AppendCollectorConfig("limits: {queue_capacity: 2}\ningest: {workers: 1}\n");
  stack->StartCollector();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  stack->StartAgent();
  ASSERT_TRUE(WaitFor([&] { return stack->Points("system.up").size() >= 2; }, absl::Seconds(30)))
      << stack->agent()->Stderr();
  // Flood for at least 5 s and until the agent's own stream has been refused (whether a 1 s
  // batch meets a full queue depends on scheduling), at most 60 s.
  const int64_t start_ms = absl::ToUnixMillis(absl::Now() - absl::Minutes(50));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 100000 && !stop; ++round) {
        Flood(stack->grpc_port(), stack->token(), absl::StrCat("flood-", i, "-", round), start_ms);
      }
    });
  }
  const absl::Time min_end = absl::Now() + absl::Seconds(5);
  WaitFor(
      [&] {
        return absl::Now() >= min_end &&
               absl::StrContains(
                   LinesWith(stack->collector()->Stderr(), "ending stream of agent 'e2e-agent'"),
                   "RESOURCE_EXHAUSTED");
      },
      absl::Seconds(60));
  stop = true;
  for (std::thread& t : threads) t.join();
  const int64_t flood_end_ms = absl::ToUnixMillis(absl::Now());
  ASSERT_TRUE(WaitFor(
      [&] {
        nlohmann::json p = stack->Points("system.up");
        return !p.empty() && p.back()[0].get<int64_t>() > flood_end_ms + 2000;
      },
      absl::Seconds(30)))
      << stack->agent()->Stderr();
}

TEST(Backpressure, AgentRefusedInTheFloodLosesNoTick) {
  Stack stack;
  RunAgentThroughFlood(&stack);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  // The agent's own stream was refused at least once ...
  EXPECT_TRUE(absl::StrContains(
      LinesWith(stack.collector()->Stderr(), "ending stream of agent 'e2e-agent'"),
      "RESOURCE_EXHAUSTED: ingest queue is full; retry with backoff"))
      << LinesWith(stack.collector()->Stderr(), "e2e-agent");
  EXPECT_TRUE(absl::StrContains(stack.agent()->Stderr(), "reconnecting with backoff"))
      << stack.agent()->Stderr();
  // ... and every 1 s tick, before, during and after the flood, is stored once: ticks fall on
  // whole seconds, so a lost batch would leave a gap of 2000 ms or more.
  nlohmann::json points = stack.Points("system.up");
  ASSERT_GE(points.size(), 8u);
  for (size_t i = 1; i < points.size(); ++i) {
    EXPECT_EQ(points[i][0].get<int64_t>() - points[i - 1][0].get<int64_t>(), 1000)
        << "point " << i << " of " << points.dump();
  }
}

TEST(Backpressure, AgentLogsTheCollectorsResourceExhaustedStatus) {
  Stack stack;
  RunAgentThroughFlood(&stack);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  ASSERT_TRUE(absl::StrContains(
      LinesWith(stack.collector()->Stderr(), "ending stream of agent 'e2e-agent'"),
      "RESOURCE_EXHAUSTED"));
  EXPECT_TRUE(absl::StrContains(stack.agent()->Stderr(),
                                " ended: RESOURCE_EXHAUSTED: ingest queue is full; retry with "
                                "backoff; reconnecting with backoff"))
      << stack.agent()->Stderr();
}

}  // namespace
}  // namespace vigil::testing
