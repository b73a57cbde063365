#ifndef VIGIL_AGENT_AGENT_H_
#define VIGIL_AGENT_AGENT_H_

#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "agent/agent_metrics.h"
#include "agent/batcher.h"
#include "agent/config.h"
#include "agent/scheduler.h"
#include "agent/sender.h"
#include "agent/spool/spool.h"
#include "prometheus/exposer.h"

namespace vigil::agent {

// The running agent: checks -> batcher -> spool -> sender, plus the self-metrics endpoint.
// Start and Stop from one thread.
class Agent {
 public:
  static absl::StatusOr<std::unique_ptr<Agent>> Start(AgentConfig config);
  ~Agent();

  // Stops the checks, seals what they produced, and gives the sender up to `drain` to deliver
  // the spool before closing; what is not delivered stays in the spool for the next start.
  void Stop(absl::Duration drain);

 private:
  explicit Agent(AgentConfig config) : config_(std::move(config)) {}

  AgentConfig config_;
  AgentMetrics metrics_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<Batcher> batcher_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Sender> sender_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  absl::Notification stop_flush_;
  std::thread flusher_;
  bool stopped_ = false;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_AGENT_H_
