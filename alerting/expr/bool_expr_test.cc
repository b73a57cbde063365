#include "alerting/expr/bool_expr.h"

#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr AlarmState kAlarm = AlarmState::kAlarm;
constexpr AlarmState kOk = AlarmState::kOk;
constexpr AlarmState kInsufficient = AlarmState::kInsufficientData;

using States = std::map<std::string, AlarmState, std::less<>>;

// Evaluates `text` with rule states from `states` (absent means INSUFFICIENT_DATA).
bool Eval(absl::string_view text, const States& states) {
  absl::StatusOr<std::unique_ptr<BoolExpr>> expr = ParseBoolExpr(text);
  EXPECT_TRUE(expr.ok()) << text << ": " << expr.status();
  if (!expr.ok()) return false;
  return (*expr)->Evaluate([&](absl::string_view rule) {
    auto it = states.find(rule);
    return it == states.end() ? kInsufficient : it->second;
  });
}

std::string ParseError(absl::string_view text) {
  absl::StatusOr<std::unique_ptr<BoolExpr>> expr = ParseBoolExpr(text);
  if (expr.ok()) return "(parsed)";
  EXPECT_EQ(expr.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(expr.status().message());
}

struct StateFunctionCase {
  std::string text;
  AlarmState state;
  bool expected;
};

TEST(BoolExpr, StateFunctionsAreTrueExactlyInTheirState) {
  const std::vector<StateFunctionCase> cases = {
      {"ALARM(a)", kAlarm, true},
      {"ALARM(a)", kOk, false},
      {"ALARM(a)", kInsufficient, false},
      {"OK(a)", kAlarm, false},
      {"OK(a)", kOk, true},
      {"OK(a)", kInsufficient, false},
      {"INSUFFICIENT_DATA(a)", kAlarm, false},
      {"INSUFFICIENT_DATA(a)", kOk, false},
      {"INSUFFICIENT_DATA(a)", kInsufficient, true},
  };
  for (const StateFunctionCase& c : cases) {
    EXPECT_EQ(Eval(c.text, {{"a", c.state}}), c.expected)
        << c.text << " with a in state " << static_cast<int>(c.state);
  }
}

struct TwoRuleCase {
  std::string text;
  AlarmState a;
  AlarmState b;
  bool expected;
};

TEST(BoolExpr, AndOrNotTruthTables) {
  const std::vector<TwoRuleCase> cases = {
      {"ALARM(a) AND ALARM(b)", kOk, kOk, false},
      {"ALARM(a) AND ALARM(b)", kOk, kAlarm, false},
      {"ALARM(a) AND ALARM(b)", kAlarm, kOk, false},
      {"ALARM(a) AND ALARM(b)", kAlarm, kAlarm, true},
      {"ALARM(a) OR ALARM(b)", kOk, kOk, false},
      {"ALARM(a) OR ALARM(b)", kOk, kAlarm, true},
      {"ALARM(a) OR ALARM(b)", kAlarm, kOk, true},
      {"ALARM(a) OR ALARM(b)", kAlarm, kAlarm, true},
      {"NOT ALARM(a)", kOk, kOk, true},
      {"NOT ALARM(a)", kAlarm, kOk, false},
      {"NOT ALARM(a)", kInsufficient, kOk, true},
      {"NOT NOT ALARM(a)", kAlarm, kOk, true},
      {"NOT NOT ALARM(a)", kOk, kOk, false},
  };
  for (const TwoRuleCase& c : cases) {
    EXPECT_EQ(Eval(c.text, {{"a", c.a}, {"b", c.b}}), c.expected)
        << c.text << " with a=" << static_cast<int>(c.a) << " b=" << static_cast<int>(c.b);
  }
}

struct ConstantCase {
  std::string text;
  bool expected;
};

TEST(BoolExpr, TrueAndFalseConstants) {
  const std::vector<ConstantCase> cases = {
      {"TRUE", true},
      {"FALSE", false},
      {"NOT TRUE", false},
      {"NOT FALSE", true},
      {"TRUE AND FALSE", false},
      {"TRUE AND TRUE", true},
      {"FALSE OR TRUE", true},
      {"FALSE OR FALSE", false},
      {"ALARM(a) OR TRUE", true},
      {"ALARM(a) AND FALSE", false},
  };
  for (const ConstantCase& c : cases) {
    EXPECT_EQ(Eval(c.text, {{"a", kAlarm}}), c.expected) << c.text;
  }
}

// Runs `text` over all eight ALARM/OK combinations of a, b, c against `reference`.
void ExpectMatchesForAllStates(absl::string_view text,
                               const std::function<bool(bool, bool, bool)>& reference) {
  for (int bits = 0; bits < 8; ++bits) {
    const bool a = bits & 1, b = bits & 2, c = bits & 4;
    const States states = {
        {"a", a ? kAlarm : kOk}, {"b", b ? kAlarm : kOk}, {"c", c ? kAlarm : kOk}};
    EXPECT_EQ(Eval(text, states), reference(a, b, c))
        << text << " with a=" << a << " b=" << b << " c=" << c;
  }
}

TEST(BoolExpr, NotBindsTighterThanAndWhichBindsTighterThanOr) {
  ExpectMatchesForAllStates("NOT ALARM(a) AND ALARM(b) OR ALARM(c)",
                            [](bool a, bool b, bool c) { return ((!a) && b) || c; });
  ExpectMatchesForAllStates("ALARM(a) OR ALARM(b) AND ALARM(c)",
                            [](bool a, bool b, bool c) { return a || (b && c); });
  ExpectMatchesForAllStates("ALARM(a) AND ALARM(b) OR ALARM(c) AND NOT ALARM(a)",
                            [](bool a, bool b, bool c) { return (a && b) || (c && !a); });
  ExpectMatchesForAllStates("ALARM(a) OR NOT ALARM(b) OR ALARM(c)",
                            [](bool a, bool b, bool c) { return a || !b || c; });
}

TEST(BoolExpr, ParenthesesOverridePrecedence) {
  ExpectMatchesForAllStates("NOT (ALARM(a) AND ALARM(b)) OR ALARM(c)",
                            [](bool a, bool b, bool c) { return !(a && b) || c; });
  ExpectMatchesForAllStates("(ALARM(a) OR ALARM(b)) AND ALARM(c)",
                            [](bool a, bool b, bool c) { return (a || b) && c; });
  ExpectMatchesForAllStates("NOT (ALARM(a) OR (ALARM(b) AND NOT (ALARM(c))))",
                            [](bool a, bool b, bool c) { return !(a || (b && !c)); });
  ExpectMatchesForAllStates("((((ALARM(a)))) AND ((ALARM(b) OR (ALARM(c)))))",
                            [](bool a, bool b, bool c) { return a && (b || c); });
}

TEST(BoolExpr, NamesMayHoldDotsDashesDigitsAndBeQuoted) {
  const States states = {{"web-5xx-share", kAlarm},
                         {"db.cpu_prod", kOk},
                         {"web latency (p99)", kAlarm},
                         {"say \"hi\"\\", kAlarm}};
  EXPECT_TRUE(Eval("ALARM(web-5xx-share) AND OK(db.cpu_prod)", states));
  EXPECT_TRUE(Eval("ALARM(\"web latency (p99)\")", states));
  EXPECT_TRUE(Eval("ALARM( \"web-5xx-share\" )", states));
  EXPECT_TRUE(Eval(R"(ALARM("say \"hi\"\\"))", states));
  EXPECT_FALSE(Eval("ALARM(\"db.cpu_prod\")", states));
}

TEST(BoolExpr, KeywordsAsQuotedOrBareRuleNamesAreNames) {
  EXPECT_TRUE(Eval("ALARM(AND) AND OK(\"OR\")", {{"AND", kAlarm}, {"OR", kOk}}));
}

TEST(BoolExpr, ReferencesAreSortedAndUnique) {
  absl::StatusOr<std::unique_ptr<BoolExpr>> expr = ParseBoolExpr(
      "ALARM(web-5xx) OR OK(db) AND NOT INSUFFICIENT_DATA(web-5xx) OR ALARM(\"a b\")");
  ASSERT_TRUE(expr.ok()) << expr.status();
  EXPECT_THAT((*expr)->References(), ElementsAre("a b", "db", "web-5xx"));
}

TEST(BoolExpr, ConstantExpressionHasNoReferences) {
  absl::StatusOr<std::unique_ptr<BoolExpr>> expr = ParseBoolExpr("TRUE AND NOT FALSE");
  ASSERT_TRUE(expr.ok()) << expr.status();
  EXPECT_THAT((*expr)->References(), IsEmpty());
}

struct ErrorCase {
  std::string text;
  std::string message;
};

TEST(BoolExpr, SyntaxErrorsNameTheColumnAndTheProblem) {
  const std::vector<ErrorCase> cases = {
      {"", "column 1: empty expression"},
      {"  ", "column 1: empty expression"},
      {"ALERT(a)", "column 1: unknown function 'ALERT' (ALARM, OK, INSUFFICIENT_DATA)"},
      {"alarm(a)", "column 1: unknown function 'alarm' (ALARM, OK, INSUFFICIENT_DATA)"},
      {"ALARM x", "column 7: expected '(' after ALARM"},
      {"NOT OK", "column 7: expected '(' after OK"},
      {"ALARM()", "column 7: expected a rule name after 'ALARM(', got ')'"},
      {"OK((a))", "column 4: expected a rule name after 'OK(', got '('"},
      {"ALARM(a b)", "column 9: expected ')' after the rule name, got 'b'"},
      {"ALARM(a", "column 8: expected ')' after the rule name, got the end of the expression"},
      {"(ALARM(a)", "column 1: unbalanced '('"},
      {"ALARM(a))", "column 9: unbalanced ')'"},
      {"(ALARM(a) OK(b))", "column 11: expected AND, OR or ')', got 'OK'"},
      {"(ALARM(a) or OK(b))",
       "column 11: expected AND, OR or ')', got 'or' (keywords are case-sensitive: OR)"},
      {"ALARM(a) and ALARM(b)",
       "column 10: unexpected 'and' after the end of the expression (keywords are "
       "case-sensitive: AND)"},
      {"ALARM(a) ALARM(b)", "column 10: unexpected 'ALARM' after the end of the expression"},
      {"ALARM(a) AND", "column 13: expected an operand, got the end of the expression"},
      {"AND ALARM(a)", "column 1: expected an operand, got 'AND'"},
      {"NOT", "column 4: expected an operand, got the end of the expression"},
      {"()", "column 2: expected an operand, got ')'"},
      {"web-5xx", "column 1: expected an operand, got 'web-5xx'"},
      {"true", "column 1: expected an operand, got 'true' (keywords are case-sensitive: TRUE)"},
      {"ALARM(\"a)", "column 7: unterminated quoted name"},
      {"ALARM(\"\")", "column 7: empty rule name"},
      {"ALARM(a) & ALARM(b)", "column 10: unexpected character '&'"},
      {"ALARM(a) || ALARM(b)", "column 10: unexpected character '|'"},
  };
  for (const ErrorCase& c : cases) {
    EXPECT_EQ(ParseError(c.text), c.message) << c.text;
  }
}

TEST(BoolExpr, NestingDeeperThanTheLimitIsAnErrorNotACrash) {
  EXPECT_TRUE(Eval(std::string(100, '(') + "TRUE" + std::string(100, ')'), {}));
  EXPECT_EQ(ParseError(std::string(101, '(') + "TRUE" + std::string(101, ')')),
            "column 102: expression nested too deeply (more than 100 levels)");
  std::string nots;
  for (int i = 0; i < 101; ++i) nots += "NOT ";
  EXPECT_EQ(ParseError(nots + "TRUE"),
            "column 405: expression nested too deeply (more than 100 levels)");
  EXPECT_EQ(ParseError(std::string(100000, '(')),
            "column 102: expression nested too deeply (more than 100 levels)");
}

// Every error is INVALID_ARGUMENT with a column inside the text (or just past its end).
void ExpectParsesOrReportsColumn(const std::string& text) {
  absl::StatusOr<std::unique_ptr<BoolExpr>> expr = ParseBoolExpr(text);
  if (expr.ok()) {
    (*expr)->Evaluate([](absl::string_view) { return kAlarm; });
    return;
  }
  ASSERT_EQ(expr.status().code(), absl::StatusCode::kInvalidArgument) << text;
  const std::string message(expr.status().message());
  ASSERT_TRUE(absl::StartsWith(message, "column ")) << text << ": " << message;
  const int column = std::atoi(message.c_str() + 7);
  EXPECT_GE(column, 1) << text << ": " << message;
  EXPECT_LE(column, static_cast<int>(text.size()) + 1) << text << ": " << message;
}

TEST(BoolExpr, EveryPrefixSuffixAndDeletionOfValidExpressionsParsesOrErrs) {
  const std::vector<std::string> valid = {
      "ALARM(web-5xx-share) OR ALARM(web-latency-p99)",
      "NOT ALARM(a) AND (OK(b) OR INSUFFICIENT_DATA(\"c \\\" d\"))",
      "TRUE AND NOT (FALSE OR ALARM(x.y))",
  };
  for (const std::string& text : valid) {
    ASSERT_TRUE(ParseBoolExpr(text).ok()) << text;
    for (size_t n = 0; n <= text.size(); ++n) {
      ExpectParsesOrReportsColumn(text.substr(0, n));
      ExpectParsesOrReportsColumn(text.substr(n));
      if (n < text.size()) ExpectParsesOrReportsColumn(text.substr(0, n) + text.substr(n + 1));
    }
  }
}

TEST(BoolExpr, SeededRandomTokenSoupParsesOrErrs) {
  const std::vector<std::string> pieces = {"ALARM", "OK",    "INSUFFICIENT_DATA",
                                           "AND",   "OR",    "NOT",
                                           "TRUE",  "FALSE", "(",
                                           ")",     "a",     "\"",
                                           "\\",    " ",     "&"};
  std::mt19937 rng(20261122);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<size_t> length(0, 16);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (size_t n = length(rng); n > 0; --n) text += pieces[pick(rng)];
    ExpectParsesOrReportsColumn(text);
  }
}

}  // namespace
}  // namespace vigil::alerting
