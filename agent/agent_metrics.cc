#include "agent/agent_metrics.h"

namespace vigil::agent {
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

AgentMetrics::AgentMetrics()
    : registry(std::make_shared<prometheus::Registry>()),
      points_collected(Counter(*registry, "vigil_agent_datapoints_collected_total",
                               "Datapoints produced by checks")),
      points_sent(Counter(*registry, "vigil_agent_datapoints_sent_total",
                          "Datapoints written to the collector stream")),
      points_replayed(Counter(*registry, "vigil_agent_datapoints_replayed_total",
                              "Datapoints resent from the replay buffer at a collector's request "
                              "(after a collector failover)")),
      points_rejected(Counter(*registry, "vigil_agent_datapoints_rejected_total",
                              "Datapoints the collector acknowledged as rejected")),
      batches_sent(Counter(*registry, "vigil_agent_batches_sent_total",
                           "Batches written to the stream (replays included)")),
      batches_acked(Counter(*registry, "vigil_agent_batches_acked_total",
                            "Batches acknowledged by the collector")),
      spool_bytes(Gauge(*registry, "vigil_agent_spool_bytes", "Size of the on-disk spool")),
      spool_pending_batches(Gauge(*registry, "vigil_agent_spool_pending_batches",
                                  "Batches in the spool not yet acknowledged")),
      spool_dropped_batches(Counter(*registry, "vigil_agent_spool_dropped_batches_total",
                                    "Unacknowledged batches dropped because the spool was full")),
      spool_dropped_points(Counter(*registry, "vigil_agent_spool_dropped_datapoints_total",
                                   "Datapoints in batches dropped because the spool was full")),
      reconnects(Counter(*registry, "vigil_agent_reconnects_total",
                         "Attempts to open the collector stream after the first")),
      connected(
          Gauge(*registry, "vigil_agent_connected", "1 while the collector stream is established")),
      check_duration(prometheus::BuildHistogram()
                         .Name("vigil_agent_check_duration_seconds")
                         .Help("Time taken by one run of a check")
                         .Register(*registry)),
      check_failures(prometheus::BuildCounter()
                         .Name("vigil_agent_check_failures_total")
                         .Help("Check runs that returned an error or exceeded their timeout")
                         .Register(*registry)) {}

prometheus::Histogram& AgentMetrics::CheckDuration(const std::string& check) {
  return check_duration.Add({{"check", check}}, prometheus::Histogram::BucketBoundaries{
                                                    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10});
}

}  // namespace vigil::agent
