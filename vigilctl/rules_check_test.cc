#include "vigilctl/rules_check.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "alerting/rules/loader.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vigilctl/commands.h"

namespace vigil::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::MatchesRegex;

const std::string kTestdata = std::string(VIGIL_SOURCE_DIR) + "/alerting/rules/testdata";

struct Result {
  int exit_code = -1;
  std::string out, err;
};

// Runs `vigilctl ARGS...` as main() does, without a process.
Result RunCommandLine(const std::vector<std::string>& args) {
  Result r;
  absl::StatusOr<Invocation> inv = ParseArgs(args, "");
  EXPECT_TRUE(inv.ok()) << inv.status();
  if (!inv.ok()) return r;
  std::istringstream in;
  std::ostringstream out, err;
  r.exit_code = Run(*inv, in, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(RulesCheck, ValidDirectoryPrintsOneSummaryLineAndExitsZero) {
  Result r = RunCommandLine({"rules", "check", kTestdata + "/good"});
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_THAT(r.out, MatchesRegex("rules OK: 4 rules \\(3 threshold, 1 composite\\) in 2 files, "
                                  "revision [0-9a-f]{12}\n"));
  EXPECT_EQ(r.err, "");
}

TEST(RulesCheck, SummaryShowsTheRevisionPrefixAndSingularCounts) {
  vigil::testing::TempDir dir;
  std::string path = dir.Write("a.yaml", "rules:\n  - {name: a, metric: m, threshold: 1}\n");
  Result r = RunCommandLine({"rules", "check", path});
  absl::StatusOr<std::shared_ptr<const alerting::RuleSet>> set = alerting::LoadRuleSet({path});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_EQ(r.out, "rules OK: 1 rule (1 threshold, 0 composite) in 1 file, revision " +
                       (*set)->revision.substr(0, 12) + "\n");
}

TEST(RulesCheck, EveryProblemGoesToStderrAsFileLineColAndExitsOne) {
  const std::string bad = kTestdata + "/bad/bad.yaml";
  Result r = RunCommandLine({"rules", "check", bad});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, bad +
                       ":4:16: statistic: unknown statistic 'median' (avg, sum, min, max, "
                       "count, p50, p90, p95, p99, rate)\n" +
                       bad + ":5:13: period: bad duration 'soon' (e.g. 10s, 1m30s)\n" + bad +
                       ":8:17: expression: unknown rule 'nope' in composite\n");
}

TEST(RulesCheck, OneBadFileAmongGoodOnesRejectsTheWholeSet) {
  Result r = RunCommandLine({"rules", "check", kTestdata + "/good", kTestdata + "/bad"});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("bad.yaml:4:16: statistic:"), std::string::npos) << r.err;
}

TEST(RulesCheck, MissingPathIsAProblemNamingIt) {
  vigil::testing::TempDir dir;
  Result r = RunCommandLine({"rules", "check", dir.Join("nope")});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_EQ(r.err, dir.Join("nope") + ": no such file or directory\n");
}

TEST(RulesCheck, ParseArgsTakesEveryPath) {
  absl::StatusOr<Invocation> inv = ParseArgs({"rules", "check", "a.yaml", "dir"}, "");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, Invocation::Command::kRulesCheck);
  EXPECT_THAT(inv->rule_paths, ElementsAre("a.yaml", "dir"));
}

TEST(RulesCheck, MissingPathsOrSubcommandIsAUsageError) {
  EXPECT_EQ(ParseArgs({"rules", "check"}, "").status().message(),
            "rules check: give at least one file or directory");
  EXPECT_EQ(ParseArgs({"rules"}, "").status().message(), "rules: give check or test");
  EXPECT_EQ(ParseArgs({"rules", "lint", "x"}, "").status().message(),
            "unknown rules command 'lint'");
}

TEST(RulesCheck, UsageDocumentsTheCommand) {
  EXPECT_NE(Usage().find("rules check PATH..."), std::string::npos);
}

}  // namespace
}  // namespace vigil::ctl

namespace vigil::ctl {
namespace {

TEST(RulesTest, PassingFileExitsZeroWithASummary) {
  std::ostringstream out, err;
  const std::string file =
      std::string(VIGIL_SOURCE_DIR) + "/alerting/engine/testdata/engine_test.yaml";
  EXPECT_EQ(RunRulesTest({file}, out, err), kExitOk) << out.str() << err.str();
  EXPECT_EQ(out.str(), "rules test: 5 tests, 14 expectations, 0 failed (1 file)\n");
  EXPECT_EQ(err.str(), "");
}

TEST(RulesTest, FailingExpectationShowsExpectedAndActual) {
  vigil::testing::TempDir dir;
  dir.Write("r.yaml", R"(rules:
  - name: cpu
    metric: system.cpu.utilization
    period: 60s
    comparison: ">"
    threshold: 70
)");
  const std::string test = dir.Write("t.yaml", R"(rule_files: [r.yaml]
tests:
  - name: wrong on purpose
    interval: 60s
    input:
      - series: 'system.cpu.utilization{host="a"}'
        values: "10 10"
    expect:
      - {at: 2m, rule: cpu, state: ALARM}
)");
  std::ostringstream out, err;
  EXPECT_EQ(RunRulesTest({test}, out, err), kExitFailure);
  EXPECT_THAT(out.str(), ::testing::HasSubstr(test + ":9: test 'wrong on purpose': at 2m cpu: "
                                                     "expected ALARM, got OK"));
  EXPECT_THAT(out.str(), ::testing::HasSubstr("rules test: 1 test, 1 expectations, 1 failed"));
}

TEST(RulesTest, MalformedTestFileIsReportedWithPosition) {
  vigil::testing::TempDir dir;
  dir.Write("r.yaml", "rules:\n  - name: cpu\n    metric: x.y\n    threshold: 1\n");
  const std::string test = dir.Write("t.yaml", "rule_files: [r.yaml]\ntests:\n  - nmae: x\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunRulesTest({test}, out, err), kExitFailure);
  EXPECT_THAT(err.str(), ::testing::HasSubstr(test + ":3:5: unknown key 'nmae'"));
}

}  // namespace
}  // namespace vigil::ctl
