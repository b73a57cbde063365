#ifndef VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_PAYLOAD_H_
#define VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_PAYLOAD_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "alerting/notify/notification.h"

// The request bodies of the `webhook` integration and their HMAC signature. Pure functions of
// their arguments: thread-safe, no I/O.

namespace vigil::alerting {

// The body in Alertmanager's webhook format, version "4", as Alertmanager itself encodes it
// (same fields, field order, time format, HTML escaping and trailing newline), so every tool
// that accepts Alertmanager webhooks accepts it. `max_alerts` > 0 keeps the first max_alerts
// alerts and adds the others to truncatedAlerts; 0 keeps all.
std::string AlertmanagerPayload(const Notification& notification, int max_alerts);

// The body in the native format: TemplateContext() of the notification (every field of the
// template context, including each alert's datapoints) plus "version": "vigil/1".
// `max_alerts` truncates as above (truncated_alerts counts the alerts left out).
std::string VigilPayload(const Notification& notification, int max_alerts);

// A time as Go's encoding/json writes a time.Time in UTC (RFC 3339 with the fraction's trailing
// zeros dropped): "2026-11-22T10:00:00.12Z". 0 is Go's zero time, "0001-01-01T00:00:00Z", which
// Alertmanager sends as endsAt of firing alerts.
std::string GoJsonTime(int64_t unix_ms);

// Go's regexp.QuoteMeta: a backslash before each of \.+*?()|[]{}^$. Alertmanager's template
// data (and so its webhook) carries the receiver name quoted this way.
std::string GoQuoteMeta(absl::string_view text);

// Lowercase hex HMAC-SHA256 of `data` under `key` (OpenSSL).
std::string HmacSha256Hex(absl::string_view key, absl::string_view data);

// The X-Vigil-Signature header value: "sha256=" + HmacSha256Hex(secret, timestamp + "." + body),
// where `timestamp` is the X-Vigil-Timestamp header value (unix seconds).
std::string WebhookSignature(absl::string_view secret, absl::string_view timestamp,
                             absl::string_view body);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_PAYLOAD_H_
