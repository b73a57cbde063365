#ifndef VIGIL_COLLECTOR_HA_LEADER_ELECTOR_H_
#define VIGIL_COLLECTOR_HA_LEADER_ELECTOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "collector/state/state_store.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace vigil::collector {

// One replica's part in leader election over the shared state store's lease: waits until it
// holds the lease, then renews it every renew_interval and reports when it can no longer be
// sure to hold it.
//
// Safety does not rest on this class: every write and outbox claim of the store is fenced by
// the epoch (StateStore::SetFencingEpoch), so a replica that was paused past its lease cannot
// write after a newer leader exists. This class makes the replica notice and step down: a
// renewal that has not succeeded by lease_duration - renew_interval after the last good one
// (measured on this host's monotonic clock from before the request was sent) counts as lost.
//
// Thread contract: AwaitLeadership, StartRenewing and Stop from one thread (the collector's
// lifecycle); on_lost runs on the renewal thread, at most once.
class LeaderElector {
 public:
  struct Options {
    std::string holder;  // this replica's name (pod name), shown to operators
    absl::Duration lease_duration = absl::Seconds(15);
    absl::Duration renew_interval = absl::Seconds(3);
  };

  // `lease` must outlive the elector.
  LeaderElector(Options options, LeaderLease* lease, prometheus::Registry& registry);
  ~LeaderElector();  // Stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Tries every renew_interval until this replica holds the lease and returns its epoch;
  // Cancelled when `stop` is notified first. Store errors are logged (once per distinct error)
  // and retried.
  absl::StatusOr<int64_t> AwaitLeadership(absl::Notification* stop);

  // Renews on a thread of its own from now on; calls `on_lost` once with the reason when the
  // lease is lost (held by another, or not renewed in time). Call after AwaitLeadership.
  void StartRenewing(std::function<void(const absl::Status&)> on_lost);

  // Stops renewing and, if the lease is still held, releases it so that a standby takes over
  // at once. Idempotent.
  void Stop();

  int64_t epoch() const;

 private:
  void Renew();

  const Options options_;
  LeaderLease* const lease_;
  prometheus::Gauge& is_leader_;
  prometheus::Gauge& epoch_gauge_;

  mutable absl::Mutex mu_;
  int64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_renewed_ ABSL_GUARDED_BY(mu_);  // monotonic: absl::Now() is fine for spans
  std::function<void(const absl::Status&)> on_lost_;
  absl::Notification stop_renewing_;
  std::thread renewer_;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_HA_LEADER_ELECTOR_H_
