#ifndef VIGIL_ALERTING_NOTIFY_NOTIFICATION_H_
#define VIGIL_ALERTING_NOTIFY_NOTIFICATION_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "alerting/eval/window.h"
#include "common/series_key.h"
#include "nlohmann/json.hpp"

// What is delivered: a group of alerts for one receiver, the way Alertmanager groups them.
// Plain values, built by the dispatcher (alerting/notify/dispatcher.h) and handed to the
// notifiers (alerting/notifiers/<name>/); the template context is derived from them.

namespace vigil::alerting {

// One alarm instance as notified.
struct Alert {
  std::string fingerprint;  // 16 hex digits, stable for rule + instance labels
  std::string rule;
  std::string description;
  // alertname (= rule), severity, the rule's labels and the instance's labels, sorted by name.
  Labels labels;
  std::map<std::string, std::string> annotations;  // rendered ({{host}} replaced)
  std::string state;           // ALARM, OK or INSUFFICIENT_DATA (the alarm's state now)
  std::string previous_state;  // the state before the transition that is being notified
  std::string reason;          // e.g. "Threshold crossed: 3 out of the last 3 datapoints ..."
  std::optional<double> value; // the newest period's value, when there is one
  std::optional<double> threshold;
  std::string comparison;      // ">", ">=", "<", "<="; empty for composites
  std::vector<PeriodValue> datapoints;  // the periods that decided the transition
  int64_t starts_at_ms = 0;    // when the alarm entered ALARM (the incident's start)
  int64_t ends_at_ms = 0;      // when it left ALARM; 0 while firing
  bool flapping = false;       // changed state too often; notified once as such
  std::string url;             // the alarm in the collector's UI (Alertmanager generatorURL)

  bool firing() const { return ends_at_ms == 0; }
};

struct Notification {
  // Idempotency key: stable for this content and receiver; the webhook's Idempotency-Key
  // header and the email's Message-ID are derived from it. Retries reuse it.
  std::string id;
  std::string receiver;
  std::string group_key;   // Alertmanager's: route path + group labels, e.g. `{}:{alertname="x"}`
  Labels group_labels;     // values of the route's group_by labels
  Labels common_labels;    // labels equal in every alert
  std::map<std::string, std::string> common_annotations;
  std::string status;      // "firing" when any alert fires, else "resolved"
  std::vector<Alert> alerts;  // firing first, then resolved; each ordered by labels
  int truncated_alerts = 0;   // alerts left out because of the receiver's max_alerts
  int64_t created_ms = 0;
  // Stable for one incident of one group (its first firing notification's id): every email
  // of the incident says In-Reply-To/References this thread, so inboxes show one thread.
  std::string thread_id;
  std::string external_url;  // the collector's UI base URL

  int firing_count() const;
  int resolved_count() const;
};

// The template context (docs/notifications.md lists every field): the notification's fields
// plus per alert its labels, annotations, state, reason, value, threshold and datapoints, with
// times as RFC 3339 UTC strings. The `vigil` webhook format sends exactly this object.
nlohmann::json TemplateContext(const Notification& n);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_NOTIFICATION_H_
