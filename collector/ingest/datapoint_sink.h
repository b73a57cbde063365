#ifndef VIGIL_COLLECTOR_INGEST_DATAPOINT_SINK_H_
#define VIGIL_COLLECTOR_INGEST_DATAPOINT_SINK_H_

#include <string>

#include "absl/types/span.h"
#include "collector/store/series_store.h"
#include "common/series_key.h"

namespace vigil::collector {

// The one seam between the collector's pipeline stages: ingest hands every stored datapoint to
// the next stage (the rule evaluator) through this interface, keyed by the agent (host) that
// sent it. Today both stages run in one process and the sink is the Evaluator; a broker-backed
// sink (Kafka, partitioned by agent_id) could later spread evaluation over many replicas, each
// owning the hosts of its partitions - docs/architecture.md says how rules that span hosts
// would partition.
//
// Thread contract: Offer is called from several ingest worker threads at once (the points of
// one agent always from the same worker, in order) and must not block.
class DatapointSink {
 public:
  virtual ~DatapointSink() = default;
  virtual void Offer(const std::string& agent_id, const SeriesKey& key,
                     absl::Span<const DataPoint> points) = 0;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_INGEST_DATAPOINT_SINK_H_
