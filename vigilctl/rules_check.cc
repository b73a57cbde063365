#include "vigilctl/rules_check.h"

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "alerting/engine/rule_test_runner.h"
#include "alerting/rules/loader.h"
#include "vigilctl/commands.h"

namespace vigil::ctl {
namespace {

std::string Count(size_t n, absl::string_view noun) {
  return absl::StrCat(n, " ", noun, n == 1 ? "" : "s");
}

}  // namespace

std::string RulesSummary(const alerting::RuleSet& set) {
  size_t composite = 0;
  for (const alerting::Rule& r : set.rules) {
    if (r.kind == alerting::Rule::Kind::kComposite) ++composite;
  }
  return absl::StrCat("rules OK: ", Count(set.rules.size(), "rule"), " (",
                      set.rules.size() - composite, " threshold, ", composite, " composite) in ",
                      Count(set.files.size(), "file"), ", revision ", set.revision.substr(0, 12));
}

int RunRulesCheck(const std::vector<std::string>& paths, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::shared_ptr<const alerting::RuleSet>> set = alerting::LoadRuleSet(paths);
  if (!set.ok()) {
    err << set.status().message() << "\n";
    return kExitFailure;
  }
  out << RulesSummary(**set) << "\n";
  return kExitOk;
}

int RunRulesTest(const std::vector<std::string>& files, std::ostream& out, std::ostream& err) {
  int tests = 0, failed = 0, expectations = 0, broken_files = 0;
  for (const std::string& file : files) {
    absl::StatusOr<alerting::RuleTestResult> r = alerting::RunRuleTestFile(file);
    if (!r.ok()) {
      err << r.status().message() << "\n";
      ++broken_files;
      continue;
    }
    for (const std::string& f : r->failures) out << f << "\n";
    tests += r->tests;
    failed += r->failed_tests;
    expectations += r->expectations;
  }
  out << "rules test: " << tests << (tests == 1 ? " test" : " tests") << ", " << expectations
      << " expectations, " << failed << " failed";
  if (broken_files > 0) out << ", " << broken_files << " files could not be run";
  out << " (" << files.size() << (files.size() == 1 ? " file" : " files") << ")\n";
  return failed == 0 && broken_files == 0 ? kExitOk : kExitFailure;
}

}  // namespace vigil::ctl
