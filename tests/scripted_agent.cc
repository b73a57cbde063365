#include "tests/scripted_agent.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "vigil/v1/ingest.grpc.pb.h"

namespace vigil::testing {
namespace {

constexpr int64_t kStepMs = 250;

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace

ScriptedAgent::ScriptedAgent(std::string host, std::function<std::vector<int>()> ports,
                             std::string token, std::function<double(int64_t)> value)
    : host_(std::move(host)),
      ports_(std::move(ports)),
      token_(std::move(token)),
      value_(std::move(value)) {}

ScriptedAgent::~ScriptedAgent() { Stop(); }

void ScriptedAgent::Start() {
  {
    absl::MutexLock lock(&mu_);
    next_point_ms_ = (NowMs() / kStepMs + 1) * kStepMs;
  }
  thread_ = std::thread([this] { Run(); });
}

void ScriptedAgent::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (active_ != nullptr) static_cast<grpc::ClientContext*>(active_)->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void ScriptedAgent::Produce(int64_t now_ms) {
  // One batch per step, whatever the connection does: the points' times are the steps'.
  while (next_point_ms_ <= now_ms) {
    pending_.push_back({next_sequence_++, {{next_point_ms_, value_(next_point_ms_)}}});
    next_point_ms_ += kStepMs;
    ++produced_;
  }
}

void ScriptedAgent::Run() {
  for (size_t attempt = 0;; ++attempt) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      Produce(NowMs());
    }
    std::vector<int> ports = ports_();
    if (!ports.empty()) Stream(ports[attempt % ports.size()]);
    absl::MutexLock lock(&mu_);
    auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stop), absl::Milliseconds(100));
  }
}

void ScriptedAgent::Stream(int port) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::milliseconds(300))) {
    return;
  }
  auto stub = v1::Ingest::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token_);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    active_ = &ctx;
    ++streams_;
  }
  auto rw = stub->Stream(&ctx);
  v1::AgentMessage hello;
  hello.mutable_hello()->set_agent_id(host_);
  hello.mutable_hello()->set_hostname(host_);
  hello.mutable_hello()->set_version("scripted");
  {
    absl::MutexLock lock(&mu_);
    hello.mutable_hello()->set_first_sequence(pending_.empty() ? next_sequence_
                                                               : pending_.front().sequence);
  }
  v1::CollectorMessage welcome;
  bool defined = false;
  auto encode = [&](const Batch& b, bool replay, int64_t from_ms) {
    v1::AgentMessage m;
    v1::Batch* out = m.mutable_batch();
    out->set_sequence(b.sequence);
    out->set_replay(replay);
    if (!defined) {
      v1::SeriesDefinition* d = out->add_series();
      d->set_id(1);
      d->set_metric("test.value");
      v1::Label* l = d->add_labels();
      l->set_name("host");
      l->set_value(host_);
      defined = true;
    }
    for (const auto& [ts, v] : b.points) {
      if (ts < from_ms) continue;
      v1::Point* p = out->add_points();
      p->set_series_id(1);
      p->set_timestamp_ms(ts);
      p->set_value(v);
    }
    return m;
  };
  auto acknowledge = [&](uint64_t sequence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (!pending_.empty() && pending_.front().sequence <= sequence) {
      acked_.push_back(std::move(pending_.front()));
      pending_.erase(pending_.begin());
    }
  };
  uint64_t sent = 0;
  if (rw->Write(hello) && rw->Read(&welcome) && welcome.has_welcome()) {
    std::vector<v1::AgentMessage> replay;
    {
      absl::MutexLock lock(&mu_);
      acknowledge(welcome.welcome().last_sequence());
      sent = welcome.welcome().last_sequence();
      const int64_t from = welcome.welcome().replay_from_ms();
      if (from > 0) {
        for (const Batch& b : acked_) {
          if (b.points.back().first < from) continue;
          replay.push_back(encode(b, true, from));
          replayed_ += static_cast<uint64_t>(replay.back().batch().points_size());
        }
      }
    }
    bool ok = true;
    for (const auto& m : replay) ok = ok && rw->Write(m);
    absl::Mutex rmu;
    bool reader_done = false;
    std::thread reader([&] {
      v1::CollectorMessage m;
      while (rw->Read(&m)) {
        if (!m.has_ack()) continue;
        absl::MutexLock lock(&mu_);
        acknowledge(m.ack().sequence());
      }
      absl::MutexLock lock(&rmu);
      reader_done = true;
    });
    while (ok) {
      std::vector<v1::AgentMessage> out;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) break;
        Produce(NowMs());
        for (const Batch& b : pending_) {
          if (b.sequence <= sent) continue;
          out.push_back(encode(b, false, 0));
          sent = b.sequence;
        }
      }
      for (const auto& m : out) ok = ok && rw->Write(m);
      absl::MutexLock lock(&rmu);
      auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(rmu) { return reader_done; };
      if (rmu.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(50))) break;
    }
    ctx.TryCancel();
    reader.join();
  } else {
    ctx.TryCancel();
  }
  rw->Finish();
  absl::MutexLock lock(&mu_);
  active_ = nullptr;
}

std::vector<std::pair<int64_t, double>> ScriptedAgent::Acked() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<int64_t, double>> out;
  for (const Batch& b : acked_) out.insert(out.end(), b.points.begin(), b.points.end());
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t ScriptedAgent::produced_points() const {
  absl::MutexLock lock(&mu_);
  return produced_;
}

uint64_t ScriptedAgent::pending_batches() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

uint64_t ScriptedAgent::replayed_points() const {
  absl::MutexLock lock(&mu_);
  return replayed_;
}

uint64_t ScriptedAgent::streams_opened() const {
  absl::MutexLock lock(&mu_);
  return streams_;
}

}  // namespace vigil::testing
