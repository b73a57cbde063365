#ifndef VIGIL_ALERTING_NOTIFY_DISPATCHER_H_
#define VIGIL_ALERTING_NOTIFY_DISPATCHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "alerting/engine/alarm_engine.h"
#include "alerting/notify/alert_pipeline.h"
#include "alerting/notify/config.h"
#include "alerting/notify/delivery.h"
#include "alerting/notify/integrations.h"
#include "alerting/notify/muting.h"
#include "alerting/notify/notification_store.h"
#include "alerting/notify/notify_metrics.h"
#include "alerting/notify/silence.h"
#include "alerting/rules/rule.h"
#include "prometheus/registry.h"

namespace vigil::alerting {

struct DispatcherOptions {
  std::string config_path;             // alerting.yaml; empty: no config (nothing is sent)
  NotificationStore* store = nullptr;  // required; not owned; outlives the dispatcher
  std::function<int64_t()> now_ms;     // default: the wall clock
  // Tests: timers and retries run only when time is moved and Tick() is called, so that a
  // test decides exactly when each group flushes (with a fake now_ms).
  bool manual_clock = false;
  prometheus::Registry* registry = nullptr;  // not owned; null: a private registry
  std::vector<IntegrationFactory> integrations = BuiltinIntegrations();
  // False: notifications are written to the outbox but nothing is sent (tests of a crash right
  // after a flush).
  bool run_delivery = true;
  uint64_t jitter_seed = 0;  // 0: random
  // The base URL of links when the config sets no external_url (e.g. the collector's own).
  std::string default_external_url;
};

// Alert delivery: turns alarm transitions into notifications, the way Alertmanager does
// (routing tree, aggregation groups, group_wait / group_interval / repeat_interval, a
// notification log, silences, inhibition) plus CloudWatch-style *_actions, maintenance windows
// and flapping; writes each flush to the durable outbox and delivers it with retries.
//
// Threading: one internal thread owns the groups, their timers and the notification log (the
// AlertPipeline); delivery.workers threads send. Every public method is thread-safe and
// returns without waiting for a flush or a delivery: OnTransitions and Restore only compute
// labels and queue the work. The store is called from the internal threads, and from
// AddSilence / ExpireSilence (one short write).
class Dispatcher {
 public:
  using Options = DispatcherOptions;

  // Loads the config (a bad one is an error here), the notification log and the silences, and
  // starts the threads. Notifications left pending by an earlier process are delivered.
  static absl::StatusOr<std::unique_ptr<Dispatcher>> Start(Options options);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // The evaluator's transitions, in time order, with the rule set that produced them.
  void OnTransitions(const std::vector<Transition>& transitions, const RuleSet& rules);
  // At start, before any transition: alarms in ALARM become firing alerts again; the persisted
  // notification log makes sure nothing already notified is sent again, and an OK that was not
  // sent before the restart is sent now.
  void Restore(const std::vector<AlarmView>& alarms, const RuleSet& rules);
  // Re-reads the config file. A bad config is rejected whole (the error, every problem as
  // file:line:col, is logged and returned) and the last good one keeps running. The delivery
  // worker count is read at start only.
  absl::Status Reload();

  // Why the notifications of an alert with these labels (AlertLabels) are held back now:
  // "silenced by <id> (<author>: <comment>)", "in maintenance window <name>",
  // "inhibited by <alertname> <labels>", or "" when they are not. The evaluator appends it to
  // the transition's history record. Inhibition sees the transitions passed to OnTransitions
  // so far.
  std::string MuteReason(const Labels& alert_labels, int64_t now_ms) const;

  // Silences, persisted in the store. AddSilence: InvalidArgument for a bad request (see
  // MakeSilence); the store's error when it cannot be saved.
  absl::StatusOr<Silence> AddSilence(const SilenceRequest& request);
  // Every silence the store keeps (expired ones until they are pruned, 7 days after the end).
  std::vector<Silence> ListSilences() const;
  // Ends a silence now. NotFound for an unknown id, FailedPrecondition when already expired.
  absl::Status ExpireSilence(const std::string& id);

  std::shared_ptr<const AlertingConfig> config() const;

  // Runs everything due at now_ms(): queued transitions, group flushes, flapping ends and the
  // deliveries due, returning when the dispatcher thread and the workers are idle. Meant for
  // manual clocks (tests); with a real clock it is a barrier.
  void Tick();
  // Manual clocks: the next time something is due (a group flush, a flapping end, a retry),
  // counting everything handed over before the call; nullopt when nothing is scheduled.
  std::optional<int64_t> NextWakeMs();

  // Stops the threads; running deliveries finish first. Groups not yet flushed are lost (the
  // next start's Restore rebuilds them). Idempotent.
  void Stop();

 private:
  struct Input {
    enum class Kind { kUpdates, kRestore, kConfig, kBarrier };
    Kind kind = Kind::kUpdates;
    int64_t received_ms = 0;  // when the caller handed it over: groups start then
    std::vector<AlarmUpdate> updates;
    std::shared_ptr<const AlertingConfig> config;
    uint64_t barrier = 0;
  };

  Dispatcher(Options options, std::shared_ptr<const AlertingConfig> config,
             std::vector<NotificationLogEntry> log, std::vector<Silence> silences);
  void Run();
  void RunTimers(int64_t now_ms);
  // Returns once the dispatcher thread has handled everything queued before the call.
  void Barrier();
  void Enqueue(Input input);
  // The config's external_url, else Options::default_external_url.
  std::string ExternalUrl(const AlertingConfig& config) const;
  // Keeps the inhibition sources current; under mu_.
  void TrackFiring(const AlarmUpdate& update) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const Options options_;
  const std::unique_ptr<NotifyMetrics> metrics_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const AlertingConfig> config_ ABSL_GUARDED_BY(mu_);
  std::vector<Silence> silences_ ABSL_GUARDED_BY(mu_);
  FiringAlarms firing_ ABSL_GUARDED_BY(mu_);
  uint64_t firing_version_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Input> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t barrier_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t barrier_done_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<int64_t> next_timer_ms_ ABSL_GUARDED_BY(mu_);

  absl::Mutex reload_mu_;  // one Reload() at a time

  // Dispatcher thread only.
  AlertPipeline pipeline_;
  std::shared_ptr<const FiringAlarms> firing_snapshot_;
  uint64_t firing_snapshot_version_ = ~0ull;
  int64_t next_prune_ms_ = 0;

  std::unique_ptr<DeliveryWorkers> delivery_;  // null without run_delivery
  std::thread thread_;
  absl::Mutex stop_mu_;  // one Stop() at a time
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_DISPATCHER_H_
