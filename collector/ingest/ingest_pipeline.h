#ifndef VIGIL_COLLECTOR_INGEST_INGEST_PIPELINE_H_
#define VIGIL_COLLECTOR_INGEST_INGEST_PIPELINE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "collector/ingest/batch_decoder.h"
#include "collector/ingest/datapoint_sink.h"
#include "collector/ingest/wal.h"
#include "collector/metrics.h"
#include "collector/store/series_store.h"
#include "vigil/v1/ingest.pb.h"

namespace vigil::collector {

// Where the pipeline sends a stream's Welcome and Acks. Thread-safe; Send after the stream
// has ended is a no-op.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void Send(v1::CollectorMessage message) = 0;
  // Ends the stream with an error (mapped to a gRPC status); later Sends are dropped.
  virtual void Abort(const absl::Status& status) = 0;
};

// A unit of work handed from a stream handler to the pipeline.
struct IngestItem {
  std::string agent_id;
  std::shared_ptr<StreamSink> sink;
  bool is_hello = false;
  uint64_t first_sequence = 0;  // hello: lowest sequence the agent still holds
  Labels host_labels;           // hello: the agent's host labels (host, role, env, ...)
  DecodedBatch batch;           // batch
};

// What the collector knows about one agent, for the API and the handshake.
struct AgentInfo {
  std::string agent_id;
  uint64_t last_sequence = 0;
  size_t series = 0;
  int64_t last_batch_ms = 0;
};

// The ingest stages after validation: dedup by sequence, per-agent cardinality limit, the
// write-ahead log (group commit), the store, and acknowledgements. Items of one agent go to one
// worker (hash of the agent id) and are processed in order, so replays are idempotent and
// acknowledgements are in sequence. Stream handlers call Submit() and never block.
// Thread-safe.
class IngestPipeline {
 public:
  struct Options {
    int workers = 2;
    uint32_t queue_capacity = 4096;  // across all workers
    uint32_t max_series_per_agent = 10000;
    std::string wal_dir;
    std::function<int64_t()> now_ms;
    // Gets every point after it is stored, and every point recovered from the write-ahead log
    // at start: the rule engine's feed. Optional; not owned; outlives the pipeline.
    DatapointSink* sink = nullptr;
    // Set on a replica that took over from another (high availability): returns how far back
    // the rules need data. The first Welcome to each agent then asks it to replay its data from
    // max(now - horizon, the last batch this process holds from it) (Welcome.replay_from_ms).
    // Unset or 0: no replay is asked for.
    std::function<int64_t()> replay_horizon_ms;
  };

  // Replays the write-ahead log into `store`, then starts the workers. `store` and `metrics`
  // must outlive the pipeline.
  static absl::StatusOr<std::unique_ptr<IngestPipeline>> Start(Options options, SeriesStore* store,
                                                               IngestMetrics* metrics);
  ~IngestPipeline();  // Stop()s

  // Queues an item; false when that worker's queue is full (answer RESOURCE_EXHAUSTED).
  bool Submit(IngestItem item);

  // Processes what is queued, then joins the workers. Idempotent.
  void Stop();

  // Drops write-ahead log segments appended before cutoff_ms (retention).
  void TruncateLog(int64_t cutoff_ms);

  std::vector<AgentInfo> Agents() const;

  // Raises the agents' stream positions to those given (the shared state store's, on a replica
  // that takes over), before streams are accepted.
  void SeedPositions(const std::vector<std::pair<std::string, uint64_t>>& positions);
  // The positions that advanced since the last call: what to save in the state store.
  std::vector<std::pair<std::string, uint64_t>> TakeChangedPositions();
  size_t QueueDepth() const;
  uint64_t WalBytes() const { return wal_->TotalBytes(); }

 private:
  struct AgentState {
    Labels host_labels;
    uint64_t last_sequence = 0;
    absl::flat_hash_set<SeriesKey> series;
    int64_t last_batch_ms = 0;
    bool welcomed = false;     // a Welcome went out in this process
    bool replay_open = false;  // replay batches are expected (asked for, none new yet)
    bool position_dirty = false;
  };
  struct Worker {
    mutable absl::Mutex mu;
    std::deque<IngestItem> queue ABSL_GUARDED_BY(mu);
    bool stopping ABSL_GUARDED_BY(mu) = false;
    // Owned by the worker thread; the mutex only guards reads from other threads.
    absl::node_hash_map<std::string, AgentState> agents ABSL_GUARDED_BY(mu);
    std::thread thread;
  };

  IngestPipeline(Options options, SeriesStore* store, IngestMetrics* metrics,
                 std::unique_ptr<WriteAheadLog> wal);
  Worker& WorkerFor(const std::string& agent_id) const;
  void Run(Worker* worker);
  void Process(Worker* worker, std::vector<IngestItem>& items);
  void Recover(const v1::WalRecord& record);

  const Options options_;
  SeriesStore* const store_;
  IngestMetrics* const metrics_;
  std::unique_ptr<WriteAheadLog> wal_;
  std::vector<std::unique_ptr<Worker>> workers_;
  uint32_t per_worker_capacity_;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_INGEST_INGEST_PIPELINE_H_
