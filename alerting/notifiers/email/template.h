#ifndef VIGIL_ALERTING_NOTIFIERS_EMAIL_TEMPLATE_H_
#define VIGIL_ALERTING_NOTIFIERS_EMAIL_TEMPLATE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "alerting/notify/notification.h"
#include "common/config_reader.h"
#include "nlohmann/json.hpp"

// Mustache templates of the email integration (kainjow's header-only implementation), rendered
// over the notification's template context. Templates are kept as text and parsed at each
// render, so they are immutable values that any thread may render at once.

namespace vigil::alerting {

// The three templates of an email. Defaults ship (DefaultEmailTemplates()); the alerting
// config's `templates:` section overrides them globally and each email integration overrides
// them again for its receiver.
struct EmailTemplates {
  std::string subject;  // text mode; CR/LF and runs of spaces become one space
  std::string text;     // text mode: the text/plain part
  std::string html;     // HTML mode (values escaped): the text/html part; empty: no HTML part
};

// The shipped templates: a subject like `[ALARM:2] db-cpu-high (env=prod severity=critical)`,
// a text body listing every alarm (firing, then resolved) with its reason, values, labels,
// summary, runbook, start time and link, and an HTML body with the same as a compact table
// (inline CSS only, as mail clients drop style sheets).
const EmailTemplates& DefaultEmailTemplates();

enum class TemplateMode {
  kText,  // values inserted as they are
  kHtml,  // values HTML-escaped (& < > " '), except in {{{triple}}} or {{& name}} tags
};

// OK when `tmpl` parses; otherwise InvalidArgument "template error at line L, column C: ..."
// (1-based, within the template).
absl::Status CheckTemplate(absl::string_view tmpl);

// Renders `tmpl` over `context`: objects are Mustache objects (`{{labels.host}}`), arrays are
// lists, booleans are booleans, numbers are their text, and null and empty strings are false
// (so `{{#annotations.runbook}}...{{/annotations.runbook}}` shows only when there is one).
// Errors as CheckTemplate's. Never throws.
absl::StatusOr<std::string> RenderTemplate(absl::string_view tmpl, const nlohmann::json& context,
                                           TemplateMode mode);

// TemplateContext(n) plus what email templates need and Mustache cannot compute:
//   subject_tag   "ALARM:<firing count>" while any alarm fires, else the resolved state ("OK")
//   title         the common `alertname` label, else the group labels' values, else the rules
//   title_labels  common labels not in the title, "env=prod severity=critical"
//   has_firing, has_resolved, has_truncated   booleans for section headings
// and per alert (in alerts, firing_alerts and resolved_alerts):
//   labels_text        "env=prod host=db-1 ..." (every label but alertname)
//   display_labels     the same as [{name, value}]
//   runbook            annotation `runbook`, else `runbook_url`
//   extra_annotations  [{name, value}] of annotations other than summary, description, runbook
nlohmann::json EmailTemplateContext(const Notification& n);

struct RenderedEmail {
  std::string subject;
  std::string text;
  std::string html;  // empty when the html template is empty
};

// Renders the three templates over EmailTemplateContext(n).
absl::StatusOr<RenderedEmail> RenderEmail(const EmailTemplates& templates, const Notification& n);

// Reads the optional keys `subject`, `text` and `html` of `config`, each replacing the one of
// `defaults`. A template that does not parse, or an empty subject or text, is recorded in
// config.errors() at the key's position (and the default is kept). Leaves other keys alone.
EmailTemplates ReadEmailTemplates(ConfigMap& config, const EmailTemplates& defaults);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFIERS_EMAIL_TEMPLATE_H_
