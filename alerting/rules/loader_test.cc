#include "alerting/rules/loader.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

using Files = std::vector<std::pair<std::string, std::string>>;

std::shared_ptr<const RuleSet> MustParse(const Files& files) {
  absl::StatusOr<std::shared_ptr<const RuleSet>> set = ParseRuleSet(files);
  EXPECT_TRUE(set.ok()) << set.status();
  return set.ok() ? *set : std::make_shared<const RuleSet>();
}

// A copy: the set is often a temporary.
Rule OnlyRule(const std::shared_ptr<const RuleSet>& set) {
  EXPECT_EQ(set->rules.size(), 1u);
  return set->rules.empty() ? Rule() : set->rules[0];
}

// The problems of a rejected set, one per element; empty (with a test failure) if it loaded.
std::vector<std::string> Problems(const Files& files) {
  absl::StatusOr<std::shared_ptr<const RuleSet>> set = ParseRuleSet(files);
  EXPECT_FALSE(set.ok()) << "rule set unexpectedly loaded";
  if (set.ok()) return {};
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(set.status().message(), '\n');
}

std::string MatcherText(const LabelMatcher& m) {
  static const char* kOps[] = {"=", "!=", "=~", "!~"};
  return m.name + kOps[static_cast<int>(m.op)] + m.value;
}

std::vector<std::string> WhereText(const MetricQuery& q) {
  std::vector<std::string> out;
  for (const LabelMatcher& m : q.where) out.push_back(MatcherText(m));
  return out;
}

// ---- Full parse ----

constexpr char kFullRule[] = R"(rules:
  - name: db-cpu-prod
    description: Production database CPU above 70%
    metric: system.cpu.utilization
    where: {role: db, env: {ne: dev}, host: {regex: "db[0-9]+"}, zone: {not_regex: "eu-.*"}, dc: {eq: fra}}
    group_by: [host]
    statistic: p95
    aggregate: max
    period: 5m
    evaluation_periods: 5
    datapoints_to_alarm: 3
    comparison: ">="
    threshold: 70.5
    recovery_threshold: 60
    treat_missing_data: breaching
    evaluation_delay: 30s
    retire_after: 2h
    severity: critical
    labels: {team: dba, tier: "1"}
    annotations: {summary: "DB CPU high on {{host}}", runbook: "https://runbooks.example/db-cpu"}
    alarm_actions: [pager, chat]
    ok_actions: [chat]
    insufficient_data_actions: email
)";

TEST(LoadRules, FullThresholdRuleParsesEveryKey) {
  std::shared_ptr<const RuleSet> set = MustParse({{"db.yaml", kFullRule}});
  const Rule r = OnlyRule(set);
  EXPECT_EQ(r.name, "db-cpu-prod");
  EXPECT_EQ(r.description, "Production database CPU above 70%");
  EXPECT_EQ(r.pos.file, "db.yaml");
  EXPECT_EQ(r.pos.line, 2);
  EXPECT_EQ(r.pos.column, 5);
  EXPECT_EQ(r.kind, Rule::Kind::kThreshold);
  ASSERT_EQ(r.queries.size(), 1u);
  EXPECT_EQ(r.queries[0].id, "");
  EXPECT_EQ(r.queries[0].metric, "system.cpu.utilization");
  EXPECT_THAT(WhereText(r.queries[0]),
              ElementsAre("role=db", "env!=dev", "host=~db[0-9]+", "zone!~eu-.*", "dc=fra"));
  EXPECT_NE(r.queries[0].where[2].regex, nullptr);
  EXPECT_EQ(r.queries[0].statistic, Statistic::kP95);
  EXPECT_EQ(r.queries[0].aggregate, Aggregate::kMax);
  EXPECT_EQ(r.expression, "");
  EXPECT_EQ(r.math, nullptr);
  EXPECT_THAT(r.group_by, ElementsAre("host"));
  EXPECT_EQ(r.period, absl::Minutes(5));
  EXPECT_EQ(r.evaluation_periods, 5);
  EXPECT_EQ(r.datapoints_to_alarm, 3);
  EXPECT_EQ(r.comparison, Comparison::kGreaterThanOrEqual);
  EXPECT_EQ(r.threshold, 70.5);
  EXPECT_EQ(r.recovery_threshold, 60.0);
  EXPECT_EQ(r.treat_missing_data, MissingData::kBreaching);
  EXPECT_EQ(r.evaluation_delay, absl::Seconds(30));
  EXPECT_EQ(r.retire_after, absl::Hours(2));
  EXPECT_EQ(r.composite, "");
  EXPECT_EQ(r.composite_expr, nullptr);
  EXPECT_EQ(r.severity, "critical");
  EXPECT_THAT(r.labels, ElementsAre(Pair("team", "dba"), Pair("tier", "1")));
  EXPECT_THAT(r.annotations, ElementsAre(Pair("runbook", "https://runbooks.example/db-cpu"),
                                         Pair("summary", "DB CPU high on {{host}}")));
  EXPECT_THAT(r.alarm_actions, ElementsAre("pager", "chat"));
  EXPECT_THAT(r.ok_actions, ElementsAre("chat"));
  EXPECT_THAT(r.insufficient_data_actions, ElementsAre("email"));
  EXPECT_NE(r.fingerprint, 0u);
  EXPECT_THAT(set->files, ElementsAre("db.yaml"));
  EXPECT_EQ(set->revision.size(), 64u);
}

TEST(LoadRules, DefaultsApplyWhenKeysAreOmitted) {
  const Rule& r =
      OnlyRule(MustParse({{"a.yaml", "rules:\n  - name: a\n    metric: m\n    threshold: 1\n"}}));
  ASSERT_EQ(r.queries.size(), 1u);
  EXPECT_EQ(r.queries[0].statistic, Statistic::kAvg);
  EXPECT_EQ(r.queries[0].aggregate, Aggregate::kNone);
  EXPECT_THAT(r.queries[0].where, IsEmpty());
  EXPECT_THAT(r.group_by, IsEmpty());
  EXPECT_EQ(r.period, absl::Seconds(60));
  EXPECT_EQ(r.evaluation_periods, 1);
  EXPECT_EQ(r.datapoints_to_alarm, 1);
  EXPECT_EQ(r.comparison, Comparison::kGreaterThan);
  EXPECT_EQ(r.threshold, 1.0);
  EXPECT_EQ(r.recovery_threshold, std::nullopt);
  EXPECT_EQ(r.treat_missing_data, MissingData::kMissing);
  EXPECT_EQ(r.evaluation_delay, absl::Seconds(10));
  EXPECT_EQ(r.retire_after, absl::Hours(1));
  EXPECT_EQ(r.severity, "");
  EXPECT_THAT(r.labels, IsEmpty());
  EXPECT_THAT(r.annotations, IsEmpty());
  EXPECT_THAT(r.alarm_actions, IsEmpty());
}

TEST(LoadRules, DatapointsToAlarmDefaultsToEvaluationPeriods) {
  const Rule r = OnlyRule(MustParse(
      {{"a.yaml", "rules:\n  - {name: a, metric: m, threshold: 1, evaluation_periods: 4}\n"}}));
  EXPECT_EQ(r.evaluation_periods, 4);
  EXPECT_EQ(r.datapoints_to_alarm, 4);
}

TEST(LoadRules, MetricMathRuleParsesQueriesAndExpression) {
  const Rule r = OnlyRule(MustParse({{"web.yaml", R"(rules:
  - name: web-5xx-share
    queries:
      errors: {metric: http.responses, where: {code: {regex: "5.."}}, statistic: sum}
      requests: {metric: http.responses, statistic: sum, aggregate: sum}
    expression: 100 * errors / requests
    group_by: [host]
    threshold: 5
)"}}));
  EXPECT_EQ(r.kind, Rule::Kind::kThreshold);
  ASSERT_EQ(r.queries.size(), 2u);
  EXPECT_EQ(r.queries[0].id, "errors");
  EXPECT_EQ(r.queries[0].metric, "http.responses");
  EXPECT_THAT(WhereText(r.queries[0]), ElementsAre("code=~5.."));
  EXPECT_EQ(r.queries[0].statistic, Statistic::kSum);
  EXPECT_EQ(r.queries[0].aggregate, Aggregate::kNone);
  EXPECT_EQ(r.queries[1].id, "requests");
  EXPECT_EQ(r.queries[1].aggregate, Aggregate::kSum);
  EXPECT_EQ(r.expression, "100 * errors / requests");
  ASSERT_NE(r.math, nullptr);
  EXPECT_THAT(r.math->Identifiers(), ElementsAre("errors", "requests"));
}

TEST(LoadRules, CompositeRuleParsesExpression) {
  std::shared_ptr<const RuleSet> set = MustParse({{"env.yaml", R"(rules:
  - {name: web-5xx-share, metric: m, threshold: 1}
  - {name: web-latency-p99, metric: m, threshold: 1}
  - name: env-health
    expression: ALARM(web-5xx-share) OR ALARM(web-latency-p99)
    severity: warning
)"}});
  const Rule* r = set->Find("env-health");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->kind, Rule::Kind::kComposite);
  EXPECT_EQ(r->composite, "ALARM(web-5xx-share) OR ALARM(web-latency-p99)");
  ASSERT_NE(r->composite_expr, nullptr);
  EXPECT_THAT(r->composite_expr->References(), ElementsAre("web-5xx-share", "web-latency-p99"));
  EXPECT_THAT(r->queries, IsEmpty());
  EXPECT_EQ(r->severity, "warning");
}

TEST(LoadRules, FindReturnsTheRuleByNameOrNull) {
  std::shared_ptr<const RuleSet> set =
      MustParse({{"a.yaml",
                  "rules:\n  - {name: a, metric: m, threshold: 1}\n"
                  "  - {name: b, metric: m, threshold: 2}\n"}});
  ASSERT_NE(set->Find("b"), nullptr);
  EXPECT_EQ(set->Find("b")->threshold, 2.0);
  EXPECT_EQ(set->Find("c"), nullptr);
  EXPECT_EQ(set->by_name.at("a"), 0u);
}

TEST(LoadRules, RulesKeepFileThenWrittenOrder) {
  std::shared_ptr<const RuleSet> set =
      MustParse({{"b.yaml", "rules:\n  - {name: z, metric: m, threshold: 1}\n"},
                 {"a.yaml",
                  "rules:\n  - {name: y, metric: m, threshold: 1}\n"
                  "  - {name: x, metric: m, threshold: 1}\n"}});
  ASSERT_EQ(set->rules.size(), 3u);
  EXPECT_EQ(set->rules[0].name, "y");
  EXPECT_EQ(set->rules[1].name, "x");
  EXPECT_EQ(set->rules[2].name, "z");
  EXPECT_THAT(set->files, ElementsAre("a.yaml", "b.yaml"));
}

TEST(LoadRules, EmptyRuleListIsAValidSet) {
  std::shared_ptr<const RuleSet> set = MustParse({{"a.yaml", "rules: []\n"}});
  EXPECT_THAT(set->rules, IsEmpty());
}

// ---- where: ----

TEST(LoadRules, WhereScalarIsEquality) {
  const Rule r = OnlyRule(MustParse(
      {{"a.yaml", "rules:\n  - {name: a, metric: m, threshold: 1, where: {env: prod}}\n"}}));
  ASSERT_EQ(r.queries[0].where.size(), 1u);
  EXPECT_EQ(r.queries[0].where[0].op, LabelMatcher::Op::kEqual);
  EXPECT_EQ(r.queries[0].where[0].name, "env");
  EXPECT_EQ(r.queries[0].where[0].value, "prod");
}

TEST(LoadRules, WhereOperatorFormsBuildTheirMatchers) {
  struct Case {
    std::string where;
    LabelMatcher::Op op;
  };
  for (const Case& c :
       std::vector<Case>{{"{env: {eq: prod}}", LabelMatcher::Op::kEqual},
                         {"{env: {ne: prod}}", LabelMatcher::Op::kNotEqual},
                         {"{env: {regex: prod}}", LabelMatcher::Op::kRegex},
                         {"{env: {not_regex: prod}}", LabelMatcher::Op::kNotRegex}}) {
    const Rule r = OnlyRule(MustParse(
        {{"a.yaml", "rules:\n  - {name: a, metric: m, threshold: 1, where: " + c.where + "}\n"}}));
    ASSERT_EQ(r.queries[0].where.size(), 1u) << c.where;
    EXPECT_EQ(r.queries[0].where[0].op, c.op) << c.where;
    EXPECT_EQ(r.queries[0].where[0].value, "prod") << c.where;
  }
}

TEST(LoadRules, WhereRegexIsFullyAnchored) {
  const Rule r = OnlyRule(MustParse(
      {{"a.yaml",
        "rules:\n  - {name: a, metric: m, threshold: 1, where: {host: {regex: 'db[0-9]+'}}}\n"}}));
  ASSERT_EQ(r.queries[0].where.size(), 1u);
  EXPECT_TRUE(r.queries[0].where[0].Matches(SeriesKey{"m", {{"host", "db12"}}}));
  EXPECT_FALSE(r.queries[0].where[0].Matches(SeriesKey{"m", {{"host", "xdb12"}}}));
}

// ---- Names ----

TEST(LoadRules, ComparisonAcceptsSymbolsAndCloudWatchNames) {
  struct Case {
    std::string text;
    Comparison want;
  };
  for (const Case& c :
       std::vector<Case>{{"'>'", Comparison::kGreaterThan},
                         {"'>='", Comparison::kGreaterThanOrEqual},
                         {"'<'", Comparison::kLessThan},
                         {"'<='", Comparison::kLessThanOrEqual},
                         {"GreaterThanThreshold", Comparison::kGreaterThan},
                         {"GreaterThanOrEqualToThreshold", Comparison::kGreaterThanOrEqual},
                         {"LessThanThreshold", Comparison::kLessThan},
                         {"LessThanOrEqualToThreshold", Comparison::kLessThanOrEqual}}) {
    const Rule r = OnlyRule(MustParse(
        {{"a.yaml",
          "rules:\n  - {name: a, metric: m, threshold: 1, comparison: " + c.text + "}\n"}}));
    EXPECT_EQ(r.comparison, c.want) << c.text;
  }
}

TEST(LoadRules, TreatMissingDataAcceptsSnakeAndCloudWatchCamelCase) {
  struct Case {
    std::string text;
    MissingData want;
  };
  for (const Case& c : std::vector<Case>{{"missing", MissingData::kMissing},
                                         {"not_breaching", MissingData::kNotBreaching},
                                         {"notBreaching", MissingData::kNotBreaching},
                                         {"breaching", MissingData::kBreaching},
                                         {"ignore", MissingData::kIgnore}}) {
    const Rule r = OnlyRule(MustParse(
        {{"a.yaml", "rules:\n  - {name: a, metric: m, threshold: 1, treat_missing_data: " + c.text +
                        "}\n"}}));
    EXPECT_EQ(r.treat_missing_data, c.want) << c.text;
  }
}

TEST(LoadRules, EveryStatisticNameParses) {
  for (Statistic s :
       {Statistic::kAvg, Statistic::kSum, Statistic::kMin, Statistic::kMax, Statistic::kCount,
        Statistic::kP50, Statistic::kP90, Statistic::kP95, Statistic::kP99, Statistic::kRate}) {
    std::string name(StatisticName(s));
    const Rule r = OnlyRule(MustParse(
        {{"a.yaml", "rules:\n  - {name: a, metric: m, threshold: 1, statistic: " + name + "}\n"}}));
    EXPECT_EQ(r.queries[0].statistic, s) << name;
  }
}

TEST(LoadRules, RecoveryThresholdOnTheOkSideIsAccepted) {
  for (const std::string& rule :
       {std::string("{comparison: '>', threshold: 70, recovery_threshold: 70}"),
        std::string("{comparison: '<', threshold: 2, recovery_threshold: 3}")}) {
    absl::StatusOr<std::shared_ptr<const RuleSet>> set =
        ParseRuleSet({{"a.yaml", "rules:\n  - {name: a, metric: m, " + rule.substr(1) + "\n"}});
    EXPECT_TRUE(set.ok()) << rule << ": " << set.status();
  }
}

// ---- Problems ----

struct ErrorCase {
  std::string what;
  std::string yaml;  // content of x.yaml
  std::string want;  // the whole message
};

class LoadRulesError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(LoadRulesError, ReportsTheProblemWithItsPosition) {
  EXPECT_THAT(Problems({{"x.yaml", GetParam().yaml}}), ElementsAre(GetParam().want));
}

INSTANTIATE_TEST_SUITE_P(
    Problems, LoadRulesError,
    ::testing::Values(
        ErrorCase{"UnknownKey",
                  "rules:\n  - name: a\n    metric: m\n    threshold: 1\n    colour: red\n",
                  "x.yaml:5:5: unknown key 'colour'"},
        ErrorCase{"UnknownTopLevelKey", "rules: []\nrulez: []\n",
                  "x.yaml:2:1: unknown key 'rulez'"},
        ErrorCase{"RulesMissing", "{}\n", "x.yaml:1:1: rules: required (a list of rules)"},
        ErrorCase{"BadDuration", "rules:\n- {name: a, metric: m, threshold: 1, period: soon}\n",
                  "x.yaml:2:46: period: bad duration 'soon' (e.g. 10s, 1m30s)"},
        ErrorCase{"PeriodNotWholeSeconds",
                  "rules:\n- {name: a, metric: m, threshold: 1, period: 1500ms}\n",
                  "x.yaml:2:46: period: must be a whole number of seconds, got 1.5s"},
        ErrorCase{"PeriodBelowOneSecond",
                  "rules:\n- {name: a, metric: m, threshold: 1, period: 500ms}\n",
                  "x.yaml:2:46: period: must be at least 1s"},
        ErrorCase{"MGreaterThanN",
                  "rules:\n  - name: a\n    metric: m\n    threshold: 1\n"
                  "    evaluation_periods: 3\n    datapoints_to_alarm: 5\n",
                  "x.yaml:6:26: datapoints_to_alarm (5) must not exceed evaluation_periods (3)"},
        ErrorCase{"ZeroEvaluationPeriods",
                  "rules:\n- {name: a, metric: m, threshold: 1, evaluation_periods: 0}\n",
                  "x.yaml:2:58: evaluation_periods: 0 is out of range [1, 100000]"},
        ErrorCase{"UnknownStatistic",
                  "rules:\n  - name: a\n    metric: m\n    threshold: 1\n    statistic: median\n",
                  "x.yaml:5:16: statistic: unknown statistic 'median' (avg, sum, min, max, count, "
                  "p50, p90, p95, p99, rate)"},
        ErrorCase{"UnknownComparison",
                  "rules:\n- {name: a, metric: m, threshold: 1, comparison: '=>'}\n",
                  "x.yaml:2:50: comparison: unknown comparison '=>' (>, >=, <, <=, "
                  "GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold, "
                  "LessThanOrEqualToThreshold)"},
        ErrorCase{"UnknownMissingData",
                  "rules:\n- {name: a, metric: m, threshold: 1, treat_missing_data: zero}\n",
                  "x.yaml:2:58: treat_missing_data: unknown treat_missing_data 'zero' (missing, "
                  "not_breaching, breaching, ignore)"},
        ErrorCase{"UnknownAggregate",
                  "rules:\n- {name: a, metric: m, threshold: 1, aggregate: median}\n",
                  "x.yaml:2:49: aggregate: unknown aggregate 'median' (sum, avg, min, max, count)"},
        ErrorCase{"UnknownRuleInComposite",
                  "rules:\n  - name: a\n    expression: ALARM(b) OR ALARM(c)\n"
                  "  - {name: b, metric: m, threshold: 1}\n",
                  "x.yaml:3:17: expression: unknown rule 'c' in composite"},
        ErrorCase{"CompositeCycle",
                  "rules:\n  - name: a\n    expression: ALARM(b)\n"
                  "  - name: b\n    expression: ALARM(a)\n"
                  "  - name: c\n    expression: OK(b) AND ALARM(a)\n",
                  "x.yaml:3:17: composite cycle: a -> b -> a"},
        ErrorCase{"CompositeReferencingItself", "rules:\n  - {name: a, expression: ALARM(a)}\n",
                  "x.yaml:2:27: composite cycle: a -> a"},
        ErrorCase{"DuplicateName",
                  "rules:\n  - name: db-cpu\n    metric: m\n    threshold: 1\n"
                  "  - name: db-cpu\n    metric: m\n    threshold: 2\n",
                  "x.yaml:5:5: duplicate rule name 'db-cpu' (first defined at x.yaml:2:5)"},
        ErrorCase{"BadRegex",
                  "rules:\n  - name: a\n    metric: m\n    threshold: 1\n"
                  "    where: {host: {regex: \"db[0-9\"}}\n",
                  "x.yaml:5:27: where: bad regex for label 'host': Unexpected character within "
                  "'[...]' in regular expression"},
        ErrorCase{"WhereWithTwoOperators",
                  "rules:\n- {name: a, metric: m, threshold: 1, where: {env: {eq: a, ne: b}}}\n",
                  "x.yaml:2:51: where.env: expected exactly one of eq, ne, regex, not_regex"},
        ErrorCase{"WhereUnknownOperator",
                  "rules:\n- {name: a, metric: m, threshold: 1, where: {env: {like: a}}}\n",
                  "x.yaml:2:52: where.env: unknown operator 'like' (eq, ne, regex, not_regex)"},
        ErrorCase{"YamlSyntaxError", "rules:\n  - name: [a\n",
                  "x.yaml:3:1: end of sequence flow not found"},
        ErrorCase{"MissingThreshold", "rules:\n  - {name: a, metric: m}\n",
                  "x.yaml:2:5: threshold: required"},
        ErrorCase{"MissingName", "rules:\n  - {metric: m, threshold: 1}\n",
                  "x.yaml:2:5: name: required"},
        ErrorCase{"InvalidName", "rules:\n  - {name: 'a b', metric: m, threshold: 1}\n",
                  "x.yaml:2:12: name: invalid rule name 'a b' (letters, digits, '_', '.' and '-' "
                  "only)"},
        ErrorCase{"InvalidMetricName", "rules:\n  - {name: a, metric: CPU, threshold: 1}\n",
                  "x.yaml:2:23: metric: invalid metric name 'CPU' (dotted lowercase, e.g. "
                  "system.cpu.utilization)"},
        ErrorCase{"RecoveryThresholdOnAlarmSide",
                  "rules:\n- {name: a, metric: m, threshold: 70, recovery_threshold: 75}\n",
                  "x.yaml:2:59: recovery_threshold: 75 is on the alarm side of threshold 70 "
                  "(must be <= 70 for comparison >)"},
        ErrorCase{"RecoveryThresholdOnAlarmSideBelow",
                  "rules:\n- {name: a, metric: m, comparison: '<', threshold: 2, "
                  "recovery_threshold: 1}\n",
                  "x.yaml:2:75: recovery_threshold: 1 is on the alarm side of threshold 2 "
                  "(must be >= 2 for comparison <)"},
        ErrorCase{"ThresholdKeyOnComposite",
                  "rules:\n  - {name: b, metric: m, threshold: 1}\n"
                  "  - {name: a, expression: ALARM(b), period: 60s}\n",
                  "x.yaml:3:45: period: not allowed in a composite rule (a rule with "
                  "expression: and no metric: or queries:)"},
        ErrorCase{"NeitherMetricNorExpression", "rules:\n  - {name: a, threshold: 1}\n",
                  "x.yaml:2:5: a rule needs metric: (threshold), queries: with expression: "
                  "(metric math) or expression: alone (composite)"},
        ErrorCase{"MetricAndQueries",
                  "rules:\n- {name: a, metric: m, threshold: 1, queries: {q: {metric: m}}, "
                  "expression: q}\n",
                  "x.yaml:2:47: queries: a rule has either metric: or queries:, not both"},
        ErrorCase{"QueriesWithoutExpression",
                  "rules:\n- {name: a, threshold: 1, queries: {q: {metric: m}}}\n",
                  "x.yaml:2:3: expression: required with queries: (metric math over the query "
                  "ids)"},
        ErrorCase{
            "ExpressionUsesUnknownQuery",
            "rules:\n- {name: a, threshold: 1, queries: {q: {metric: m}}, expression: q + r}\n",
            "x.yaml:2:66: expression: unknown query 'r' (queries: q)"},
        ErrorCase{"QueryNotUsed",
                  "rules:\n- {name: a, threshold: 1, queries: {q: {metric: m}, r: {metric: m}}, "
                  "expression: q * 2}\n",
                  "x.yaml:2:53: queries.r: not used in expression"},
        ErrorCase{"BadQueryId",
                  "rules:\n- {name: a, threshold: 1, queries: {q: {metric: m}, Bad: {metric: m}}, "
                  "expression: q}\n",
                  "x.yaml:2:53: queries: invalid query id 'Bad' ([a-z][a-z0-9_]*)"},
        ErrorCase{"RulesNotAList", "rules: {name: a}\n",
                  "x.yaml:1:8: rules: expected a list of rules"},
        ErrorCase{"NullThreshold", "rules:\n  - name: a\n    metric: m\n    threshold:\n",
                  "x.yaml:4:5: threshold: required"},
        ErrorCase{"QueryWithoutMetric",
                  "rules:\n- {name: a, threshold: 1, queries: {q: {statistic: sum}}, "
                  "expression: q}\n",
                  "x.yaml:2:40: metric: required (a metric name)"},
        ErrorCase{"RuleNotAMapping", "rules:\n  - just-a-name\n", "x.yaml:2:5: expected a mapping"},
        ErrorCase{"InvalidLabelName",
                  "rules:\n- {name: a, metric: m, threshold: 1, labels: {Team: x}}\n",
                  "x.yaml:2:47: labels: invalid label name 'Team' ([a-z_][a-z0-9_]*)"},
        ErrorCase{"InvalidGroupByLabel",
                  "rules:\n- {name: a, metric: m, threshold: 1, group_by: [Host]}\n",
                  "x.yaml:2:48: group_by: invalid label name 'Host' ([a-z_][a-z0-9_]*)"},
        ErrorCase{"NullName", "rules:\n  - name:\n    metric: m\n    threshold: 1\n",
                  "x.yaml:2:5: name: required"},
        ErrorCase{"NullCompositeExpression", "rules:\n  - name: a\n    expression:\n",
                  "x.yaml:3:5: expression: required"},
        ErrorCase{"EmptyFile", "", "x.yaml: expected a mapping with a 'rules:' list"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.what; });

TEST(LoadRules, DuplicateNameAcrossFilesNamesTheFirstDefinition) {
  EXPECT_THAT(
      Problems({{"b.yaml", "rules:\n  - {name: db-cpu, metric: m, threshold: 1}\n"},
                {"a.yaml", "rules:\n  - {name: db-cpu, metric: m, threshold: 1}\n"}}),
      ElementsAre("b.yaml:2:6: duplicate rule name 'db-cpu' (first defined at a.yaml:2:6)"));
}

TEST(LoadRules, MathSyntaxErrorIsReportedAtTheExpression) {
  std::vector<std::string> problems =
      Problems({{"x.yaml",
                 "rules:\n- {name: a, threshold: 1, queries: {q: {metric: m}}, "
                 "expression: q +}\n"}});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], ::testing::StartsWith("x.yaml:2:66: expression: column "));
}

TEST(LoadRules, CompositeSyntaxErrorIsReportedAtTheExpression) {
  std::vector<std::string> problems =
      Problems({{"x.yaml", "rules:\n  - {name: a, expression: ALARM(}\n"}});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], ::testing::StartsWith("x.yaml:2:27: expression: column 7: "));
}

TEST(LoadRules, ReportsEveryProblemAtOnceInFileOrder) {
  EXPECT_THAT(
      Problems({{"b.yaml", "rules:\n  - {name: c, expression: ALARM(nope)}\n"},
                {"a.yaml",
                 "rules:\n"
                 "  - name: a\n"
                 "    metric: m\n"
                 "    statistic: median\n"
                 "    period: soon\n"
                 "    threshold: 1\n"
                 "    evaluation_periods: 2\n"
                 "    datapoints_to_alarm: 3\n"
                 "    colour: red\n"}}),
      ElementsAre("a.yaml:4:16: statistic: unknown statistic 'median' (avg, sum, min, max, count, "
                  "p50, p90, p95, p99, rate)",
                  "a.yaml:5:13: period: bad duration 'soon' (e.g. 10s, 1m30s)",
                  "a.yaml:8:26: datapoints_to_alarm (3) must not exceed evaluation_periods (2)",
                  "a.yaml:9:5: unknown key 'colour'",
                  "b.yaml:2:27: expression: unknown rule 'nope' in composite"));
}

// ---- Fingerprint and revision ----

uint64_t FingerprintOf(const std::string& rule_yaml) {
  return OnlyRule(MustParse({{"a.yaml", rule_yaml}})).fingerprint;
}

constexpr char kBlock[] = R"(rules:
  - name: a
    description: first
    metric: system.cpu.utilization
    where: {role: db, env: {ne: dev}}
    group_by: [host, env]
    period: 60s
    evaluation_periods: 3
    comparison: ">"
    threshold: 70
    annotations: {summary: hot}
)";

TEST(LoadRules, FingerprintIsStableForReformattedEqualRules) {
  uint64_t block = FingerprintOf(kBlock);
  EXPECT_EQ(block, FingerprintOf(kBlock));
  EXPECT_EQ(block, FingerprintOf(
                       "rules:\n- {name: a, metric: 'system.cpu.utilization', threshold: 70.0,\n"
                       "   comparison: GreaterThanThreshold, period: 1m, evaluation_periods: 3,\n"
                       "   datapoints_to_alarm: 3, statistic: avg, group_by: [env, host],\n"
                       "   where: {env: {ne: dev}, role: {eq: db}}, treat_missing_data: missing,\n"
                       "   evaluation_delay: 10s}\n"));
}

TEST(LoadRules, FingerprintIgnoresDescriptionAnnotationsAndActions) {
  EXPECT_EQ(FingerprintOf(kBlock), FingerprintOf(R"(rules:
  - name: a
    description: second wording
    metric: system.cpu.utilization
    where: {role: db, env: {ne: dev}}
    group_by: [host, env]
    period: 60s
    evaluation_periods: 3
    comparison: ">"
    threshold: 70
    annotations: {summary: very hot, runbook: "https://x"}
    alarm_actions: [pager]
    severity: critical
)"));
}

TEST(LoadRules, FingerprintChangesWithAnyEvaluationField) {
  uint64_t base = FingerprintOf(kBlock);
  const std::string block = kBlock;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string changed = block;
    size_t at = changed.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) changed.replace(at, from.size(), to);
    return FingerprintOf(changed);
  };
  EXPECT_NE(base, with("threshold: 70", "threshold: 71"));
  EXPECT_NE(base, with("threshold: 70", "threshold: 70\n    recovery_threshold: 60"));
  EXPECT_NE(base, with("period: 60s", "period: 120s"));
  EXPECT_NE(base,
            with("evaluation_periods: 3", "evaluation_periods: 3\n    datapoints_to_alarm: 2"));
  EXPECT_NE(base, with("\">\"", "\">=\""));
  EXPECT_NE(base, with("{ne: dev}", "{ne: test}"));
  EXPECT_NE(base, with("group_by: [host, env]", "group_by: [host]"));
  EXPECT_NE(base, with("period: 60s", "period: 60s\n    statistic: max"));
  EXPECT_NE(base, with("period: 60s", "period: 60s\n    treat_missing_data: breaching"));
  EXPECT_NE(base, with("period: 60s", "period: 60s\n    evaluation_delay: 0s"));
  EXPECT_NE(base, with("system.cpu.utilization", "system.cpu.user"));
}

TEST(LoadRules, CompositeFingerprintIgnoresExpressionWhitespace) {
  auto composite = [](const std::string& expr) {
    std::shared_ptr<const RuleSet> set =
        MustParse({{"a.yaml",
                    "rules:\n  - {name: x, metric: m, threshold: 1}\n"
                    "  - {name: y, metric: m, threshold: 1}\n"
                    "  - name: c\n    expression: " +
                        expr + "\n"}});
    return set->Find("c") ? set->Find("c")->fingerprint : 0;
  };
  EXPECT_EQ(composite("ALARM(x) OR ALARM(y)"), composite("ALARM( x )  OR\tALARM(y)"));
  EXPECT_NE(composite("ALARM(x) OR ALARM(y)"), composite("ALARM(x) AND ALARM(y)"));
}

TEST(LoadRules, RevisionDependsOnFileContentAndName) {
  const std::string rule = "rules:\n  - {name: a, metric: m, threshold: 1}\n";
  std::string same1 = MustParse({{"a.yaml", rule}})->revision;
  std::string same2 = MustParse({{"a.yaml", rule}})->revision;
  std::string renamed = MustParse({{"b.yaml", rule}})->revision;
  std::string reformatted = MustParse({{"a.yaml", rule + "\n"}})->revision;
  EXPECT_EQ(same1, same2);
  EXPECT_NE(same1, renamed);
  EXPECT_NE(same1, reformatted);
  EXPECT_EQ(same1.find_first_not_of("0123456789abcdef"), std::string::npos);
}

// ---- Loading from disk ----

TEST(LoadRuleSetFromDisk, DirectoryLoadsYamlAndYmlFilesSorted) {
  vigil::testing::TempDir dir;
  dir.Write("b.yaml", "rules:\n  - {name: b, metric: m, threshold: 1}\n");
  dir.Write("a.yml", "rules:\n  - {name: a, metric: m, threshold: 1}\n");
  dir.Write("notes.txt", "not yaml: [");
  dir.Write(".#b.yaml", "not yaml: [");
  absl::StatusOr<std::shared_ptr<const RuleSet>> set = LoadRuleSet({dir.path()});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT((*set)->files, ElementsAre(dir.Join("a.yml"), dir.Join("b.yaml")));
  ASSERT_EQ((*set)->rules.size(), 2u);
  EXPECT_EQ((*set)->rules[0].name, "a");
  EXPECT_EQ((*set)->rules[0].pos.file, dir.Join("a.yml"));
  EXPECT_EQ((*set)->rules[1].name, "b");
}

TEST(LoadRuleSetFromDisk, FilePathIsLoadedAndRevisionMatchesInMemoryParse) {
  vigil::testing::TempDir dir;
  const std::string content = "rules:\n  - {name: a, metric: m, threshold: 1}\n";
  std::string path = dir.Write("only.rules", content);
  absl::StatusOr<std::shared_ptr<const RuleSet>> set = LoadRuleSet({path});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT((*set)->files, ElementsAre(path));
  EXPECT_EQ((*set)->revision, MustParse({{path, content}})->revision);
}

TEST(LoadRuleSetFromDisk, MissingPathAndEmptyDirectoryAreErrorsNamingThem) {
  vigil::testing::TempDir dir;
  std::filesystem::create_directory(dir.Join("empty"));
  dir.Write("empty/readme.txt", "");
  absl::StatusOr<std::shared_ptr<const RuleSet>> set =
      LoadRuleSet({dir.Join("nope"), dir.Join("empty")});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(set.status().message()),
            dir.Join("nope") + ": no such file or directory\n" + dir.Join("empty") +
                ": no *.yaml or *.yml files in directory");
}

TEST(LoadRuleSetFromDisk, ErrorsInFilesNameTheFilePath) {
  vigil::testing::TempDir dir;
  dir.Write("a.yaml", "rules:\n  - {name: a, metric: m, threshold: 1, period: soon}\n");
  absl::StatusOr<std::shared_ptr<const RuleSet>> set = LoadRuleSet({dir.path()});
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(std::string(set.status().message()),
            dir.Join("a.yaml") + ":2:48: period: bad duration 'soon' (e.g. 10s, 1m30s)");
}

// ---- types.h ----

TEST(RuleTypes, NamesRoundTripThroughParse) {
  for (Statistic s : {Statistic::kAvg, Statistic::kP99, Statistic::kRate}) {
    EXPECT_EQ(ParseStatistic(StatisticName(s)), s);
  }
  for (Comparison c : {Comparison::kGreaterThan, Comparison::kGreaterThanOrEqual,
                       Comparison::kLessThan, Comparison::kLessThanOrEqual}) {
    EXPECT_EQ(ParseComparison(ComparisonSymbol(c)), c);
  }
  for (AlarmState s : {AlarmState::kInsufficientData, AlarmState::kOk, AlarmState::kAlarm}) {
    EXPECT_EQ(ParseAlarmState(StateName(s)), s);
  }
  EXPECT_EQ(ParseStatistic("median"), std::nullopt);
  EXPECT_EQ(ParseAggregate("none"), std::nullopt);
}

TEST(RuleTypes, NamesAreTheDocumentedSpellings) {
  EXPECT_EQ(StatisticName(Statistic::kP90), "p90");
  EXPECT_EQ(ComparisonSymbol(Comparison::kLessThanOrEqual), "<=");
  EXPECT_EQ(ComparisonWords(Comparison::kGreaterThan), "greater than");
  EXPECT_EQ(ComparisonWords(Comparison::kLessThanOrEqual), "less than or equal to");
  EXPECT_EQ(MissingDataName(MissingData::kNotBreaching), "not_breaching");
  EXPECT_EQ(StateName(AlarmState::kInsufficientData), "INSUFFICIENT_DATA");
  EXPECT_EQ(AggregateName(Aggregate::kCount), "count");
}

TEST(RuleTypes, BreachesComparesStrictlyOrNot) {
  struct Case {
    Comparison c;
    double value;
    bool want;
  };
  for (const Case& c : std::vector<Case>{{Comparison::kGreaterThan, 70, false},
                                         {Comparison::kGreaterThan, 70.1, true},
                                         {Comparison::kGreaterThanOrEqual, 70, true},
                                         {Comparison::kGreaterThanOrEqual, 69.9, false},
                                         {Comparison::kLessThan, 70, false},
                                         {Comparison::kLessThan, 69.9, true},
                                         {Comparison::kLessThanOrEqual, 70, true},
                                         {Comparison::kLessThanOrEqual, 70.1, false}}) {
    EXPECT_EQ(Breaches(c.c, c.value, 70), c.want) << ComparisonSymbol(c.c) << " " << c.value;
  }
}

}  // namespace
}  // namespace vigil::alerting
