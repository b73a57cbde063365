#include "agent/sender.h"

#include <deque>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/stream_encoder.h"
#include "common/log.h"
#include "common/secret.h"
#include "grpcpp/grpcpp.h"

namespace vigil::agent {
namespace {

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const TlsClientConfig& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  auto read = [](const std::string& path, std::string* out) -> absl::Status {
    if (path.empty()) return absl::OkStatus();
    absl::StatusOr<std::string> s = ReadSecretFile(path);
    if (!s.ok()) return s.status();
    *out = *s + "\n";
    return absl::OkStatus();
  };
  if (absl::Status s = read(tls.ca_file, &ssl.pem_root_certs); !s.ok()) return s;
  if (absl::Status s = read(tls.cert_file, &ssl.pem_cert_chain); !s.ok()) return s;
  if (absl::Status s = read(tls.key_file, &ssl.pem_private_key); !s.ok()) return s;
  return grpc::SslCredentials(ssl);
}

absl::Status FromGrpc(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

Sender::Sender(Options options, Spool* spool, AgentMetrics* metrics)
    : options_(std::move(options)), spool_(spool), metrics_(metrics) {}

Sender::~Sender() { Stop(absl::ZeroDuration()); }

absl::Status Sender::Start() {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds =
      Credentials(options_.endpoint.tls);
  if (!creds.ok()) return creds.status();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Our own backoff governs reconnects; keep gRPC's short so a restarted collector is found.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (!options_.endpoint.tls.server_name.empty()) {
    args.SetSslTargetNameOverride(options_.endpoint.tls.server_name);
  }
  args.SetCompressionAlgorithm(GRPC_COMPRESS_GZIP);
  channel_ = grpc::CreateCustomChannel(options_.endpoint.address, *creds, args);
  stub_ = v1::Ingest::NewStub(channel_);
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Sender::Notify() {
  absl::MutexLock lock(&mu_);
  notified_ = true;
}

void Sender::Stop(absl::Duration drain) {
  if (!thread_.joinable()) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    drain_deadline_ = absl::Now() + drain;
    notified_ = true;
    // Past the drain deadline, cancel the stream so that a blocked write or read returns.
    auto finished = +[](Sender* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->run_finished_; };
    if (!mu_.AwaitWithDeadline(absl::Condition(finished, this),
                               drain_deadline_ + absl::Milliseconds(500)) &&
        active_ != nullptr) {
      active_->TryCancel();
    }
  }
  thread_.join();
}

bool Sender::Wait(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto cond = +[](Sender* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->notified_; };
  mu_.AwaitWithTimeout(absl::Condition(cond, this), d);
  notified_ = false;
  return !stopping_;
}

void Sender::Run() {
  absl::BitGen rng;
  int failures = 0;
  std::string last_error;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ && (spool_->PendingBatches() == 0 || absl::Now() >= drain_deadline_)) break;
    }
    bool welcomed = false;
    const absl::Time opened = absl::Now();
    absl::Status s = RunStream(&welcomed);
    metrics_->connected.Set(0);
    {
      absl::MutexLock lock(&mu_);
      // A stop drains over a working stream; it does not wait for a collector it cannot reach:
      // what is not sent stays in the spool for the next start.
      if (stopping_ && (spool_->PendingBatches() == 0 || absl::Now() >= drain_deadline_ ||
                        absl::IsCancelled(s))) {
        break;
      }
    }
    // Only a stream that worked for a while resets the backoff: a collector that welcomes and
    // then refuses (queue full) must see the agent back off further each time.
    if (welcomed && absl::Now() - opened >= absl::Seconds(10)) failures = 0;
    ++failures;
    metrics_->reconnects.Increment();
    const absl::Duration cap = std::min(
        options_.backoff_max, options_.backoff_initial * (1 << std::min(failures - 1, 16)));
    const absl::Duration delay = cap * absl::Uniform(rng, 0.5, 1.0);
    const std::string error = s.ToString();
    if (error != last_error) {
      VIGIL_LOG(Warning) << "collector stream to " << options_.endpoint.address
                         << " ended: " << error << "; reconnecting with backoff (next in "
                         << absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(1))) << ")";
      last_error = error;
    }
    absl::MutexLock lock(&mu_);
    auto cond = +[](Sender* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(cond, this), delay);
  }
  absl::MutexLock lock(&mu_);
  run_finished_ = true;
}

absl::Status Sender::RunStream(bool* welcomed) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + options_.token);
  ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  {
    absl::MutexLock lock(&mu_);
    active_ = &ctx;
  }
  struct Unregister {
    Sender* s;
    ~Unregister() {
      absl::MutexLock lock(&s->mu_);
      s->active_ = nullptr;
    }
  } unregister{this};

  // In slices, so that a stop is not held up for connect_timeout by an unreachable collector.
  const absl::Time connect_deadline = absl::Now() + options_.endpoint.connect_timeout;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::CancelledError("the agent is stopping");
    }
    const absl::Time slice = std::min(connect_deadline, absl::Now() + absl::Milliseconds(200));
    if (channel_->WaitForConnected(absl::ToChronoTime(slice))) break;
    if (absl::Now() >= connect_deadline) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", options_.endpoint.address));
    }
  }
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::CollectorMessage>> stream =
      stub_->Stream(&ctx);

  // The reader thread hands every collector message to this thread.
  absl::Mutex rmu;
  std::deque<v1::CollectorMessage> inbox;
  bool reader_done = false;
  std::thread reader([&] {
    v1::CollectorMessage m;
    while (stream->Read(&m)) {
      absl::MutexLock lock(&rmu);
      inbox.push_back(std::move(m));
    }
    absl::MutexLock lock(&rmu);
    reader_done = true;
  });
  auto finish = [&](absl::Status why) {
    // Let the collector's own ending arrive first (RESOURCE_EXHAUSTED, UNAUTHENTICATED, ...):
    // cancelling straight away would replace it with CANCELLED. A dead peer is cancelled after
    // a short wait.
    bool ended_by_collector;
    {
      absl::MutexLock lock(&rmu);
      auto ended = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return reader_done; };
      ended_by_collector = rmu.AwaitWithTimeout(absl::Condition(&ended), absl::Seconds(1));
    }
    if (!ended_by_collector) ctx.TryCancel();
    reader.join();
    grpc::Status st = stream->Finish();
    if (!st.ok() && st.error_code() != grpc::StatusCode::CANCELLED) return FromGrpc(st);
    return why;
  };

  v1::AgentMessage hello_msg;
  v1::Hello* hello = hello_msg.mutable_hello();
  hello->set_agent_id(options_.agent_id);
  hello->set_hostname(options_.hostname);
  for (const std::string& r : options_.roles) hello->add_roles(r);
  hello->set_version(VIGIL_VERSION);
  hello->set_interval_ms(static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.interval)));
  for (const auto& [k, v] : options_.host_labels) {
    v1::Label* l = hello->add_host_labels();
    l->set_name(k);
    l->set_value(v);
  }
  hello->set_first_sequence(spool_->FirstSequence());
  if (!stream->Write(hello_msg)) return finish(absl::UnavailableError("stream closed on hello"));

  // Welcome: the collector's last sequence for us.
  uint64_t acked = 0;
  int64_t replay_from_ms = 0;
  {
    absl::MutexLock lock(&rmu);
    auto cond = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !inbox.empty() || reader_done; };
    rmu.AwaitWithTimeout(absl::Condition(&cond), options_.endpoint.connect_timeout);
    if (inbox.empty() || !inbox.front().has_welcome()) {
      rmu.Unlock();
      absl::Status st = finish(absl::DeadlineExceededError("no welcome from the collector"));
      rmu.Lock();
      return st;
    }
    acked = inbox.front().welcome().last_sequence();
    replay_from_ms = inbox.front().welcome().replay_from_ms();
    inbox.pop_front();
  }
  *welcomed = true;
  metrics_->connected.Set(1);
  VIGIL_LOG(Info) << "connected to collector " << options_.endpoint.address
                  << "; it holds batches up to " << acked << ", spool holds "
                  << spool_->PendingBatches() << " pending";
  if (absl::Status s = spool_->Ack(acked); !s.ok()) return finish(s);

  StreamEncoder encoder;
  if (replay_from_ms > 0) {
    // A collector that took over asks for what it has not seen: the replay buffer, oldest
    // first, before anything new (not acknowledged; gRPC's flow control paces it).
    const uint64_t upto = spool_->AckedSequence();
    uint64_t replayed_batches = 0, replayed_points = 0;
    for (uint64_t after = 0;;) {
      absl::StatusOr<std::vector<v1::SpooledBatch>> batches =
          spool_->ReadRetained(replay_from_ms, after, upto, 64);
      if (!batches.ok()) return finish(batches.status());
      if (batches->empty()) break;
      for (const v1::SpooledBatch& b : *batches) {
        v1::AgentMessage msg;
        *msg.mutable_batch() = encoder.Encode(b);
        msg.mutable_batch()->set_replay(true);
        if (!stream->Write(msg)) return finish(absl::UnavailableError("stream write failed"));
        after = b.sequence();
        ++replayed_batches;
        replayed_points += static_cast<uint64_t>(b.points_size());
      }
    }
    metrics_->points_replayed.Increment(static_cast<double>(replayed_points));
    VIGIL_LOG(Info) << "collector asked for data since " << absl::FromUnixMillis(replay_from_ms)
                    << ": replayed " << replayed_batches << " batches (" << replayed_points
                    << " points) from the replay buffer";
  }
  uint64_t sent = std::max(acked, spool_->AckedSequence());
  std::string last_rejection;
  for (;;) {
    // Acknowledgements.
    std::deque<v1::CollectorMessage> received;
    bool done;
    {
      absl::MutexLock lock(&rmu);
      received.swap(inbox);
      done = reader_done;
    }
    for (const v1::CollectorMessage& m : received) {
      if (!m.has_ack()) continue;
      const v1::Ack& ack = m.ack();
      if (ack.rejected_points() > 0) {
        metrics_->points_rejected.Increment(ack.rejected_points());
        std::string summary;
        for (const auto& r : ack.rejections()) {
          absl::StrAppend(&summary, summary.empty() ? "" : "; ", r.reason(), " x", r.count(),
                          " (e.g. ", r.example(), ")");
        }
        if (summary != last_rejection) {
          VIGIL_LOG(Warning) << "collector rejected " << ack.rejected_points()
                             << " points of batch " << ack.sequence() << ": " << summary;
          last_rejection = summary;
        }
      }
      if (ack.sequence() > acked) {
        metrics_->batches_acked.Increment(static_cast<double>(ack.sequence() - acked));
        acked = ack.sequence();
        if (absl::Status s = spool_->Ack(acked); !s.ok()) return finish(s);
      }
    }
    metrics_->spool_bytes.Set(static_cast<double>(spool_->TotalBytes()));
    metrics_->spool_pending_batches.Set(static_cast<double>(spool_->PendingBatches()));
    if (done) return finish(absl::UnavailableError("collector closed the stream"));

    {
      absl::MutexLock lock(&mu_);
      if (stopping_ && (acked >= spool_->LastSequence() || absl::Now() >= drain_deadline_)) {
        stream->WritesDone();
        return finish(absl::OkStatus());
      }
    }

    // Send what the window allows.
    const size_t in_flight = sent > acked ? sent - acked : 0;
    if (in_flight < options_.max_in_flight) {
      absl::StatusOr<std::vector<v1::SpooledBatch>> batches =
          spool_->ReadAfter(sent, options_.max_in_flight - in_flight);
      if (!batches.ok()) return finish(batches.status());
      for (const v1::SpooledBatch& b : *batches) {
        v1::AgentMessage msg;
        *msg.mutable_batch() = encoder.Encode(b);
        if (!stream->Write(msg)) return finish(absl::UnavailableError("stream write failed"));
        sent = b.sequence();
        metrics_->batches_sent.Increment();
        metrics_->points_sent.Increment(b.points_size());
      }
      if (!batches->empty()) continue;
    }
    // Wait for new data or acks (short poll keeps ack handling prompt).
    {
      absl::MutexLock lock(&rmu);
      auto cond = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !inbox.empty() || reader_done; };
      if (rmu.AwaitWithTimeout(absl::Condition(&cond), absl::Milliseconds(50))) continue;
    }
    absl::MutexLock lock(&mu_);
    if (notified_) notified_ = false;
  }
}

}  // namespace vigil::agent
