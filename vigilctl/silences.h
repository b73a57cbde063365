#ifndef VIGIL_VIGILCTL_SILENCES_H_
#define VIGIL_VIGILCTL_SILENCES_H_

#include <ostream>
#include <string>

#include "vigilctl/api_client.h"
#include "vigilctl/commands.h"

// `vigilctl silence add|list|expire` against the collector's /api/v1/silences (docs/api.md).
// Each writes its result to `out`, "vigilctl: <message>" to `err` on failure, and returns the
// exit code. Stateless; callable from any thread.

namespace vigil::ctl {

// Creates the silence (POST, with the API token read from `token_file`) and prints its id.
int RunSilenceAdd(const ApiClient& client, const std::string& token_file, const SilenceArgs& args,
                  std::ostream& out, std::ostream& err);
// Prints every silence as a table (active first, then pending, then expired) and a count line.
int RunSilenceList(const ApiClient& client, std::ostream& out, std::ostream& err);
// Expires the silence `id` (DELETE, with the API token) and prints "silence ID expired".
int RunSilenceExpire(const ApiClient& client, const std::string& token_file, const std::string& id,
                     std::ostream& out, std::ostream& err);

}  // namespace vigil::ctl

#endif  // VIGIL_VIGILCTL_SILENCES_H_
