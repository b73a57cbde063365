#ifndef VIGIL_VIGILCTL_RULES_CHECK_H_
#define VIGIL_VIGILCTL_RULES_CHECK_H_

#include <ostream>
#include <string>
#include <vector>

#include "alerting/rules/rule.h"

namespace vigil::ctl {

// `vigilctl rules check PATH...`: loads the rule files under the paths exactly as the collector
// does (alerting::LoadRuleSet). On any problem writes every one to `err`, one per line as
// `file:line:col: message`, and returns kExitFailure; otherwise writes RulesSummary() and a
// newline to `out` and returns kExitOk. Stateless; callable from any thread.
int RunRulesCheck(const std::vector<std::string>& paths, std::ostream& out, std::ostream& err);

// `vigilctl rules test FILE...`: runs the rule unit tests of each file (RunRuleTestFile). Writes
// every failing expectation to `out`, a file that cannot be run to `err`, and a summary line;
// returns kExitFailure if anything failed.
int RunRulesTest(const std::vector<std::string>& files, std::ostream& out, std::ostream& err);

// "rules OK: 14 rules (11 threshold, 3 composite) in 5 files, revision 3fa2c1d0e9b7": the
// revision shortened to 12 hex digits.
std::string RulesSummary(const alerting::RuleSet& set);

}  // namespace vigil::ctl

#endif  // VIGIL_VIGILCTL_RULES_CHECK_H_
