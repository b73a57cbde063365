#ifndef VIGIL_AGENT_CHECKS_CHECK_TESTING_H_
#define VIGIL_AGENT_CHECKS_CHECK_TESTING_H_

#include <string>
#include <vector>

#include "agent/check.h"

namespace vigil::agent {

// Initialises `check` from one check entry written as YAML, as the agent's config loader does:
// the common keys (name, interval, timeout) become the check's context, the rest goes to
// Init(), and unread keys are reported. Returns every config error (`agent.yaml:line:col: ...`).
std::vector<std::string> InitCheckForTest(Check& check, const std::string& yaml);

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_CHECK_TESTING_H_
