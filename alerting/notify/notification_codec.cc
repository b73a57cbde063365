#include "alerting/notify/notification_codec.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vigil::alerting {
namespace {

using json = nlohmann::json;

// Format version: a reader refuses a payload it does not know.
constexpr int kVersion = 1;

json LabelsJson(const Labels& labels) {
  json a = json::array();
  for (const auto& [k, v] : labels) a.push_back(json::array({k, v}));
  return a;
}

json AlertJson(const Alert& a) {
  json o;
  o["fingerprint"] = a.fingerprint;
  o["rule"] = a.rule;
  o["description"] = a.description;
  o["labels"] = LabelsJson(a.labels);
  o["annotations"] = a.annotations;
  o["state"] = a.state;
  o["previous_state"] = a.previous_state;
  o["reason"] = a.reason;
  o["value"] = a.value ? json(*a.value) : json(nullptr);
  o["threshold"] = a.threshold ? json(*a.threshold) : json(nullptr);
  o["comparison"] = a.comparison;
  json points = json::array();
  for (const PeriodValue& p : a.datapoints) {
    points.push_back(json::array({p.start_ms, p.value ? json(*p.value) : json(nullptr)}));
  }
  o["datapoints"] = points;
  o["starts_at_ms"] = a.starts_at_ms;
  o["ends_at_ms"] = a.ends_at_ms;
  o["flapping"] = a.flapping;
  o["url"] = a.url;
  return o;
}

// Reads fields with their types checked first (so nlohmann never throws): a missing or
// mistyped field records the first problem, named by its path, and yields a default.
class Reader {
 public:
  Reader(const json& o, std::string path, std::string* error)
      : o_(o), path_(std::move(path)), error_(error) {
    if (!o_.is_object()) Fail("", "expected an object");
  }
  std::string String(const char* key) const {
    const json* v = Get(key);
    if (v == nullptr) return "";
    if (!v->is_string()) return Fail(key, "expected a string"), "";
    return v->get<std::string>();
  }
  int64_t Int(const char* key) const {
    const json* v = Get(key);
    if (v == nullptr) return 0;
    if (!v->is_number_integer()) return Fail(key, "expected an integer"), 0;
    return v->get<int64_t>();
  }
  bool Bool(const char* key) const {
    const json* v = Get(key);
    if (v == nullptr) return false;
    if (!v->is_boolean()) return Fail(key, "expected true or false"), false;
    return v->get<bool>();
  }
  std::optional<double> OptionalDouble(const char* key) const {
    const json* v = Get(key);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_number()) return Fail(key, "expected a number or null"), std::nullopt;
    return v->get<double>();
  }
  Labels LabelList(const char* key) const {
    Labels out;
    for (const json& pair : Array(key)) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
        Fail(key, "expected [name, value] string pairs");
        return out;
      }
      out.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    }
    return out;
  }
  std::map<std::string, std::string> StringMap(const char* key) const {
    std::map<std::string, std::string> out;
    const json* v = Get(key);
    if (v == nullptr) return out;
    if (!v->is_object()) return Fail(key, "expected an object"), out;
    for (const auto& [k, value] : v->items()) {
      if (!value.is_string()) return Fail(key, "expected string values"), out;
      out[k] = value.get<std::string>();
    }
    return out;
  }
  const json& Array(const char* key) const {
    static const json kEmpty = json::array();
    const json* v = Get(key);
    if (v == nullptr) return kEmpty;
    if (!v->is_array()) return Fail(key, "expected an array"), kEmpty;
    return *v;
  }
  void Fail(absl::string_view key, absl::string_view what) const {
    if (error_->empty()) *error_ = absl::StrCat(path_, key.empty() ? "" : ".", key, ": ", what);
  }

 private:
  const json* Get(const char* key) const {
    if (!o_.is_object()) return nullptr;
    auto it = o_.find(key);
    if (it == o_.end()) {
      Fail(key, "missing");
      return nullptr;
    }
    return &*it;
  }
  const json& o_;
  std::string path_;
  std::string* error_;
};

Alert ReadAlert(const json& o, const std::string& path, std::string* error) {
  Reader r(o, path, error);
  Alert a;
  a.fingerprint = r.String("fingerprint");
  a.rule = r.String("rule");
  a.description = r.String("description");
  a.labels = r.LabelList("labels");
  a.annotations = r.StringMap("annotations");
  a.state = r.String("state");
  a.previous_state = r.String("previous_state");
  a.reason = r.String("reason");
  a.value = r.OptionalDouble("value");
  a.threshold = r.OptionalDouble("threshold");
  a.comparison = r.String("comparison");
  for (const json& p : r.Array("datapoints")) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number_integer() ||
        !(p[1].is_null() || p[1].is_number())) {
      r.Fail("datapoints", "expected [start_ms, value or null] pairs");
      break;
    }
    PeriodValue v;
    v.start_ms = p[0].get<int64_t>();
    if (!p[1].is_null()) v.value = p[1].get<double>();
    a.datapoints.push_back(v);
  }
  a.starts_at_ms = r.Int("starts_at_ms");
  a.ends_at_ms = r.Int("ends_at_ms");
  a.flapping = r.Bool("flapping");
  a.url = r.String("url");
  return a;
}

}  // namespace

std::string EncodeNotification(const Notification& n) {
  json o;
  o["version"] = kVersion;
  o["id"] = n.id;
  o["receiver"] = n.receiver;
  o["group_key"] = n.group_key;
  o["group_labels"] = LabelsJson(n.group_labels);
  o["common_labels"] = LabelsJson(n.common_labels);
  o["common_annotations"] = n.common_annotations;
  o["status"] = n.status;
  json alerts = json::array();
  for (const Alert& a : n.alerts) alerts.push_back(AlertJson(a));
  o["alerts"] = alerts;
  o["truncated_alerts"] = n.truncated_alerts;
  o["created_ms"] = n.created_ms;
  o["thread_id"] = n.thread_id;
  o["external_url"] = n.external_url;
  // Invalid UTF-8 (a label value from a host) is replaced rather than refused.
  return o.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<Notification> DecodeNotification(absl::string_view text) {
  json o = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (o.is_discarded()) {
    return absl::DataLossError("stored notification is not valid JSON (truncated or corrupt)");
  }
  std::string error;
  Reader r(o, "notification", &error);
  const int64_t version = r.Int("version");
  if (error.empty() && version != kVersion) {
    return absl::DataLossError(absl::StrCat("stored notification has format version ", version,
                                            ", this binary reads ", kVersion));
  }
  Notification n;
  n.id = r.String("id");
  n.receiver = r.String("receiver");
  n.group_key = r.String("group_key");
  n.group_labels = r.LabelList("group_labels");
  n.common_labels = r.LabelList("common_labels");
  n.common_annotations = r.StringMap("common_annotations");
  n.status = r.String("status");
  int i = 0;
  for (const json& a : r.Array("alerts")) {
    n.alerts.push_back(ReadAlert(a, absl::StrCat("notification.alerts[", i++, "]"), &error));
  }
  n.truncated_alerts = static_cast<int>(r.Int("truncated_alerts"));
  n.created_ms = r.Int("created_ms");
  n.thread_id = r.String("thread_id");
  n.external_url = r.String("external_url");
  if (!error.empty()) {
    return absl::DataLossError(absl::StrCat("stored notification is malformed: ", error));
  }
  return n;
}

}  // namespace vigil::alerting
