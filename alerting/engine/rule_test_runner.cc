#include "alerting/engine/rule_test_runner.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "alerting/engine/alarm_engine.h"
#include "alerting/rules/loader.h"
#include "common/config_reader.h"

namespace vigil::alerting {
namespace {

struct Input {
  SeriesKey key;
  std::vector<std::optional<double>> values;
};
struct Expect {
  int64_t at_ms = 0;
  std::string rule;
  std::string instance;  // canonical; empty: the rule's only instance
  AlarmState state = AlarmState::kInsufficientData;
  int line = 0;
};
struct ExpectTransition {
  std::string rule;
  std::string instance;
  int64_t at_ms = 0;
  AlarmState from = AlarmState::kInsufficientData, to = AlarmState::kInsufficientData;
};

std::optional<AlarmState> ParseState(const std::string& s) {
  if (s == "OK") return AlarmState::kOk;
  if (s == "ALARM") return AlarmState::kAlarm;
  if (s == "INSUFFICIENT_DATA") return AlarmState::kInsufficientData;
  return std::nullopt;
}

std::string InstanceString(const std::map<std::string, std::string>& m) {
  if (m.empty()) return "";
  SeriesKey k{"x", {}};
  for (const auto& [n, v] : m) k.labels.emplace_back(n, v);
  return k.ToString().substr(1);
}

std::string Minutes(int64_t ms) { return absl::FormatDuration(absl::Milliseconds(ms)); }

std::string Dir(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::vector<std::optional<double>>> ExpandValues(const std::string& text) {
  std::vector<std::optional<double>> out;
  for (absl::string_view tok : absl::StrSplit(text, ' ', absl::SkipWhitespace())) {
    int64_t repeat = 1;
    absl::string_view value = tok;
    size_t x = tok.rfind('x');
    if (x != absl::string_view::npos) {
      if (!absl::SimpleAtoi(tok.substr(x + 1), &repeat) || repeat < 1 || repeat > 1000000) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad repeat count in '", tok, "' (VxN with N >= 1)"));
      }
      value = tok.substr(0, x);
    }
    std::optional<double> v;
    if (value != "_") {
      double d = 0;
      if (!absl::SimpleAtod(value, &d)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad value '", tok, "' (a number, _ for no sample, or VxN)"));
      }
      v = d;
    }
    out.insert(out.end(), repeat, v);
  }
  return out;
}

absl::StatusOr<RuleTestResult> RunRuleTestFile(const std::string& path) {
  absl::StatusOr<YAML::Node> root = LoadYamlFile(path);
  if (!root.ok()) return root.status();
  ConfigErrors errors(path);
  ConfigMap top(*root, &errors);
  std::vector<std::string> rule_files;
  for (const std::string& f : top.StringList("rule_files")) {
    rule_files.push_back(f.empty() || f[0] == '/' ? f : Dir(path) + "/" + f);
  }
  if (rule_files.empty()) top.Error("rule_files", "at least one rule file is required");
  YAML::Node tests = top.Node("tests");
  top.Finish();
  if (!tests.IsSequence()) {
    errors.Add(tests.IsDefined() ? tests.Mark() : root->Mark(), "tests: expected a list");
  }
  if (!errors.empty()) return errors.ToStatus();
  absl::StatusOr<std::shared_ptr<const RuleSet>> rules = LoadRuleSet(rule_files);
  if (!rules.ok()) return rules.status();

  RuleTestResult result;
  for (const YAML::Node& test_node : tests) {
    ConfigMap test(test_node, &errors);
    const std::string name = test.String("name", "(unnamed)");
    const int64_t interval =
        absl::ToInt64Milliseconds(test.Duration("interval", absl::Minutes(1), absl::Seconds(1)));
    std::vector<Input> inputs;
    YAML::Node input_list = test.Node("input");
    for (const YAML::Node& in_node : input_list) {
      ConfigMap in(in_node, &errors);
      Input input;
      absl::StatusOr<SeriesKey> key = ParseSeriesKey(in.String("series"));
      if (!key.ok()) in.Error("series", key.status().message());
      absl::StatusOr<std::vector<std::optional<double>>> values = ExpandValues(in.String("values"));
      if (!values.ok()) in.Error("values", values.status().message());
      in.Finish();
      if (key.ok() && values.ok()) inputs.push_back({*key, *values});
    }
    std::vector<Expect> expects;
    for (const YAML::Node& e_node : test.Node("expect")) {
      ConfigMap e(e_node, &errors);
      Expect ex;
      ex.at_ms = absl::ToInt64Milliseconds(e.Duration("at", absl::ZeroDuration()));
      ex.rule = e.String("rule");
      ex.instance = InstanceString(e.StringMap("instance"));
      std::string state = e.String("state");
      if (std::optional<AlarmState> s = ParseState(state)) {
        ex.state = *s;
      } else {
        e.Error("state", "expected OK, ALARM or INSUFFICIENT_DATA, got '" + state + "'");
      }
      if (rules.value()->Find(ex.rule) == nullptr)
        e.Error("rule", "unknown rule '" + ex.rule + "'");
      ex.line = e.mark().line + 1;
      e.Finish();
      expects.push_back(ex);
    }
    bool check_transitions = test.Has("expect_transitions");
    std::vector<ExpectTransition> want;
    std::vector<std::string> transition_rules;
    for (const YAML::Node& t_node : test.Node("expect_transitions")) {
      ConfigMap t(t_node, &errors);
      ExpectTransition et;
      et.rule = t.String("rule");
      et.instance = InstanceString(t.StringMap("instance"));
      et.at_ms = absl::ToInt64Milliseconds(t.Duration("at", absl::ZeroDuration()));
      std::optional<AlarmState> from = ParseState(t.String("from"));
      std::optional<AlarmState> to = ParseState(t.String("to"));
      if (!from) t.Error("from", "expected OK, ALARM or INSUFFICIENT_DATA");
      if (!to) t.Error("to", "expected OK, ALARM or INSUFFICIENT_DATA");
      t.Finish();
      if (from && to) {
        et.from = *from;
        et.to = *to;
        want.push_back(et);
        if (std::find(transition_rules.begin(), transition_rules.end(), et.rule) ==
            transition_rules.end()) {
          transition_rules.push_back(et.rule);
        }
      }
    }
    test.Finish();
    if (!errors.empty()) return errors.ToStatus();

    // Samples at i * interval from t = 0, fed in time order.
    struct Sample {
      int64_t ts;
      const SeriesKey* key;
      double value;
    };
    std::vector<Sample> samples;
    int64_t end = 0;
    for (const Input& in : inputs) {
      for (size_t i = 0; i < in.values.size(); ++i) {
        const int64_t ts = static_cast<int64_t>(i) * interval;
        if (in.values[i]) samples.push_back({ts, &in.key, *in.values[i]});
        end = std::max(end, ts + interval);
      }
    }
    std::stable_sort(samples.begin(), samples.end(),
                     [](const Sample& a, const Sample& b) { return a.ts < b.ts; });
    std::sort(expects.begin(), expects.end(),
              [](const Expect& a, const Expect& b) { return a.at_ms < b.at_ms; });
    for (const Expect& e : expects) end = std::max(end, e.at_ms);

    AlarmEngine::Options options;
    options.zero_evaluation_delay = true;
    AlarmEngine engine(*rules, options);
    std::vector<Transition> transitions;
    size_t next_sample = 0;
    auto run_to = [&](int64_t t) {
      while (next_sample < samples.size() && samples[next_sample].ts <= t) {
        const Sample& s = samples[next_sample++];
        engine.Observe(*s.key, s.ts, s.value);
      }
      std::vector<Transition> got = engine.AdvanceTo(t);
      transitions.insert(transitions.end(), got.begin(), got.end());
    };
    ++result.tests;
    const size_t failures_before = result.failures.size();
    for (const Expect& e : expects) {
      ++result.expectations;
      run_to(e.at_ms);
      std::vector<AlarmView> alarms = engine.Alarms();
      std::vector<const AlarmView*> of_rule;
      for (const AlarmView& a : alarms) {
        if (a.rule == e.rule) of_rule.push_back(&a);
      }
      const AlarmView* found = nullptr;
      for (const AlarmView* a : of_rule) {
        if (e.instance.empty() ? of_rule.size() == 1 : a->instance == e.instance) found = a;
      }
      const std::string what =
          absl::StrCat(path, ":", e.line, ": test '", name, "': at ", Minutes(e.at_ms), " ", e.rule,
                       e.instance.empty() ? "" : e.instance);
      if (found == nullptr) {
        std::vector<std::string> have;
        for (const AlarmView* a : of_rule) have.push_back(a->instance);
        result.failures.push_back(absl::StrCat(
            what, ": expected ", StateName(e.state), ", got no such instance (instances: ",
            have.empty() ? "none" : absl::StrJoin(have, " "), ")"));
      } else if (found->state != e.state) {
        result.failures.push_back(absl::StrCat(what, ": expected ", StateName(e.state), ", got ",
                                               StateName(found->state), " (", found->reason, ")"));
      }
    }
    run_to(end);
    if (check_transitions) {
      ++result.expectations;
      auto show = [](const std::string& rule, const std::string& inst, int64_t at, AlarmState from,
                     AlarmState to) {
        return absl::StrCat(rule, inst == "{}" ? "" : inst, " at ", Minutes(at), " ",
                            StateName(from), "->", StateName(to));
      };
      std::vector<std::string> expected, actual;
      for (const ExpectTransition& t : want) {
        expected.push_back(show(t.rule, t.instance, t.at_ms, t.from, t.to));
      }
      for (const Transition& t : transitions) {
        if (std::find(transition_rules.begin(), transition_rules.end(), t.rule) ==
            transition_rules.end()) {
          continue;
        }
        // An expectation without instance labels matches the rule's transitions whatever the
        // instance; with labels, only that instance's.
        bool any_instance = std::any_of(want.begin(), want.end(), [&](const ExpectTransition& w) {
          return w.rule == t.rule && w.instance.empty();
        });
        actual.push_back(show(t.rule, any_instance ? "{}" : t.instance, t.at_ms, t.from, t.to));
      }
      if (expected != actual) {
        result.failures.push_back(absl::StrCat(
            path, ": test '", name, "': transitions differ\n  expected: [",
            absl::StrJoin(expected, ", "), "]\n  actual:   [", absl::StrJoin(actual, ", "), "]"));
      }
    }
    if (result.failures.size() > failures_before) ++result.failed_tests;
  }
  return result;
}

}  // namespace vigil::alerting
