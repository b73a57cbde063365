#ifndef VIGIL_AGENT_SCHEDULER_H_
#define VIGIL_AGENT_SCHEDULER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "agent/agent_metrics.h"
#include "agent/batcher.h"
#include "agent/check.h"

namespace vigil::agent {

struct ScheduledCheck {
  std::string type;
  std::string name;
  absl::Duration interval;
  absl::Duration timeout;
  std::shared_ptr<Check> check;
};

// Runs every check on its own thread at its own interval, aligned to multiples of the interval
// since the epoch so that series are regular. A failing check emits `<type>.up 0` and logs once
// per change of state; a slow or hung check delays only itself. A run that exceeds its timeout
// counts as failed. Start/Stop from one thread.
class Scheduler {
 public:
  Scheduler(std::vector<ScheduledCheck> checks, Batcher* batcher, AgentMetrics* metrics);
  ~Scheduler();  // Stop()s

  void Start();
  // Stops scheduling; waits for running Collect calls to return.
  void Stop();

 private:
  void Run(const ScheduledCheck& c);

  std::vector<ScheduledCheck> checks_;
  Batcher* const batcher_;
  AgentMetrics* const metrics_;
  absl::Notification stop_;
  std::vector<std::thread> threads_;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_SCHEDULER_H_
