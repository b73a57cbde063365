#include "agent/checks/nginx/access_log_format.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vigil::agent::nginx {
namespace {

bool IsNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Literal text from the config, quoted for a message (it is not from the log, so not secret).
std::string Quote(absl::string_view literal) {
  std::string out = "'";
  for (char c : literal) {
    if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

// The first occurrence of `literal` in `s`. When the literal starts with a quote, a quote
// escaped by a backslash (escape=json writes \") is part of the value, not the separator.
size_t FindLiteral(absl::string_view s, absl::string_view literal) {
  size_t from = 0;
  while (true) {
    size_t p = s.find(literal, from);
    if (p == absl::string_view::npos || literal[0] != '"') return p;
    size_t b = p;
    while (b > 0 && s[b - 1] == '\\') --b;
    if ((p - b) % 2 == 0) return p;
    from = p + 1;
  }
}

// One item of $upstream_response_time: seconds or "-". Returns its length, 0 if none.
size_t MatchUpstreamItem(absl::string_view s, uint64_t* millis, bool* has_value) {
  if (!s.empty() && s[0] == '-') return 1;
  uint64_t ms = 0;
  size_t n = ParseSecondsAsMillis(s, &ms);
  if (n > 0) {
    *millis += ms;
    *has_value = true;
  }
  return n;
}

// The longest "item (sep item)*" prefix of `s` with sep ", " (several upstreams tried) or
// " : " (an internal redirect to another upstream group). Numbers are summed into *millis.
size_t MatchUpstreamList(absl::string_view s, uint64_t* millis, bool* has_value) {
  uint64_t sum = 0;
  bool any = false;
  size_t len = MatchUpstreamItem(s, &sum, &any);
  if (len == 0) return 0;
  while (true) {
    size_t sep = 0;
    absl::string_view rest = s.substr(len);
    if (absl::StartsWith(rest, ", ")) {
      sep = 2;
    } else if (absl::StartsWith(rest, " : ")) {
      sep = 3;
    } else {
      break;
    }
    uint64_t item_ms = 0;
    bool item_any = false;
    size_t item = MatchUpstreamItem(rest.substr(sep), &item_ms, &item_any);
    if (item == 0) break;
    sum += item_ms;
    any = any || item_any;
    len += sep + item;
  }
  *millis = sum;
  *has_value = any;
  return len;
}

}  // namespace

size_t ParseSecondsAsMillis(absl::string_view text, uint64_t* millis) {
  constexpr size_t kMaxIntegerDigits = 12;  // ~31,700 years; longer is not a duration
  size_t i = 0;
  uint64_t seconds = 0;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
    if (i == kMaxIntegerDigits) return 0;
    seconds = seconds * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
  }
  if (i == 0) return 0;
  uint64_t ms = seconds * 1000;
  if (i + 1 < text.size() && text[i] == '.' &&
      absl::ascii_isdigit(static_cast<unsigned char>(text[i + 1]))) {
    ++i;
    uint64_t frac = 0;
    int digits = 0;
    bool round_up = false;
    while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      int d = text[i] - '0';
      if (digits < 3) {
        frac = frac * 10 + static_cast<uint64_t>(d);
      } else if (digits == 3) {
        round_up = d >= 5;
      }
      ++digits;
      ++i;
    }
    for (int d = digits; d < 3; ++d) frac *= 10;
    ms += frac + (round_up ? 1 : 0);
  }
  *millis = ms;
  return i;
}

absl::StatusOr<AccessLogFormat> AccessLogFormat::Compile(absl::string_view format) {
  if (format.empty()) return absl::InvalidArgumentError("log_format is empty");
  AccessLogFormat f;
  bool has_status = false;
  std::string literal;  // text since the last variable
  size_t i = 0;
  while (i < format.size()) {
    if (format[i] != '$') {
      literal += format[i++];
      continue;
    }
    const size_t column = i + 1;
    ++i;
    std::string name;
    if (i < format.size() && format[i] == '{') {
      size_t close = format.find('}', i);
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("log_format: column ", column, ": '${' without a closing '}'"));
      }
      name = std::string(format.substr(i + 1, close - i - 1));
      i = close + 1;
      bool valid = !name.empty();
      for (char c : name) valid = valid && IsNameChar(c);
      if (!valid) {
        return absl::InvalidArgumentError(
            absl::StrCat("log_format: column ", column, ": invalid variable name ", Quote(name)));
      }
    } else {
      while (i < format.size() && IsNameChar(format[i])) name += format[i++];
      if (name.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("log_format: column ", column,
                                                       ": '$' is not followed by a variable name"));
      }
    }
    if (f.fields_.empty()) {
      f.prefix_ = std::move(literal);
    } else if (literal.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "log_format: column ", column, ": $", f.fields_.back().name, " is followed directly by $",
          name, "; the two values cannot be told apart without text between them"));
    } else {
      f.fields_.back().literal = std::move(literal);
    }
    literal.clear();

    std::string lower = absl::AsciiStrToLower(name);
    Kind kind = Kind::kOpaque;
    if (lower == "status") {
      kind = Kind::kStatus;
      has_status = true;
    } else if (lower == "request_time") {
      kind = Kind::kRequestTime;
      f.has_request_time_ = true;
    } else if (lower == "upstream_response_time") {
      kind = Kind::kUpstreamResponseTime;
      f.has_upstream_time_ = true;
    } else if (lower == "request_method") {
      kind = Kind::kRequestMethod;
      f.has_method_ = true;
      f.has_request_method_var_ = true;
    } else if (lower == "request") {
      kind = Kind::kRequest;
      f.has_method_ = true;
    } else if (lower == "host") {
      kind = Kind::kHost;
      f.has_host_ = true;
    }
    f.fields_.push_back(Field{kind, std::move(name), ""});
  }
  if (f.fields_.empty()) {
    return absl::InvalidArgumentError("log_format has no variables (it needs at least $status)");
  }
  f.fields_.back().literal = std::move(literal);
  if (!has_status) {
    return absl::InvalidArgumentError(
        "log_format has no $status; the check counts responses by status");
  }
  return f;
}

absl::StatusOr<AccessLogRecord> AccessLogFormat::Parse(absl::string_view line) const {
  auto error = [](size_t pos, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("column ", pos + 1, ": ", what));
  };
  if (!absl::StartsWith(line, prefix_)) {
    return error(0, absl::StrCat("expected ", Quote(prefix_), " at the start of the line"));
  }
  AccessLogRecord record;
  std::optional<absl::string_view> request_method, request;
  size_t pos = prefix_.size();
  for (const Field& field : fields_) {
    absl::string_view rest = line.substr(pos);
    size_t len = 0;
    const char* form = nullptr;  // set for typed variables
    switch (field.kind) {
      case Kind::kStatus: {
        form = "three digits";
        if (rest.size() >= 3 && absl::ascii_isdigit(static_cast<unsigned char>(rest[0])) &&
            absl::ascii_isdigit(static_cast<unsigned char>(rest[1])) &&
            absl::ascii_isdigit(static_cast<unsigned char>(rest[2]))) {
          len = 3;
          record.status = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
        } else {
          return error(pos, "$status: expected three digits");
        }
        break;
      }
      case Kind::kRequestTime: {
        form = "seconds such as 0.004";
        uint64_t ms = 0;
        len = ParseSecondsAsMillis(rest, &ms);
        if (len > 0) {
          record.request_time_ms = ms;
        } else if (!rest.empty() && rest[0] == '-') {
          len = 1;
        }
        break;
      }
      case Kind::kUpstreamResponseTime: {
        form = "seconds, '-' or a list of them";
        uint64_t ms = 0;
        bool has_value = false;
        len = MatchUpstreamList(rest, &ms, &has_value);
        if (has_value) record.upstream_time_ms = ms;
        break;
      }
      default: {
        if (field.literal.empty()) {
          len = rest.size();
        } else if (&field == &fields_.back()) {
          // The last variable takes everything up to the format's closing text.
          if (!absl::EndsWith(rest, field.literal)) {
            return error(line.size(), absl::StrCat("expected ", Quote(field.literal),
                                                   " at the end of the line (truncated line?)"));
          }
          len = rest.size() - field.literal.size();
        } else {
          len = FindLiteral(rest, field.literal);
          if (len == absl::string_view::npos) {
            return error(line.size(), absl::StrCat("expected ", Quote(field.literal), " after $",
                                                   field.name, " (truncated line?)"));
          }
        }
        absl::string_view value = rest.substr(0, len);
        bool empty = value.empty() || value == "-";
        if (field.kind == Kind::kRequestMethod && !empty) request_method = value;
        if (field.kind == Kind::kRequest && !empty) request = value;
        if (field.kind == Kind::kHost && !empty) record.host = value;
        break;
      }
    }
    if (form != nullptr) {
      // A typed value ends where its form ends; the format's text must follow.
      absl::string_view after = rest.substr(len);
      bool followed =
          field.literal.empty() ? after.empty() : absl::StartsWith(after, field.literal);
      if (!followed) {
        if (len == 0) return error(pos, absl::StrCat("$", field.name, ": expected ", form));
        if (field.literal.empty()) {
          return error(pos + len, absl::StrCat("unexpected text after $", field.name,
                                               " at the end of the format"));
        }
        return error(pos + len,
                     absl::StrCat("expected ", Quote(field.literal), " after $", field.name));
      }
    }
    pos += len + field.literal.size();
  }
  if (pos != line.size()) {
    return error(pos, "unexpected text after the end of the format");
  }
  if (request_method) {
    record.method = request_method;
  } else if (!has_request_method_var_ && request) {
    record.method = request->substr(0, request->find(' '));
  }
  return record;
}

}  // namespace vigil::agent::nginx
