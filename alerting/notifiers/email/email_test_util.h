#ifndef VIGIL_ALERTING_NOTIFIERS_EMAIL_EMAIL_TEST_UTIL_H_
#define VIGIL_ALERTING_NOTIFIERS_EMAIL_EMAIL_TEST_UTIL_H_

#include <string>

#include "alerting/notify/notification.h"

// Test-only: notifications as the dispatcher builds them, for the email tests.

namespace vigil::alerting::emailtest {

// One firing `db-cpu-high` alarm on `host` (CPU 91 > 70 at 2026-11-22T10:00Z).
inline Alert DbCpuAlert(const std::string& host, double value) {
  Alert a;
  a.fingerprint = "00000000000000" + host.substr(host.size() - 2);
  a.rule = "db-cpu-high";
  a.description = "CPU of a database host above 70% for 3 minutes";
  a.labels = {{"alertname", "db-cpu-high"},
              {"env", "prod"},
              {"host", host},
              {"role", "db"},
              {"severity", "critical"}};
  a.annotations = {{"runbook", "https://runbooks.example/db-cpu-high"},
                   {"summary", "DB CPU above 70% for 3 minutes on " + host}};
  a.state = "ALARM";
  a.previous_state = "OK";
  a.reason =
      "Threshold crossed: 3 out of the last 3 datapoints [82.1, 91.0, 77.4] were greater "
      "than the threshold (70.0).";
  a.value = value;
  a.threshold = 70;
  a.comparison = ">";
  a.datapoints = {{1795341480000, 82.1}, {1795341540000, 91.0}, {1795341600000, 77.4}};
  a.starts_at_ms = 1795341600000;  // 2026-11-22T10:00:00Z
  a.url = "https://vigil.example/alarms/db-cpu-high?host=" + host;
  return a;
}

// Two firing db-cpu-high alarms (db-1 at 91, db-2 at 88.5) grouped by alertname.
inline Notification TwoFiring(const std::string& id) {
  Notification n;
  n.id = id;
  n.receiver = "oncall";
  n.group_key = "{}:{alertname=\"db-cpu-high\"}";
  n.group_labels = {{"alertname", "db-cpu-high"}};
  n.common_labels = {
      {"alertname", "db-cpu-high"}, {"env", "prod"}, {"role", "db"}, {"severity", "critical"}};
  n.common_annotations = {{"runbook", "https://runbooks.example/db-cpu-high"}};
  n.status = "firing";
  n.alerts = {DbCpuAlert("db-1", 91.0), DbCpuAlert("db-2", 88.5)};
  n.created_ms = 1795341605000;
  n.thread_id = id;
  n.external_url = "https://vigil.example";
  return n;
}

// The same group resolved: both alarms back to OK, in the thread `thread_id`.
inline Notification BothResolved(const std::string& id, const std::string& thread_id) {
  Notification n = TwoFiring(id);
  n.status = "resolved";
  n.thread_id = thread_id;
  for (Alert& a : n.alerts) {
    a.state = "OK";
    a.previous_state = "ALARM";
    a.reason =
        "Threshold crossed: 1 out of the last 3 datapoints [41.0] was not greater than "
        "the threshold (70.0).";
    a.value = 41.0;
    a.ends_at_ms = 1795342200000;  // 10 minutes later
  }
  n.created_ms = 1795342205000;
  return n;
}

}  // namespace vigil::alerting::emailtest

#endif  // VIGIL_ALERTING_NOTIFIERS_EMAIL_EMAIL_TEST_UTIL_H_
