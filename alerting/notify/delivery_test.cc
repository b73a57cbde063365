// The stored notification format, backoff, and the delivery workers' handling of rows they
// cannot send. The stores themselves are tested in collector/state/state_store_test.cc.

#include "alerting/notify/delivery.h"

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "alerting/notify/notification_codec.h"
#include "alerting/notify/notify_test_util.h"
#include "collector/state/sqlite_state_store.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

using ::testing::HasSubstr;

OutboxNotification Row(const std::string& id, int64_t due, const std::string& payload = "{}") {
  OutboxNotification n;
  n.id = id;
  n.receiver = "oncall";
  n.integration = 0;
  n.kind = "record";
  n.payload = payload;
  n.created_ms = due;
  n.next_attempt_ms = due;
  return n;
}

Notification SampleNotification() {
  Notification n;
  n.id = "id1";
  n.receiver = "oncall";
  n.group_key = "{}:{alertname=\"x\"}";
  n.group_labels = {{"alertname", "x"}};
  n.common_labels = {{"alertname", "x"}, {"env", "prod"}};
  n.common_annotations = {{"runbook", "https://r"}};
  n.status = "firing";
  n.truncated_alerts = 0;
  n.created_ms = 1796083230000;
  n.thread_id = "id0";
  n.external_url = "http://v";
  Alert a;
  a.fingerprint = "0123456789abcdef";
  a.rule = "x";
  a.description = "desc \"quoted\" \xc3\xa9";
  a.labels = {{"alertname", "x"}, {"env", "prod"}, {"host", "h\n1"}};
  a.annotations = {{"summary", "s"}};
  a.state = "ALARM";
  a.previous_state = "OK";
  a.reason = "3 of 3 datapoints [82.1, 91, 77.4] > 70";
  a.value = 82.1;
  a.threshold = 70;
  a.comparison = ">";
  a.datapoints = {{1000, 82.1}, {2000, std::nullopt}};
  a.starts_at_ms = 1796083200000;
  a.flapping = true;
  a.url = "http://v/#/alarms/x";
  n.alerts.push_back(a);
  a.ends_at_ms = 1796083260000;
  a.value.reset();
  a.flapping = false;
  n.alerts.push_back(a);
  return n;
}

TEST(NotificationCodec, RoundTripsEveryField) {
  const Notification n = SampleNotification();
  absl::StatusOr<Notification> d = DecodeNotification(EncodeNotification(n));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(TemplateContext(*d), TemplateContext(n));
  EXPECT_EQ(d->alerts[0].datapoints[1].value, std::nullopt);
  EXPECT_EQ(d->alerts[1].ends_at_ms, 1796083260000);
  EXPECT_EQ(d->alerts[1].value, std::nullopt);
  EXPECT_EQ(d->alerts[0].labels, n.alerts[0].labels);
}

TEST(NotificationCodec, EveryTruncationAndWrongTypeIsADataLossError) {
  const std::string text = EncodeNotification(SampleNotification());
  for (size_t len = 0; len < text.size(); ++len) {
    absl::StatusOr<Notification> d = DecodeNotification(text.substr(0, len));
    ASSERT_FALSE(d.ok()) << "prefix of " << len << " bytes decoded";
    EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  }
  std::string wrong = text;
  const std::string threshold = "\"threshold\":70.0";
  ASSERT_NE(wrong.find(threshold), std::string::npos) << text;
  wrong.replace(wrong.find(threshold), threshold.size(), "\"threshold\":\"70\"");
  absl::StatusOr<Notification> d = DecodeNotification(wrong);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(d.status().message(),
              HasSubstr("notification.alerts[0].threshold: expected a number or null"));
  EXPECT_THAT(DecodeNotification("[1,2]").status().message(), HasSubstr("expected an object"));
  EXPECT_THAT(DecodeNotification("{\"version\":2}").status().message(),
              HasSubstr("format version 2"));
  EXPECT_THAT(DecodeNotification("{\"version\":1}").status().message(),
              HasSubstr("notification.id: missing"));
}

TEST(RetryDelay, FullJitterUnderADoublingCapAndAtLeastRetryAfter) {
  DeliveryConfig c;
  c.initial_backoff = absl::Seconds(1);
  c.max_backoff = absl::Seconds(10);
  std::mt19937_64 rng(7);
  for (int attempt = 1; attempt <= 8; ++attempt) {
    const int64_t cap = std::min<int64_t>(10000, 1000LL << (attempt - 1));
    int64_t max_seen = 0;
    for (int i = 0; i < 500; ++i) {
      int64_t d = RetryDelayMs(attempt, c, std::nullopt, rng);
      ASSERT_GE(d, 0);
      ASSERT_LE(d, cap);
      max_seen = std::max(max_seen, d);
    }
    EXPECT_GT(max_seen, cap / 2) << "jitter spans the range, attempt " << attempt;
  }
  EXPECT_GE(RetryDelayMs(1, c, absl::Minutes(2), rng), 120000);
}

// Rows the workers cannot send (a payload that does not decode, a receiver the config no longer
// has) fail at once with a reason, and the others are still delivered.
TEST(DeliveryWorkers, UndeliverableRowsFailWithAReason) {
  vigil::testing::TempDir dir;
  auto store = collector::SqliteStateStore::Open(dir.Join("state.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  auto recorders = std::make_shared<testing::Recorders>();
  auto config = ParseAlertingConfig("receivers: [{name: oncall, record: {name: oncall}}]\n",
                                    "alerting.yaml", testing::TestIntegrations(recorders));
  ASSERT_TRUE(config.ok()) << config.status();
  FlushBatch batch;
  batch.notifications = {Row("good", 100, EncodeNotification(SampleNotification())),
                         Row("truncated", 100, "{\"version\":1,\"id\""),
                         Row("gone", 100, EncodeNotification(SampleNotification()))};
  batch.notifications[2].receiver = "old-team";
  ASSERT_TRUE((*store)->CommitFlush(batch).ok());
  NotifyMetrics metrics(nullptr);
  DeliveryWorkers::Options o;
  o.store = &(*store)->notifications();
  o.config = [&] { return *config; };
  o.now_ms = [] { return int64_t{100}; };
  o.manual_clock = true;
  o.metrics = &metrics;
  o.workers = 2;
  DeliveryWorkers workers(o);
  workers.WaitIdle();
  absl::StatusOr<std::vector<OutboxEntry>> outbox = (*store)->ListOutbox(10);
  ASSERT_TRUE(outbox.ok());
  std::map<std::string, const OutboxEntry*> by_id;
  for (const OutboxEntry& e : *outbox) by_id[e.notification.id] = &e;
  EXPECT_EQ(by_id["good"]->state, OutboxState::kDelivered);
  EXPECT_EQ(by_id["truncated"]->state, OutboxState::kFailed);
  EXPECT_THAT(by_id["truncated"]->attempts[0].detail, HasSubstr("not valid JSON"));
  EXPECT_EQ(by_id["gone"]->state, OutboxState::kFailed);
  EXPECT_EQ(by_id["gone"]->attempts[0].detail,
            "receiver 'old-team' has no record integration #0 in the current alerting config");
  EXPECT_EQ(recorders->Get("oncall")->count(), 1u);
  EXPECT_EQ(metrics.AttemptedValue("oncall", "record", "failed"), 1);
  EXPECT_EQ(metrics.AttemptedValue("old-team", "record", "failed"), 1);
  EXPECT_EQ(metrics.PendingValue(), 0);
  workers.Stop();
}

}  // namespace
}  // namespace vigil::alerting
