#include "agent/checks/registry.h"

#include "agent/checks/system/system_check.h"

namespace vigil::agent {

std::unique_ptr<Check> NewCheck(absl::string_view type) {
  if (type == "system") return std::make_unique<SystemCheck>();
  return nullptr;
}

std::vector<std::string> CheckTypes() { return {"system"}; }

}  // namespace vigil::agent
