#include "alerting/expr/bool_expr.h"

#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace vigil::alerting {
namespace {

// NOT and parentheses recurse; a garbled or hostile rule must not overflow the stack.
constexpr int kMaxDepth = 100;

enum class TokenKind { kWord, kQuoted, kOpenParen, kCloseParen, kEnd };

struct Token {
  TokenKind kind;
  absl::string_view text;  // As written (quoted names with their quotes).
  size_t column;           // 1-based.
  std::string name;        // kWord: the word; kQuoted: the name with escapes resolved.
};

absl::Status ErrorAt(size_t column, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("column ", column, ": ", problem));
}

std::string Describe(const Token& t) {
  if (t.kind == TokenKind::kEnd) return "the end of the expression";
  return absl::StrCat("'", t.text, "'");
}

bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == '-'; }

bool IsKeyword(absl::string_view w) {
  return w == "AND" || w == "OR" || w == "NOT" || w == "TRUE" || w == "FALSE" || w == "ALARM" ||
         w == "OK" || w == "INSUFFICIENT_DATA";
}

// " (keywords are case-sensitive: AND)" when `word` is a keyword in the wrong case.
std::string CaseHint(const Token& t) {
  if (t.kind != TokenKind::kWord) return "";
  const std::string upper = absl::AsciiStrToUpper(t.name);
  if (upper == t.name || !IsKeyword(upper)) return "";
  return absl::StrCat(" (keywords are case-sensitive: ", upper, ")");
}

absl::StatusOr<std::vector<Token>> Tokenize(absl::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const size_t column = i + 1;
    if (absl::ascii_isspace(c)) {
      ++i;
    } else if (c == '(') {
      tokens.push_back({TokenKind::kOpenParen, text.substr(i, 1), column, ""});
      ++i;
    } else if (c == ')') {
      tokens.push_back({TokenKind::kCloseParen, text.substr(i, 1), column, ""});
      ++i;
    } else if (c == '"') {
      // A quoted name: any characters; \" and \\ stand for " and \.
      std::string name;
      size_t j = i + 1;
      bool closed = false;
      while (j < text.size()) {
        if (text[j] == '\\' && j + 1 < text.size() && (text[j + 1] == '"' || text[j + 1] == '\\')) {
          name.push_back(text[j + 1]);
          j += 2;
        } else if (text[j] == '"') {
          closed = true;
          ++j;
          break;
        } else {
          name.push_back(text[j]);
          ++j;
        }
      }
      if (!closed) return ErrorAt(column, "unterminated quoted name");
      if (name.empty()) return ErrorAt(column, "empty rule name");
      tokens.push_back({TokenKind::kQuoted, text.substr(i, j - i), column, std::move(name)});
      i = j;
    } else if (IsNameChar(c)) {
      size_t j = i;
      while (j < text.size() && IsNameChar(text[j])) ++j;
      const absl::string_view word = text.substr(i, j - i);
      tokens.push_back({TokenKind::kWord, word, column, std::string(word)});
      i = j;
    } else {
      return ErrorAt(column, absl::StrCat("unexpected character '", text.substr(i, 1), "'"));
    }
  }
  tokens.push_back({TokenKind::kEnd, absl::string_view(), text.size() + 1, ""});
  return tokens;
}

using StateOf = std::function<AlarmState(absl::string_view rule)>;

// Expression tree. Nodes are immutable once built.
class Node {
 public:
  virtual ~Node() = default;
  virtual bool Evaluate(const StateOf& state_of) const = 0;
  virtual void CollectReferences(std::set<std::string>& out) const = 0;
};

class ConstantNode : public Node {
 public:
  explicit ConstantNode(bool value) : value_(value) {}
  bool Evaluate(const StateOf&) const override { return value_; }
  void CollectReferences(std::set<std::string>&) const override {}

 private:
  const bool value_;
};

class StateNode : public Node {
 public:
  StateNode(AlarmState state, std::string rule) : state_(state), rule_(std::move(rule)) {}
  bool Evaluate(const StateOf& state_of) const override { return state_of(rule_) == state_; }
  void CollectReferences(std::set<std::string>& out) const override { out.insert(rule_); }

 private:
  const AlarmState state_;
  const std::string rule_;
};

class NotNode : public Node {
 public:
  explicit NotNode(std::unique_ptr<Node> operand) : operand_(std::move(operand)) {}
  bool Evaluate(const StateOf& state_of) const override { return !operand_->Evaluate(state_of); }
  void CollectReferences(std::set<std::string>& out) const override {
    operand_->CollectReferences(out);
  }

 private:
  const std::unique_ptr<Node> operand_;
};

class BinaryNode : public Node {
 public:
  BinaryNode(bool is_and, std::unique_ptr<Node> left, std::unique_ptr<Node> right)
      : is_and_(is_and), left_(std::move(left)), right_(std::move(right)) {}
  bool Evaluate(const StateOf& state_of) const override {
    if (is_and_) return left_->Evaluate(state_of) && right_->Evaluate(state_of);
    return left_->Evaluate(state_of) || right_->Evaluate(state_of);
  }
  void CollectReferences(std::set<std::string>& out) const override {
    left_->CollectReferences(out);
    right_->CollectReferences(out);
  }

 private:
  const bool is_and_;
  const std::unique_ptr<Node> left_;
  const std::unique_ptr<Node> right_;
};

// Grammar:
//   or      := and ('OR' and)*
//   and     := not ('AND' not)*
//   not     := 'NOT' not | primary
//   primary := 'TRUE' | 'FALSE' | '(' or ')' | state '(' name ')'
//   state   := 'ALARM' | 'OK' | 'INSUFFICIENT_DATA'
//   name    := word | quoted
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<std::unique_ptr<Node>> ParseAll() {
    if (Peek().kind == TokenKind::kEnd) return ErrorAt(1, "empty expression");
    absl::StatusOr<std::unique_ptr<Node>> root = ParseOr(0);
    if (!root.ok()) return root.status();
    const Token& t = Peek();
    if (t.kind == TokenKind::kCloseParen) return ErrorAt(t.column, "unbalanced ')'");
    if (t.kind != TokenKind::kEnd) {
      return ErrorAt(t.column, absl::StrCat("unexpected ", Describe(t),
                                            " after the end of the expression", CaseHint(t)));
    }
    return root;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return tokens_[pos_++]; }
  bool PeekWord(absl::string_view word) const {
    return Peek().kind == TokenKind::kWord && Peek().name == word;
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseOr(int depth) {
    absl::StatusOr<std::unique_ptr<Node>> left = ParseAnd(depth);
    if (!left.ok()) return left.status();
    std::unique_ptr<Node> node = *std::move(left);
    while (PeekWord("OR")) {
      Next();
      absl::StatusOr<std::unique_ptr<Node>> right = ParseAnd(depth);
      if (!right.ok()) return right.status();
      node = std::make_unique<BinaryNode>(false, std::move(node), *std::move(right));
    }
    return node;
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseAnd(int depth) {
    absl::StatusOr<std::unique_ptr<Node>> left = ParseNot(depth);
    if (!left.ok()) return left.status();
    std::unique_ptr<Node> node = *std::move(left);
    while (PeekWord("AND")) {
      Next();
      absl::StatusOr<std::unique_ptr<Node>> right = ParseNot(depth);
      if (!right.ok()) return right.status();
      node = std::make_unique<BinaryNode>(true, std::move(node), *std::move(right));
    }
    return node;
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseNot(int depth) {
    if (depth > kMaxDepth) {
      return ErrorAt(Peek().column, absl::StrCat("expression nested too deeply (more than ",
                                                 kMaxDepth, " levels)"));
    }
    if (PeekWord("NOT")) {
      Next();
      absl::StatusOr<std::unique_ptr<Node>> operand = ParseNot(depth + 1);
      if (!operand.ok()) return operand.status();
      return std::make_unique<NotNode>(*std::move(operand));
    }
    return ParsePrimary(depth);
  }

  absl::StatusOr<std::unique_ptr<Node>> ParsePrimary(int depth) {
    const Token& t = Next();
    if (t.kind == TokenKind::kOpenParen) {
      absl::StatusOr<std::unique_ptr<Node>> inner = ParseOr(depth + 1);
      if (!inner.ok()) return inner.status();
      const Token& close = Peek();
      if (close.kind == TokenKind::kEnd) return ErrorAt(t.column, "unbalanced '('");
      if (close.kind != TokenKind::kCloseParen) {
        return ErrorAt(close.column, absl::StrCat("expected AND, OR or ')', got ", Describe(close),
                                                  CaseHint(close)));
      }
      Next();
      return inner;
    }
    if (t.kind == TokenKind::kWord) {
      if (t.name == "TRUE") return std::make_unique<ConstantNode>(true);
      if (t.name == "FALSE") return std::make_unique<ConstantNode>(false);
      if (t.name == "ALARM") return ParseStateCall(t, AlarmState::kAlarm);
      if (t.name == "OK") return ParseStateCall(t, AlarmState::kOk);
      if (t.name == "INSUFFICIENT_DATA") return ParseStateCall(t, AlarmState::kInsufficientData);
      if (Peek().kind == TokenKind::kOpenParen) {
        return ErrorAt(t.column, absl::StrCat("unknown function '", t.name,
                                              "' (ALARM, OK, INSUFFICIENT_DATA)"));
      }
    }
    return ErrorAt(t.column, absl::StrCat("expected an operand, got ", Describe(t), CaseHint(t)));
  }

  // After ALARM / OK / INSUFFICIENT_DATA: '(' name ')'.
  absl::StatusOr<std::unique_ptr<Node>> ParseStateCall(const Token& function, AlarmState state) {
    const Token& open = Next();
    if (open.kind != TokenKind::kOpenParen) {
      return ErrorAt(open.column, absl::StrCat("expected '(' after ", function.name));
    }
    const Token& name = Next();
    if (name.kind != TokenKind::kWord && name.kind != TokenKind::kQuoted) {
      return ErrorAt(name.column, absl::StrCat("expected a rule name after '", function.name,
                                               "(', got ", Describe(name)));
    }
    const Token& close = Next();
    if (close.kind != TokenKind::kCloseParen) {
      return ErrorAt(close.column,
                     absl::StrCat("expected ')' after the rule name, got ", Describe(close)));
    }
    return std::make_unique<StateNode>(state, name.name);
  }

  const std::vector<Token> tokens_;
  size_t pos_ = 0;
};

class ParsedBoolExpr : public BoolExpr {
 public:
  explicit ParsedBoolExpr(std::unique_ptr<Node> root) : root_(std::move(root)) {
    std::set<std::string> refs;
    root_->CollectReferences(refs);
    references_.assign(refs.begin(), refs.end());
  }

  bool Evaluate(const StateOf& state_of) const override { return root_->Evaluate(state_of); }

  std::vector<std::string> References() const override { return references_; }

 private:
  const std::unique_ptr<Node> root_;
  std::vector<std::string> references_;  // Constant after construction.
};

}  // namespace

absl::StatusOr<std::unique_ptr<BoolExpr>> ParseBoolExpr(absl::string_view text) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text);
  if (!tokens.ok()) return tokens.status();
  Parser parser(*std::move(tokens));
  absl::StatusOr<std::unique_ptr<Node>> root = parser.ParseAll();
  if (!root.ok()) return root.status();
  return std::make_unique<ParsedBoolExpr>(*std::move(root));
}

}  // namespace vigil::alerting
