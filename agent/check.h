#ifndef VIGIL_AGENT_CHECK_H_
#define VIGIL_AGENT_CHECK_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config_reader.h"
#include "common/series_key.h"

namespace vigil::agent {

// One measurement produced by a check. The scheduler stamps it with the collection time and
// adds the host labels (host, role, env, ...); a check sets only its own labels (cpu, device,
// interface, tunnel, ...).
struct Sample {
  std::string metric;  // dotted lowercase, e.g. system.cpu.utilization
  Labels labels;       // sorted by name
  double value = 0;
};

// What the agent decided about a check from the common keys, given to the check before Init.
struct CheckContext {
  std::string name;                             // the configured name (the `check` label)
  absl::Duration interval = absl::Seconds(10);  // how often Collect() runs
  absl::Duration timeout = absl::Seconds(10);   // a run longer than this counts as failed
};

// A plug-in that reads one kind of service. One folder per check under agent/checks/<type>/,
// listed explicitly in agent/checks/registry.cc.
//
// Threading: Init() is called once on the loading thread before the check is scheduled.
// Collect() is then called only from the check's own scheduler thread, never concurrently
// with itself, so a check may keep state between calls (previous counters for rates) without
// locking. A check must bound every blocking call with its own timeout.
class Check {
 public:
  virtual ~Check() = default;

  // Set by the agent before Init(). A check bounds each of its waits so that a whole run fits
  // in context().timeout.
  void SetContext(CheckContext context) { context_ = std::move(context); }
  const CheckContext& context() const { return context_; }

  // Reads the check's own keys from `config`. The scheduler has already consumed the common
  // keys (type, name, interval, timeout) and calls config.Finish() afterwards, so a key the
  // check does not read is reported as unknown. Problems are recorded in config.errors() with
  // their position; the returned Status is for failures that are not about the file.
  virtual absl::Status Init(ConfigMap& config) = 0;

  // Takes one measurement. An error means the service could not be read at all (the scheduler
  // then emits `<type>.up 0` and logs once per change of state); partial data is returned as
  // samples. Counter-derived rates need two calls, so the first call may return only gauges.
  virtual absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) = 0;

 private:
  CheckContext context_;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECK_H_
