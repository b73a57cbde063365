#ifndef VIGIL_ALERTING_ENGINE_RULE_TEST_RUNNER_H_
#define VIGIL_ALERTING_ENGINE_RULE_TEST_RUNNER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::alerting {

struct RuleTestResult {
  int tests = 0;
  int failed_tests = 0;
  int expectations = 0;
  // One line per failing expectation: what was expected and what happened.
  std::vector<std::string> failures;
};

// Runs the rule unit tests of one test file (format: docs/rules.md, "Rule tests"): loads the
// rule files it names (relative to the test file), feeds each test's input series to a fresh
// AlarmEngine with evaluation_delay 0, and checks `expect` states and `expect_transitions`.
// A malformed test file, or rule files that do not load, give INVALID_ARGUMENT with
// `file:line:col: message` lines. Failing expectations are results, not errors.
absl::StatusOr<RuleTestResult> RunRuleTestFile(const std::string& path);

// Expands the values notation: "50 75 _ 10x3" -> 50, 75, missing, 10, 10, 10.
// `_xN` repeats a gap. A token that is not a number, `_` or VxN is an error naming it.
absl::StatusOr<std::vector<std::optional<double>>> ExpandValues(const std::string& text);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_ENGINE_RULE_TEST_RUNNER_H_
