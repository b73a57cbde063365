#include "agent/agent.h"

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/secret.h"

namespace vigil::agent {

absl::StatusOr<std::unique_ptr<Agent>> Agent::Start(AgentConfig config) {
  if (config.collector.token_file.empty()) {
    return absl::InvalidArgumentError("collector.token_file is required");
  }
  absl::StatusOr<std::string> token = ReadSecretFile(config.collector.token_file);
  if (!token.ok()) return token.status();

  std::unique_ptr<Agent> a(new Agent(std::move(config)));
  const AgentConfig& c = a->config_;
  Spool::Options spool_options;
  spool_options.directory = c.spool.directory;
  spool_options.max_bytes = c.spool.max_bytes;
  spool_options.retain_acked = c.spool.replay_window;
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(spool_options);
  if (!spool.ok()) return spool.status();
  a->spool_ = std::move(*spool);

  if (!c.metrics_listen.empty()) {
    try {  // prometheus-cpp's exposer throws when it cannot bind
      a->exposer_ = std::make_unique<prometheus::Exposer>(c.metrics_listen);
    } catch (const std::exception& e) {
      return absl::UnavailableError("metrics.listen " + c.metrics_listen + ": " + e.what());
    }
    a->exposer_->RegisterCollectable(a->metrics_.registry);
  }

  Sender::Options so;
  so.endpoint = c.collector;
  so.token = *token;
  so.agent_id = c.agent_id;
  so.hostname = c.hostname;
  for (const auto& [k, v] : c.host_labels) {
    if (k == "role") so.roles = absl::StrSplit(v, ',', absl::SkipEmpty());
  }
  so.host_labels = c.host_labels;
  so.interval = c.interval;
  a->sender_ = std::make_unique<Sender>(std::move(so), a->spool_.get(), &a->metrics_);
  a->batcher_ = std::make_unique<Batcher>(a->spool_.get(), c.host_labels, c.batch_max_points,
                                          &a->metrics_, [s = a->sender_.get()] { s->Notify(); });
  std::vector<ScheduledCheck> checks;
  for (const CheckConfig& cc : c.checks) {
    checks.push_back({cc.type, cc.name, cc.interval, cc.timeout, cc.check});
  }
  a->scheduler_ = std::make_unique<Scheduler>(std::move(checks), a->batcher_.get(), &a->metrics_);
  if (absl::Status s = a->sender_->Start(); !s.ok()) return s;
  a->scheduler_->Start();

  // Seal a batch shortly after every interval boundary, when the checks of that tick are in.
  Agent* self = a.get();
  a->flusher_ = std::thread([self] {
    const absl::Duration interval = self->config_.interval;
    for (;;) {
      const absl::Time now = absl::Now();
      const absl::Time next = absl::UnixEpoch() + absl::Ceil(now - absl::UnixEpoch(), interval) +
                              std::min(interval / 10, absl::Milliseconds(500));
      if (self->stop_flush_.WaitForNotificationWithDeadline(next)) return;
      (void)self->batcher_->Flush();  // a failure is logged by the batcher and retried
      self->metrics_.spool_dropped_batches.Increment(
          static_cast<double>(self->spool_->dropped_batches()) -
          self->metrics_.spool_dropped_batches.Value());
      self->metrics_.spool_dropped_points.Increment(
          static_cast<double>(self->spool_->dropped_points()) -
          self->metrics_.spool_dropped_points.Value());
    }
  });
  VIGIL_LOG(Info) << "vigil-agent " << VIGIL_VERSION << " started as '" << c.agent_id << "' with "
                  << c.checks.size() << " checks, sending to " << c.collector.address << ", spool "
                  << c.spool.directory;
  return a;
}

Agent::~Agent() { Stop(absl::ZeroDuration()); }

void Agent::Stop(absl::Duration drain) {
  if (stopped_) return;
  stopped_ = true;
  scheduler_->Stop();
  if (!stop_flush_.HasBeenNotified()) stop_flush_.Notify();
  if (flusher_.joinable()) flusher_.join();
  (void)batcher_->Flush();
  sender_->Stop(drain);
  VIGIL_LOG(Info) << "vigil-agent stopped; " << spool_->PendingBatches()
                  << " batches remain in the spool";
}

}  // namespace vigil::agent
