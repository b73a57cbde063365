#include "alerting/rules/loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "alerting/expr/bool_expr.h"
#include "alerting/expr/math_expr.h"
#include "common/config_reader.h"
#include "common/secret.h"
#include "common/series_key.h"

namespace vigil::alerting {

const Rule* RuleSet::Find(absl::string_view name) const {
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : &rules[it->second];
}

namespace {

// Keys that only a threshold rule may have.
constexpr const char* kThresholdKeys[] = {
    "where",       "group_by",           "statistic",           "aggregate",
    "period",      "evaluation_periods", "datapoints_to_alarm", "comparison",
    "threshold",   "recovery_threshold", "treat_missing_data",  "evaluation_delay",
    "retire_after"};

constexpr char kStatistics[] = "avg, sum, min, max, count, p50, p90, p95, p99, rate";

bool IsRuleNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

bool IsValidRuleName(absl::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), IsRuleNameChar);
}

bool IsValidQueryId(absl::string_view id) {
  if (id.empty() || !absl::ascii_islower(static_cast<unsigned char>(id[0]))) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_islower(static_cast<unsigned char>(c)) ||
           absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Where `key` is written in mapping `map`; nullopt when absent.
std::optional<YAML::Mark> KeyMark(const YAML::Node& map, absl::string_view key) {
  if (!map.IsMap()) return std::nullopt;
  for (const auto& kv : map) {
    if (kv.first.Scalar() == key) return kv.first.Mark();
  }
  return std::nullopt;
}

YAML::Mark ValueMark(const YAML::Node& map, absl::string_view key) {
  if (map.IsMap()) {
    for (const auto& kv : map) {
      if (kv.first.Scalar() == key) return kv.second.Mark();
    }
  }
  return map.Mark();
}

// Absent or written without a value (`key:`).
bool NoValue(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }
bool NoValue(const YAML::Node& map, absl::string_view key) {
  if (!map.IsMap()) return true;
  for (const auto& kv : map) {
    if (kv.first.Scalar() == key) return NoValue(kv.second);
  }
  return true;
}
std::string FormatPos(const std::string& file, const YAML::Mark& mark) {
  return absl::StrCat(file, ":", mark.line + 1, ":", mark.column + 1);
}

// Expression text with insignificant whitespace removed, so that reformatting an expression does
// not change the rule's fingerprint: whitespace survives (as one space) only between two
// characters that would otherwise merge into one token.
std::string NormalizeExpression(absl::string_view text) {
  auto word_char = [](char c) { return IsRuleNameChar(c) || c == '"'; };
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty() && word_char(out.back()) && word_char(c)) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string Quote(absl::string_view s) { return absl::StrCat("\"", absl::CEscape(s), "\""); }

std::string CanonicalQuery(const MetricQuery& q) {
  std::vector<std::string> where;
  for (const LabelMatcher& m : q.where) {
    where.push_back(absl::StrCat(Quote(m.name), " ", static_cast<int>(m.op), " ", Quote(m.value)));
  }
  std::sort(where.begin(), where.end());
  return absl::StrCat("query ", Quote(q.id), " ", Quote(q.metric), " ", StatisticName(q.statistic),
                      " ", AggregateName(q.aggregate), " [", absl::StrJoin(where, ","), "]");
}

// The fields that decide how a rule evaluates, in a fixed text form.
std::string CanonicalText(const Rule& r) {
  std::string text = absl::StrCat("name ", Quote(r.name), "\n");
  if (r.kind == Rule::Kind::kComposite) {
    absl::StrAppend(&text, "composite ", Quote(NormalizeExpression(r.composite)), "\n");
    return text;
  }
  std::vector<std::string> queries;
  for (const MetricQuery& q : r.queries) queries.push_back(CanonicalQuery(q));
  std::sort(queries.begin(), queries.end());
  std::vector<std::string> group_by = r.group_by;
  std::sort(group_by.begin(), group_by.end());
  std::vector<std::string> quoted_group_by;
  for (const std::string& g : group_by) quoted_group_by.push_back(Quote(g));
  absl::StrAppend(&text, "threshold\n", absl::StrJoin(queries, "\n"), "\n");
  absl::StrAppend(&text, "expression ", Quote(NormalizeExpression(r.expression)), "\n");
  absl::StrAppend(&text, "group_by [", absl::StrJoin(quoted_group_by, ","), "]\n");
  absl::StrAppend(&text, "period ", absl::ToInt64Milliseconds(r.period), "ms\n");
  absl::StrAppend(&text, "n ", r.evaluation_periods, " m ", r.datapoints_to_alarm, "\n");
  absl::StrAppend(&text, "comparison ", ComparisonSymbol(r.comparison), " ",
                  absl::StrFormat("%.17g", r.threshold), "\n");
  absl::StrAppend(&text, "recovery ",
                  r.recovery_threshold ? absl::StrFormat("%.17g", *r.recovery_threshold) : "none",
                  "\n");
  absl::StrAppend(&text, "missing ", MissingDataName(r.treat_missing_data), "\n");
  absl::StrAppend(&text, "delay ", absl::ToInt64Milliseconds(r.evaluation_delay), "ms\n");
  return text;
}

uint64_t Fnv1a64(absl::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// What the cross-rule checks need to know about a rule besides the Rule itself.
struct RuleSource {
  size_t file = 0;             // index into the files
  YAML::Mark name_mark;        // the `name` key
  YAML::Mark expression_mark;  // the `expression` value (composites)
  std::vector<std::string> references;
};

// Parses one rule set; collects every problem rather than stopping at the first.
class RuleSetParser {
 public:
  explicit RuleSetParser(std::vector<std::pair<std::string, std::string>> files)
      : files_(std::move(files)) {
    std::sort(files_.begin(), files_.end());
    for (const auto& f : files_) errors_.emplace_back(f.first);
    syntax_errors_.resize(files_.size());
  }

  absl::StatusOr<std::shared_ptr<const RuleSet>> Parse(const std::vector<std::string>& problems) {
    for (size_t i = 0; i < files_.size(); ++i) ParseFile(i);
    CheckComposites();
    std::vector<std::string> messages = problems;
    for (size_t i = 0; i < files_.size(); ++i) {
      if (!syntax_errors_[i].empty()) messages.push_back(syntax_errors_[i]);
      messages.insert(messages.end(), errors_[i].messages().begin(), errors_[i].messages().end());
    }
    if (!messages.empty()) return absl::InvalidArgumentError(absl::StrJoin(messages, "\n"));

    auto set = std::make_shared<RuleSet>();
    std::string revision_input;
    for (const auto& [name, content] : files_) {
      set->files.push_back(name);
      absl::StrAppend(&revision_input, name.size(), ":", name, content.size(), ":", content);
    }
    set->revision = Sha256Hex(revision_input);
    for (Rule& r : rules_) {
      r.fingerprint = Fnv1a64(CanonicalText(r));
      set->by_name[r.name] = set->rules.size();
      set->rules.push_back(std::move(r));
    }
    return std::shared_ptr<const RuleSet>(std::move(set));
  }

 private:
  void ParseFile(size_t index) {
    const std::string& name = files_[index].first;
    ConfigErrors* errors = &errors_[index];
    absl::StatusOr<YAML::Node> doc = LoadYamlString(files_[index].second, name);
    if (!doc.ok()) {
      syntax_errors_[index] = std::string(doc.status().message());  // file:line:col: message
      return;
    }
    ConfigMap root(*doc, errors);
    YAML::Node list = root.Node("rules");
    if (!list.IsDefined() || list.IsNull()) {
      if (!doc->IsDefined() || doc->IsNull()) {
        errors->AddFileError("expected a mapping with a 'rules:' list");
      } else if (doc->IsMap()) {
        root.Error("rules", "required (a list of rules)");
      }
    } else if (!list.IsSequence()) {
      root.Error("rules", "expected a list of rules");
    } else {
      for (const YAML::Node& item : list) ParseRule(index, item, errors);
    }
    root.Finish();
  }

  void ParseRule(size_t file, const YAML::Node& node, ConfigErrors* errors) {
    if (!node.IsMap()) {
      // Checked before ConfigMap, which replaces a non-map node in place.
      errors->Add(node.Mark(), "expected a mapping");
      return;
    }
    ConfigMap m(node, errors);
    Rule r;
    RuleSource source;
    source.file = file;
    source.name_mark = KeyMark(node, "name").value_or(node.Mark());
    r.pos = {files_[file].first, source.name_mark.line + 1, source.name_mark.column + 1};

    std::optional<std::string> name = m.OptionalString("name");
    if (!name) {
      if (NoValue(node, "name")) Required(node, m, "name", "required");
    } else if (!IsValidRuleName(*name)) {
      m.Error("name", absl::StrCat("invalid rule name '", *name,
                                   "' (letters, digits, '_', '.' and '-' only)"));
    } else {
      r.name = *name;
    }
    r.description = m.String("description");

    bool has_metric = m.Has("metric");
    bool has_queries = m.Has("queries");
    if (has_metric || has_queries) {
      r.kind = Rule::Kind::kThreshold;
      ParseThreshold(node, m, has_metric, has_queries, r);
    } else if (m.Has("expression")) {
      r.kind = Rule::Kind::kComposite;
      for (const char* key : kThresholdKeys) {
        if (!m.Has(key)) continue;
        m.Node(key);
        m.Error(key,
                "not allowed in a composite rule (a rule with expression: and no "
                "metric: or queries:)");
      }
      std::optional<std::string> text = m.OptionalString("expression");
      source.expression_mark = ValueMark(node, "expression");
      if (!text) {
        // A non-string was reported by OptionalString.
        if (NoValue(node, "expression")) Required(node, m, "expression", "required");
      } else {
        r.composite = *text;
        absl::StatusOr<std::unique_ptr<BoolExpr>> expr = ParseBoolExpr(r.composite);
        if (!expr.ok()) {
          m.Error("expression", expr.status().message());
        } else {
          source.references = (*expr)->References();
          r.composite_expr = std::shared_ptr<const BoolExpr>(std::move(*expr));
        }
      }
    } else {
      for (const char* key : kThresholdKeys) m.Node(key);  // one message is enough
      errors->Add(node.Mark(),
                  "a rule needs metric: (threshold), queries: with expression: (metric math) "
                  "or expression: alone (composite)");
    }

    r.severity = m.String("severity");
    std::map<std::string, std::string> labels = m.StringMap("labels");
    for (const auto& [label, value] : labels) {
      if (!IsValidLabelName(label)) {
        errors->Add(KeyMark(m.Node("labels"), label).value_or(m.mark()),
                    absl::StrCat("labels: invalid label name '", label, "' ([a-z_][a-z0-9_]*)"));
      }
      r.labels.emplace_back(label, value);
    }
    r.annotations = m.StringMap("annotations");
    r.alarm_actions = m.StringList("alarm_actions");
    r.ok_actions = m.StringList("ok_actions");
    r.insufficient_data_actions = m.StringList("insufficient_data_actions");
    m.Finish();

    if (r.name.empty()) return;  // reported above; nothing to index it by
    auto [it, inserted] = first_by_name_.emplace(r.name, rules_.size());
    if (!inserted) {
      const RuleSource& first = sources_[it->second];
      errors->Add(source.name_mark,
                  absl::StrCat("duplicate rule name '", r.name, "' (first defined at ",
                               FormatPos(files_[first.file].first, first.name_mark), ")"));
      return;
    }
    rules_.push_back(std::move(r));
    sources_.push_back(std::move(source));
  }

  void ParseThreshold(const YAML::Node& node, ConfigMap& m, bool has_metric, bool has_queries,
                      Rule& r) {
    ConfigErrors* errors = m.errors();
    if (has_metric && has_queries) {
      m.Node("queries");
      m.Error("queries", "a rule has either metric: or queries:, not both");
    }
    if (has_metric) {
      MetricQuery q;
      ReadQueryFields(node, m, q);
      if (m.Has("expression") && !has_queries) {
        m.Node("expression");
        m.Error("expression",
                "not allowed with metric: (metric math names its inputs under queries:)");
      }
      m.Node("expression");  // reported above when not allowed
      r.queries.push_back(std::move(q));
    } else {
      for (const char* key : {"where", "statistic", "aggregate"}) {
        if (!m.Has(key)) continue;
        m.Node(key);
        m.Error(key, "goes inside each query on a rule with queries:");
      }
      ReadQueries(m, r);
    }

    r.group_by = m.StringList("group_by");
    for (const std::string& label : r.group_by) {
      if (!IsValidLabelName(label)) {
        m.Error("group_by", absl::StrCat("invalid label name '", label, "' ([a-z_][a-z0-9_]*)"));
      }
    }
    r.period = m.Duration("period", absl::Seconds(60), absl::Seconds(1));
    if (r.period % absl::Seconds(1) != absl::ZeroDuration()) {
      m.Error("period", absl::StrCat("must be a whole number of seconds, got ",
                                     absl::FormatDuration(r.period)));
      r.period = absl::Seconds(60);
    }
    r.evaluation_periods = static_cast<int>(m.Int("evaluation_periods", 1, 1, 100000));
    r.datapoints_to_alarm =
        static_cast<int>(m.Int("datapoints_to_alarm", r.evaluation_periods, 1, 100000));
    if (r.datapoints_to_alarm > r.evaluation_periods) {
      errors->Add(
          ValueMark(node, "datapoints_to_alarm"),
          absl::StrCat("datapoints_to_alarm (", r.datapoints_to_alarm,
                       ") must not exceed evaluation_periods (", r.evaluation_periods, ")"));
    }

    std::string comparison = m.String("comparison", ">");
    if (std::optional<Comparison> c = ParseComparison(comparison)) {
      r.comparison = *c;
    } else {
      m.Error("comparison", absl::StrCat("unknown comparison '", comparison,
                                         "' (>, >=, <, <=, GreaterThanThreshold, "
                                         "GreaterThanOrEqualToThreshold, LessThanThreshold, "
                                         "LessThanOrEqualToThreshold)"));
    }
    if (NoValue(m.Node("threshold"))) {
      Required(node, m, "threshold", "required");
    } else {
      r.threshold = m.Double("threshold", 0);
    }
    if (m.Has("recovery_threshold")) {
      double recovery = m.Double("recovery_threshold", r.threshold);
      bool above = r.comparison == Comparison::kGreaterThan ||
                   r.comparison == Comparison::kGreaterThanOrEqual;
      if (above ? recovery > r.threshold : recovery < r.threshold) {
        m.Error("recovery_threshold",
                absl::StrCat(FormatNumber(recovery), " is on the alarm side of threshold ",
                             FormatNumber(r.threshold), " (must be ", above ? "<=" : ">=", " ",
                             FormatNumber(r.threshold), " for comparison ",
                             ComparisonSymbol(r.comparison), ")"));
      }
      r.recovery_threshold = recovery;
    }
    std::string missing = m.String("treat_missing_data", "missing");
    if (std::optional<MissingData> md = ParseMissingData(missing)) {
      r.treat_missing_data = *md;
    } else {
      m.Error("treat_missing_data", absl::StrCat("unknown treat_missing_data '", missing,
                                                 "' (missing, not_breaching, breaching, ignore)"));
    }
    r.evaluation_delay = m.Duration("evaluation_delay", absl::Seconds(10));
    r.retire_after = m.Duration("retire_after", absl::Hours(1), absl::Seconds(1));
  }

  // A required key that is absent (reported at its map) or written without a value (at the
  // key: yaml-cpp places an empty value at the next token).
  static void Required(const YAML::Node& map, ConfigMap& m, absl::string_view key,
                       absl::string_view message) {
    if (std::optional<YAML::Mark> mark = KeyMark(map, key)) {
      m.errors()->Add(*mark, absl::StrCat(key, ": ", message));
    } else {
      m.Error(key, message);
    }
  }

  static std::string FormatNumber(double v) { return absl::StrFormat("%g", v); }

  // metric, where, statistic and aggregate of a rule with metric: or of one query.
  void ReadQueryFields(const YAML::Node& map, ConfigMap& m, MetricQuery& q) {
    bool null_metric = NoValue(m.Node("metric"));
    std::optional<std::string> metric = m.OptionalString("metric");
    if (null_metric || (metric && metric->empty())) {
      Required(map, m, "metric", "required (a metric name)");
    } else if (!metric) {
      // Not a string: reported by OptionalString.
    } else if (!IsValidMetricName(*metric)) {
      m.Error("metric", absl::StrCat("invalid metric name '", *metric,
                                     "' (dotted lowercase, e.g. system.cpu.utilization)"));
    } else {
      q.metric = *metric;
    }
    q.where = ReadWhere(m);
    std::string statistic = m.String("statistic", "avg");
    if (std::optional<Statistic> s = ParseStatistic(statistic)) {
      q.statistic = *s;
    } else {
      m.Error("statistic", absl::StrCat("unknown statistic '", statistic, "' (", kStatistics, ")"));
    }
    if (std::optional<std::string> aggregate = m.OptionalString("aggregate")) {
      if (std::optional<Aggregate> a = ParseAggregate(*aggregate)) {
        q.aggregate = *a;
      } else {
        m.Error("aggregate",
                absl::StrCat("unknown aggregate '", *aggregate, "' (sum, avg, min, max, count)"));
      }
    }
  }

  std::vector<LabelMatcher> ReadWhere(ConfigMap& m) {
    ConfigErrors* errors = m.errors();
    std::vector<LabelMatcher> out;
    YAML::Node where = m.Node("where");
    if (!where.IsDefined() || where.IsNull()) return out;
    if (!where.IsMap()) {
      errors->Add(where.Mark(),
                  "where: expected a mapping of label to value or to one of "
                  "{eq, ne, regex, not_regex: value}");
      return out;
    }
    for (const auto& kv : where) {
      const std::string label = kv.first.Scalar();
      const std::string key = absl::StrCat("where.", label);
      if (!IsValidLabelName(label)) {
        errors->Add(kv.first.Mark(),
                    absl::StrCat("where: invalid label name '", label, "' ([a-z_][a-z0-9_]*)"));
        continue;
      }
      LabelMatcher::Op op = LabelMatcher::Op::kEqual;
      YAML::Node value = kv.second;
      if (value.IsMap()) {
        if (value.size() != 1) {
          errors->Add(value.Mark(),
                      absl::StrCat(key, ": expected exactly one of eq, ne, regex, not_regex"));
          continue;
        }
        const std::string op_name = value.begin()->first.Scalar();
        if (op_name == "eq") {
          op = LabelMatcher::Op::kEqual;
        } else if (op_name == "ne") {
          op = LabelMatcher::Op::kNotEqual;
        } else if (op_name == "regex") {
          op = LabelMatcher::Op::kRegex;
        } else if (op_name == "not_regex") {
          op = LabelMatcher::Op::kNotRegex;
        } else {
          errors->Add(
              value.begin()->first.Mark(),
              absl::StrCat(key, ": unknown operator '", op_name, "' (eq, ne, regex, not_regex)"));
          continue;
        }
        value = value.begin()->second;
      }
      if (!value.IsScalar()) {
        errors->Add(value.Mark(), absl::StrCat(key, ": expected a string"));
        continue;
      }
      absl::StatusOr<LabelMatcher> matcher = MakeLabelMatcher(label, op, value.Scalar());
      if (!matcher.ok()) {
        errors->Add(value.Mark(), absl::StrCat("where: ", matcher.status().message()));
        continue;
      }
      out.push_back(*std::move(matcher));
    }
    return out;
  }

  void ReadQueries(ConfigMap& m, Rule& r) {
    ConfigErrors* errors = m.errors();
    YAML::Node queries = m.Node("queries");
    if (!queries.IsMap() || queries.size() == 0) {
      m.Error("queries", "expected a mapping of query id to {metric, where, statistic, aggregate}");
      return;
    }
    std::map<std::string, YAML::Mark> id_marks;
    for (const auto& kv : queries) {
      const std::string id = kv.first.Scalar();
      if (!IsValidQueryId(id)) {
        errors->Add(kv.first.Mark(),
                    absl::StrCat("queries: invalid query id '", id, "' ([a-z][a-z0-9_]*)"));
        continue;
      }
      if (!id_marks.emplace(id, kv.first.Mark()).second) {
        errors->Add(kv.first.Mark(), absl::StrCat("queries: duplicate query id '", id, "'"));
        continue;
      }
      ConfigMap qm(kv.second, errors);
      MetricQuery q;
      q.id = id;
      ReadQueryFields(kv.second, qm, q);
      qm.Finish();
      r.queries.push_back(std::move(q));
    }
    if (!m.Has("expression") || NoValue(m.Node("expression"))) {
      m.Error("expression", "required with queries: (metric math over the query ids)");
      return;
    }
    std::optional<std::string> text = m.OptionalString("expression");
    if (!text) return;  // reported by OptionalString
    r.expression = *text;
    absl::StatusOr<std::unique_ptr<MathExpr>> expr = ParseMathExpr(r.expression);
    if (!expr.ok()) {
      m.Error("expression", expr.status().message());
      return;
    }
    std::vector<std::string> used = (*expr)->Identifiers();
    for (const std::string& id : used) {
      if (id_marks.count(id) == 0) {
        std::vector<std::string> ids;
        for (const auto& [known, mark] : id_marks) ids.push_back(known);
        m.Error("expression",
                absl::StrCat("unknown query '", id, "' (queries: ", absl::StrJoin(ids, ", "), ")"));
      }
    }
    for (const auto& [id, mark] : id_marks) {
      if (std::find(used.begin(), used.end(), id) == used.end()) {
        errors->Add(mark, absl::StrCat("queries.", id, ": not used in expression"));
      }
    }
    r.math = std::shared_ptr<const MathExpr>(std::move(*expr));
  }

  // Every rule a composite names exists, and composites do not depend on themselves.
  void CheckComposites() {
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].kind != Rule::Kind::kComposite) continue;
      for (const std::string& ref : sources_[i].references) {
        if (first_by_name_.count(ref) == 0) {
          AddError(i, sources_[i].expression_mark,
                   absl::StrCat("expression: unknown rule '", ref, "' in composite"));
        }
      }
    }
    std::vector<int> color(rules_.size(), 0);  // 0 unvisited, 1 on the path, 2 done
    std::vector<size_t> path;
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].kind == Rule::Kind::kComposite && color[i] == 0) Visit(i, color, path);
    }
  }

  void Visit(size_t i, std::vector<int>& color, std::vector<size_t>& path) {
    color[i] = 1;
    path.push_back(i);
    for (const std::string& ref : sources_[i].references) {
      auto it = first_by_name_.find(ref);
      if (it == first_by_name_.end()) continue;
      size_t j = it->second;
      if (rules_[j].kind != Rule::Kind::kComposite) continue;
      if (color[j] == 1) {
        auto start = std::find(path.begin(), path.end(), j);
        std::vector<std::string> names;
        for (auto p = start; p != path.end(); ++p) names.push_back(rules_[*p].name);
        names.push_back(rules_[j].name);
        AddError(j, sources_[j].expression_mark,
                 absl::StrCat("composite cycle: ", absl::StrJoin(names, " -> ")));
      } else if (color[j] == 0) {
        Visit(j, color, path);
      }
    }
    path.pop_back();
    color[i] = 2;
  }

  void AddError(size_t rule, const YAML::Mark& mark, absl::string_view message) {
    errors_[sources_[rule].file].Add(mark, message);
  }

  std::vector<std::pair<std::string, std::string>> files_;
  std::vector<ConfigErrors> errors_;        // one per file
  std::vector<std::string> syntax_errors_;  // one per file; empty when it parsed
  std::vector<Rule> rules_;
  std::vector<RuleSource> sources_;  // parallel to rules_
  std::map<std::string, size_t> first_by_name_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const RuleSet>> ParseRuleSet(
    const std::vector<std::pair<std::string, std::string>>& files) {
  return RuleSetParser(files).Parse({});
}

absl::StatusOr<std::shared_ptr<const RuleSet>> LoadRuleSet(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> problems;
  std::set<std::string> names;
  for (const std::string& path : paths) {
    std::error_code ec;
    fs::file_status status = fs::status(path, ec);
    if (ec || !fs::exists(status)) {
      problems.push_back(absl::StrCat(path, ": no such file or directory"));
      continue;
    }
    if (!fs::is_directory(status)) {
      names.insert(path);
      continue;
    }
    std::vector<std::string> found;
    fs::directory_iterator it(path, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const std::string file = it->path().filename().string();
      if (file.empty() || file[0] == '.') continue;
      if (!absl::EndsWith(file, ".yaml") && !absl::EndsWith(file, ".yml")) continue;
      std::error_code file_ec;
      if (!fs::is_regular_file(it->path(), file_ec)) continue;  // follows symlinks
      found.push_back(ResolvePath(path, file));
    }
    if (ec) {
      problems.push_back(absl::StrCat(path, ": cannot list directory: ", ec.message()));
      continue;
    }
    if (found.empty()) {
      problems.push_back(absl::StrCat(path, ": no *.yaml or *.yml files in directory"));
    }
    names.insert(found.begin(), found.end());
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& name : names) {
    std::ifstream in(name, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.is_open() || in.bad()) {
      problems.push_back(absl::StrCat(name, ": cannot read file"));
      continue;
    }
    files.emplace_back(name, std::move(content));
  }
  return RuleSetParser(std::move(files)).Parse(problems);
}

}  // namespace vigil::alerting
