#ifndef VIGIL_COLLECTOR_STATE_OPEN_STATE_STORE_H_
#define VIGIL_COLLECTOR_STATE_OPEN_STATE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "collector/state/state_config.h"
#include "collector/state/state_store.h"

// Opening the configured state store, and the operator's view of one (vigilctl state).

namespace vigil::collector {

// Opens the store `config` names (SQLite: <state_dir>/state.db, whose directory must exist;
// PostgreSQL: connects) and applies the missing schema migrations, so the store is ready to
// use. Errors name the file or host:port/dbname (never a password): NotFound for a missing
// directory, FailedPrecondition for a schema newer than this binary, Unavailable or
// DeadlineExceeded when PostgreSQL cannot be reached, PermissionDenied when the role lacks a
// privilege.
absl::StatusOr<std::unique_ptr<StateStore>> OpenStateStore(const StateConfig& config,
                                                           const std::string& state_dir);

// The schema versions before and after opening (equal when nothing was to migrate).
struct MigrationResult {
  SchemaStatus before;
  SchemaStatus after;
};
// `vigilctl state migrate`: OpenStateStore, reporting what it did.
absl::StatusOr<MigrationResult> MigrateStateStore(const StateConfig& config,
                                                  const std::string& state_dir);

// What `vigilctl state status` shows. Read without creating or migrating anything.
struct StateReport {
  SchemaStatus schema;  // version 0: not created yet
  LeaseInfo lease;      // holder "" and epoch 0: never held (or not created yet)
};
absl::StatusOr<StateReport> InspectStateStore(const StateConfig& config,
                                              const std::string& state_dir);

// <state_dir>/state.db.
std::string SqliteStatePath(const std::string& state_dir);

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_STATE_OPEN_STATE_STORE_H_
