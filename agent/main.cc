// vigil-agent: reads the host and its services and streams metrics to the collector.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/time/clock.h"
#include "agent/agent.h"
#include "agent/checks/registry.h"
#include "agent/config.h"
#include "common/log.h"

namespace {

constexpr char kUsage[] =
    "usage: vigil-agent [--config FILE] [--check-config] [--version]\n"
    "  --config FILE    agent configuration (default /etc/vigil/agent.yaml)\n"
    "  --check-config   validate the configuration and exit: 0 if valid, 2 with\n"
    "                   file:line:col: message lines otherwise\n";

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = "/etc/vigil/agent.yaml";
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(9);
    } else if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--version") {
      std::printf("vigil-agent %s\n", VIGIL_VERSION);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "vigil-agent: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }

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
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<vigil::agent::Agent>> agent =
      vigil::agent::Agent::Start(*std::move(config));
  if (!agent.ok()) {
    VIGIL_LOG(Error) << "cannot start: " << agent.status();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  VIGIL_LOG(Info) << "received " << strsignal(sig) << ", stopping";
  (*agent)->Stop(absl::Seconds(5));
  return 0;
}
