#include "common/program.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstring>

namespace vigil {
namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

std::optional<int> ParseProgramFlags(int argc, char** argv, const char* program, const char* usage,
                                     ProgramFlags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      flags->config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      flags->config_path = arg.substr(9);
    } else if (arg == "--check-config") {
      flags->check_config = true;
    } else if (arg == "--version") {
      std::printf("%s %s\n", program, VIGIL_VERSION);
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "%s: unknown argument '%s'\n%s", program, arg.c_str(), usage);
      return 2;
    }
  }
  return std::nullopt;
}

void BlockStopSignals() {
  sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForSignal() {
  sigset_t set = StopSignals();
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace vigil
