#ifndef VIGIL_AGENT_CHECKS_REGISTRY_H_
#define VIGIL_AGENT_CHECKS_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/check.h"

namespace vigil::agent {

// Every check type the agent knows, listed explicitly (no self-registration, which static
// libraries silently drop). Returns nullptr for an unknown type.
std::unique_ptr<Check> NewCheck(absl::string_view type);
std::vector<std::string> CheckTypes();

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_REGISTRY_H_
