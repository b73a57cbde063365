// vigilctl: the operator's command line for a Vigil collector. See Usage() in commands.cc.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vigilctl/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* env_url = std::getenv("VIGIL_COLLECTOR_URL");
  const char* env_token_file = std::getenv("VIGIL_API_TOKEN_FILE");
  absl::StatusOr<vigil::ctl::Invocation> invocation = vigil::ctl::ParseArgs(
      args, env_url != nullptr ? env_url : "", env_token_file != nullptr ? env_token_file : "");
  if (!invocation.ok()) {
    std::cerr << "vigilctl: " << invocation.status().message() << "\n\n" << vigil::ctl::Usage();
    return vigil::ctl::kExitUsage;
  }
  return vigil::ctl::Run(*invocation, std::cin, std::cout, std::cerr);
}
