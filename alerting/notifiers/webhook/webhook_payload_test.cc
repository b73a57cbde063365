#include "alerting/notifiers/webhook/webhook_payload.h"

#include <set>
#include <string>

#include "alerting/notifiers/webhook/webhook_test_notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace vigil::alerting {
namespace {

using json = nlohmann::json;

std::set<std::string> Keys(const json& o) {
  std::set<std::string> keys;
  for (const auto& [k, v] : o.items()) keys.insert(k);
  return keys;
}

// What Alertmanager's webhook.go (json.NewEncoder(...).Encode(&Message{...})) writes for the
// sample notification: Data's fields first, then version, groupKey, truncatedAlerts; map keys
// sorted; <, > and & escaped; the fraction's trailing zeros dropped; a final newline.
constexpr char kAlertmanagerGolden[] =
    R"({"receiver":"ops-webhook","status":"firing","alerts":[)"
    R"({"status":"firing","labels":{"alertname":"cpu_high","env":"prod","host":"web-1",)"
    R"("severity":"critical"},"annotations":{"runbook_url":)"
    R"("https://runbooks.example/cpu?host=web-1\u0026view=\u003call\u003e",)"
    R"("summary":"CPU above 70%"},"startsAt":"2026-11-18T11:06:40.123Z",)"
    R"("endsAt":"0001-01-01T00:00:00Z",)"
    R"("generatorURL":"http://collector.example:8080/alarms/cpu_high?host=web-1",)"
    R"("fingerprint":"a1b2c3d4e5f60718"},)"
    R"({"status":"resolved","labels":{"alertname":"cpu_high","env":"prod","host":"web-2",)"
    R"("severity":"critical"},"annotations":{"summary":"CPU above 70%"},)"
    R"("startsAt":"2026-11-18T11:06:40Z","endsAt":"2026-11-18T11:16:40.5Z",)"
    R"("generatorURL":"http://collector.example:8080/alarms/cpu_high?host=web-2",)"
    R"("fingerprint":"0f1e2d3c4b5a6978"}],)"
    R"("groupLabels":{"alertname":"cpu_high"},)"
    R"("commonLabels":{"alertname":"cpu_high","env":"prod","severity":"critical"},)"
    R"("commonAnnotations":{"summary":"CPU above 70%"},)"
    R"("externalURL":"http://collector.example:8080","version":"4",)"
    R"("groupKey":"{}:{alertname=\"cpu_high\"}","truncatedAlerts":0})"
    "\n";

TEST(AlertmanagerPayload, HasExactlyTheVersion4FieldsWithTheNotificationsValues) {
  json p = json::parse(AlertmanagerPayload(SampleNotification(), 0));
  EXPECT_EQ(Keys(p), (std::set<std::string>{"version", "groupKey", "truncatedAlerts", "status",
                                            "receiver", "groupLabels", "commonLabels",
                                            "commonAnnotations", "externalURL", "alerts"}));
  EXPECT_EQ(p["version"], "4");
  EXPECT_EQ(p["groupKey"], "{}:{alertname=\"cpu_high\"}");
  EXPECT_EQ(p["truncatedAlerts"], 0);
  EXPECT_TRUE(p["truncatedAlerts"].is_number_unsigned());
  EXPECT_EQ(p["status"], "firing");
  EXPECT_EQ(p["receiver"], "ops-webhook");
  EXPECT_EQ(p["groupLabels"], json({{"alertname", "cpu_high"}}));
  EXPECT_EQ(p["commonLabels"],
            json({{"alertname", "cpu_high"}, {"env", "prod"}, {"severity", "critical"}}));
  EXPECT_EQ(p["commonAnnotations"], json({{"summary", "CPU above 70%"}}));
  EXPECT_EQ(p["externalURL"], "http://collector.example:8080");

  ASSERT_EQ(p["alerts"].size(), 2u);
  const json& firing = p["alerts"][0];
  EXPECT_EQ(Keys(firing), (std::set<std::string>{"status", "labels", "annotations", "startsAt",
                                                 "endsAt", "generatorURL", "fingerprint"}));
  EXPECT_EQ(firing["status"], "firing");
  EXPECT_EQ(firing["labels"], json({{"alertname", "cpu_high"},
                                    {"env", "prod"},
                                    {"host", "web-1"},
                                    {"severity", "critical"}}));
  EXPECT_EQ(firing["annotations"]["runbook_url"],
            "https://runbooks.example/cpu?host=web-1&view=<all>");
  EXPECT_EQ(firing["annotations"]["summary"], "CPU above 70%");
  EXPECT_EQ(firing["startsAt"], "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(firing["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(firing["generatorURL"], "http://collector.example:8080/alarms/cpu_high?host=web-1");
  EXPECT_EQ(firing["fingerprint"], "a1b2c3d4e5f60718");

  const json& resolved = p["alerts"][1];
  EXPECT_EQ(Keys(resolved), Keys(firing));
  EXPECT_EQ(resolved["status"], "resolved");
  EXPECT_EQ(resolved["labels"]["host"], "web-2");
  EXPECT_EQ(resolved["startsAt"], "2026-11-18T11:06:40Z");
  EXPECT_EQ(resolved["endsAt"], "2026-11-18T11:16:40.5Z");
  EXPECT_EQ(resolved["generatorURL"], "http://collector.example:8080/alarms/cpu_high?host=web-2");
  EXPECT_EQ(resolved["fingerprint"], "0f1e2d3c4b5a6978");
}

TEST(AlertmanagerPayload, IsByteForByteWhatAlertmanagersEncoderWrites) {
  EXPECT_EQ(AlertmanagerPayload(SampleNotification(), 0), kAlertmanagerGolden);
}

TEST(AlertmanagerPayload, AllResolvedIsStatusResolvedWithEmptyObjectsNotNull) {
  Notification n = SampleNotification();
  n.alerts.erase(n.alerts.begin());
  n.status = "resolved";
  n.group_labels.clear();
  n.common_annotations.clear();
  json p = json::parse(AlertmanagerPayload(n, 0));
  EXPECT_EQ(p["status"], "resolved");
  EXPECT_EQ(p["alerts"][0]["status"], "resolved");
  EXPECT_TRUE(p["groupLabels"].is_object());
  EXPECT_TRUE(p["groupLabels"].empty());
  EXPECT_TRUE(p["commonAnnotations"].is_object());
}

TEST(AlertmanagerPayload, LabelsAlwaysIncludeAlertname) {
  Notification n = SampleNotification();
  n.alerts[0].labels = {{"host", "web-1"}};
  json p = json::parse(AlertmanagerPayload(n, 0));
  EXPECT_EQ(p["alerts"][0]["labels"], json({{"alertname", "cpu_high"}, {"host", "web-1"}}));
}

TEST(AlertmanagerPayload, MaxAlertsTruncatesCountsAndRecomputesCommonLabels) {
  Notification n = SampleNotification();
  Alert third = n.alerts[0];
  third.fingerprint = "ffffffffffffffff";
  third.labels = {{"alertname", "cpu_high"}, {"env", "prod"}, {"host", "web-3"}};
  n.alerts.insert(n.alerts.begin() + 1, third);
  n.common_labels = {{"alertname", "cpu_high"}, {"env", "prod"}};

  json p = json::parse(AlertmanagerPayload(n, 1));
  ASSERT_EQ(p["alerts"].size(), 1u);
  EXPECT_EQ(p["alerts"][0]["fingerprint"], "a1b2c3d4e5f60718");
  EXPECT_EQ(p["truncatedAlerts"], 2);
  EXPECT_EQ(p["status"], "firing");
  // As Alertmanager builds them: from the alerts sent, i.e. web-1's labels and annotations.
  EXPECT_EQ(p["commonLabels"], json({{"alertname", "cpu_high"},
                                     {"env", "prod"},
                                     {"host", "web-1"},
                                     {"severity", "critical"}}));
  EXPECT_EQ(p["commonAnnotations"].size(), 2u);

  json two = json::parse(AlertmanagerPayload(n, 2));
  EXPECT_EQ(two["alerts"].size(), 2u);
  EXPECT_EQ(two["truncatedAlerts"], 1);
  EXPECT_EQ(two["commonLabels"], json({{"alertname", "cpu_high"}, {"env", "prod"}}));

  json all = json::parse(AlertmanagerPayload(n, 3));
  EXPECT_EQ(all["alerts"].size(), 3u);
  EXPECT_EQ(all["truncatedAlerts"], 0);
  EXPECT_EQ(json::parse(AlertmanagerPayload(n, 0))["alerts"].size(), 3u);
}

TEST(AlertmanagerPayload, AddsToAlertsTheDispatcherAlreadyLeftOut) {
  Notification n = SampleNotification();
  n.truncated_alerts = 5;
  EXPECT_EQ(json::parse(AlertmanagerPayload(n, 0))["truncatedAlerts"], 5);
  EXPECT_EQ(json::parse(AlertmanagerPayload(n, 1))["truncatedAlerts"], 6);
}

TEST(AlertmanagerPayload, ReceiverIsRegexpQuotedAsAlertmanagerDoes) {
  Notification n = SampleNotification();
  n.receiver = "team.ops+pager";
  EXPECT_EQ(json::parse(AlertmanagerPayload(n, 0))["receiver"], "team\\.ops\\+pager");
}

TEST(AlertmanagerPayload, InvalidUtf8AndControlCharactersStayValidJson) {
  Notification n = SampleNotification();
  n.alerts[0].annotations["summary"] = std::string("bad \xff byte\nline two \x01 \xE2\x80\xA8");
  std::string text = AlertmanagerPayload(n, 0);
  json p = json::parse(text);
  EXPECT_EQ(p["alerts"][0]["annotations"]["summary"],
            "bad \xEF\xBF\xBD byte\nline two \x01 \xE2\x80\xA8");
  EXPECT_THAT(text, ::testing::HasSubstr(R"(\n)"));
  EXPECT_THAT(text, ::testing::HasSubstr(R"(\u0001)"));
  EXPECT_THAT(text, ::testing::HasSubstr(R"(\u2028)"));
}

TEST(GoJsonTime, MatchesGosRfc3339NanoInUtc) {
  EXPECT_EQ(GoJsonTime(0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(GoJsonTime(1795000000000), "2026-11-18T11:06:40Z");
  EXPECT_EQ(GoJsonTime(1795000000100), "2026-11-18T11:06:40.1Z");
  EXPECT_EQ(GoJsonTime(1795000000120), "2026-11-18T11:06:40.12Z");
  EXPECT_EQ(GoJsonTime(1795000000123), "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(GoJsonTime(1795000000003), "2026-11-18T11:06:40.003Z");
}

TEST(GoQuoteMeta, EscapesRegexpMetacharactersOnly) {
  EXPECT_EQ(GoQuoteMeta("ops-webhook_1"), "ops-webhook_1");
  EXPECT_EQ(GoQuoteMeta(R"(\.+*?()|[]{}^$)"), R"(\\\.\+\*\?\(\)\|\[\]\{\}\^\$)");
}

TEST(VigilPayload, IsTheTemplateContextPlusVersionWithDatapoints) {
  Notification n = SampleNotification();
  json p = json::parse(VigilPayload(n, 0));
  EXPECT_EQ(p["version"], "vigil/1");
  json context = TemplateContext(n);
  for (const auto& [key, value] : context.items()) EXPECT_EQ(p[key], value) << key;
  EXPECT_EQ(p.size(), context.size() + 1);

  EXPECT_EQ(p["notification_id"], "n-7f3a9c0d12e4b5a6");
  ASSERT_EQ(p["alerts"].size(), 2u);
  const json& points = p["alerts"][0]["datapoints"];
  ASSERT_EQ(points.size(), 3u);
  EXPECT_DOUBLE_EQ(points[0]["value"].get<double>(), 82.1);
  EXPECT_DOUBLE_EQ(points[1]["value"].get<double>(), 91.0);
  EXPECT_DOUBLE_EQ(points[2]["value"].get<double>(), 77.4);
  EXPECT_EQ(points[0]["start"], "2026-11-18T11:04:40.000Z");
  EXPECT_EQ(p["alerts"][0]["reason"],
            "Threshold crossed: 3 out of the last 3 datapoints [82.1, 91.0, 77.4] > 70");
  EXPECT_DOUBLE_EQ(p["alerts"][0]["threshold"].get<double>(), 70);
}

TEST(VigilPayload, MaxAlertsTruncatesAndCounts) {
  json p = json::parse(VigilPayload(SampleNotification(), 1));
  EXPECT_EQ(p["alerts"].size(), 1u);
  EXPECT_EQ(p["truncated_alerts"], 1);
}

TEST(HmacSha256Hex, MatchesRfc4231TestCase2) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookSignature, IsHmacOfTimestampDotBody) {
  EXPECT_EQ(WebhookSignature("Jefe", "what do ya want", " for nothing?"),
            "sha256=" + HmacSha256Hex("Jefe", "what do ya want. for nothing?"));
  EXPECT_NE(WebhookSignature("s", "1", "{}"), WebhookSignature("s", "2", "{}"));
}

}  // namespace
}  // namespace vigil::alerting
