#include "alerting/notify/dispatcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "alerting/notify/alert_labels.h"
#include "common/log.h"

namespace vigil::alerting {
namespace {

// With a real clock the dispatcher thread wakes at least this often.
constexpr int64_t kMaxWaitMs = 60000;
// Delivered and failed notifications and ended silences are kept this long, then pruned.
constexpr int64_t kRetentionMs = 7 * 24 * 3600 * 1000LL;
constexpr int64_t kPruneIntervalMs = 3600 * 1000LL;

absl::StatusOr<std::shared_ptr<const AlertingConfig>> LoadConfig(const DispatcherOptions& o) {
  if (o.config_path.empty()) return ParseAlertingConfig("", "", o.integrations);
  return LoadAlertingConfig(o.config_path, o.integrations);
}

std::string InstanceKey(const std::string& rule, const std::string& instance) {
  return absl::StrCat(rule, "\n", instance);
}

// Whether a transition would be notified at all (for the suppressed-notification counter).
bool Notifiable(const AlarmUpdate& u) {
  if (u.actions.any()) return !u.actions.For(u.to).empty();
  return u.to == AlarmState::kAlarm || u.from == AlarmState::kAlarm;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Dispatcher>> Dispatcher::Start(Options options) {
  if (options.store == nullptr) {
    return absl::InvalidArgumentError("the dispatcher needs a notification store");
  }
  if (!options.now_ms) options.now_ms = [] { return absl::ToUnixMillis(absl::Now()); };
  absl::StatusOr<std::shared_ptr<const AlertingConfig>> config = LoadConfig(options);
  if (!config.ok()) return config.status();
  absl::StatusOr<std::vector<NotificationLogEntry>> log = options.store->LoadLog();
  if (!log.ok()) return log.status();
  absl::StatusOr<std::vector<Silence>> silences = options.store->LoadSilences();
  if (!silences.ok()) return silences.status();
  // No attempt of an earlier process is still running: its claims are void.
  if (absl::Status s = options.store->ReleaseClaims(); !s.ok()) return s;
  return std::unique_ptr<Dispatcher>(new Dispatcher(std::move(options), *std::move(config),
                                                    *std::move(log), *std::move(silences)));
}

Dispatcher::Dispatcher(Options options, std::shared_ptr<const AlertingConfig> config,
                       std::vector<NotificationLogEntry> log, std::vector<Silence> silences)
    : options_(std::move(options)),
      metrics_(std::make_unique<NotifyMetrics>(options_.registry)),
      config_(config),
      silences_(std::move(silences)),
      pipeline_(options_.store, metrics_.get(), config, std::move(log),
                options_.default_external_url) {
  absl::StatusOr<int64_t> pending = options_.store->CountPending();
  if (pending.ok()) metrics_->SetPending(*pending);
  if (options_.run_delivery) {
    DeliveryWorkers::Options d;
    d.store = options_.store;
    d.config = [this] { return this->config(); };
    d.now_ms = options_.now_ms;
    d.manual_clock = options_.manual_clock;
    d.metrics = metrics_.get();
    d.workers = config->delivery.workers;
    d.seed = options_.jitter_seed;
    delivery_ = std::make_unique<DeliveryWorkers>(std::move(d));
  }
  thread_ = std::thread([this] { Run(); });
}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  if (delivery_) delivery_->Stop();
}

std::shared_ptr<const AlertingConfig> Dispatcher::config() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

std::string Dispatcher::ExternalUrl(const AlertingConfig& config) const {
  return config.external_url.empty() ? options_.default_external_url : config.external_url;
}

void Dispatcher::Enqueue(Input input) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(input));
}

void Dispatcher::TrackFiring(const AlarmUpdate& u) {
  const std::string key = InstanceKey(u.rule, u.instance);
  if (u.rule_known && u.to == AlarmState::kAlarm) {
    firing_[key] = {u.fingerprint, u.labels};
  } else if (firing_.erase(key) == 0) {
    return;
  }
  ++firing_version_;
}

void Dispatcher::OnTransitions(const std::vector<Transition>& transitions, const RuleSet& rules) {
  if (transitions.empty()) return;
  const std::shared_ptr<const AlertingConfig> current = config();
  const int64_t now = options_.now_ms();
  Input input;
  input.kind = Input::Kind::kUpdates;
  input.received_ms = now;
  for (const Transition& t : transitions) {
    input.updates.push_back(MakeAlarmUpdate(t, rules.Find(t.rule), ExternalUrl(*current)));
  }
  absl::MutexLock lock(&mu_);
  for (const AlarmUpdate& u : input.updates) {
    TrackFiring(u);
    if (!u.rule_known || !Notifiable(u)) continue;
    Mute mute = CheckMute(u.labels, u.fingerprint, now, silences_, *config_, firing_);
    if (mute.muted()) metrics_->Suppressed(MuteKindName(mute.kind));
  }
  queue_.push_back(std::move(input));
}

void Dispatcher::Restore(const std::vector<AlarmView>& alarms, const RuleSet& rules) {
  const std::shared_ptr<const AlertingConfig> current = config();
  Input input;
  input.kind = Input::Kind::kRestore;
  input.received_ms = options_.now_ms();
  for (const AlarmView& v : alarms) {
    input.updates.push_back(MakeRestoredUpdate(v, rules.Find(v.rule), ExternalUrl(*current)));
  }
  absl::MutexLock lock(&mu_);
  for (const AlarmUpdate& u : input.updates) TrackFiring(u);
  queue_.push_back(std::move(input));
}

absl::Status Dispatcher::Reload() {
  absl::MutexLock reload_lock(&reload_mu_);
  absl::StatusOr<std::shared_ptr<const AlertingConfig>> loaded = LoadConfig(options_);
  if (!loaded.ok()) {
    VIGIL_LOG(Error) << "alerting config reload rejected; the previous config keeps running:\n"
                     << loaded.status().message();
    return loaded.status();
  }
  Input input;
  input.kind = Input::Kind::kConfig;
  input.received_ms = options_.now_ms();
  input.config = *loaded;
  {
    absl::MutexLock lock(&mu_);
    config_ = *loaded;
    queue_.push_back(std::move(input));
  }
  VIGIL_LOG(Info) << "alerting config reloaded: " << (*loaded)->receivers.size() << " receivers";
  return absl::OkStatus();
}

std::string Dispatcher::MuteReason(const Labels& alert_labels, int64_t now_ms) const {
  absl::MutexLock lock(&mu_);
  return CheckMute(alert_labels, Fingerprint(alert_labels), now_ms, silences_, *config_, firing_)
      .reason;
}

absl::StatusOr<Silence> Dispatcher::AddSilence(const SilenceRequest& request) {
  absl::StatusOr<Silence> silence = MakeSilence(request, options_.now_ms());
  if (!silence.ok()) return silence.status();
  silence->id = NewSilenceId();
  if (absl::Status s = options_.store->SaveSilence(*silence); !s.ok()) return s;
  VIGIL_LOG(Info) << "silence " << silence->id << " added by " << silence->created_by;
  absl::MutexLock lock(&mu_);
  silences_.push_back(*silence);
  return silence;
}

std::vector<Silence> Dispatcher::ListSilences() const {
  absl::MutexLock lock(&mu_);
  return silences_;
}

absl::Status Dispatcher::ExpireSilence(const std::string& id) {
  const int64_t now = options_.now_ms();
  Silence expired;
  {
    absl::MutexLock lock(&mu_);
    auto it = std::find_if(silences_.begin(), silences_.end(),
                           [&](const Silence& s) { return s.id == id; });
    if (it == silences_.end()) return absl::NotFoundError(absl::StrCat("no silence ", id));
    if (it->ends_at_ms <= now) {
      return absl::FailedPreconditionError(absl::StrCat("silence ", id, " has already expired"));
    }
    expired = *it;
  }
  expired.ends_at_ms = now;
  expired.starts_at_ms = std::min(expired.starts_at_ms, now);
  expired.updated_ms = now;
  if (absl::Status s = options_.store->SaveSilence(expired); !s.ok()) return s;
  VIGIL_LOG(Info) << "silence " << id << " expired";
  absl::MutexLock lock(&mu_);
  for (Silence& s : silences_) {
    if (s.id == id) s = expired;
  }
  return absl::OkStatus();
}

void Dispatcher::Barrier() {
  absl::MutexLock lock(&mu_);
  const uint64_t seq = ++barrier_seq_;
  Input input;
  input.kind = Input::Kind::kBarrier;
  input.barrier = seq;
  queue_.push_back(std::move(input));
  auto done = [this, seq]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || barrier_done_ >= seq; };
  mu_.Await(absl::Condition(&done));
}

void Dispatcher::Tick() {
  Barrier();
  if (delivery_) delivery_->WaitIdle();
}

std::optional<int64_t> Dispatcher::NextWakeMs() {
  Barrier();
  std::optional<int64_t> next;
  {
    absl::MutexLock lock(&mu_);
    next = next_timer_ms_;
  }
  if (delivery_) {
    absl::StatusOr<std::optional<int64_t>> retry = options_.store->NextAttemptMs();
    if (retry.ok() && retry->has_value() && (!next || **retry < *next)) next = **retry;
  }
  return next;
}

void Dispatcher::Run() {
  for (;;) {
    std::deque<Input> inputs;
    const std::optional<int64_t> next_timer = pipeline_.NextTimerMs();
    {
      absl::MutexLock lock(&mu_);
      next_timer_ms_ = next_timer;
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      if (options_.manual_clock) {
        mu_.Await(absl::Condition(&ready));
      } else {
        int64_t wait = kMaxWaitMs;
        if (next_timer) wait = std::clamp<int64_t>(*next_timer - options_.now_ms(), 0, kMaxWaitMs);
        if (wait > 0) mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(wait));
      }
      if (stopping_) return;
      inputs.swap(queue_);
    }
    const int64_t now = options_.now_ms();
    uint64_t barrier = 0;
    for (Input& input : inputs) {
      switch (input.kind) {
        case Input::Kind::kUpdates:
          for (AlarmUpdate& u : input.updates) pipeline_.Apply(std::move(u), input.received_ms);
          break;
        case Input::Kind::kRestore:
          pipeline_.Restore(std::move(input.updates), input.received_ms);
          break;
        case Input::Kind::kConfig:
          pipeline_.SetConfig(std::move(input.config), input.received_ms);
          break;
        case Input::Kind::kBarrier:
          barrier = std::max(barrier, input.barrier);
          break;
      }
    }
    RunTimers(now);
    if (barrier != 0) {
      const std::optional<int64_t> next = pipeline_.NextTimerMs();
      absl::MutexLock lock(&mu_);
      next_timer_ms_ = next;
      barrier_done_ = barrier;
    }
  }
}

void Dispatcher::RunTimers(int64_t now_ms) {
  std::shared_ptr<const AlertingConfig> config;
  std::vector<Silence> silences;
  {
    absl::MutexLock lock(&mu_);
    config = config_;
    silences = silences_;
    // Inhibition sources are copied only when they changed and a rule can use them.
    if (!config->inhibit_rules.empty() && firing_snapshot_version_ != firing_version_) {
      firing_snapshot_ = std::make_shared<const FiringAlarms>(firing_);
      firing_snapshot_version_ = firing_version_;
    }
  }
  static const FiringAlarms kNone;
  const FiringAlarms& firing =
      config->inhibit_rules.empty() || firing_snapshot_ == nullptr ? kNone : *firing_snapshot_;
  auto mute = [&](const Alert& alert) {
    return CheckMute(alert.labels, alert.fingerprint, now_ms, silences, *config, firing);
  };
  const int committed = pipeline_.RunTimers(now_ms, mute);
  if (committed > 0) {
    absl::StatusOr<int64_t> pending = options_.store->CountPending();
    if (pending.ok()) metrics_->SetPending(*pending);
    if (delivery_) delivery_->Wake();
  }
  if (now_ms >= next_prune_ms_) {
    if (absl::Status s = options_.store->Prune(now_ms - kRetentionMs); !s.ok()) {
      VIGIL_LOG(Warning) << "cannot prune old notifications: " << s;
    }
    next_prune_ms_ = now_ms + kPruneIntervalMs;
  }
}

}  // namespace vigil::alerting
