#include "common/selector.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vigil {
namespace {

// Recursive-descent parser over the selector text; every error names the offset where it was
// detected so a user can find the mistake in a long expression.
class SelectorParser {
 public:
  explicit SelectorParser(absl::string_view text) : text_(text) {}

  absl::StatusOr<SeriesSelector> Parse() {
    SeriesSelector selector;
    SkipSpace();
    if (AtEnd()) return Error("empty selector", pos_);
    if (text_[pos_] != '{') {
      size_t start = pos_;
      while (!AtEnd() && text_[pos_] != '{' &&
             !absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
        ++pos_;
      }
      absl::string_view metric = text_.substr(start, pos_ - start);
      if (!IsValidMetricName(metric)) {
        return Error(absl::StrCat("invalid metric name '", metric, "'"), start);
      }
      selector.metric = std::string(metric);
      SkipSpace();
    }
    if (!AtEnd() && text_[pos_] == '{') {
      ++pos_;
      absl::Status status = ParseMatchers(selector.matchers);
      if (!status.ok()) return status;
      SkipSpace();
    }
    if (!AtEnd()) {
      return Error(absl::StrCat("unexpected '", text_.substr(pos_, 1), "' after the selector"),
                   pos_);
    }
    return selector;
  }

 private:
  // Parses `a="x", b!~"re" }` after the opening brace, consuming the closing brace.
  absl::Status ParseMatchers(std::vector<LabelMatcher>& matchers) {
    for (;;) {
      SkipSpace();
      if (AtEnd()) return Error("missing '}'", pos_);
      if (text_[pos_] == '}') {
        ++pos_;
        return absl::OkStatus();
      }
      absl::StatusOr<LabelMatcher> matcher = ParseMatcher();
      if (!matcher.ok()) return matcher.status();
      matchers.push_back(*std::move(matcher));
      SkipSpace();
      if (AtEnd()) return Error("missing '}'", pos_);
      if (text_[pos_] == ',') {
        ++pos_;
      } else if (text_[pos_] != '}') {
        return Error(absl::StrCat("expected ',' or '}' but found '", text_.substr(pos_, 1), "'"),
                     pos_);
      }
    }
  }

  absl::StatusOr<LabelMatcher> ParseMatcher() {
    LabelMatcher matcher;
    size_t name_start = pos_;
    while (!AtEnd() && IsNameChar(text_[pos_])) ++pos_;
    absl::string_view name = text_.substr(name_start, pos_ - name_start);
    if (name.empty()) {
      return Error(absl::StrCat("expected a label name but found '", text_.substr(pos_, 1), "'"),
                   pos_);
    }
    if (!IsValidLabelName(name)) {
      return Error(absl::StrCat("invalid label name '", name, "'"), name_start);
    }
    matcher.name = std::string(name);
    SkipSpace();
    size_t op_start = pos_;
    absl::string_view rest = text_.substr(pos_);
    if (absl::StartsWith(rest, "=~")) {
      matcher.op = LabelMatcher::Op::kRegex;
      pos_ += 2;
    } else if (absl::StartsWith(rest, "!~")) {
      matcher.op = LabelMatcher::Op::kNotRegex;
      pos_ += 2;
    } else if (absl::StartsWith(rest, "!=")) {
      matcher.op = LabelMatcher::Op::kNotEqual;
      pos_ += 2;
    } else if (absl::StartsWith(rest, "=")) {
      matcher.op = LabelMatcher::Op::kEqual;
      pos_ += 1;
    } else {
      return Error(absl::StrCat("expected one of =, !=, =~, !~ after label '", matcher.name, "'"),
                   op_start);
    }
    SkipSpace();
    size_t value_start = pos_;
    absl::StatusOr<std::string> value = ParseQuoted(matcher.name);
    if (!value.ok()) return value.status();
    absl::StatusOr<LabelMatcher> made =
        MakeLabelMatcher(std::move(matcher.name), matcher.op, *std::move(value));
    if (!made.ok()) return Error(made.status().message(), value_start);
    return made;
  }

  // A double-quoted string with the escapes \\, \", \n and \t.
  absl::StatusOr<std::string> ParseQuoted(absl::string_view label) {
    if (AtEnd() || text_[pos_] != '"') {
      return Error(absl::StrCat("expected '\"' to start the value of label '", label, "'"), pos_);
    }
    size_t start = pos_;
    ++pos_;
    std::string value;
    while (!AtEnd()) {
      char c = text_[pos_++];
      if (c == '"') return value;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (AtEnd()) break;
      char e = text_[pos_++];
      switch (e) {
        case '\\':
        case '"':
          value += e;
          break;
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        default:
          return Error(absl::StrCat("unknown escape '\\", absl::string_view(&e, 1),
                                    "' in the value of label '", label, "'"),
                       pos_ - 2);
      }
    }
    return Error(absl::StrCat("unterminated value of label '", label, "'"), start);
  }

  static bool IsNameChar(char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  void SkipSpace() {
    while (!AtEnd() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  absl::Status Error(absl::string_view what, size_t offset) const {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " at offset ", offset, " in selector '", text_, "'"));
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<LabelMatcher> MakeLabelMatcher(std::string name, LabelMatcher::Op op,
                                              std::string value) {
  LabelMatcher matcher;
  matcher.name = std::move(name);
  matcher.op = op;
  matcher.value = std::move(value);
  if (op == LabelMatcher::Op::kRegex || op == LabelMatcher::Op::kNotRegex) {
    // std::regex reports a bad pattern by throwing; this is the adapter that converts it.
    try {
      matcher.regex = std::make_shared<const std::regex>(absl::StrCat("^(?:", matcher.value, ")$"),
                                                         std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad regex for label '", matcher.name, "': ", e.what()));
    }
  }
  return matcher;
}

bool LabelMatcher::Matches(const SeriesKey& key) const {
  absl::string_view actual = name == "__name__" ? absl::string_view(key.metric) : key.Label(name);
  switch (op) {
    case Op::kEqual:
      return actual == value;
    case Op::kNotEqual:
      return actual != value;
    case Op::kRegex:
      if (regex == nullptr) std::abort();  // built without MakeLabelMatcher: a programming error
      return std::regex_match(actual.begin(), actual.end(), *regex);
    case Op::kNotRegex:
      if (regex == nullptr) std::abort();
      return !std::regex_match(actual.begin(), actual.end(), *regex);
  }
  return false;
}

bool SeriesSelector::Matches(const SeriesKey& key) const {
  if (!metric.empty() && key.metric != metric) return false;
  for (const LabelMatcher& m : matchers) {
    if (!m.Matches(key)) return false;
  }
  return true;
}

absl::StatusOr<SeriesSelector> ParseSelector(absl::string_view text) {
  return SelectorParser(text).Parse();
}

}  // namespace vigil
