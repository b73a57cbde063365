#ifndef VIGIL_TESTS_SCRIPTED_AGENT_H_
#define VIGIL_TESTS_SCRIPTED_AGENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vigil::testing {

// A test agent that speaks the real protocol (docs/protocol.md) with data the test knows
// exactly: `test.value{host=<host>}` every 250 ms of wall-clock time, valued by a function of
// the timestamp. It keeps every batch until acknowledged, reconnects every 100 ms while the
// collector is away, resends what was not acknowledged, and answers a Welcome's replay request
// from its acknowledged batches, as vigil-agent does. It records which points the collector
// acknowledged, so a test can check that none of them is lost.
// Thread-safe; the stream runs on the agent's own thread.
class ScriptedAgent {
 public:
  // `ports` returns the collector gRPC ports to try, in order (one for a single collector, the
  // replicas' for a replicated one: a refused connection moves to the next, like a Service).
  ScriptedAgent(std::string host, std::function<std::vector<int>()> ports, std::string token,
                std::function<double(int64_t ts_ms)> value);
  ~ScriptedAgent();  // Stop()

  void Start();
  // Stops producing and closes the stream; unacknowledged batches stay unacknowledged.
  void Stop();

  const std::string& host() const { return host_; }
  // Every point the collector acknowledged, in timestamp order.
  std::vector<std::pair<int64_t, double>> Acked() const;
  uint64_t produced_points() const;
  uint64_t pending_batches() const;
  uint64_t replayed_points() const;
  uint64_t streams_opened() const;

 private:
  struct Batch {
    uint64_t sequence;
    std::vector<std::pair<int64_t, double>> points;
  };
  void Run();
  void Produce(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Stream(int port);

  const std::string host_;
  const std::function<std::vector<int>()> ports_;
  const std::string token_;
  const std::function<double(int64_t)> value_;

  mutable absl::Mutex mu_;
  std::vector<Batch> pending_ ABSL_GUARDED_BY(mu_);
  std::vector<Batch> acked_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t next_point_ms_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t produced_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t replayed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t streams_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  void* active_ ABSL_GUARDED_BY(mu_) = nullptr;  // grpc::ClientContext of the open stream
  std::thread thread_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_SCRIPTED_AGENT_H_
