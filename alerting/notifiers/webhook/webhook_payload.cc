#include "alerting/notifiers/webhook/webhook_payload.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <map>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"

// The `alertmanager` format was checked field by field against Alertmanager's own sources and
// documentation (prometheus/alertmanager):
//  - docs/configuration.md, `<webhook_config>`: the payload "version": "4" with groupKey,
//    truncatedAlerts, status, receiver, groupLabels, commonLabels, commonAnnotations,
//    externalURL and alerts[] of status, labels, annotations, startsAt, endsAt (RFC 3339),
//    generatorURL and fingerprint; `max_alerts` (0 = all) truncates.
//  - notify/webhook/webhook.go: `type Message struct { *template.Data; Version string
//    "version"; GroupKey string "groupKey"; TruncatedAlerts uint64 "truncatedAlerts" }`, Version
//    "4"; truncateAlerts() keeps alerts[:maxAlerts] BEFORE the template data is built (so
//    status and the common labels/annotations describe the alerts sent); the body is written by
//    json.NewEncoder(...).Encode(msg): HTML-safe escaping and a trailing newline.
//  - template/template.go: `type Data struct { Receiver "receiver"; Status "status"; Alerts
//    "alerts"; GroupLabels, CommonLabels, CommonAnnotations KV; ExternalURL "externalURL" }`,
//    Receiver = regexp.QuoteMeta(receiver name), Status "firing" when any alert fires; empty
//    maps are {} (KV{}), never null; `type Alert struct { Status, Labels, Annotations,
//    StartsAt, EndsAt time.Time, GeneratorURL, Fingerprint }` in that order; commonLabels are
//    the labels equal in every alert.
//  - Go's encoding/json: struct fields in declaration order (the embedded Data's first), map
//    keys sorted, time.Time as RFC 3339 with nanoseconds and trailing zeros dropped; a firing
//    alert's zero EndsAt is "0001-01-01T00:00:00Z" (as in the examples of the docs).

namespace vigil::alerting {
namespace {

using ordered_json = nlohmann::ordered_json;

ordered_json KvObject(const std::map<std::string, std::string>& kv) {
  ordered_json o = ordered_json::object();  // std::map: sorted keys, as Go writes maps
  for (const auto& [k, v] : kv) o[k] = v;
  return o;
}

std::map<std::string, std::string> ToMap(const Labels& labels) {
  return std::map<std::string, std::string>(labels.begin(), labels.end());
}

// An alert's labels as sent: alertname is always there (the rule), as in every Alertmanager
// alert.
std::map<std::string, std::string> AlertLabels(const Alert& a) {
  std::map<std::string, std::string> labels = ToMap(a.labels);
  labels.emplace("alertname", a.rule);  // no-op when the labels already name it
  return labels;
}

// Go's encoder escapes <, > and & (HTML-safe) and U+2028/U+2029 in strings. These bytes only
// occur inside JSON strings, so replacing them in the whole text is exact.
std::string GoEscape(std::string text) {
  return absl::StrReplaceAll(text, {{"<", "\\u003c"},
                                    {">", "\\u003e"},
                                    {"&", "\\u0026"},
                                    {"\xE2\x80\xA8", "\\u2028"},
                                    {"\xE2\x80\xA9", "\\u2029"}});
}

// Invalid UTF-8 (from a label value) becomes U+FFFD instead of throwing.
template <typename Json>
std::string Dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The notification as sent: at most max_alerts alerts (0 = all), the rest counted.
Notification Truncated(const Notification& n, int max_alerts, bool* truncated) {
  *truncated = max_alerts > 0 && n.alerts.size() > static_cast<size_t>(max_alerts);
  if (!*truncated) return n;
  Notification out = n;
  out.alerts.resize(static_cast<size_t>(max_alerts));
  out.truncated_alerts += static_cast<int>(n.alerts.size()) - max_alerts;
  return out;
}

}  // namespace

std::string GoJsonTime(int64_t unix_ms) {
  if (unix_ms == 0) return "0001-01-01T00:00:00Z";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

std::string GoQuoteMeta(absl::string_view text) {
  static constexpr absl::string_view kSpecial = "\\.+*?()|[]{}^$";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (kSpecial.find(c) != absl::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string AlertmanagerPayload(const Notification& notification, int max_alerts) {
  bool truncated = false;
  const Notification n = Truncated(notification, max_alerts, &truncated);

  std::string status = n.status;
  std::map<std::string, std::string> common_labels = ToMap(n.common_labels);
  std::map<std::string, std::string> common_annotations = n.common_annotations;
  if (truncated) {
    // Alertmanager builds status and the common labels/annotations from the alerts it keeps.
    bool any_firing = false;
    for (const Alert& a : n.alerts) any_firing |= a.firing();
    status = any_firing ? "firing" : "resolved";
    common_labels = AlertLabels(n.alerts.front());
    common_annotations = n.alerts.front().annotations;
    for (const Alert& a : n.alerts) {
      std::map<std::string, std::string> labels = AlertLabels(a);
      for (auto it = common_labels.begin(); it != common_labels.end();) {
        auto found = labels.find(it->first);
        it = (found == labels.end() || found->second != it->second) ? common_labels.erase(it)
                                                                    : std::next(it);
      }
      for (auto it = common_annotations.begin(); it != common_annotations.end();) {
        auto found = a.annotations.find(it->first);
        it = (found == a.annotations.end() || found->second != it->second)
                 ? common_annotations.erase(it)
                 : std::next(it);
      }
    }
  }

  ordered_json alerts = ordered_json::array();
  for (const Alert& a : n.alerts) {
    ordered_json o = ordered_json::object();
    o["status"] = a.firing() ? "firing" : "resolved";
    o["labels"] = KvObject(AlertLabels(a));
    o["annotations"] = KvObject(a.annotations);
    o["startsAt"] = GoJsonTime(a.starts_at_ms);
    o["endsAt"] = GoJsonTime(a.ends_at_ms);
    o["generatorURL"] = a.url;
    o["fingerprint"] = a.fingerprint;
    alerts.push_back(std::move(o));
  }

  ordered_json m = ordered_json::object();
  m["receiver"] = GoQuoteMeta(n.receiver);
  m["status"] = status;
  m["alerts"] = std::move(alerts);
  m["groupLabels"] = KvObject(ToMap(n.group_labels));
  m["commonLabels"] = KvObject(common_labels);
  m["commonAnnotations"] = KvObject(common_annotations);
  m["externalURL"] = n.external_url;
  m["version"] = "4";
  m["groupKey"] = n.group_key;
  m["truncatedAlerts"] = static_cast<uint64_t>(n.truncated_alerts < 0 ? 0 : n.truncated_alerts);
  return GoEscape(Dump(m)) + "\n";
}

std::string VigilPayload(const Notification& notification, int max_alerts) {
  bool truncated = false;
  nlohmann::json context = TemplateContext(Truncated(notification, max_alerts, &truncated));
  context["version"] = "vigil/1";
  return Dump(context);
}

std::string HmacSha256Hex(absl::string_view key, absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // HMAC() fails only for an unknown digest or an allocation failure; both are bugs here.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
           &length) == nullptr) {
    std::abort();
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string WebhookSignature(absl::string_view secret, absl::string_view timestamp,
                             absl::string_view body) {
  return absl::StrCat("sha256=", HmacSha256Hex(secret, absl::StrCat(timestamp, ".", body)));
}

}  // namespace vigil::alerting
