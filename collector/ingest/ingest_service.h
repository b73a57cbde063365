#ifndef VIGIL_COLLECTOR_INGEST_INGEST_SERVICE_H_
#define VIGIL_COLLECTOR_INGEST_INGEST_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

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

  const Options& options() const { return options_; }
  IngestPipeline* pipeline() const { return pipeline_; }
  IngestMetrics* metrics() const { return metrics_; }

 private:
  const Options options_;
  IngestPipeline* const pipeline_;
  IngestMetrics* const metrics_;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_INGEST_INGEST_SERVICE_H_
