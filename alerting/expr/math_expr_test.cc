#include "alerting/expr/math_expr.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
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

using Values = std::map<std::string, std::optional<double>, std::less<>>;

// Evaluates `text` with identifiers looked up in `values` (absent means missing).
std::optional<double> Eval(absl::string_view text, const Values& values) {
  absl::StatusOr<std::unique_ptr<MathExpr>> expr = ParseMathExpr(text);
  EXPECT_TRUE(expr.ok()) << text << ": " << expr.status();
  if (!expr.ok()) return std::nullopt;
  return (*expr)->Evaluate([&](absl::string_view id) -> std::optional<double> {
    auto it = values.find(id);
    if (it == values.end()) return std::nullopt;
    return it->second;
  });
}

std::string ParseError(absl::string_view text) {
  absl::StatusOr<std::unique_ptr<MathExpr>> expr = ParseMathExpr(text);
  if (expr.ok()) return "(parsed)";
  EXPECT_EQ(expr.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(expr.status().message());
}

struct ValueCase {
  std::string text;
  double expected;
};

TEST(MathExpr, PrecedenceAssociativityAndLiteralsGiveExactValues) {
  const Values values = {{"a", 3}, {"b", 4}, {"errors", 5}, {"requests", 200}, {"x", 7}};
  // One row per line (clang-format would pack the rows into columns).
  // clang-format off
  const std::vector<ValueCase> cases = {
      {"1 + 2 * 3", 7},
      {"(1 + 2) * 3", 9},
      {"2 * 3 + 1", 7},
      {"10 - 4 - 3", 3},  // Left associative: (10 - 4) - 3.
      {"64 / 4 / 2", 8},  // (64 / 4) / 2.
      {"2 * 3 / 4", 1.5},
      {"3 / 4 * 2", 1.5},
      {"1 - 2 + 3", 2},
      {"100 * errors / requests", 2.5},
      {"(a + b) / 2", 3.5},
      {"a + b / 2", 5},
      {"-x", -7},
      {"a - -b", 7},
      {"--a", 3},
      {"-a * b", -12},
      {"-(a + b)", -7},
      {"2 * -a", -6},
      {"((a))", 3},
      {"((a + b) * (a - b))", -7},
      {"42", 42},
      {"0.25", 0.25},
      {".5", 0.5},
      {"2. * a", 6},
      {"1e3", 1000},
      {"1E3", 1000},
      {"2.5e-1", 0.25},
      {"1e+2", 100},
      {"  a\t+\nb  ", 7},
      {"1-2", -1},
      {"a*b", 12},
  };
  // clang-format on
  for (const ValueCase& c : cases) {
    EXPECT_EQ(Eval(c.text, values), std::optional<double>(c.expected)) << c.text;
  }
}

TEST(MathExpr, MissingIdentifierValueGivesMissingResult) {
  const Values values = {{"a", 3}, {"b", std::nullopt}};
  for (const char* text : {"b", "a + b", "0 * b", "-b", "(a + b) / 2", "a / b", "c * 0"}) {
    EXPECT_EQ(Eval(text, values), std::nullopt) << text;
  }
}

TEST(MathExpr, DivisionByZeroGivesMissingNotInfinity) {
  const Values values = {{"a", 3}, {"zero", 0}};
  for (const char* text : {"a / 0", "a / zero", "0 / 0", "a / (a - a)", "-a / 0", "1 / -0"}) {
    EXPECT_EQ(Eval(text, values), std::nullopt) << text;
  }
}

TEST(MathExpr, NonFiniteResultGivesMissing) {
  const double inf = std::numeric_limits<double>::infinity();
  const Values values = {{"big", 1e308}, {"inf", inf}, {"nan", std::nan("")}};
  for (const char* text :
       {"big * 10", "big + big", "-big - big", "inf", "inf * 0", "nan + 1", "1 / (big * 10)"}) {
    EXPECT_EQ(Eval(text, values), std::nullopt) << text;
  }
}

TEST(MathExpr, EvaluateAsksForEveryIdentifierEvenWhenOneIsMissing) {
  absl::StatusOr<std::unique_ptr<MathExpr>> expr = ParseMathExpr("a / b + c");
  ASSERT_TRUE(expr.ok()) << expr.status();
  std::vector<std::string> asked;
  std::optional<double> v = (*expr)->Evaluate([&](absl::string_view id) -> std::optional<double> {
    asked.emplace_back(id);
    if (id == "a") return std::nullopt;
    return 1;
  });
  EXPECT_EQ(v, std::nullopt);
  EXPECT_THAT(asked, ElementsAre("a", "b", "c"));
}

TEST(MathExpr, IdentifiersAreSortedAndUnique) {
  absl::StatusOr<std::unique_ptr<MathExpr>> expr = ParseMathExpr("b + a * b - c_1 / (a + b2)");
  ASSERT_TRUE(expr.ok()) << expr.status();
  EXPECT_THAT((*expr)->Identifiers(), ElementsAre("a", "b", "b2", "c_1"));
}

TEST(MathExpr, ConstantExpressionHasNoIdentifiers) {
  absl::StatusOr<std::unique_ptr<MathExpr>> expr = ParseMathExpr("2 * (3 + 4)");
  ASSERT_TRUE(expr.ok()) << expr.status();
  EXPECT_THAT((*expr)->Identifiers(), IsEmpty());
  EXPECT_EQ((*expr)->Evaluate([](absl::string_view) { return std::optional<double>(); }), 14);
}

struct ErrorCase {
  std::string text;
  std::string message;
};

TEST(MathExpr, SyntaxErrorsNameTheColumnAndTheProblem) {
  const std::vector<ErrorCase> cases = {
      {"", "column 1: empty expression"},
      {"   ", "column 1: empty expression"},
      {"a + )", "column 5: expected an operand, got ')'"},
      {"a +", "column 4: expected an operand, got the end of the expression"},
      {"()", "column 2: expected an operand, got ')'"},
      {"a ** b", "column 4: expected an operand, got '*'"},
      {"+a", "column 1: expected an operand, got '+'"},
      {"100 * a x", "column 9: unexpected 'x' after the end of the expression"},
      {"2x", "column 2: unexpected 'x' after the end of the expression"},
      {"a (b)", "column 3: unexpected '(' after the end of the expression"},
      {"1+(2", "column 3: unbalanced '('"},
      {"((a + b)", "column 1: unbalanced '('"},
      {"a)", "column 2: unbalanced ')'"},
      {"(a b)", "column 4: expected an operator or ')', got 'b'"},
      {"a $ b", "column 3: unexpected character '$'"},
      {"a % b", "column 3: unexpected character '%'"},
      {"Errors / 2", "column 1: invalid identifier 'Errors' (query ids are [a-z][a-z0-9_]*)"},
      {"a + _x", "column 5: invalid identifier '_x' (query ids are [a-z][a-z0-9_]*)"},
      {"1e+", "column 1: malformed number '1e+'"},
      {"2 * 1e", "column 5: malformed number '1e'"},
      {"1e999", "column 1: number '1e999' is out of range"},
      {"1.2.3", "column 4: unexpected '.3' after the end of the expression"},
  };
  for (const ErrorCase& c : cases) {
    EXPECT_EQ(ParseError(c.text), c.message) << c.text;
  }
}

TEST(MathExpr, NestingDeeperThanTheLimitIsAnErrorNotACrash) {
  EXPECT_EQ(Eval(std::string(100, '(') + "a" + std::string(100, ')'), {{"a", 1}}), 1);
  EXPECT_EQ(ParseError(std::string(101, '(') + "a" + std::string(101, ')')),
            "column 102: expression nested too deeply (more than 100 levels)");
  EXPECT_EQ(ParseError(std::string(101, '-') + "a"),
            "column 102: expression nested too deeply (more than 100 levels)");
  EXPECT_EQ(ParseError(std::string(100000, '(')),
            "column 102: expression nested too deeply (more than 100 levels)");
}

// Every error is INVALID_ARGUMENT with a column inside the text (or just past its end).
void ExpectParsesOrReportsColumn(const std::string& text) {
  absl::StatusOr<std::unique_ptr<MathExpr>> expr = ParseMathExpr(text);
  if (expr.ok()) {
    (*expr)->Evaluate([](absl::string_view) { return std::optional<double>(1); });
    return;
  }
  ASSERT_EQ(expr.status().code(), absl::StatusCode::kInvalidArgument) << text;
  const std::string message(expr.status().message());
  ASSERT_TRUE(absl::StartsWith(message, "column ")) << text << ": " << message;
  const int column = std::atoi(message.c_str() + 7);
  EXPECT_GE(column, 1) << text << ": " << message;
  EXPECT_LE(column, static_cast<int>(text.size()) + 1) << text << ": " << message;
}

TEST(MathExpr, EveryPrefixSuffixAndDeletionOfValidExpressionsParsesOrErrs) {
  const std::vector<std::string> valid = {
      "100 * errors / requests",        "(a + b) / 2",     "a - -b",
      "-(x_1 * 2.5e-3) + .5 / (c - d)", "((a))*((b)-(c))",
  };
  for (const std::string& text : valid) {
    ASSERT_TRUE(ParseMathExpr(text).ok()) << text;
    for (size_t n = 0; n <= text.size(); ++n) {
      ExpectParsesOrReportsColumn(text.substr(0, n));
      ExpectParsesOrReportsColumn(text.substr(n));
      if (n < text.size()) ExpectParsesOrReportsColumn(text.substr(0, n) + text.substr(n + 1));
    }
  }
}

TEST(MathExpr, SeededRandomTextParsesOrErrs) {
  const std::string alphabet = "ab1.e+-*/() _E$9";
  std::mt19937 rng(20261122);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<size_t> length(0, 24);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    for (size_t n = length(rng); n > 0; --n) text.push_back(alphabet[pick(rng)]);
    ExpectParsesOrReportsColumn(text);
  }
}

}  // namespace
}  // namespace vigil::alerting
