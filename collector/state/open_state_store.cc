#include "collector/state/open_state_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "collector/state/postgres_state_store.h"
#include "collector/state/sqlite_state_store.h"

namespace vigil::collector {

std::string SqliteStatePath(const std::string& state_dir) { return state_dir + "/state.db"; }

absl::StatusOr<std::unique_ptr<StateStore>> OpenStateStore(const StateConfig& config,
                                                           const std::string& state_dir) {
  if (config.backend == kPostgresBackend) {
    absl::StatusOr<std::unique_ptr<PostgresStateStore>> store =
        PostgresStateStore::Open(config.postgres);
    if (!store.ok()) return store.status();
    return std::unique_ptr<StateStore>(*std::move(store));
  }
  if (config.backend != kSqliteBackend) {
    return absl::InvalidArgumentError(
        absl::StrCat("state.backend '", config.backend, "' is neither sqlite nor postgres"));
  }
  absl::StatusOr<std::unique_ptr<SqliteStateStore>> store =
      SqliteStateStore::Open(SqliteStatePath(state_dir));
  if (!store.ok()) return store.status();
  return std::unique_ptr<StateStore>(*std::move(store));
}

absl::StatusOr<MigrationResult> MigrateStateStore(const StateConfig& config,
                                                  const std::string& state_dir) {
  MigrationResult result;
  std::unique_ptr<StateStore> store;
  if (config.backend == kPostgresBackend) {
    absl::StatusOr<std::unique_ptr<PostgresStateStore>> pg =
        PostgresStateStore::Open(config.postgres);
    if (!pg.ok()) return pg.status();
    result.before = {kPostgresBackend, (*pg)->location(), (*pg)->migrated_from(),
                     PostgresStateStore::kSchemaVersion};
    store = *std::move(pg);
  } else {
    absl::StatusOr<std::unique_ptr<StateStore>> opened = OpenStateStore(config, state_dir);
    if (!opened.ok()) return opened.status();
    auto* sqlite = static_cast<SqliteStateStore*>(opened->get());
    result.before = {kSqliteBackend, sqlite->path(), sqlite->migrated_from(),
                     SqliteStateStore::kSchemaVersion};
    store = *std::move(opened);
  }
  absl::StatusOr<SchemaStatus> after = store->Status();
  if (!after.ok()) return after.status();
  result.after = *after;
  return result;
}

absl::StatusOr<StateReport> InspectStateStore(const StateConfig& config,
                                              const std::string& state_dir) {
  if (config.backend == kPostgresBackend) return PostgresStateStore::Inspect(config.postgres);
  const std::string path = SqliteStatePath(state_dir);
  absl::StatusOr<StateReport> report = SqliteStateStore::Inspect(path);
  if (absl::IsNotFound(report.status())) {
    // Not created yet: the collector creates it at start (or vigilctl state migrate).
    StateReport empty;
    empty.schema = {kSqliteBackend, path, 0, SqliteStateStore::kSchemaVersion};
    return empty;
  }
  return report;
}

}  // namespace vigil::collector
