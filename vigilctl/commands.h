#ifndef VIGIL_VIGILCTL_COMMANDS_H_
#define VIGIL_VIGILCTL_COMMANDS_H_

#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "vigilctl/api_client.h"

namespace vigil::ctl {

// Exit codes of vigilctl.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the collector is unreachable or refused, I/O failed
inline constexpr int kExitUsage = 2;    // bad command line

inline constexpr char kDefaultCollectorUrl[] = "http://127.0.0.1:8080";

struct QueryArgs {
  std::vector<std::string> selectors;
  std::optional<std::string> from, to, step, stat;  // passed to the API as given
};

struct SilenceArgs {
  std::vector<std::string> matchers;                  // --matcher, repeatable
  std::optional<std::string> duration, until, start;  // as given; the collector parses them
  std::string author, comment;
  std::string id;  // silence expire ID
};

// A parsed command line.
struct Invocation {
  enum class Command {
    kHelp,
    kVersion,
    kSeries,
    kQuery,
    kTokenGenerate,
    kTokenHash,
    kRulesCheck,
    kRulesTest,
    kAlarms,
    kAlarmHistory,
    kSilenceAdd,
    kSilenceList,
    kSilenceExpire,
    kConfigCheck,
    kStateMigrate,
    kStateStatus
  };
  Command command = Command::kHelp;
  std::string collector_url = kDefaultCollectorUrl;
  absl::Duration timeout = absl::Seconds(10);
  std::vector<std::string> matches;     // kSeries
  QueryArgs query;                      // kQuery
  std::string token_file;               // kTokenHash; empty: standard input
  std::vector<std::string> rule_paths;  // kRulesCheck: files and directories; kRulesTest: files
  std::string state;                    // kAlarms: only this state (--state); empty: all
  std::string rule;                     // kAlarmHistory
  // State-changing calls (silence add, silence expire): the file holding the collector's API
  // token (auth.api_token_file), from --token-file, else $VIGIL_API_TOKEN_FILE.
  std::string api_token_file;
  SilenceArgs silence;           // kSilenceAdd; kSilenceExpire: silence.id
  std::string config_file;       // kConfigCheck: the alerting config
  std::string rules_dir;         // kConfigCheck: --rules, also check the rules' *_actions
  std::string collector_config;  // kStateMigrate, kStateStatus: --config, collector.yaml
};

// Parses the arguments after the program name. `env_collector_url` is $VIGIL_COLLECTOR_URL
// and `env_token_file` $VIGIL_API_TOKEN_FILE (empty if unset); --collector and --token-file
// override them. INVALID_ARGUMENT names the offending argument.
absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args,
                                     const std::string& env_collector_url,
                                     const std::string& env_token_file = "");

// The --help text.
std::string Usage();

// Each command writes its result to `out` and "vigilctl: <message>" to `err` on failure, and
// returns the exit code.
int RunSeries(const ApiClient& client, const std::vector<std::string>& matches, std::ostream& out,
              std::ostream& err);
int RunQuery(const ApiClient& client, const QueryArgs& query, std::ostream& out, std::ostream& err);
int RunTokenGenerate(std::ostream& out, std::ostream& err);
// Hashes the token in `file`, or read from `in` when `file` is empty, trimmed.
int RunTokenHash(const std::string& file, std::istream& in, std::ostream& out, std::ostream& err);

// Runs a parsed invocation (kHelp prints Usage() to `out`).
int Run(const Invocation& invocation, std::istream& in, std::ostream& out, std::ostream& err);

// "2026-11-22T10:00:00Z"; milliseconds are shown only when not zero ("...:00.250Z").
std::string FormatTimestamp(int64_t epoch_ms);
// The shortest decimal that reads back as the same double ("0.1", "42", "1e+20").
std::string FormatValue(double value);

}  // namespace vigil::ctl

#endif  // VIGIL_VIGILCTL_COMMANDS_H_
