#ifndef VIGIL_VIGILCTL_CONFIG_CHECK_H_
#define VIGIL_VIGILCTL_CONFIG_CHECK_H_

#include <ostream>
#include <string>

#include "alerting/notify/config.h"

namespace vigil::ctl {

// `vigilctl config check FILE [--rules DIR]`: loads the alerting config as the collector does
// (alerting::LoadAlertingConfig; a missing file is an error here, unlike in the collector, where
// it means "send nothing"). With `rules_dir`, also loads those rules and checks that every
// *_actions entry names a receiver FILE defines (alerting::CheckRuleActions). On any problem
// writes each to `err` as `file:line:col: message` and returns kExitFailure; otherwise writes
// AlertingSummary() (and the rules' summary) to `out` and returns kExitOk. Stateless.
int RunConfigCheck(const std::string& file, const std::string& rules_dir, std::ostream& out,
                   std::ostream& err);

// "alerting config OK: 2 receivers (oncall: email, webhook; blackhole: none), a routing tree of
// 4 routes, 1 inhibit rule, 2 maintenance windows".
std::string AlertingSummary(const alerting::AlertingConfig& config);

}  // namespace vigil::ctl

#endif  // VIGIL_VIGILCTL_CONFIG_CHECK_H_
