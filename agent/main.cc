// vigil-agent: reads the host and its services and streams metrics to the collector.
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "agent/agent.h"
#include "agent/checks/registry.h"
#include "agent/config.h"
#include "common/log.h"
#include "common/program.h"

namespace {

constexpr char kUsage[] =
    "usage: vigil-agent [--config FILE] [--check-config] [--version]\n"
    "  --config FILE    agent configuration (default /etc/vigil/agent.yaml)\n"
    "  --check-config   validate the configuration and exit: 0 if valid, 2 with\n"
    "                   file:line:col: message lines otherwise\n";

}  // namespace

int main(int argc, char** argv) {
  // One malloc arena instead of up to eight per core: the agent's ~20 threads (most of them
  // gRPC's) allocate little, and each extra arena keeps its own partly used pages resident
  // (0.5 MiB in bench/agent_footprint). Per-thread caches still serve most allocations without
  // the arena lock. MALLOC_ARENA_MAX in the environment wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 1);

  vigil::ProgramFlags flags;
  flags.config_path = "/etc/vigil/agent.yaml";
  if (std::optional<int> exit_code =
          vigil::ParseProgramFlags(argc, argv, "vigil-agent", kUsage, &flags)) {
    return *exit_code;
  }
  const std::string& config_path = flags.config_path;
  const bool check_only = flags.check_config;

  absl::StatusOr<vigil::agent::AgentConfig> config = vigil::agent::LoadAgentConfig(
      config_path, vigil::agent::NewCheck, vigil::agent::CheckTypes());
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: OK (%zu checks)\n", config_path.c_str(), config->checks.size());
    return 0;
  }

  // Block the stop signals in every thread; this thread waits for them.
  vigil::BlockStopSignals();

  absl::StatusOr<std::unique_ptr<vigil::agent::Agent>> agent =
      vigil::agent::Agent::Start(*std::move(config));
  if (!agent.ok()) {
    VIGIL_LOG(Error) << "cannot start: " << agent.status();
    return 1;
  }
  for (int sig = vigil::WaitForSignal();; sig = vigil::WaitForSignal()) {
    if (sig != SIGHUP) {
      VIGIL_LOG(Info) << "received " << strsignal(sig) << ", stopping";
      break;
    }
    VIGIL_LOG(Info) << "SIGHUP ignored: the agent reads its configuration at start; restart it";
  }
  (*agent)->Stop(absl::Seconds(5));
  return 0;
}
