#ifndef VIGIL_COLLECTOR_COLLECTOR_H_
#define VIGIL_COLLECTOR_COLLECTOR_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "collector/alarms/alert_delivery.h"
#include "collector/alarms/evaluator.h"
#include "collector/config.h"
#include "collector/ha/leader_elector.h"
#include "collector/http/http_server.h"
#include "collector/ingest/ingest_pipeline.h"
#include "collector/ingest/ingest_service.h"
#include "collector/metrics.h"
#include "collector/state/state_store.h"
#include "collector/store/series_store.h"
#include "grpcpp/server.h"
#include "prometheus/registry.h"

namespace vigil::collector {

// The running collector: gRPC ingest -> pipeline (WAL, store) -> rule evaluation -> alert
// delivery, the HTTP API, and a maintenance thread for retention and stream positions.
//
// With state.ha.enabled, Start() returns a standby: it answers /healthz, says not ready on
// /readyz, and waits for the leader lease on a thread of its own; once it holds the lease it
// starts everything else (fenced by the lease epoch) and prints its ready line. A leader that
// loses the lease stops: `on_exit` is called with exit code 1 (the process exits and is
// restarted as a standby), as Kubernetes controllers do.
// Start, Stop and Reload from one thread.
class Collector {
 public:
  // `on_exit` (optional) asks the process to stop with the given exit code; called from an
  // internal thread.
  static absl::StatusOr<std::unique_ptr<Collector>> Start(
      CollectorConfig config, std::function<void(int exit_code)> on_exit = nullptr);
  ~Collector();

  // Stops accepting streams (waiting up to `grace` for them to end), drains the pipeline and
  // stops the HTTP server; releases the lease.
  void Stop(absl::Duration grace);

  struct ReloadOutcome {
    absl::Status rules;     // OK with no rules configured
    absl::Status alerting;  // a rejected config keeps the previous one running
  };
  // Re-reads the rule directory and the alerting config (SIGHUP), each whatever the other's
  // outcome. A standby has nothing to reload.
  ReloadOutcome Reload();

  // 0 until this replica serves gRPC (a standby).
  int grpc_port() const;
  int http_port() const;
  const CollectorConfig& config() const { return config_; }

 private:
  explicit Collector(CollectorConfig config) : config_(std::move(config)) {}
  // Starts delivery, evaluation, the pipeline, gRPC and the full HTTP API. `hold_ms`: how long
  // evaluation waits for agents' replays (a takeover) after the write-ahead log is read.
  absl::Status Serve(int64_t hold_ms);
  absl::Status StartHttp(bool serving);
  void Elect();
  void Maintain();

  CollectorConfig config_;
  std::function<void(int)> on_exit_;
  prometheus::Registry registry_;
  std::unique_ptr<IngestMetrics> metrics_;
  std::unique_ptr<SeriesStore> store_;
  std::unique_ptr<StateStore> state_;
  std::unique_ptr<LeaderElector> elector_;  // with state.ha.enabled
  // Declared before the evaluator (which feeds it) and the HTTP server (which reads it).
  std::unique_ptr<AlertDelivery> delivery_;
  // Declared before the pipeline (which feeds it) and the HTTP server (which reads it), so it
  // is destroyed after both.
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<IngestPipeline> pipeline_;
  std::unique_ptr<IngestService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<HttpServer> http_;
  mutable absl::Mutex mu_;  // the parts above while the election thread starts them
  int grpc_port_ ABSL_GUARDED_BY(mu_) = 0;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification stop_;
  std::thread election_;
  std::thread maintenance_;
  bool stopped_ = false;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_COLLECTOR_H_
