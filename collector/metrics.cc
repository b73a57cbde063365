#include "collector/metrics.h"

namespace vigil::collector {
namespace {

prometheus::Counter& Counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}
prometheus::Gauge& Gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

IngestMetrics::IngestMetrics(prometheus::Registry& r)
    : rejected_points(prometheus::BuildCounter()
                          .Name("vigil_ingest_datapoints_rejected_total")
                          .Help("Datapoints rejected at ingest, by reason")
                          .Register(r)),
      rejected_streams(prometheus::BuildCounter()
                           .Name("vigil_ingest_streams_rejected_total")
                           .Help("Agent streams ended with an error, by gRPC status code")
                           .Register(r)),
      accepted_points(Counter(r, "vigil_ingest_datapoints_accepted_total",
                              "Datapoints stored (replayed duplicates are not counted)")),
      accepted_batches(Counter(r, "vigil_ingest_batches_accepted_total", "Batches stored")),
      duplicate_batches(Counter(r, "vigil_ingest_batches_duplicate_total",
                                "Replayed batches acknowledged again but not stored twice")),
      replayed_points(Counter(r, "vigil_ingest_replayed_datapoints_total",
                              "Datapoints agents resent from their replay buffer at this "
                              "collector's request after it took over, stored")),
      connected_streams(Gauge(r, "vigil_ingest_connected_agents", "Open agent streams")),
      queue_depth(Gauge(r, "vigil_ingest_queue_depth", "Batches waiting for ingest workers")),
      store_series(Gauge(r, "vigil_store_series", "Series in the in-memory store")),
      store_points(Gauge(r, "vigil_store_datapoints", "Datapoints in the in-memory store")),
      store_bytes(Gauge(r, "vigil_store_bytes", "Memory held by stored datapoints")),
      wal_bytes(Gauge(r, "vigil_wal_bytes", "Size of the write-ahead log on disk")),
      wal_sync_failures(Counter(r, "vigil_wal_write_failures_total",
                                "Write-ahead log appends that failed (batches not acknowledged)")) {
}

}  // namespace vigil::collector
