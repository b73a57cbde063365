#ifndef VIGIL_ALERTING_RULES_LOADER_H_
#define VIGIL_ALERTING_RULES_LOADER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "alerting/rules/rule.h"

// Reading and validating rule files (rules/*.yaml) into an immutable RuleSet. The file shape and
// every key are described in docs/rules.md. Stateless functions; safe to call from any thread.

namespace vigil::alerting {

// Loads every *.yaml / *.yml file under each path (a file or a directory, not recursive; sorted;
// names starting with '.' are skipped), as one rule set. A path naming a file is loaded whatever
// its extension. Any problem anywhere rejects the whole set: InvalidArgument whose message is
// every problem, one per line, as `file:line:col: message` (`path: message` for a path that
// does not exist, cannot be read, or is a directory with no rule files).
absl::StatusOr<std::shared_ptr<const RuleSet>> LoadRuleSet(const std::vector<std::string>& paths);

// Same from in-memory files (name -> content), for tests and `vigilctl rules test`. The files
// are taken in name order whatever the order given.
absl::StatusOr<std::shared_ptr<const RuleSet>> ParseRuleSet(
    const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_RULES_LOADER_H_
