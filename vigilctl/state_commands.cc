#include "vigilctl/state_commands.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/config.h"
#include "vigilctl/commands.h"

namespace vigil::ctl {
namespace {

// The collector config named on the command line, or the problem written to `err`.
std::optional<collector::CollectorConfig> LoadConfig(const std::string& file, std::ostream& err) {
  absl::StatusOr<collector::CollectorConfig> config = collector::LoadCollectorConfig(file);
  if (!config.ok()) {
    err << "vigilctl: " << config.status().message() << "\n";
    return std::nullopt;
  }
  return *std::move(config);
}

std::string Described(const collector::SchemaStatus& s) {
  return absl::StrCat("state database ", s.location, " (", s.backend, ")");
}

std::string Duration(int64_t ms) {
  return absl::FormatDuration(absl::Milliseconds(ms < 0 ? -ms : ms));
}

}  // namespace

std::string FormatStateReport(const collector::StateReport& report, int64_t now_ms) {
  const collector::SchemaStatus& s = report.schema;
  std::string schema = absl::StrCat("version ", s.version, " of ", s.latest);
  if (s.version == 0) {
    absl::StrAppend(&schema,
                    " (not created yet: the collector creates it at start, or run "
                    "vigilctl state migrate)");
  } else if (s.version < s.latest) {
    absl::StrAppend(&schema, " (run vigilctl state migrate, or start the collector)");
  } else if (s.version > s.latest) {
    absl::StrAppend(&schema, " (newer than this vigilctl knows)");
  } else {
    absl::StrAppend(&schema, " (up to date)");
  }
  const collector::LeaseInfo& l = report.lease;
  std::string lease;
  if (l.epoch == 0) {
    lease = "never held";
  } else {
    const bool live = l.expires_ms > now_ms;
    lease = absl::StrCat(live ? "held by " : "lapsed, last held by ", l.holder, ", epoch ", l.epoch,
                         ", ", live ? "expires " : "expired ", FormatTimestamp(l.expires_ms), " (",
                         live ? absl::StrCat("in ", Duration(l.expires_ms - now_ms))
                              : absl::StrCat(Duration(now_ms - l.expires_ms), " ago"),
                         ")");
  }
  return absl::StrCat("backend:  ", s.backend, "\nlocation: ", s.location, "\nschema:   ", schema,
                      "\nlease:    ", lease, "\n");
}

int RunStateMigrate(const std::string& config_file, std::ostream& out, std::ostream& err) {
  std::optional<collector::CollectorConfig> config = LoadConfig(config_file, err);
  if (!config) return kExitFailure;
  absl::StatusOr<collector::MigrationResult> result =
      collector::MigrateStateStore(config->state, config->state_dir);
  if (!result.ok()) {
    err << "vigilctl: " << result.status().message() << "\n";
    return kExitFailure;
  }
  if (result->before.version == result->after.version) {
    out << Described(result->after) << " is at schema version " << result->after.version
        << ", the latest: nothing to migrate\n";
  } else {
    out << Described(result->after) << ": migrated the schema from version "
        << result->before.version << " to " << result->after.version << "\n";
  }
  return kExitOk;
}

int RunStateStatus(const std::string& config_file, std::ostream& out, std::ostream& err) {
  std::optional<collector::CollectorConfig> config = LoadConfig(config_file, err);
  if (!config) return kExitFailure;
  absl::StatusOr<collector::StateReport> report =
      collector::InspectStateStore(config->state, config->state_dir);
  if (!report.ok()) {
    err << "vigilctl: " << report.status().message() << "\n";
    return kExitFailure;
  }
  out << FormatStateReport(*report, absl::ToUnixMillis(absl::Now()));
  return kExitOk;
}

}  // namespace vigil::ctl
