#ifndef VIGIL_COMMON_PROGRAM_H_
#define VIGIL_COMMON_PROGRAM_H_

#include <optional>
#include <string>

// What vigil-agent and vigil-collector share in main(): the common flags and how they wait for
// a stop signal. Call from main's thread only.

namespace vigil {

struct ProgramFlags {
  std::string config_path;  // --config FILE (or --config=FILE); keeps the caller's default
  bool check_config = false;
};

// Parses --config, --check-config, --version and --help. Returns an exit code when the program
// should exit now (0 after --version/--help, 2 after printing `usage` for a bad argument), or
// nullopt to go on.
std::optional<int> ParseProgramFlags(int argc, char** argv, const char* program, const char* usage,
                                     ProgramFlags* flags);

// Blocks SIGTERM, SIGINT and SIGHUP in this thread and every thread started later, and ignores
// SIGPIPE. Call before starting threads; then WaitForSignal() returns the next of them.
void BlockStopSignals();
int WaitForSignal();

}  // namespace vigil

#endif  // VIGIL_COMMON_PROGRAM_H_
