#include "alerting/notifiers/email/template.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "alerting/notifiers/email/email_test_util.h"
#include "common/config_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RenderedEmail RenderDefaults(const Notification& n) {
  absl::StatusOr<RenderedEmail> r = RenderEmail(DefaultEmailTemplates(), n);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : RenderedEmail{};
}

// Reads templates from `yaml` (file name alerting.yaml) over the defaults.
EmailTemplates ReadFromYaml(const std::string& yaml, ConfigErrors& errors) {
  absl::StatusOr<YAML::Node> node = LoadYamlString(yaml, "alerting.yaml");
  EXPECT_TRUE(node.ok()) << node.status();
  ConfigMap map(node.ok() ? *node : YAML::Node(), &errors);
  EmailTemplates t = ReadEmailTemplates(map, DefaultEmailTemplates());
  map.Finish();
  return t;
}

TEST(EmailSubject, FiringGroupShowsStateCountRuleAndCommonLabels) {
  EXPECT_EQ(RenderDefaults(emailtest::TwoFiring("n1")).subject,
            "[ALARM:2] db-cpu-high (env=prod role=db severity=critical)");
}

TEST(EmailSubject, ResolvedGroupShowsOk) {
  EXPECT_EQ(RenderDefaults(emailtest::BothResolved("n2", "n1")).subject,
            "[OK] db-cpu-high (env=prod role=db severity=critical)");
}

TEST(EmailSubject, TenHostsOfOneRuleAreCountedInOneSubject) {
  Notification n = emailtest::TwoFiring("n1");
  n.alerts.clear();
  for (int i = 0; i < 10; ++i) {
    Alert a = emailtest::DbCpuAlert(absl::StrCat("web-", i + 10), 12.5);
    a.rule = "web-5xx-percentage";
    a.labels = {{"alertname", "web-5xx-percentage"},
                {"env", "prod"},
                {"host", absl::StrCat("web-", i + 10)},
                {"role", "web"},
                {"severity", "warning"}};
    n.alerts.push_back(a);
  }
  n.common_labels = {{"alertname", "web-5xx-percentage"},
                     {"env", "prod"},
                     {"role", "web"},
                     {"severity", "warning"}};
  RenderedEmail r = RenderDefaults(n);
  EXPECT_EQ(r.subject, "[ALARM:10] web-5xx-percentage (env=prod role=web severity=warning)");
  EXPECT_THAT(r.text, HasSubstr("10 alarm(s) firing:"));
  EXPECT_THAT(r.text, HasSubstr("host=web-19"));
  EXPECT_THAT(r.html, HasSubstr("10 firing"));
}

TEST(EmailSubject, WithoutCommonRuleTitleIsGroupLabelsThenRules) {
  Notification n = emailtest::TwoFiring("n1");
  n.alerts[1].rule = "db-connections-high";
  n.common_labels = {{"env", "prod"}, {"role", "db"}, {"severity", "critical"}};
  n.group_labels = {{"env", "prod"}};
  EXPECT_EQ(RenderDefaults(n).subject, "[ALARM:2] prod (role=db severity=critical)");
  n.group_labels.clear();
  EXPECT_EQ(RenderDefaults(n).subject,
            "[ALARM:2] db-cpu-high, db-connections-high (env=prod role=db severity=critical)");
}

TEST(EmailSubject, MixedGroupCountsOnlyFiringAlarms) {
  Notification n = emailtest::TwoFiring("n1");
  n.alerts.push_back(emailtest::BothResolved("x", "x").alerts[0]);
  EXPECT_EQ(RenderDefaults(n).subject,
            "[ALARM:2] db-cpu-high (env=prod role=db severity=critical)");
}

TEST(EmailText, DefaultShowsEveryFieldOfEachAlarm) {
  std::string text = RenderDefaults(emailtest::TwoFiring("n1")).text;
  EXPECT_THAT(text, HasSubstr("2 alarm(s) firing:\n\n[ALARM] db-cpu-high\n"));
  EXPECT_THAT(text, HasSubstr("  Summary:     DB CPU above 70% for 3 minutes on db-1\n"));
  EXPECT_THAT(text, HasSubstr("  Description: CPU of a database host above 70% for 3 minutes\n"));
  EXPECT_THAT(text, HasSubstr("  State:       ALARM (was OK)\n"));
  EXPECT_THAT(text, HasSubstr("  Reason:      Threshold crossed: 3 out of the last 3 datapoints "
                              "[82.1, 91.0, 77.4] were greater than the threshold (70.0).\n"));
  EXPECT_THAT(text, HasSubstr("  Value:       91 (threshold > 70)\n"));
  EXPECT_THAT(text, HasSubstr("  Value:       88.5 (threshold > 70)\n"));
  EXPECT_THAT(text, HasSubstr("  Labels:      env=prod host=db-1 role=db severity=critical\n"));
  EXPECT_THAT(text, HasSubstr("  Labels:      env=prod host=db-2 role=db severity=critical\n"));
  EXPECT_THAT(text, HasSubstr("  Runbook:     https://runbooks.example/db-cpu-high\n"));
  EXPECT_THAT(text, HasSubstr("  Started at:  2026-11-22T10:00:00.000Z\n"));
  EXPECT_THAT(text,
              HasSubstr("  Alarm:       https://vigil.example/alarms/db-cpu-high?host=db-2\n"));
  EXPECT_THAT(text, HasSubstr("Vigil: https://vigil.example\n"));
  EXPECT_THAT(text, Not(HasSubstr("resolved")));
  // Alarms are separated by one blank line; no runs of blank lines.
  EXPECT_THAT(text, HasSubstr("?host=db-1\n\n[ALARM] db-cpu-high\n"));
  EXPECT_THAT(text, Not(HasSubstr("\n\n\n")));
}

TEST(EmailText, ResolvedAlarmsAreListedSeparatelyWithEndTime) {
  Notification n = emailtest::TwoFiring("n1");
  n.alerts.pop_back();
  n.alerts.push_back(emailtest::BothResolved("x", "x").alerts[1]);
  std::string text = RenderDefaults(n).text;
  size_t firing = text.find("1 alarm(s) firing:");
  size_t resolved = text.find("1 alarm(s) resolved:");
  ASSERT_NE(firing, std::string::npos) << text;
  ASSERT_NE(resolved, std::string::npos) << text;
  EXPECT_LT(firing, resolved);
  std::string resolved_part = text.substr(resolved);
  EXPECT_THAT(resolved_part, HasSubstr("[OK] db-cpu-high\n"));
  EXPECT_THAT(resolved_part, HasSubstr("  State:       OK (was ALARM)\n"));
  EXPECT_THAT(resolved_part, HasSubstr("  Value:       41 (threshold > 70)\n"));
  EXPECT_THAT(resolved_part, HasSubstr("host=db-2"));
  EXPECT_THAT(resolved_part, HasSubstr("  Ended at:    2026-11-22T10:10:00.000Z\n"));
  EXPECT_THAT(text, Not(HasSubstr("\n\n\n")));
}

TEST(EmailText, MissingFieldsLeaveNoEmptyLines) {
  Notification n = emailtest::TwoFiring("n1");
  n.alerts.resize(1);
  Alert& a = n.alerts[0];
  a.value.reset();
  a.threshold.reset();
  a.comparison.clear();
  a.annotations.clear();
  a.description.clear();
  a.url.clear();
  n.external_url.clear();
  std::string text = RenderDefaults(n).text;
  EXPECT_THAT(text, Not(HasSubstr("Value:")));
  EXPECT_THAT(text, Not(HasSubstr("Runbook:")));
  EXPECT_THAT(text, Not(HasSubstr("Summary:")));
  EXPECT_THAT(text, Not(HasSubstr("Alarm:")));
  EXPECT_THAT(text, Not(HasSubstr("Vigil:")));
  EXPECT_THAT(text, HasSubstr("  State:       ALARM (was OK)\n  Reason:"));
  EXPECT_THAT(text, Not(HasSubstr("\n\n\n")));
}

TEST(EmailText, OtherAnnotationsTruncationAndFlappingAreShown) {
  Notification n = emailtest::TwoFiring("n1");
  n.alerts[0].annotations["dashboard"] = "https://grafana.example/d/db";
  n.alerts[0].flapping = true;
  n.truncated_alerts = 3;
  RenderedEmail r = RenderDefaults(n);
  EXPECT_THAT(r.text, HasSubstr("  dashboard: https://grafana.example/d/db\n"));
  EXPECT_THAT(r.text, HasSubstr("[ALARM] db-cpu-high (flapping)\n"));
  EXPECT_THAT(r.text, HasSubstr("3 more alarm(s) not shown."));
  EXPECT_THAT(r.html, HasSubstr("flapping"));
  EXPECT_THAT(r.html, HasSubstr("3 more alarm(s) not shown."));
}

TEST(EmailHtml, DefaultIsATableWithStateReasonValuesAndLabels) {
  std::string html = RenderDefaults(emailtest::TwoFiring("n1")).html;
  EXPECT_THAT(html, HasSubstr("<table"));
  EXPECT_THAT(html, HasSubstr(">State</th>"));
  EXPECT_THAT(html, HasSubstr(">Reason</th>"));
  EXPECT_THAT(html, HasSubstr(">Value</th>"));
  EXPECT_THAT(html, HasSubstr(">Labels</th>"));
  EXPECT_THAT(html, HasSubstr(">ALARM</span>"));
  EXPECT_THAT(html, HasSubstr("was OK"));
  EXPECT_THAT(html, HasSubstr("Threshold crossed: 3 out of the last 3 datapoints [82.1, 91.0, "
                              "77.4] were greater than the threshold (70.0)."));
  EXPECT_THAT(html, HasSubstr("<strong>91</strong>"));
  EXPECT_THAT(html, HasSubstr("<strong>88.5</strong>"));
  EXPECT_THAT(html, HasSubstr("&gt; 70"));  // the comparison, escaped
  EXPECT_THAT(html, HasSubstr(">host=db-1</span>"));
  EXPECT_THAT(html, HasSubstr(">severity=critical</span>"));
  EXPECT_THAT(html, HasSubstr("DB CPU above 70% for 3 minutes on db-2"));
  EXPECT_THAT(html, HasSubstr("href=\"https://runbooks.example/db-cpu-high\""));
  EXPECT_THAT(html, HasSubstr("href=\"https://vigil.example/alarms/db-cpu-high?host=db-1\""));
  EXPECT_THAT(html, HasSubstr("2026-11-22T10:00:00.000Z"));
  // Inline CSS only: mail clients drop style sheets.
  EXPECT_THAT(html, Not(HasSubstr("<style")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("{{")));
}

TEST(EmailHtml, LabelValuesAreEscaped) {
  Notification n = emailtest::TwoFiring("n1");
  n.alerts[0].labels.push_back({"team", "<script>alert('x')</script>"});
  n.alerts[0].reason = "a < b & c";
  RenderedEmail r = RenderDefaults(n);
  EXPECT_THAT(r.html, Not(HasSubstr("<script>")));
  EXPECT_THAT(r.html, HasSubstr("team=&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;"));
  EXPECT_THAT(r.html, HasSubstr("a &lt; b &amp; c"));
  // The text part is not HTML: values appear as they are.
  EXPECT_THAT(r.text, HasSubstr("team=<script>alert('x')</script>"));
  EXPECT_THAT(r.text, HasSubstr("Reason:      a < b & c\n"));
}

TEST(RenderTemplate, TextModeKeepsValuesHtmlModeEscapesThem) {
  nlohmann::json context = {{"x", "a<b&\"c\""}};
  EXPECT_EQ(*RenderTemplate("{{x}}", context, TemplateMode::kText), "a<b&\"c\"");
  EXPECT_EQ(*RenderTemplate("{{x}}", context, TemplateMode::kHtml), "a&lt;b&amp;&quot;c&quot;");
  EXPECT_EQ(*RenderTemplate("{{{x}}}", context, TemplateMode::kHtml), "a<b&\"c\"");
}

TEST(RenderTemplate, JsonValuesBecomeMustacheValues) {
  nlohmann::json context = {{"count", 3},
                            {"ratio", 0.25},
                            {"big", 1e9},
                            {"yes", true},
                            {"no", false},
                            {"nothing", nullptr},
                            {"empty", ""},
                            {"labels", {{"host", "db-1"}}},
                            {"list", {{{"name", "a"}}, {{"name", "b"}}}}};
  auto render = [&](const std::string& t) {
    absl::StatusOr<std::string> s = RenderTemplate(t, context, TemplateMode::kText);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : "";
  };
  EXPECT_EQ(render("{{count}} {{ratio}} {{big}}"), "3 0.25 1e+09");
  EXPECT_EQ(render("{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{^no}}n{{/no}}"), "Yn");
  EXPECT_EQ(render("[{{nothing}}]{{#nothing}}X{{/nothing}}{{^nothing}}null is false{{/nothing}}"),
            "[]null is false");
  EXPECT_EQ(render("[{{empty}}]{{#empty}}X{{/empty}}{{^empty}}empty is false{{/empty}}"),
            "[]empty is false");
  EXPECT_EQ(render("{{labels.host}} {{#labels}}{{host}}{{/labels}}"), "db-1 db-1");
  EXPECT_EQ(render("{{#list}}<{{name}}>{{/list}}"), "<a><b>");
  EXPECT_EQ(render("{{missing}}{{missing.deeper}}"), "");
}

TEST(RenderTemplate, StandaloneSectionLinesLeaveNoBlankLines) {
  // The Mustache spec's standalone lines: a line holding only a section tag disappears, and
  // blank lines written in the template stay.
  const std::string t =
      "a\n  {{#x}}\nX\n  {{/x}}\n\n{{! a comment }}\nb\n{{^x}}\n\nnot x\n{{/x}}\n";
  EXPECT_EQ(*RenderTemplate(t, {{"x", false}}, TemplateMode::kText), "a\n\nb\n\nnot x\n");
  EXPECT_EQ(*RenderTemplate(t, {{"x", true}}, TemplateMode::kText), "a\nX\n\nb\n");
  EXPECT_EQ(*RenderTemplate("{{#l}}\n- {{.}}\n{{/l}}\n", {{"l", {"p", "q"}}}, TemplateMode::kText),
            "- p\n- q\n");
  // Changed delimiters are rendered as kainjow does, without the line rule.
  EXPECT_EQ(*RenderTemplate("{{=<% %>=}}<% x %>", {{"x", "y"}}, TemplateMode::kText), "y");
}

TEST(CheckTemplate, ErrorsNameLineAndColumn) {
  absl::Status s = CheckTemplate("line one\n  {{#alerts}}\n  {{rule}}\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "template error at line 2, column 3: Unclosed section \"alerts\"");
  s = CheckTemplate("ok {{/alerts}}");
  EXPECT_EQ(s.message(), "template error at line 1, column 4: Unopened section \"alerts\"");
  s = CheckTemplate("a\nb {{rule");
  EXPECT_EQ(s.message(), "template error at line 2, column 3: Unclosed tag");
  EXPECT_TRUE(CheckTemplate("{{#a}}{{/a}} {{=<% %>=}} <% b %>").ok());
}

TEST(CheckTemplate, TruncatedAndMalformedTemplatesFailCleanly) {
  // Every prefix of the shipped templates either parses or is an InvalidArgument; none crashes.
  nlohmann::json context = EmailTemplateContext(emailtest::TwoFiring("n"));
  for (const std::string* t : {&DefaultEmailTemplates().subject, &DefaultEmailTemplates().text,
                               &DefaultEmailTemplates().html}) {
    // Cut points around every tag delimiter, and every 53rd byte.
    std::set<size_t> cuts = {t->size()};
    for (size_t i = 0; i < t->size(); i += 53) cuts.insert(i);
    for (const char* delimiter : {"{{", "}}"}) {
      for (size_t p = t->find(delimiter); p != std::string::npos; p = t->find(delimiter, p + 1)) {
        for (size_t len = p; len <= std::min(p + 3, t->size()); ++len) cuts.insert(len);
      }
    }
    for (size_t len : cuts) {
      absl::Status s = CheckTemplate(t->substr(0, len));
      if (!s.ok()) {
        EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << len;
      }
      if (len % 7 == 0) {
        absl::StatusOr<std::string> r =
            RenderTemplate(t->substr(0, len), context, TemplateMode::kHtml);
        EXPECT_EQ(r.ok(), s.ok()) << len;
      }
    }
  }
  for (const char* bad : {"{{", "{{{", "{{{x}}", "{{=", "{{= =}}", "{{=<% %>=}}<%", "{{#}}",
                          "{{/}}", "}}{{", "{{#a}}{{/b}}", "{{^a}}", "{{>", "{{!"}) {
    absl::Status s = CheckTemplate(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ReadEmailTemplates, OverridesOnlyTheGivenKeys) {
  ConfigErrors errors("alerting.yaml");
  EmailTemplates t = ReadFromYaml("subject: '{{title}} is {{status}}'\n", errors);
  EXPECT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(t.subject, "{{title}} is {{status}}");
  EXPECT_EQ(t.text, DefaultEmailTemplates().text);
  EXPECT_EQ(t.html, DefaultEmailTemplates().html);
  absl::StatusOr<RenderedEmail> r = RenderEmail(t, emailtest::TwoFiring("n1"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->subject, "db-cpu-high is firing");
}

TEST(ReadEmailTemplates, BrokenTemplateIsAConfigErrorAtItsKey) {
  ConfigErrors errors("alerting.yaml");
  EmailTemplates t = ReadFromYaml(
      "subject: ok\n"
      "text: |\n"
      "  Alarms:\n"
      "  {{#alerts}}{{rule}}\n"
      "html: '<p>{{#alerts}}</p>'\n",
      errors);
  ASSERT_EQ(errors.messages().size(), 2u) << errors.ToStatus();
  EXPECT_EQ(errors.messages()[0],
            "alerting.yaml:2:7: text: template error at line 2, column 1: Unclosed section "
            "\"alerts\"");
  EXPECT_EQ(errors.messages()[1],
            "alerting.yaml:5:7: html: template error at line 1, column 4: Unclosed section "
            "\"alerts\"");
  EXPECT_EQ(t.text, DefaultEmailTemplates().text);  // the broken one is not used
}

TEST(ReadEmailTemplates, EmptySubjectIsAnErrorEmptyHtmlMeansTextOnly) {
  ConfigErrors errors("alerting.yaml");
  EmailTemplates t = ReadFromYaml("subject: '  '\nhtml: ''\n", errors);
  ASSERT_EQ(errors.messages().size(), 1u) << errors.ToStatus();
  EXPECT_EQ(errors.messages()[0], "alerting.yaml:1:10: subject: must not be empty");
  EXPECT_EQ(t.html, "");
  absl::StatusOr<RenderedEmail> r = RenderEmail(t, emailtest::TwoFiring("n1"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->html, "");
  EXPECT_THAT(r->text, HasSubstr("db-cpu-high"));
}

TEST(ReadEmailTemplates, NonStringTemplateIsAnError) {
  ConfigErrors errors("alerting.yaml");
  ReadFromYaml("subject: [a, b]\n", errors);
  ASSERT_EQ(errors.messages().size(), 1u);
  EXPECT_EQ(errors.messages()[0], "alerting.yaml:1:10: subject: expected a string");
}

TEST(EmailSubject, NewlinesInSubjectTemplateOrLabelsBecomeSpaces) {
  Notification n = emailtest::TwoFiring("n1");
  n.common_labels.push_back({"zone", "a\r\nBcc: evil@example.com"});
  EmailTemplates t = DefaultEmailTemplates();
  t.subject = "{{title}}\n  {{title_labels}}\n";
  absl::StatusOr<RenderedEmail> r = RenderEmail(t, n);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->subject,
            "db-cpu-high env=prod role=db severity=critical zone=a Bcc: evil@example.com");
}

}  // namespace
}  // namespace vigil::alerting
