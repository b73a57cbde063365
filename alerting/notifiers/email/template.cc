#include "alerting/notifiers/email/template.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "kainjow/mustache.hpp"

namespace vigil::alerting {
namespace {

using json = nlohmann::json;
namespace mustache = kainjow::mustache;

constexpr char kDefaultSubject[] =
    "[{{subject_tag}}] {{title}}{{#title_labels}} ({{title_labels}}){{/title_labels}}";

constexpr char kDefaultText[] = R"({{#has_firing}}
{{firing_count}} alarm(s) firing:
{{#firing_alerts}}

[{{state}}] {{rule}}{{#flapping}} (flapping){{/flapping}}
{{#annotations.summary}}
  Summary:     {{annotations.summary}}
{{/annotations.summary}}
{{#description}}
  Description: {{description}}
{{/description}}
  State:       {{state}}{{#previous_state}} (was {{previous_state}}){{/previous_state}}
{{#reason}}
  Reason:      {{reason}}
{{/reason}}
{{#value_text}}
  Value:       {{value_text}}{{#threshold_text}} (threshold {{comparison}} {{threshold_text}}){{/threshold_text}}
{{/value_text}}
{{#labels_text}}
  Labels:      {{labels_text}}
{{/labels_text}}
{{#extra_annotations}}
  {{name}}: {{value}}
{{/extra_annotations}}
{{#runbook}}
  Runbook:     {{runbook}}
{{/runbook}}
{{#starts_at}}
  Started at:  {{starts_at}}
{{/starts_at}}
{{#url}}
  Alarm:       {{url}}
{{/url}}
{{/firing_alerts}}
{{/has_firing}}
{{#has_resolved}}
{{#has_firing}}

{{/has_firing}}
{{resolved_count}} alarm(s) resolved:
{{#resolved_alerts}}

[{{state}}] {{rule}}{{#flapping}} (flapping){{/flapping}}
{{#annotations.summary}}
  Summary:     {{annotations.summary}}
{{/annotations.summary}}
  State:       {{state}}{{#previous_state}} (was {{previous_state}}){{/previous_state}}
{{#reason}}
  Reason:      {{reason}}
{{/reason}}
{{#value_text}}
  Value:       {{value_text}}{{#threshold_text}} (threshold {{comparison}} {{threshold_text}}){{/threshold_text}}
{{/value_text}}
{{#labels_text}}
  Labels:      {{labels_text}}
{{/labels_text}}
{{#runbook}}
  Runbook:     {{runbook}}
{{/runbook}}
{{#starts_at}}
  Started at:  {{starts_at}}
{{/starts_at}}
{{#ends_at}}
  Ended at:    {{ends_at}}
{{/ends_at}}
{{#url}}
  Alarm:       {{url}}
{{/url}}
{{/resolved_alerts}}
{{/has_resolved}}
{{#has_truncated}}

{{truncated_alerts}} more alarm(s) not shown.
{{/has_truncated}}
{{#external_url}}

-- 
Vigil: {{external_url}}
{{/external_url}}
)";

// Inline styles only: most mail clients drop <style> elements and style sheets. The @name@
// placeholders are replaced by the styles below when the default is built, and @row@ by the row
// of one alarm (the same for firing and resolved ones but for the colour and the time column).
constexpr char kHtmlPage[] = R"(<!DOCTYPE html>
<html>
<head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><title>[{{subject_tag}}] {{title}}</title></head>
<body style="margin:0;padding:16px;background-color:#f4f5f7;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:1.4;color:#1f2328;">
<p style="margin:0 0 12px 0;font-size:16px;font-weight:bold;">[{{subject_tag}}] {{title}}{{#title_labels}} <span style="font-weight:normal;color:#57606a;">({{title_labels}})</span>{{/title_labels}}</p>
{{#has_firing}}
<p style="margin:16px 0 6px 0;font-weight:bold;color:#b42318;">{{firing_count}} firing</p>
<table cellpadding="0" cellspacing="0" border="0" style="@table@">
<tr style="background-color:#f6f8fa;text-align:left;"><th style="@th@">State</th><th style="@th@">Alarm</th><th style="@th@">Reason</th><th style="@th@">Value</th><th style="@th@">Labels</th><th style="@th@">Since</th></tr>
{{#firing_alerts}}
@firing_row@
{{/firing_alerts}}
</table>
{{/has_firing}}
{{#has_resolved}}
<p style="margin:16px 0 6px 0;font-weight:bold;color:#1a7f37;">{{resolved_count}} resolved</p>
<table cellpadding="0" cellspacing="0" border="0" style="@table@">
<tr style="background-color:#f6f8fa;text-align:left;"><th style="@th@">State</th><th style="@th@">Alarm</th><th style="@th@">Reason</th><th style="@th@">Value</th><th style="@th@">Labels</th><th style="@th@">Ended</th></tr>
{{#resolved_alerts}}
@resolved_row@
{{/resolved_alerts}}
</table>
{{/has_resolved}}
{{#has_truncated}}
<p style="@small@">{{truncated_alerts}} more alarm(s) not shown.</p>
{{/has_truncated}}
{{#external_url}}
<p style="margin:16px 0 0 0;@small@">Sent by <a href="{{external_url}}" style="color:#57606a;">Vigil</a></p>
{{/external_url}}
</body>
</html>
)";

constexpr char kHtmlRow[] = R"(<tr style="vertical-align:top;">
<td style="@td@white-space:nowrap;"><span style="@badge@background-color:@color@;">{{state}}</span>{{#flapping}}<br><span style="font-size:12px;color:#9a6700;">flapping</span>{{/flapping}}{{#previous_state}}<br><span style="@small@">was {{previous_state}}</span>{{/previous_state}}</td>
<td style="@td@"><strong>{{#url}}<a href="{{url}}" style="color:#0969da;text-decoration:none;">{{rule}}</a>{{/url}}{{^url}}{{rule}}{{/url}}</strong>{{#annotations.summary}}<br>{{annotations.summary}}{{/annotations.summary}}{{#description}}<br><span style="@small@">{{description}}</span>{{/description}}{{#runbook}}<br><a href="{{runbook}}" style="font-size:12px;color:#0969da;">runbook</a>{{/runbook}}</td>
<td style="@td@">{{reason}}</td>
<td style="@td@white-space:nowrap;">{{#value_text}}<strong>{{value_text}}</strong>{{/value_text}}{{#threshold_text}}<br><span style="@small@">{{comparison}} {{threshold_text}}</span>{{/threshold_text}}</td>
<td style="@td@">{{#display_labels}}<span style="@label@">{{name}}={{value}}</span> {{/display_labels}}</td>
<td style="@td@white-space:nowrap;font-size:12px;">@time@</td>
</tr>)";

std::string DefaultHtml() {
  const std::vector<std::pair<std::string, std::string>> styles = {
      {"@table@",
       "border-collapse:collapse;width:100%;background-color:#ffffff;border:1px solid #d0d7de;"
       "font-size:13px;"},
      {"@th@", "padding:6px 8px;border-bottom:1px solid #d0d7de;font-size:12px;color:#57606a;"},
      {"@td@", "padding:6px 8px;border-bottom:1px solid #eaeef2;"},
      {"@small@", "font-size:12px;color:#57606a;"},
      {"@label@",
       "display:inline-block;margin:0 4px 2px 0;padding:0 4px;border-radius:3px;"
       "background-color:#eaeef2;font-size:12px;font-family:Menlo,Consolas,monospace;"},
      {"@badge@",
       "display:inline-block;padding:1px 6px;border-radius:3px;color:#ffffff;font-weight:bold;"
       "font-size:12px;"},
  };
  std::string firing_row =
      absl::StrReplaceAll(kHtmlRow, {{"@color@", "#b42318"}, {"@time@", "{{starts_at}}"}});
  std::string resolved_row =
      absl::StrReplaceAll(kHtmlRow, {{"@color@", "#1a7f37"}, {"@time@", "{{ends_at}}"}});
  std::string page = absl::StrReplaceAll(
      kHtmlPage, {{"@firing_row@", firing_row}, {"@resolved_row@", resolved_row}});
  return absl::StrReplaceAll(page, styles);
}

// Marks a template's blank lines while rendering (removed from the output): kainjow drops a
// line that renders empty when it holds a section tag, which would swallow intended blank lines
// next to standalone tags.
constexpr char kBlankLineMarker = '\x1e';

// True when `s` is only section, inverted-section, end and comment tags (and spaces).
bool OnlyStandaloneTags(absl::string_view s) {
  bool any = false;
  while (!s.empty()) {
    s = absl::StripLeadingAsciiWhitespace(s);
    if (s.empty()) break;
    if (s.size() < 5 || s.substr(0, 2) != "{{" ||
        absl::string_view("#^/!").find(s[2]) == absl::string_view::npos) {
      return false;
    }
    size_t close = s.find("}}");
    if (close == absl::string_view::npos) return false;
    s.remove_prefix(close + 2);
    any = true;
  }
  return any;
}

// The Mustache spec's "standalone lines" rule, which kainjow applies only in part: a line that
// holds nothing but section or comment tags is removed, tags kept (so `{{#runbook}}` on a line
// of its own leaves no blank line when there is no runbook); blank lines are marked so they are
// kept. Not applied to templates that change the delimiters.
std::string NormalizeLines(absl::string_view tmpl) {
  if (absl::StrContains(tmpl, "{{=")) return std::string(tmpl);
  std::string out;
  out.reserve(tmpl.size() + 64);
  size_t start = 0;
  while (start < tmpl.size()) {
    size_t newline = tmpl.find('\n', start);
    bool has_newline = newline != absl::string_view::npos;
    absl::string_view line =
        tmpl.substr(start, has_newline ? newline - start : absl::string_view::npos);
    absl::string_view content = absl::StripAsciiWhitespace(line);
    if (content.empty() && has_newline) {
      out.push_back(kBlankLineMarker);
      absl::StrAppend(&out, line, "\n");
    } else if (OnlyStandaloneTags(content)) {
      out.append(content.data(), content.size());
    } else {
      out.append(line.data(), line.size());
      if (has_newline) out.push_back('\n');
    }
    if (!has_newline) break;
    start = newline + 1;
  }
  return out;
}

mustache::data ToData(const json& j) {
  switch (j.type()) {
    case json::value_t::object: {
      mustache::data d(mustache::data::type::object);
      for (const auto& [key, value] : j.items()) d.set(key, ToData(value));
      return d;
    }
    case json::value_t::array: {
      mustache::data d(mustache::data::type::list);
      for (const json& value : j) d.push_back(ToData(value));
      return d;
    }
    case json::value_t::string: {
      const std::string& s = j.get_ref<const std::string&>();
      if (s.empty()) return mustache::data(false);
      return mustache::data(s);
    }
    case json::value_t::boolean:
      return mustache::data(j.get<bool>());
    case json::value_t::number_integer:
      return mustache::data(std::to_string(j.get<int64_t>()));
    case json::value_t::number_unsigned:
      return mustache::data(std::to_string(j.get<uint64_t>()));
    case json::value_t::number_float:
      return mustache::data(absl::StrFormat("%.6g", j.get<double>()));
    default:  // null, binary, discarded
      return mustache::data(false);
  }
}

// kainjow reports `Unclosed section "x" at 12` with a byte offset; users need line and column.
absl::Status TemplateError(absl::string_view tmpl, const std::string& message) {
  size_t at = message.rfind(" at ");
  size_t offset = 0;
  if (at != std::string::npos && absl::SimpleAtoi(message.substr(at + 4), &offset) &&
      offset <= tmpl.size()) {
    int line = 1, column = 1;
    for (size_t i = 0; i < offset; ++i) {
      if (tmpl[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return absl::InvalidArgumentError(absl::StrCat("template error at line ", line, ", column ",
                                                   column, ": ", message.substr(0, at)));
  }
  return absl::InvalidArgumentError(absl::StrCat("template error: ", message));
}

std::string LabelValue(const Labels& labels, absl::string_view name) {
  for (const auto& [k, v] : labels) {
    if (k == name) return v;
  }
  return "";
}

std::string SubjectTag(const Notification& n) {
  // The alarms' common state (ALARM, INSUFFICIENT_DATA, OK) among the firing ones, or among the
  // resolved ones when none fires; a count while firing, as Alertmanager's [FIRING:2].
  bool firing = n.firing_count() > 0;
  std::string state;
  bool uniform = true;
  for (const Alert& a : n.alerts) {
    if (a.firing() != firing) continue;
    if (state.empty()) {
      state = a.state;
    } else if (state != a.state) {
      uniform = false;
    }
  }
  if (!uniform || state.empty()) state = firing ? "ALARM" : "OK";
  if (firing) return absl::StrCat(state, ":", n.firing_count());
  return state;
}

void AddAlertExtras(json& alert) {
  std::vector<std::string> pairs;
  json display = json::array();
  for (const json& label : alert["labels_list"]) {
    const std::string& name = label["name"].get_ref<const std::string&>();
    if (name == "alertname") continue;
    const std::string& value = label["value"].get_ref<const std::string&>();
    pairs.push_back(absl::StrCat(name, "=", value));
    display.push_back(label);
  }
  alert["labels_text"] = absl::StrJoin(pairs, " ");
  alert["display_labels"] = display;
  std::string runbook;
  json extra = json::array();
  for (const json& annotation : alert["annotations_list"]) {
    const std::string& name = annotation["name"].get_ref<const std::string&>();
    if (name == "runbook" || name == "runbook_url") {
      if (runbook.empty() || name == "runbook") {
        runbook = annotation["value"].get<std::string>();
      }
      continue;
    }
    if (name == "summary" || name == "description") continue;
    extra.push_back(annotation);
  }
  alert["runbook"] = runbook;
  alert["extra_annotations"] = extra;
}

}  // namespace

const EmailTemplates& DefaultEmailTemplates() {
  static const EmailTemplates* const kDefaults =
      new EmailTemplates{kDefaultSubject, kDefaultText, DefaultHtml()};
  return *kDefaults;
}

absl::Status CheckTemplate(absl::string_view tmpl) {
  try {
    mustache::mustache parsed{std::string(tmpl)};
    if (!parsed.is_valid()) return TemplateError(tmpl, parsed.error_message());
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("template error: ", e.what()));
  }
}

absl::StatusOr<std::string> RenderTemplate(absl::string_view tmpl, const json& context,
                                           TemplateMode mode) {
  // Checked as written, so error positions are the user's; rendered after NormalizeLines,
  // which only moves whitespace and cannot make a valid template invalid.
  absl::Status valid = CheckTemplate(tmpl);
  if (!valid.ok()) return valid;
  try {
    mustache::mustache parsed{NormalizeLines(tmpl)};
    if (!parsed.is_valid()) return TemplateError(tmpl, parsed.error_message());
    if (mode == TemplateMode::kText) {
      parsed.set_custom_escape([](const std::string& s) { return s; });
    }
    std::string out = parsed.render(ToData(context));
    if (!parsed.is_valid()) return TemplateError(tmpl, parsed.error_message());
    out.erase(std::remove(out.begin(), out.end(), kBlankLineMarker), out.end());
    return out;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("template error: ", e.what()));
  }
}

json EmailTemplateContext(const Notification& n) {
  json context = TemplateContext(n);
  context["subject_tag"] = SubjectTag(n);

  // Title: what the alarms have in common, the way Alertmanager's subject shows group labels.
  std::set<std::string> in_title = {"alertname"};
  std::string title = LabelValue(n.common_labels, "alertname");
  if (title.empty() && !n.group_labels.empty()) {
    std::vector<std::string> values;
    for (const auto& [k, v] : n.group_labels) {
      values.push_back(v);
      in_title.insert(k);
    }
    title = absl::StrJoin(values, " ");
  }
  if (title.empty()) {
    std::vector<std::string> rules;
    for (const Alert& a : n.alerts) {
      if (std::find(rules.begin(), rules.end(), a.rule) == rules.end()) rules.push_back(a.rule);
    }
    if (rules.size() > 3) {
      size_t more = rules.size() - 3;
      rules.resize(3);
      rules.push_back(absl::StrCat("and ", more, " more"));
    }
    title = absl::StrJoin(rules, ", ");
  }
  std::vector<std::string> title_labels;
  for (const auto& [k, v] : n.common_labels) {
    if (in_title.count(k) == 0) title_labels.push_back(absl::StrCat(k, "=", v));
  }
  context["title"] = title;
  context["title_labels"] = absl::StrJoin(title_labels, " ");
  context["has_firing"] = n.firing_count() > 0;
  context["has_resolved"] = n.resolved_count() > 0;
  context["has_truncated"] = n.truncated_alerts > 0;
  for (const char* list : {"alerts", "firing_alerts", "resolved_alerts"}) {
    for (json& alert : context[list]) AddAlertExtras(alert);
  }
  return context;
}

absl::StatusOr<RenderedEmail> RenderEmail(const EmailTemplates& templates, const Notification& n) {
  json context = EmailTemplateContext(n);
  RenderedEmail out;
  absl::StatusOr<std::string> subject =
      RenderTemplate(templates.subject, context, TemplateMode::kText);
  if (!subject.ok())
    return absl::Status(subject.status().code(),
                        absl::StrCat("subject: ", subject.status().message()));
  // One line: a newline from a template or a label must not end the header (mime.cc replaces
  // control characters again; this keeps the subject tidy).
  std::string one_line;
  for (char c : *subject) {
    bool space = c == '\r' || c == '\n' || c == '\t' || c == ' ';
    if (space) {
      if (!one_line.empty() && one_line.back() != ' ') one_line.push_back(' ');
    } else {
      one_line.push_back(c);
    }
  }
  while (!one_line.empty() && one_line.back() == ' ') one_line.pop_back();
  out.subject = std::move(one_line);

  absl::StatusOr<std::string> text = RenderTemplate(templates.text, context, TemplateMode::kText);
  if (!text.ok())
    return absl::Status(text.status().code(), absl::StrCat("text: ", text.status().message()));
  out.text = std::move(*text);
  if (!templates.html.empty()) {
    absl::StatusOr<std::string> html = RenderTemplate(templates.html, context, TemplateMode::kHtml);
    if (!html.ok())
      return absl::Status(html.status().code(), absl::StrCat("html: ", html.status().message()));
    out.html = std::move(*html);
  }
  return out;
}

EmailTemplates ReadEmailTemplates(ConfigMap& config, const EmailTemplates& defaults) {
  EmailTemplates out = defaults;
  struct Key {
    const char* name;
    std::string* value;
    bool may_be_empty;
  };
  for (const Key& key : {Key{"subject", &out.subject, false}, Key{"text", &out.text, false},
                         Key{"html", &out.html, true}}) {
    std::optional<std::string> value = config.OptionalString(key.name);
    if (!value) continue;
    if (!key.may_be_empty && absl::StripAsciiWhitespace(*value).empty()) {
      config.Error(key.name, "must not be empty");
      continue;
    }
    absl::Status status = CheckTemplate(*value);
    if (!status.ok()) {
      config.Error(key.name, status.message());
      continue;
    }
    *key.value = std::move(*value);
  }
  return out;
}

}  // namespace vigil::alerting
