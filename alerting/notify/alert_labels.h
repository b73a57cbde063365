#ifndef VIGIL_ALERTING_NOTIFY_ALERT_LABELS_H_
#define VIGIL_ALERTING_NOTIFY_ALERT_LABELS_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "alerting/rules/rule.h"
#include "common/series_key.h"

// How an alarm instance is named for routing, grouping, silences and inhibition: its alert
// labels and their fingerprint. Stateless functions; any thread.

namespace vigil::alerting {

// The labels an alarm instance is routed by, sorted by name. Later sources win:
//   1. labels implied by the rule's equality `where:` matchers (`role: db` -> role="db"),
//      unless two queries disagree on the value;
//   2. the instance's labels (its group_by values, e.g. host);
//   3. the rule's `labels:`;
//   4. severity=<rule severity> (when set), alertname=<rule>, rule=<rule>.
Labels AlertLabels(const Rule& rule, const Labels& instance_labels);

// 16 lowercase hex digits: the first 8 bytes of SHA-256 of the canonical label string
// (FormatLabels). Stable across restarts and versions.
std::string Fingerprint(const Labels& labels);

// `{{name}}` (spaces inside the braces allowed) replaced by the label's value, "" for a label
// the alert does not have. Other text, including unbalanced braces, is kept as written.
std::string RenderAnnotation(absl::string_view text, const Labels& labels);
std::map<std::string, std::string> RenderAnnotations(
    const std::map<std::string, std::string>& annotations, const Labels& labels);

// The alarm in the collector's UI: `<external_url>/#/alarms/<rule>?instance=<instance>`, the
// rule and instance percent-encoded; "" when external_url is empty.
std::string AlarmUrl(absl::string_view external_url, absl::string_view rule,
                     absl::string_view instance);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_ALERT_LABELS_H_
