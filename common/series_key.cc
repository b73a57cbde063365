#include "common/series_key.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace vigil {

void SeriesKey::Normalize() {
  std::stable_sort(labels.begin(), labels.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Keep the last value of a repeated name.
  Labels unique;
  unique.reserve(labels.size());
  for (auto& l : labels) {
    if (!unique.empty() && unique.back().first == l.first) {
      unique.back().second = std::move(l.second);
    } else {
      unique.push_back(std::move(l));
    }
  }
  labels = std::move(unique);
}

absl::string_view SeriesKey::Label(absl::string_view name) const {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return {};
}

std::string SeriesKey::ToString() const {
  std::string out = metric;
  if (labels.empty()) return out;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    absl::StrAppend(&out, k, "=\"");
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

absl::StatusOr<SeriesKey> ParseSeriesKey(absl::string_view text) {
  SeriesKey key;
  size_t brace = text.find('{');
  key.metric = std::string(absl::StripAsciiWhitespace(text.substr(0, brace)));
  if (!IsValidMetricName(key.metric)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric name '", key.metric, "'"));
  }
  if (brace == absl::string_view::npos) return key;
  size_t i = brace + 1;
  auto skip_space = [&] {
    while (i < text.size() && absl::ascii_isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  for (;;) {
    skip_space();
    if (i < text.size() && text[i] == '}') {
      ++i;
      break;
    }
    size_t name_start = i;
    while (i < text.size() && text[i] != '=' && text[i] != ',' && text[i] != '}') ++i;
    std::string name(absl::StripAsciiWhitespace(text.substr(name_start, i - name_start)));
    if (i >= text.size() || text[i] != '=' || !IsValidLabelName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected label=\"value\" at offset ", name_start, " in '", text, "'"));
    }
    ++i;
    skip_space();
    if (i >= text.size() || text[i] != '"') {
      return absl::InvalidArgumentError(
          absl::StrCat("expected '\"' at offset ", i, " in '", text, "'"));
    }
    ++i;
    std::string value;
    bool closed = false;
    while (i < text.size()) {
      char c = text[i++];
      if (c == '\\' && i < text.size()) {
        char e = text[i++];
        value += e == 'n' ? '\n' : e;
      } else if (c == '"') {
        closed = true;
        break;
      } else {
        value += c;
      }
    }
    if (!closed) {
      return absl::InvalidArgumentError(absl::StrCat("unterminated label value in '", text, "'"));
    }
    key.labels.emplace_back(std::move(name), std::move(value));
    skip_space();
    if (i < text.size() && text[i] == ',') ++i;
  }
  skip_space();
  if (i != text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("trailing characters in '", text, "'"));
  }
  key.Normalize();
  return key;
}

bool IsValidMetricName(absl::string_view name) {
  if (name.empty() || !absl::ascii_islower(static_cast<unsigned char>(name[0]))) return false;
  char prev = 0;
  for (char c : name) {
    bool ok = absl::ascii_islower(static_cast<unsigned char>(c)) ||
              absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '.';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return prev != '.';
}

bool IsValidLabelName(absl::string_view name) {
  if (name.empty()) return false;
  if (!(absl::ascii_islower(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace vigil
