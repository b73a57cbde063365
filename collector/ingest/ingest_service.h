#ifndef VIGIL_COLLECTOR_INGEST_INGEST_SERVICE_H_
#define VIGIL_COLLECTOR_INGEST_INGEST_SERVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "collector/ingest/ingest_pipeline.h"
#include "collector/ingest/limits.h"
#include "collector/metrics.h"
#include "vigil/v1/ingest.grpc.pb.h"

namespace vigil::collector {

// gRPC ingest endpoint on the callback API. Each agent stream gets a reactor that
// authenticates the token, answers the Hello, decodes and validates batches, and hands them
// to the IngestPipeline without blocking; acknowledgements come back from the pipeline.
// Thread-safe; the pipeline and metrics must outlive the service (shut the server down first).
class IngestService final : public v1::Ingest::CallbackService {
 public:
  struct Options {
    IngestLimits limits;
    std::vector<std::string> token_sha256;  // lowercase hex hashes of accepted agent tokens
    std::function<int64_t()> now_ms;
  };
  IngestService(Options options, IngestPipeline* pipeline, IngestMetrics* metrics);

  grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* Stream(
      grpc::CallbackServerContext* context) override;

  // True when `authorization` metadata carries a known bearer token.
  bool Authenticate(const grpc::CallbackServerContext& context) const;

  // Ends every open agent stream with `status` after its queued writes (acknowledgements already
  // sent stay sent; unacknowledged batches are resent by the agent to whichever collector it
  // reaches next). Called before the server shuts down, so a stop does not wait out the grace
  // period for streams that never end by themselves. Any thread.
  void EndStreams(const absl::Status& status);
  // Registration of a stream's write side, by the streams themselves.
  void AddStream(const void* id, std::weak_ptr<StreamSink> sink);
  void RemoveStream(const void* id);

  const Options& options() const { return options_; }
  IngestPipeline* pipeline() const { return pipeline_; }
  IngestMetrics* metrics() const { return metrics_; }

 private:
  const Options options_;
  IngestPipeline* const pipeline_;
  IngestMetrics* const metrics_;
  absl::Mutex mu_;
  absl::flat_hash_map<const void*, std::weak_ptr<StreamSink>> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_INGEST_INGEST_SERVICE_H_
