#ifndef VIGIL_AGENT_BATCHER_H_
#define VIGIL_AGENT_BATCHER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "agent/agent_metrics.h"
#include "agent/check.h"
#include "agent/spool/spool.h"

namespace vigil::agent {

// Gathers samples from all checks into the next batch, adding the host labels, and seals it
// into the spool once per interval (Flush) or when max_points are pending. Sealed batches are
// durable before anything is sent. Thread-safe: checks add from their own threads.
class Batcher {
 public:
  // `spool` and `metrics` must outlive the batcher; `on_sealed` runs after each sealed batch
  // (the sender uses it to wake up).
  Batcher(Spool* spool, Labels host_labels, size_t max_points, AgentMetrics* metrics,
          std::function<void()> on_sealed);

  void Add(int64_t timestamp_ms, const std::vector<Sample>& samples);
  // Seals pending points into one spooled batch; no-op when nothing is pending.
  absl::Status Flush();

 private:
  absl::Status SealLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Spool* const spool_;
  const Labels host_labels_;
  const size_t max_points_;
  AgentMetrics* const metrics_;
  const std::function<void()> on_sealed_;

  absl::Mutex mu_;
  v1::SpooledBatch pending_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> ids_ ABSL_GUARDED_BY(mu_);  // series -> local id
  bool last_seal_failed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_BATCHER_H_
