#ifndef VIGIL_ALERTING_RULES_RULE_H_
#define VIGIL_ALERTING_RULES_RULE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "alerting/expr/bool_expr.h"
#include "alerting/expr/math_expr.h"
#include "alerting/rules/types.h"
#include "common/selector.h"
#include "common/series_key.h"

// The rule model: what a rules/*.yaml file says once parsed and validated. Immutable once
// loaded; a RuleSet is shared as std::shared_ptr<const RuleSet> and swapped whole on reload.
// The YAML shape and its semantics are in docs/rules.md.

namespace vigil::alerting {

// Where something was written, for messages: file:line:col (1-based).
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;
};

// One metric query: the series it selects and how their datapoints become one value per
// period per alarm instance.
struct MetricQuery {
  std::string id;  // name used in `expression`; empty for a rule's single `metric:`
  std::string metric;
  std::vector<LabelMatcher> where;  // all must match
  Statistic statistic = Statistic::kAvg;
  // kNone: the statistic is taken over all datapoints of all the instance's series in the
  // period. Otherwise the statistic is taken per series, then combined across the instance's
  // series with this function (kCount counts series that have a value in the period).
  Aggregate aggregate = Aggregate::kNone;
};

struct Rule {
  enum class Kind { kThreshold, kComposite };

  std::string name;
  std::string description;
  SourcePos pos;  // position of the rule's `name:`
  Kind kind = Kind::kThreshold;

  // kThreshold (single metric or metric math).
  std::vector<MetricQuery> queries;      // one for `metric:`, several for `queries:`
  std::string expression;                // metric math over query ids; empty for `metric:` rules
  std::shared_ptr<const MathExpr> math;  // parsed `expression`; null when empty
  // Labels that identify an alarm instance. Empty: one instance per distinct label set of the
  // selected series (for `metric:` rules); a fleet rule with `aggregate` and no group_by has
  // one instance.
  std::vector<std::string> group_by;
  absl::Duration period = absl::Seconds(60);
  int evaluation_periods = 1;   // N
  int datapoints_to_alarm = 1;  // M (defaults to N)
  Comparison comparison = Comparison::kGreaterThan;
  double threshold = 0;
  // Hysteresis: in ALARM, a period breaches unless it is past this value on the OK side.
  std::optional<double> recovery_threshold;
  MissingData treat_missing_data = MissingData::kMissing;
  absl::Duration evaluation_delay = absl::Seconds(10);
  absl::Duration retire_after = absl::Hours(1);  // instance with no data this long is retired

  // kComposite.
  std::string composite;  // the expression as written
  std::shared_ptr<const BoolExpr> composite_expr;

  // Both kinds.
  std::string severity;
  Labels labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> alarm_actions;
  std::vector<std::string> ok_actions;
  std::vector<std::string> insufficient_data_actions;

  // Hash of everything that affects evaluation (not description/annotations/actions): an
  // unchanged fingerprint keeps the rule's alarm states across a reload.
  uint64_t fingerprint = 0;
};

struct RuleSet {
  std::vector<Rule> rules;
  absl::flat_hash_map<std::string, size_t> by_name;  // index into rules
  std::vector<std::string> files;                    // files loaded, sorted
  std::string revision;  // hex hash of the files' contents: which rule set is running

  const Rule* Find(absl::string_view name) const;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_RULES_RULE_H_
