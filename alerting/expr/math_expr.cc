#include "alerting/expr/math_expr.h"

#include <cmath>
#include <cstddef>
#include <memory>
#include <optional>
#include <set>
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

// Expression tree. Nodes are immutable once built.
class Node {
 public:
  virtual ~Node() = default;
  virtual std::optional<double> Evaluate(
      const std::function<std::optional<double>(absl::string_view)>& value_of) const = 0;
  virtual void CollectIdentifiers(std::set<std::string>& out) const = 0;
};

std::optional<double> Finite(double v) {
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

class NumberNode : public Node {
 public:
  explicit NumberNode(double value) : value_(value) {}
  std::optional<double> Evaluate(
      const std::function<std::optional<double>(absl::string_view)>&) const override {
    return value_;
  }
  void CollectIdentifiers(std::set<std::string>&) const override {}

 private:
  const double value_;
};

class IdentifierNode : public Node {
 public:
  explicit IdentifierNode(std::string name) : name_(std::move(name)) {}
  std::optional<double> Evaluate(
      const std::function<std::optional<double>(absl::string_view)>& value_of) const override {
    std::optional<double> v = value_of(name_);
    if (!v.has_value()) return std::nullopt;
    return Finite(*v);
  }
  void CollectIdentifiers(std::set<std::string>& out) const override { out.insert(name_); }

 private:
  const std::string name_;
};

class NegateNode : public Node {
 public:
  explicit NegateNode(std::unique_ptr<Node> operand) : operand_(std::move(operand)) {}
  std::optional<double> Evaluate(
      const std::function<std::optional<double>(absl::string_view)>& value_of) const override {
    std::optional<double> v = operand_->Evaluate(value_of);
    if (!v.has_value()) return std::nullopt;
    return -*v;
  }
  void CollectIdentifiers(std::set<std::string>& out) const override {
    operand_->CollectIdentifiers(out);
  }

 private:
  const std::unique_ptr<Node> operand_;
};

class BinaryNode : public Node {
 public:
  BinaryNode(char op, std::unique_ptr<Node> left, std::unique_ptr<Node> right)
      : op_(op), left_(std::move(left)), right_(std::move(right)) {}
  std::optional<double> Evaluate(
      const std::function<std::optional<double>(absl::string_view)>& value_of) const override {
    // Both sides are always evaluated so that every identifier is asked for, whatever the values.
    std::optional<double> a = left_->Evaluate(value_of);
    std::optional<double> b = right_->Evaluate(value_of);
    if (!a.has_value() || !b.has_value()) return std::nullopt;
    switch (op_) {
      case '+':
        return Finite(*a + *b);
      case '-':
        return Finite(*a - *b);
      case '*':
        return Finite(*a * *b);
      case '/':
        if (*b == 0) return std::nullopt;
        return Finite(*a / *b);
    }
    return std::nullopt;  // Unreachable: the parser only builds the four operators.
  }
  void CollectIdentifiers(std::set<std::string>& out) const override {
    left_->CollectIdentifiers(out);
    right_->CollectIdentifiers(out);
  }

 private:
  const char op_;
  const std::unique_ptr<Node> left_;
  const std::unique_ptr<Node> right_;
};

// Grammar:
//   sum     := product (('+' | '-') product)*
//   product := unary (('*' | '/') unary)*
//   unary   := '-' unary | primary
//   primary := number | identifier | '(' sum ')'
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<std::unique_ptr<Node>> ParseAll() {
    if (Peek().kind == TokenKind::kEnd) return ErrorAt(1, "empty expression");
    absl::StatusOr<std::unique_ptr<Node>> root = ParseSum(0);
    if (!root.ok()) return root.status();
    const Token& t = Peek();
    if (t.kind == TokenKind::kCloseParen) return ErrorAt(t.column, "unbalanced ')'");
    if (t.kind != TokenKind::kEnd) {
      return ErrorAt(t.column,
                     absl::StrCat("unexpected ", Describe(t), " after the end of the expression"));
    }
    return root;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return tokens_[pos_++]; }
  bool PeekOperator(char a, char b) const {
    const Token& t = Peek();
    return t.kind == TokenKind::kOperator && (t.text[0] == a || t.text[0] == b);
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseSum(int depth) {
    absl::StatusOr<std::unique_ptr<Node>> left = ParseProduct(depth);
    if (!left.ok()) return left.status();
    std::unique_ptr<Node> node = *std::move(left);
    while (PeekOperator('+', '-')) {
      const char op = Next().text[0];
      absl::StatusOr<std::unique_ptr<Node>> right = ParseProduct(depth);
      if (!right.ok()) return right.status();
      node = std::make_unique<BinaryNode>(op, std::move(node), *std::move(right));
    }
    return node;
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseProduct(int depth) {
    absl::StatusOr<std::unique_ptr<Node>> left = ParseUnary(depth);
    if (!left.ok()) return left.status();
    std::unique_ptr<Node> node = *std::move(left);
    while (PeekOperator('*', '/')) {
      const char op = Next().text[0];
      absl::StatusOr<std::unique_ptr<Node>> right = ParseUnary(depth);
      if (!right.ok()) return right.status();
      node = std::make_unique<BinaryNode>(op, std::move(node), *std::move(right));
    }
    return node;
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseUnary(int depth) {
    if (depth > kMaxDepth) {
      return ErrorAt(Peek().column, absl::StrCat("expression nested too deeply (more than ",
                                                 kMaxDepth, " levels)"));
    }
    if (PeekOperator('-', '-')) {
      Next();
      absl::StatusOr<std::unique_ptr<Node>> operand = ParseUnary(depth + 1);
      if (!operand.ok()) return operand.status();
      return std::make_unique<NegateNode>(*std::move(operand));
    }
    return ParsePrimary(depth);
  }

  absl::StatusOr<std::unique_ptr<Node>> ParsePrimary(int depth) {
    const Token& t = Next();
    switch (t.kind) {
      case TokenKind::kNumber:
        return std::make_unique<NumberNode>(t.number);
      case TokenKind::kIdentifier:
        return std::make_unique<IdentifierNode>(std::string(t.text));
      case TokenKind::kOpenParen: {
        absl::StatusOr<std::unique_ptr<Node>> inner = ParseSum(depth + 1);
        if (!inner.ok()) return inner.status();
        const Token& close = Peek();
        if (close.kind == TokenKind::kEnd) return ErrorAt(t.column, "unbalanced '('");
        if (close.kind != TokenKind::kCloseParen) {
          return ErrorAt(close.column,
                         absl::StrCat("expected an operator or ')', got ", Describe(close)));
        }
        Next();
        return inner;
      }
      default:
        return ErrorAt(t.column, absl::StrCat("expected an operand, got ", Describe(t)));
    }
  }

  const std::vector<Token> tokens_;
  size_t pos_ = 0;
};

class ParsedMathExpr : public MathExpr {
 public:
  explicit ParsedMathExpr(std::unique_ptr<Node> root) : root_(std::move(root)) {
    std::set<std::string> ids;
    root_->CollectIdentifiers(ids);
    identifiers_.assign(ids.begin(), ids.end());
  }

  std::optional<double> Evaluate(
      const std::function<std::optional<double>(absl::string_view id)>& value_of) const override {
    return root_->Evaluate(value_of);
  }

  std::vector<std::string> Identifiers() const override { return identifiers_; }

 private:
  const std::unique_ptr<Node> root_;
  std::vector<std::string> identifiers_;  // Constant after construction.
};

}  // namespace

absl::StatusOr<std::unique_ptr<MathExpr>> ParseMathExpr(absl::string_view text) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  Parser parser(*std::move(tokens));
  absl::StatusOr<std::unique_ptr<Node>> root = parser.ParseAll();
  if (!root.ok()) return root.status();
  return std::make_unique<ParsedMathExpr>(*std::move(root));
}

}  // namespace vigil::alerting
