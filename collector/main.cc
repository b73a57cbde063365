// vigil-collector: receives agent streams, stores recent data and serves the HTTP API.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "collector/collector.h"
#include "collector/config.h"
#include "common/log.h"

namespace {

constexpr char kUsage[] =
    "usage: vigil-collector [--config FILE] [--check-config] [--version]\n"
    "  --config FILE    collector configuration (default: embedded defaults)\n"
    "  --check-config   validate the configuration and exit: 0 if valid, 2 with\n"
    "                   file:line:col: message lines otherwise\n";

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
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
      std::printf("vigil-collector %s\n", VIGIL_VERSION);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "vigil-collector: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  absl::StatusOr<vigil::collector::CollectorConfig> config =
      config_path.empty() ? vigil::collector::DefaultCollectorConfig()
                          : vigil::collector::LoadCollectorConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: OK\n", config_path.empty() ? "(defaults)" : config_path.c_str());
    return 0;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<vigil::collector::Collector>> collector =
      vigil::collector::Collector::Start(*std::move(config));
  if (!collector.ok()) {
    VIGIL_LOG(Error) << "cannot start: " << collector.status();
    return 1;
  }
  const auto& c = **collector;
  // One line for people and for test harnesses (which parse the ports when 0 was asked for).
  std::printf("vigil-collector %s ready: grpc=127.0.0.1:%d http=http://127.0.0.1:%d state=%s\n",
              VIGIL_VERSION, c.grpc_port(), c.http_port(), c.config().state_dir.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  VIGIL_LOG(Info) << "received " << strsignal(sig) << ", stopping";
  (*collector)->Stop(absl::Seconds(5));
  return 0;
}
