#include "vigilctl/config_check.h"

#include <fstream>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "alerting/rules/loader.h"
#include "vigilctl/commands.h"
#include "vigilctl/rules_check.h"

namespace vigil::ctl {
namespace {

std::string Count(size_t n, absl::string_view noun) {
  return absl::StrCat(n, " ", noun, n == 1 ? "" : "s");
}

size_t CountRoutes(const alerting::Route& route) {
  size_t n = 1;
  for (const alerting::Route& child : route.routes) n += CountRoutes(child);
  return n;
}

}  // namespace

std::string AlertingSummary(const alerting::AlertingConfig& config) {
  std::vector<std::string> receivers;
  for (const alerting::Receiver& r : config.receivers) {
    std::vector<std::string> kinds;
    for (const alerting::Integration& i : r.integrations) kinds.push_back(i.kind);
    receivers.push_back(
        absl::StrCat(r.name, ": ", kinds.empty() ? "none" : absl::StrJoin(kinds, ", ")));
  }
  std::string out =
      absl::StrCat("alerting config OK: ", Count(config.receivers.size(), "receiver"));
  if (!receivers.empty()) absl::StrAppend(&out, " (", absl::StrJoin(receivers, "; "), ")");
  absl::StrAppend(
      &out, ", ",
      config.route ? absl::StrCat("a routing tree of ", Count(CountRoutes(*config.route), "route"))
                   : "no routing tree (only rules' *_actions notify)",
      ", ", Count(config.inhibit_rules.size(), "inhibit rule"), ", ",
      Count(config.maintenance_windows.size(), "maintenance window"));
  return out;
}

int RunConfigCheck(const std::string& file, const std::string& rules_dir, std::ostream& out,
                   std::ostream& err) {
  // The collector treats a missing file as "no receivers"; a check of a named file that is not
  // there is a mistake.
  if (!std::ifstream(file).good()) {
    err << "vigilctl: cannot read alerting config " << file << "\n";
    return kExitFailure;
  }
  absl::StatusOr<std::shared_ptr<const alerting::AlertingConfig>> config =
      alerting::LoadAlertingConfig(file);
  if (!config.ok()) {
    err << config.status().message() << "\n";
    return kExitFailure;
  }
  std::string summary = AlertingSummary(**config);
  if (!rules_dir.empty()) {
    absl::StatusOr<std::shared_ptr<const alerting::RuleSet>> rules =
        alerting::LoadRuleSet({rules_dir});
    if (!rules.ok()) {
      err << rules.status().message() << "\n";
      return kExitFailure;
    }
    std::vector<std::string> problems = alerting::CheckRuleActions(**rules, **config);
    if (!problems.empty()) {
      err << absl::StrJoin(problems, "\n") << "\n";
      return kExitFailure;
    }
    absl::StrAppend(&summary, "\n", RulesSummary(**rules), "; every *_actions receiver is defined");
  }
  out << summary << "\n";
  return kExitOk;
}

}  // namespace vigil::ctl
