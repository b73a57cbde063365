#ifndef VIGIL_COLLECTOR_METRICS_H_
#define VIGIL_COLLECTOR_METRICS_H_

#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace vigil::collector {

// The collector's self-metrics (served on /metrics). Families are registered once in the
// constructor; prometheus-cpp metrics are thread-safe, so any thread may update them.
// The registry must outlive this object.
struct IngestMetrics {
  explicit IngestMetrics(prometheus::Registry& registry);

  void RejectPoints(const std::string& reason, double n) {
    rejected_points.Add({{"reason", reason}}).Increment(n);
  }
  void RejectStream(const std::string& code) { rejected_streams.Add({{"code", code}}).Increment(); }

  prometheus::Family<prometheus::Counter>& rejected_points;
  prometheus::Family<prometheus::Counter>& rejected_streams;
  prometheus::Counter& accepted_points;
  prometheus::Counter& accepted_batches;
  prometheus::Counter& duplicate_batches;
  prometheus::Counter& replayed_points;
  prometheus::Gauge& connected_streams;
  prometheus::Gauge& queue_depth;
  prometheus::Gauge& store_series;
  prometheus::Gauge& store_points;
  prometheus::Gauge& store_bytes;
  prometheus::Gauge& wal_bytes;
  prometheus::Counter& wal_sync_failures;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_METRICS_H_
