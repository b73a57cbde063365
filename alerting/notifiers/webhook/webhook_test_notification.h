#ifndef VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_TEST_NOTIFICATION_H_
#define VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_TEST_NOTIFICATION_H_

#include "alerting/notify/notification.h"

// Test-only: the notification the webhook tests send. Two alerts of rule cpu_high: web-1
// firing (datapoints 82.1, 91.0, 77.4 > 70) and web-2 resolved.

namespace vigil::alerting {

inline Notification SampleNotification() {
  Notification n;
  n.id = "n-7f3a9c0d12e4b5a6";
  n.receiver = "ops-webhook";
  n.group_key = "{}:{alertname=\"cpu_high\"}";
  n.group_labels = {{"alertname", "cpu_high"}};
  n.common_labels = {{"alertname", "cpu_high"}, {"env", "prod"}, {"severity", "critical"}};
  n.common_annotations = {{"summary", "CPU above 70%"}};
  n.status = "firing";
  n.created_ms = 1795000000500;
  n.thread_id = "n-1111222233334444";
  n.external_url = "http://collector.example:8080";

  Alert firing;
  firing.fingerprint = "a1b2c3d4e5f60718";
  firing.rule = "cpu_high";
  firing.description = "CPU busy";
  firing.labels = {
      {"alertname", "cpu_high"}, {"env", "prod"}, {"host", "web-1"}, {"severity", "critical"}};
  firing.annotations = {{"runbook_url", "https://runbooks.example/cpu?host=web-1&view=<all>"},
                        {"summary", "CPU above 70%"}};
  firing.state = "ALARM";
  firing.previous_state = "OK";
  firing.reason = "Threshold crossed: 3 out of the last 3 datapoints [82.1, 91.0, 77.4] > 70";
  firing.value = 77.4;
  firing.threshold = 70;
  firing.comparison = ">";
  firing.datapoints = {{1794999880000, 82.1}, {1794999940000, 91.0}, {1795000000000, 77.4}};
  firing.starts_at_ms = 1795000000123;
  firing.url = "http://collector.example:8080/alarms/cpu_high?host=web-1";

  Alert resolved;
  resolved.fingerprint = "0f1e2d3c4b5a6978";
  resolved.rule = "cpu_high";
  resolved.description = "CPU busy";
  resolved.labels = {
      {"alertname", "cpu_high"}, {"env", "prod"}, {"host", "web-2"}, {"severity", "critical"}};
  resolved.annotations = {{"summary", "CPU above 70%"}};
  resolved.state = "OK";
  resolved.previous_state = "ALARM";
  resolved.reason = "Threshold crossed: 0 out of the last 3 datapoints > 70";
  resolved.value = 12.5;
  resolved.threshold = 70;
  resolved.comparison = ">";
  resolved.datapoints = {{1795000540000, 12.5}};
  resolved.starts_at_ms = 1795000000000;
  resolved.ends_at_ms = 1795000600500;
  resolved.url = "http://collector.example:8080/alarms/cpu_high?host=web-2";

  n.alerts = {firing, resolved};
  return n;
}

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_TEST_NOTIFICATION_H_
