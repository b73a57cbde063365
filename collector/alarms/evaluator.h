#ifndef VIGIL_COLLECTOR_ALARMS_EVALUATOR_H_
#define VIGIL_COLLECTOR_ALARMS_EVALUATOR_H_

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "alerting/engine/alarm_engine.h"
#include "alerting/notify/dispatcher.h"
#include "alerting/state/alarm_store.h"
#include "collector/http/api.h"
#include "collector/ingest/datapoint_sink.h"
#include "collector/store/series_store.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace vigil::collector {

// Runs the rule engine inside the collector: takes stored datapoints from the ingest workers
// (never blocking them), evaluates closed periods every evaluation_interval on its own thread,
// persists alarm states and transitions in the AlarmStore (one batch per round), reloads the
// rule directory on request (inotify, SIGHUP, POST /-/reload), answers the alarm API, and hands
// every transition to alert delivery (the history line says when its notifications are held
// back by a silence, a maintenance window or inhibition).
// Thread-safe; the engine itself is owned by the evaluation thread.
class Evaluator : public AlarmSource, public DatapointSink {
 public:
  // The evaluation thread wakes when this many points wait, besides its timer.
  static constexpr size_t kDrainBatch = 16384;
  // No periodic snapshot or publication when a period becomes due sooner than this.
  static constexpr int64_t kQuietBeforeDueMs = 250;

  struct Options {
    std::string rules_dir;
    // Alarm states and history (the collector's StateStore facet). Not owned; outlives the
    // evaluator.
    alerting::AlarmStore* store = nullptr;
    absl::Duration evaluation_interval = absl::Seconds(1);
    size_t queue_capacity = 1 << 20;  // datapoints waiting for the evaluation thread
    std::function<int64_t()> now_ms;
    // Alert delivery; null: transitions are only recorded. Not owned; outlives the evaluator.
    // Restore() is called once at start, before any transition; OnTransitions() after each
    // batch of transitions is in the history.
    alerting::Dispatcher* dispatcher = nullptr;
    // When true, periods are not evaluated until Release(): the collector first feeds what it
    // recovers (its write-ahead log, agents' replays after a failover), so that periods that
    // closed while no collector ran are judged on their data, not as missing.
    bool hold = false;
  };
  static absl::StatusOr<std::unique_ptr<Evaluator>> Start(Options options,
                                                          prometheus::Registry& registry);
  ~Evaluator() override;
  void Stop();

  // DatapointSink: from ingest workers, after the points are stored. Points of metrics no rule
  // selects are skipped without copying; when the queue is full they are dropped and counted.
  void Offer(const std::string& agent_id, const SeriesKey& key,
             absl::Span<const DataPoint> points) override;

  // Lets evaluation start once now >= evaluate_from_ms (see Options::hold). Any thread.
  void Release(int64_t evaluate_from_ms);

  // How far back datapoints matter to the running rules (the longest evaluation range plus its
  // delay and a margin, at most an hour): what to ask agents to replay after a failover.
  int64_t ReplayHorizonMs() const;

  // AlarmSource (HTTP API), any thread.
  nlohmann::json Alarms(const std::string& state_filter) const override;
  absl::StatusOr<nlohmann::json> History(const std::string& rule, size_t limit) const override;
  nlohmann::json Rules() const override;
  // Re-reads the rule directory on the evaluation thread and waits for the outcome.
  absl::Status Reload() override;

 private:
  struct Point {
    SeriesKey key;
    int64_t ts;
    double value;
  };
  Evaluator(Options options, prometheus::Registry& registry);
  void Run();
  void Watch();
  void WriteSnapshots();
  absl::Status DoReload(int64_t now);
  void Record(const std::vector<alerting::Transition>& transitions);
  void Publish();

  const Options options_;
  alerting::AlarmStore* const state_;
  std::unique_ptr<alerting::AlarmEngine> engine_;  // evaluation thread only
  int inotify_fd_ = -1;

  mutable absl::Mutex mu_;
  std::deque<Point> queue_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const absl::flat_hash_set<std::string>> metrics_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool reload_requested_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<int64_t> evaluate_from_ms_ ABSL_GUARDED_BY(mu_);  // unset while held
  int64_t replay_horizon_ms_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reload_generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_reload_ ABSL_GUARDED_BY(mu_);
  std::vector<alerting::AlarmView> views_ ABSL_GUARDED_BY(mu_);
  nlohmann::json rules_json_ ABSL_GUARDED_BY(mu_);

  prometheus::Gauge& reload_success_;
  prometheus::Gauge& reload_time_;
  prometheus::Gauge& rules_loaded_;
  prometheus::Family<prometheus::Gauge>& alarms_by_state_;
  prometheus::Counter& transitions_;
  prometheus::Counter& dropped_;
  prometheus::Family<prometheus::Gauge>& revision_info_;
  prometheus::Gauge* revision_gauge_ = nullptr;  // evaluation thread only
  std::string published_revision_;               // evaluation thread only

  // Snapshots of every instance, written by their own thread so that a large save never delays
  // evaluation; only the newest pending snapshot is written.
  absl::Mutex snapshot_mu_;
  std::optional<std::vector<alerting::AlarmRecord>> pending_snapshot_ ABSL_GUARDED_BY(snapshot_mu_);
  bool snapshot_stop_ ABSL_GUARDED_BY(snapshot_mu_) = false;

  std::thread thread_;
  std::thread watcher_;
  std::thread snapshot_writer_;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_ALARMS_EVALUATOR_H_
