#include "alerting/expr/math_expr.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vigil::alerting {
namespace {

// Parentheses and unary minus recurse; a hand-written rule never comes near this, a garbled or
// hostile one must not overflow the stack.
constexpr int kMaxDepth = 100;

enum class TokenKind { kNumber, kIdentifier, kOperator, kOpenParen, kCloseParen, kEnd };

struct Token {
  TokenKind kind;
  absl::string_view text;
  size_t column;  // 1-based.
  double number = 0;
};

absl::Status ErrorAt(size_t column, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("column ", column, ": ", problem));
}

std::string Describe(const Token& t) {
  if (t.kind == TokenKind::kEnd) return "the end of the expression";
  return absl::StrCat("'", t.text, "'");
}

bool IsIdentifierStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsIdentifierChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

bool IsValidIdentifier(absl::string_view id) {
  if (id.empty() || !absl::ascii_islower(id[0])) return false;
  for (char c : id) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_') return false;
  }
  return true;
}

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const size_t column = i + 1;
    if (absl::ascii_isspace(c)) {
      ++i;
      continue;
    }
    if (c == '+' || c == '-' || c == '*' || c == '/') {
      tokens.push_back({TokenKind::kOperator, text.substr(i, 1), column});
      ++i;
    } else if (c == '(') {
      tokens.push_back({TokenKind::kOpenParen, text.substr(i, 1), column});
      ++i;
    } else if (c == ')') {
      tokens.push_back({TokenKind::kCloseParen, text.substr(i, 1), column});
      ++i;
    } else if (absl::ascii_isdigit(c) ||
               (c == '.' && i + 1 < text.size() && absl::ascii_isdigit(text[i + 1]))) {
      // digits [. digits] [(e|E) [+|-] digits], or . digits [exponent].
      size_t j = i;
      while (j < text.size() && absl::ascii_isdigit(text[j])) ++j;
      if (j < text.size() && text[j] == '.') {
        ++j;
        while (j < text.size() && absl::ascii_isdigit(text[j])) ++j;
      }
      bool malformed = false;
      if (j < text.size() && (text[j] == 'e' || text[j] == 'E')) {
        ++j;
        if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
        if (j >= text.size() || !absl::ascii_isdigit(text[j])) malformed = true;
        while (j < text.size() && absl::ascii_isdigit(text[j])) ++j;
      }
      const absl::string_view literal = text.substr(i, j - i);
      if (malformed) return ErrorAt(column, absl::StrCat("malformed number '", literal, "'"));
      double value = 0;
      if (!absl::SimpleAtod(literal, &value) || !std::isfinite(value)) {
        return ErrorAt(column, absl::StrCat("number '", literal, "' is out of range"));
      }
      tokens.push_back({TokenKind::kNumber, literal, column, value});
      i = j;
    } else if (IsIdentifierStart(c)) {
      size_t j = i;
      while (j < text.size() && IsIdentifierChar(text[j])) ++j;
      const absl::string_view id = text.substr(i, j - i);
      if (!IsValidIdentifier(id)) {
        return ErrorAt(
            column, absl::StrCat("invalid identifier '", id, "' (query ids are [a-z][a-z0-9_]*)"));
      }
      tokens.push_back({TokenKind::kIdentifier, id, column});
      i = j;
    } else {
      return ErrorAt(column, absl::StrCat("unexpected character '", text.substr(i, 1), "'"));
    }
  }
  tokens.push_back({TokenKind::kEnd, absl::string_view(), text.size() + 1});
  return tokens;
}

// Grammar, emitted in postfix order as it is parsed:
//   sum     := product (('+' | '-') product)*
//   product := unary (('*' | '/') unary)*
//   unary   := '-' unary | primary
//   primary := number | identifier | '(' sum ')'
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  // The program; an identifier's index is into names() until the caller renumbers it.
  absl::StatusOr<std::vector<MathExpr::Op>> ParseAll() {
    if (Peek().kind == TokenKind::kEnd) return ErrorAt(1, "empty expression");
    if (absl::Status s = ParseSum(0); !s.ok()) return s;
    const Token& t = Peek();
    if (t.kind == TokenKind::kCloseParen) return ErrorAt(t.column, "unbalanced ')'");
    if (t.kind != TokenKind::kEnd) {
      return ErrorAt(t.column,
                     absl::StrCat("unexpected ", Describe(t), " after the end of the expression"));
    }
    return std::move(program_);
  }
  const std::vector<std::string>& names() const { return names_; }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return tokens_[pos_++]; }
  bool PeekOperator(char a, char b) const {
    const Token& t = Peek();
    return t.kind == TokenKind::kOperator && (t.text[0] == a || t.text[0] == b);
  }
  void Emit(MathExpr::Op::Kind kind) { program_.push_back({kind}); }

  absl::Status ParseSum(int depth) {
    if (absl::Status s = ParseProduct(depth); !s.ok()) return s;
    while (PeekOperator('+', '-')) {
      const char op = Next().text[0];
      if (absl::Status s = ParseProduct(depth); !s.ok()) return s;
      Emit(op == '+' ? MathExpr::Op::kAdd : MathExpr::Op::kSubtract);
    }
    return absl::OkStatus();
  }

  absl::Status ParseProduct(int depth) {
    if (absl::Status s = ParseUnary(depth); !s.ok()) return s;
    while (PeekOperator('*', '/')) {
      const char op = Next().text[0];
      if (absl::Status s = ParseUnary(depth); !s.ok()) return s;
      Emit(op == '*' ? MathExpr::Op::kMultiply : MathExpr::Op::kDivide);
    }
    return absl::OkStatus();
  }

  absl::Status ParseUnary(int depth) {
    if (depth > kMaxDepth) {
      return ErrorAt(Peek().column, absl::StrCat("expression nested too deeply (more than ",
                                                 kMaxDepth, " levels)"));
    }
    if (PeekOperator('-', '-')) {
      Next();
      if (absl::Status s = ParseUnary(depth + 1); !s.ok()) return s;
      Emit(MathExpr::Op::kNegate);
      return absl::OkStatus();
    }
    return ParsePrimary(depth);
  }

  absl::Status ParsePrimary(int depth) {
    const Token& t = Next();
    switch (t.kind) {
      case TokenKind::kNumber:
        program_.push_back({MathExpr::Op::kConstant, 0, t.number});
        return absl::OkStatus();
      case TokenKind::kIdentifier:
        program_.push_back({MathExpr::Op::kIdentifier, static_cast<uint32_t>(names_.size())});
        names_.emplace_back(t.text);
        return absl::OkStatus();
      case TokenKind::kOpenParen: {
        if (absl::Status s = ParseSum(depth + 1); !s.ok()) return s;
        const Token& close = Peek();
        if (close.kind == TokenKind::kEnd) return ErrorAt(t.column, "unbalanced '('");
        if (close.kind != TokenKind::kCloseParen) {
          return ErrorAt(close.column,
                         absl::StrCat("expected an operator or ')', got ", Describe(close)));
        }
        Next();
        return absl::OkStatus();
      }
      default:
        return ErrorAt(t.column, absl::StrCat("expected an operand, got ", Describe(t)));
    }
  }

  const std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::vector<MathExpr::Op> program_;
  std::vector<std::string> names_;  // of each kIdentifier op, in order of appearance
};

}  // namespace

MathExpr::MathExpr(std::vector<Op> program, std::vector<std::string> identifiers)
    : program_(std::move(program)), identifiers_(std::move(identifiers)) {
  size_t depth = 0;
  for (const Op& op : program_) {
    if (op.kind == Op::kConstant || op.kind == Op::kIdentifier) {
      max_stack_ = std::max(max_stack_, ++depth);
    } else if (op.kind != Op::kNegate) {
      --depth;
    }
  }
}

std::optional<double> MathExpr::Evaluate(absl::Span<const std::optional<double>> values) const {
  // Missing is NaN on the stack: it propagates through every operator, and a non-finite
  // result (overflow, division by zero) becomes NaN too, so any of them makes the value missing.
  constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();
  constexpr size_t kInlineStack = 16;  // hand-written expressions need 2 to 4
  double inline_stack[kInlineStack];
  std::vector<double> heap_stack;
  double* stack = inline_stack;
  if (max_stack_ > kInlineStack) {
    heap_stack.resize(max_stack_);
    stack = heap_stack.data();
  }
  size_t top = 0;  // number of values on the stack
  for (const Op& op : program_) {
    switch (op.kind) {
      case Op::kConstant:
        stack[top++] = op.constant;
        continue;
      case Op::kIdentifier: {
        const std::optional<double>& v = values[op.index];
        stack[top++] = v.has_value() && std::isfinite(*v) ? *v : kMissing;
        continue;
      }
      case Op::kNegate:
        stack[top - 1] = -stack[top - 1];
        continue;
      default:
        break;
    }
    const double b = stack[--top];
    double& a = stack[top - 1];
    switch (op.kind) {
      case Op::kAdd:
        a += b;
        break;
      case Op::kSubtract:
        a -= b;
        break;
      case Op::kMultiply:
        a *= b;
        break;
      default:  // kDivide
        a = b == 0 ? kMissing : a / b;
        break;
    }
    if (!std::isfinite(a)) a = kMissing;
  }
  if (std::isnan(stack[0])) return std::nullopt;
  return stack[0];
}

std::optional<double> MathExpr::Evaluate(
    const std::function<std::optional<double>(absl::string_view id)>& value_of) const {
  std::vector<std::optional<double>> values;
  for (const std::string& id : identifiers_) values.push_back(value_of(id));
  return Evaluate(values);
}

absl::StatusOr<std::unique_ptr<MathExpr>> ParseMathExpr(absl::string_view text) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  Parser parser(*std::move(tokens));
  absl::StatusOr<std::vector<MathExpr::Op>> program = parser.ParseAll();
  if (!program.ok()) return program.status();
  // Identifiers sorted and unique; each op then refers to its identifier's place among them.
  std::vector<std::string> ids = parser.names();
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (MathExpr::Op& op : *program) {
    if (op.kind != MathExpr::Op::kIdentifier) continue;
    const std::string& name = parser.names()[op.index];
    op.index = static_cast<uint32_t>(std::lower_bound(ids.begin(), ids.end(), name) - ids.begin());
  }
  return std::make_unique<MathExpr>(*std::move(program), std::move(ids));
}

}  // namespace vigil::alerting
