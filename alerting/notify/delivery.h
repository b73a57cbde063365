#ifndef VIGIL_ALERTING_NOTIFY_DELIVERY_H_
#define VIGIL_ALERTING_NOTIFY_DELIVERY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "alerting/notify/config.h"
#include "alerting/notify/notification_store.h"
#include "alerting/notify/notify_metrics.h"

namespace vigil::alerting {

// The delay before retry number `attempt` (1 after the first failure): exponential backoff
// with full jitter, uniform in [0, min(max_backoff, initial_backoff * 2^(attempt-1))], and at
// least the peer's Retry-After when it sent one.
int64_t RetryDelayMs(int attempt, const DeliveryConfig& config,
                     std::optional<absl::Duration> retry_after, std::mt19937_64& rng);

struct DeliveryWorkersOptions {
  NotificationStore* store = nullptr;  // not owned; outlives the workers
  // The current config: the notifier of each row is looked up in it at each attempt.
  std::function<std::shared_ptr<const AlertingConfig>()> config;
  std::function<int64_t()> now_ms;
  // Manual clock (tests): workers wait only for Wake(), never for time; see WaitIdle().
  bool manual_clock = false;
  NotifyMetrics* metrics = nullptr;  // not owned
  int workers = 2;
  uint64_t seed = 0;  // jitter; 0: random
};

// The delivery workers: each claims the due outbox notification, calls its integration's
// Notifier::Send and records the outcome: delivered, retried later with backoff, or failed
// (permanently, or because it is older than delivery.max_age). A claim is a lease in the store,
// so two workers never send the same notification at once.
//
// Threading: owns `workers` threads. Wake(), WaitIdle() and Stop() are thread-safe. Send() runs
// on the worker threads only, never on a caller's.
class DeliveryWorkers {
 public:
  using Options = DeliveryWorkersOptions;
  explicit DeliveryWorkers(Options options);
  ~DeliveryWorkers();
  DeliveryWorkers(const DeliveryWorkers&) = delete;
  DeliveryWorkers& operator=(const DeliveryWorkers&) = delete;

  // Something may be due now (a flush was committed, or the clock moved).
  void Wake();
  // Wakes the workers and returns when every notification due by now_ms() has been attempted
  // (a retry that falls due again at the same time included) and no attempt is running.
  void WaitIdle();
  // Lets running attempts finish (each bounded by its notifier's timeout), then joins.
  void Stop();

 private:
  void Run(int index);
  // Claims and attempts one due notification; false when none was due.
  bool AttemptOne(std::mt19937_64& rng);
  void Finish(const OutboxNotification& row, const DeliveryAttempt& attempt, OutboxState state,
              int64_t next_attempt_ms);
  void UpdatePending();

  // Constant after construction.
  const Options options_;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wake_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Per worker: the wake_seq_ at the start of its last scan that found nothing due.
  std::vector<uint64_t> idle_seq_ ABSL_GUARDED_BY(mu_);
  int busy_ ABSL_GUARDED_BY(mu_) = 0;  // workers between the start of a scan and its end

  std::vector<std::thread> threads_;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_DELIVERY_H_
