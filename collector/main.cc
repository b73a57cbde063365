// vigil-collector: receives agent streams, stores recent data and serves the HTTP API.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "alerting/notify/config.h"
#include "collector/collector.h"
#include "collector/config.h"
#include "common/log.h"
#include "common/program.h"

namespace {

constexpr char kUsage[] =
    "usage: vigil-collector [--config FILE] [--check-config] [--version]\n"
    "  --config FILE    collector configuration (default: embedded defaults)\n"
    "  --check-config   validate the configuration (and the alerting config it names)\n"
    "                   and exit: 0 if valid, 2 with file:line:col: message lines otherwise\n";

}  // namespace

int main(int argc, char** argv) {
  vigil::ProgramFlags flags;
  if (std::optional<int> exit_code =
          vigil::ParseProgramFlags(argc, argv, "vigil-collector", kUsage, &flags)) {
    return *exit_code;
  }
  const std::string& config_path = flags.config_path;
  const bool check_only = flags.check_config;
  absl::StatusOr<vigil::collector::CollectorConfig> config =
      config_path.empty() ? vigil::collector::DefaultCollectorConfig()
                          : vigil::collector::LoadCollectorConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: OK\n", config_path.empty() ? "(defaults)" : config_path.c_str());
    // The alerting config it names is checked too, as the collector would load it.
    const vigil::collector::AlertingSettings& alerting = config->alerting;
    const bool exists =
        !alerting.config_file.empty() && access(alerting.config_file.c_str(), F_OK) == 0;
    if (alerting.config_file_required && !exists) {
      std::fprintf(stderr, "alerting config %s (alerting.config_file) does not exist\n",
                   alerting.config_file.c_str());
      return 2;
    }
    if (exists) {
      absl::StatusOr<std::shared_ptr<const vigil::alerting::AlertingConfig>> a =
          vigil::alerting::LoadAlertingConfig(alerting.config_file);
      if (!a.ok()) {
        std::fprintf(stderr, "%s\n", std::string(a.status().message()).c_str());
        return 2;
      }
      std::printf("%s: OK (%zu receivers)\n", alerting.config_file.c_str(), (*a)->receivers.size());
    }
    return 0;
  }

  vigil::BlockStopSignals();

  // A leader that loses its lease asks to stop with exit code 1 (it restarts as a standby).
  static std::atomic<int> exit_code{0};
  absl::StatusOr<std::unique_ptr<vigil::collector::Collector>> collector =
      vigil::collector::Collector::Start(*std::move(config), [](int code) {
        exit_code.store(code);
        kill(getpid(), SIGTERM);
      });
  if (!collector.ok()) {
    VIGIL_LOG(Error) << "cannot start: " << collector.status();
    return 1;
  }
  for (int sig = vigil::WaitForSignal();; sig = vigil::WaitForSignal()) {
    if (sig != SIGHUP) {
      VIGIL_LOG(Info) << "received " << strsignal(sig) << ", stopping";
      break;
    }
    vigil::collector::Collector::ReloadOutcome r = (*collector)->Reload();
    VIGIL_LOG(Info) << "SIGHUP: rule reload " << (r.rules.ok() ? "done" : "rejected")
                    << ", alerting config reload " << (r.alerting.ok() ? "done" : "rejected");
  }
  (*collector)->Stop(absl::Seconds(5));
  return exit_code.load();
}
