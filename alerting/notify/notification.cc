#include "alerting/notify/notification.h"

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace vigil::alerting {
namespace {

using json = nlohmann::json;

std::string Rfc3339(int64_t ms) {
  if (ms == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

// %g keeps 82.1 as "82.1" and 1e+06 short; templates show values with this.
std::string Number(double v) { return absl::StrFormat("%.6g", v); }

json LabelObject(const Labels& labels) {
  json o = json::object();
  for (const auto& [k, v] : labels) o[k] = v;
  return o;
}

// Mustache iterates lists, not objects: every map is also given as [{name, value}].
json PairList(const Labels& labels) {
  json a = json::array();
  for (const auto& [k, v] : labels) a.push_back({{"name", k}, {"value", v}});
  return a;
}

json PairList(const std::map<std::string, std::string>& m) {
  json a = json::array();
  for (const auto& [k, v] : m) a.push_back({{"name", k}, {"value", v}});
  return a;
}

json AlertContext(const Alert& a) {
  json o;
  o["fingerprint"] = a.fingerprint;
  o["rule"] = a.rule;
  o["description"] = a.description;
  o["labels"] = LabelObject(a.labels);
  o["labels_list"] = PairList(a.labels);
  o["annotations"] = a.annotations;
  o["annotations_list"] = PairList(a.annotations);
  o["state"] = a.state;
  o["previous_state"] = a.previous_state;
  o["status"] = a.firing() ? "firing" : "resolved";
  o["firing"] = a.firing();
  o["reason"] = a.reason;
  o["value"] = a.value ? json(*a.value) : json(nullptr);
  o["value_text"] = a.value ? Number(*a.value) : "";
  o["threshold"] = a.threshold ? json(*a.threshold) : json(nullptr);
  o["threshold_text"] = a.threshold ? Number(*a.threshold) : "";
  o["comparison"] = a.comparison;
  json points = json::array();
  for (const PeriodValue& p : a.datapoints) {
    points.push_back({{"start", Rfc3339(p.start_ms)},
                      {"value", p.value ? json(*p.value) : json(nullptr)},
                      {"value_text", p.value ? Number(*p.value) : "missing"}});
  }
  o["datapoints"] = points;
  o["starts_at"] = Rfc3339(a.starts_at_ms);
  o["ends_at"] = Rfc3339(a.ends_at_ms);
  o["flapping"] = a.flapping;
  o["url"] = a.url;
  return o;
}

}  // namespace

int Notification::firing_count() const {
  int n = 0;
  for (const Alert& a : alerts) n += a.firing() ? 1 : 0;
  return n;
}

int Notification::resolved_count() const { return static_cast<int>(alerts.size()) - firing_count(); }

json TemplateContext(const Notification& n) {
  json o;
  o["notification_id"] = n.id;
  o["receiver"] = n.receiver;
  o["status"] = n.status;
  o["group_key"] = n.group_key;
  o["group_labels"] = LabelObject(n.group_labels);
  o["group_labels_list"] = PairList(n.group_labels);
  o["common_labels"] = LabelObject(n.common_labels);
  o["common_labels_list"] = PairList(n.common_labels);
  o["common_annotations"] = n.common_annotations;
  o["external_url"] = n.external_url;
  o["thread_id"] = n.thread_id;
  o["created_at"] = Rfc3339(n.created_ms);
  o["firing_count"] = n.firing_count();
  o["resolved_count"] = n.resolved_count();
  o["alert_count"] = n.alerts.size();
  o["truncated_alerts"] = n.truncated_alerts;
  json all = json::array(), firing = json::array(), resolved = json::array();
  for (const Alert& a : n.alerts) {
    json c = AlertContext(a);
    (a.firing() ? firing : resolved).push_back(c);
    all.push_back(std::move(c));
  }
  o["alerts"] = all;
  o["firing_alerts"] = firing;
  o["resolved_alerts"] = resolved;
  return o;
}

}  // namespace vigil::alerting
