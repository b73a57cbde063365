#include "alerting/notify/alert_labels.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "alerting/notify/matchers.h"
#include "common/secret.h"

namespace vigil::alerting {
namespace {

std::string PercentEncode(absl::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

Labels AlertLabels(const Rule& rule, const Labels& instance_labels) {
  std::map<std::string, std::string> out;
  std::map<std::string, std::string> implied;
  std::set<std::string> conflicting;
  for (const MetricQuery& q : rule.queries) {
    for (const LabelMatcher& m : q.where) {
      if (m.op != LabelMatcher::Op::kEqual) continue;
      auto [it, inserted] = implied.emplace(m.name, m.value);
      if (!inserted && it->second != m.value) conflicting.insert(m.name);
    }
  }
  for (const std::string& name : conflicting) implied.erase(name);
  out = std::move(implied);
  for (const auto& [k, v] : instance_labels) out[k] = v;
  for (const auto& [k, v] : rule.labels) out[k] = v;
  if (!rule.severity.empty()) out["severity"] = rule.severity;
  out["alertname"] = rule.name;
  out["rule"] = rule.name;
  return Labels(out.begin(), out.end());
}

std::string Fingerprint(const Labels& labels) {
  return Sha256Hex(FormatLabels(labels)).substr(0, 16);
}

std::string RenderAnnotation(absl::string_view text, const Labels& labels) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == absl::string_view::npos) break;
    size_t close = text.find("}}", open + 2);
    if (close == absl::string_view::npos) break;
    absl::string_view name = absl::StripAsciiWhitespace(text.substr(open + 2, close - open - 2));
    bool is_name = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    out.append(text.data() + pos, open - pos);
    if (is_name) {
      absl::StrAppend(&out, LabelValue(labels, name));
    } else {
      out.append(text.data() + open, close + 2 - open);
    }
    pos = close + 2;
  }
  out.append(text.data() + pos, text.size() - pos);
  return out;
}

std::map<std::string, std::string> RenderAnnotations(
    const std::map<std::string, std::string>& annotations, const Labels& labels) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : annotations) out[k] = RenderAnnotation(v, labels);
  return out;
}

std::string AlarmUrl(absl::string_view external_url, absl::string_view rule,
                     absl::string_view instance) {
  if (external_url.empty()) return "";
  while (!external_url.empty() && external_url.back() == '/') external_url.remove_suffix(1);
  std::string url = absl::StrCat(external_url, "/#/alarms/", PercentEncode(rule));
  if (!instance.empty() && instance != "{}") {
    absl::StrAppend(&url, "?instance=", PercentEncode(instance));
  }
  return url;
}

}  // namespace vigil::alerting
