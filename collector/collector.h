#ifndef VIGIL_COLLECTOR_COLLECTOR_H_
#define VIGIL_COLLECTOR_COLLECTOR_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "collector/alarms/alert_delivery.h"
#include "collector/alarms/evaluator.h"
#include "collector/config.h"
#include "collector/http/http_server.h"
#include "collector/ingest/ingest_pipeline.h"
#include "collector/ingest/ingest_service.h"
#include "collector/metrics.h"
#include "collector/store/series_store.h"
#include "grpcpp/server.h"
#include "prometheus/registry.h"

namespace vigil::collector {

// The running collector: gRPC ingest -> pipeline (WAL, store) -> rule evaluation -> alert
// delivery, the HTTP API, and a maintenance thread for retention. Start, Stop and Reload from
// one thread.
class Collector {
 public:
  static absl::StatusOr<std::unique_ptr<Collector>> Start(CollectorConfig config);
  ~Collector();

  // Stops accepting streams (waiting up to `grace` for them to end), drains the pipeline and
  // stops the HTTP server.
  void Stop(absl::Duration grace);

  struct ReloadOutcome {
    absl::Status rules;     // OK with no rules configured
    absl::Status alerting;  // a rejected config keeps the previous one running
  };
  // Re-reads the rule directory and the alerting config (SIGHUP), each whatever the other's
  // outcome.
  ReloadOutcome Reload();

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_->port(); }
  const CollectorConfig& config() const { return config_; }

 private:
  explicit Collector(CollectorConfig config) : config_(std::move(config)) {}
  void Maintain();

  CollectorConfig config_;
  prometheus::Registry registry_;
  std::unique_ptr<IngestMetrics> metrics_;
  std::unique_ptr<SeriesStore> store_;
  // Declared before the evaluator (which feeds it) and the HTTP server (which reads it).
  std::unique_ptr<AlertDelivery> delivery_;
  // Declared before the pipeline (which feeds it) and the HTTP server (which reads it), so it
  // is destroyed after both.
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<IngestPipeline> pipeline_;
  std::unique_ptr<IngestService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<HttpServer> http_;
  int grpc_port_ = 0;
  absl::Notification stop_maintenance_;
  std::thread maintenance_;
  bool stopped_ = false;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_COLLECTOR_H_
