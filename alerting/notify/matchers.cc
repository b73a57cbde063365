#include "alerting/notify/matchers.h"

#include <algorithm>
#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vigil::alerting {
namespace {

bool IsNameStart(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

absl::Status Bad(absl::string_view text, absl::string_view what, size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrCat("matcher '", text, "': ", what, " at offset ", offset));
}

void AppendEscaped(std::string* out, absl::string_view value) {
  for (char c : value) {
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += c;
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '\t') {
      *out += "\\t";
    } else {
      *out += c;
    }
  }
}

}  // namespace

absl::StatusOr<LabelMatcher> ParseAlertMatcher(absl::string_view text) {
  size_t pos = 0;
  auto skip_space = [&] {
    while (pos < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  };
  skip_space();
  if (pos == text.size()) return absl::InvalidArgumentError("empty matcher");
  const size_t name_start = pos;
  if (!IsNameStart(text[pos])) return Bad(text, "expected a label name", pos);
  while (pos < text.size() && IsNameChar(text[pos])) ++pos;
  std::string name(text.substr(name_start, pos - name_start));
  skip_space();
  absl::string_view rest = text.substr(pos);
  LabelMatcher::Op op;
  if (absl::StartsWith(rest, "=~")) {
    op = LabelMatcher::Op::kRegex;
    pos += 2;
  } else if (absl::StartsWith(rest, "!~")) {
    op = LabelMatcher::Op::kNotRegex;
    pos += 2;
  } else if (absl::StartsWith(rest, "!=")) {
    op = LabelMatcher::Op::kNotEqual;
    pos += 2;
  } else if (absl::StartsWith(rest, "=")) {
    op = LabelMatcher::Op::kEqual;
    pos += 1;
  } else {
    return Bad(text, absl::StrCat("expected one of =, !=, =~, !~ after '", name, "'"), pos);
  }
  skip_space();
  std::string value;
  if (pos < text.size() && text[pos] == '"') {
    const size_t quote = pos++;
    bool closed = false;
    while (pos < text.size()) {
      char c = text[pos++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c != '\\') {
        value += c;
        continue;
      }
      if (pos == text.size()) break;
      char e = text[pos++];
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
          return Bad(text, absl::StrCat("unknown escape '\\", absl::string_view(&e, 1), "'"),
                     pos - 2);
      }
    }
    if (!closed) return Bad(text, "unterminated quoted value", quote);
    skip_space();
    if (pos != text.size()) {
      return Bad(text, absl::StrCat("unexpected '", text.substr(pos, 1), "' after the value"), pos);
    }
  } else {
    absl::string_view bare = absl::StripAsciiWhitespace(text.substr(pos));
    if (absl::StrContains(bare, '"')) {
      return Bad(text, "a bare value may not contain '\"' (quote the value)", pos);
    }
    value = std::string(bare);
  }
  absl::StatusOr<LabelMatcher> m = MakeLabelMatcher(std::move(name), op, std::move(value));
  if (!m.ok())
    return absl::InvalidArgumentError(absl::StrCat("matcher '", text, "': ", m.status().message()));
  return m;
}

absl::string_view LabelValue(const Labels& labels, absl::string_view name) {
  auto it = std::lower_bound(labels.begin(), labels.end(), name,
                             [](const std::pair<std::string, std::string>& l, absl::string_view n) {
                               return l.first < n;
                             });
  if (it != labels.end() && it->first == name) return it->second;
  return "";
}

bool MatchesLabels(const LabelMatcher& m, const Labels& labels) {
  absl::string_view v = LabelValue(labels, m.name);
  switch (m.op) {
    case LabelMatcher::Op::kEqual:
      return v == m.value;
    case LabelMatcher::Op::kNotEqual:
      return v != m.value;
    case LabelMatcher::Op::kRegex:
      return std::regex_match(v.begin(), v.end(), *m.regex);
    case LabelMatcher::Op::kNotRegex:
      return !std::regex_match(v.begin(), v.end(), *m.regex);
  }
  return false;
}

bool MatchesAll(const std::vector<LabelMatcher>& matchers, const Labels& labels) {
  for (const LabelMatcher& m : matchers) {
    if (!MatchesLabels(m, labels)) return false;
  }
  return true;
}

std::string FormatLabels(const Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    absl::StrAppend(&out, k, "=\"");
    AppendEscaped(&out, v);
    out += '"';
  }
  out += '}';
  return out;
}

std::string FormatMatcher(const LabelMatcher& m) {
  const char* op = "=";
  switch (m.op) {
    case LabelMatcher::Op::kEqual:
      op = "=";
      break;
    case LabelMatcher::Op::kNotEqual:
      op = "!=";
      break;
    case LabelMatcher::Op::kRegex:
      op = "=~";
      break;
    case LabelMatcher::Op::kNotRegex:
      op = "!~";
      break;
  }
  std::string out = absl::StrCat(m.name, op, "\"");
  AppendEscaped(&out, m.value);
  out += '"';
  return out;
}

}  // namespace vigil::alerting
