#include "collector/state/state_config.h"

#include <unistd.h>

#include <cstdlib>

namespace vigil::collector {

std::string DefaultReplicaName() {
  const char* pod = std::getenv("POD_NAME");
  if (pod != nullptr && pod[0] != '\0') return pod;
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0') return name;
  return "localhost";
}

}  // namespace vigil::collector
