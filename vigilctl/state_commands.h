#ifndef VIGIL_VIGILCTL_STATE_COMMANDS_H_
#define VIGIL_VIGILCTL_STATE_COMMANDS_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "collector/state/open_state_store.h"

namespace vigil::ctl {

// `vigilctl state migrate --config FILE`: opens the state store the collector config names
// (state: section; SQLite: <state_dir>/state.db, created when missing) and applies the missing
// schema migrations, as the collector does at start. Prints what it did ("... migrated the
// schema from version 1 to 2" or "... is at version 2, the latest: nothing to migrate") and
// returns kExitOk; on a config problem, an unreachable store or a newer schema writes the
// problem to `err` and returns kExitFailure. Stateless.
int RunStateMigrate(const std::string& config_file, std::ostream& out, std::ostream& err);

// `vigilctl state status --config FILE`: backend, location, schema version against the latest
// this binary knows, and the lease (holder, epoch, expiry), read without creating or migrating
// anything. kExitFailure when the config does not load or the store cannot be read.
int RunStateStatus(const std::string& config_file, std::ostream& out, std::ostream& err);

// The status report as printed, `now_ms` for the lease's "in 12.5s" / "3s ago".
std::string FormatStateReport(const collector::StateReport& report, int64_t now_ms);

}  // namespace vigil::ctl

#endif  // VIGIL_VIGILCTL_STATE_COMMANDS_H_
