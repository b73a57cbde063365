#ifndef VIGIL_AGENT_SENDER_H_
#define VIGIL_AGENT_SENDER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_metrics.h"
#include "agent/config.h"
#include "agent/spool/spool.h"
#include "vigil/v1/ingest.grpc.pb.h"

namespace vigil::agent {

// Keeps one gRPC stream open to the collector and moves spooled batches over it: Hello, then
// the batches after the collector's last sequence in order (replay before live data, since
// both come from the spool), at most `max_in_flight` unacknowledged at a time. Acks trim the
// spool. On failure it reconnects with exponential backoff and full jitter.
// Start/Stop/Notify may be called from any thread; the stream runs on the sender's thread.
class Sender {
 public:
  struct Options {
    CollectorEndpoint endpoint;
    std::string token;  // bearer token (from the token file; never logged)
    std::string agent_id;
    std::string hostname;
    std::vector<std::string> roles;
    Labels host_labels;
    absl::Duration interval = absl::Seconds(10);
    size_t max_in_flight = 32;
    absl::Duration backoff_initial = absl::Milliseconds(500);
    // Capped low enough that agents find a new leader soon after a collector failover.
    absl::Duration backoff_max = absl::Seconds(10);
  };

  Sender(Options options, Spool* spool, AgentMetrics* metrics);
  ~Sender();

  absl::Status Start();
  // New data is in the spool.
  void Notify();
  // Sends what is pending until everything is acknowledged or `drain` has passed, then closes.
  void Stop(absl::Duration drain);

 private:
  void Run();
  absl::Status RunStream(bool* welcomed);
  bool Wait(absl::Duration d);  // false when stopping

  const Options options_;
  Spool* const spool_;
  AgentMetrics* const metrics_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Ingest::Stub> stub_;
  std::thread thread_;

  absl::Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;  // to cancel on hard stop
  bool run_finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_SENDER_H_
