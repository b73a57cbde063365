#ifndef VIGIL_AGENT_AGENT_METRICS_H_
#define VIGIL_AGENT_AGENT_METRICS_H_

#include <memory>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace vigil::agent {

// The agent's self-metrics, served in Prometheus text format on `metrics.listen`. Families
// are registered once; prometheus-cpp metrics are thread-safe.
struct AgentMetrics {
  AgentMetrics();

  prometheus::Histogram& CheckDuration(const std::string& check);
  prometheus::Counter& CheckFailures(const std::string& check) {
    return check_failures.Add({{"check", check}});
  }

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Counter& points_collected;
  prometheus::Counter& points_sent;
  prometheus::Counter& points_replayed;
  prometheus::Counter& points_rejected;
  prometheus::Counter& batches_sent;
  prometheus::Counter& batches_acked;
  prometheus::Gauge& spool_bytes;
  prometheus::Gauge& spool_pending_batches;
  prometheus::Counter& spool_dropped_batches;
  prometheus::Counter& spool_dropped_points;
  prometheus::Counter& reconnects;
  prometheus::Gauge& connected;
  prometheus::Family<prometheus::Histogram>& check_duration;
  prometheus::Family<prometheus::Counter>& check_failures;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_AGENT_METRICS_H_
