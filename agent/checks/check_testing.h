#ifndef VIGIL_AGENT_CHECKS_CHECK_TESTING_H_
#define VIGIL_AGENT_CHECKS_CHECK_TESTING_H_

#include <optional>
#include <string>
#include <vector>

#include "agent/check.h"

namespace vigil::agent {

// Initialises `check` from one check entry written as YAML, as the agent's config loader does:
// the common keys (name, interval, timeout) become the check's context, the rest goes to
// Init(), and unread keys are reported. Returns every config error (`agent.yaml:line:col: ...`).
std::vector<std::string> InitCheckForTest(Check& check, const std::string& yaml);

// The value of the sample with exactly this metric and these labels (the check's own labels,
// sorted), or nullopt.
std::optional<double> FindSample(const std::vector<Sample>& samples, const std::string& metric,
                                 const Labels& labels = {});

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_CHECK_TESTING_H_
