// The SQLite outbox, notification log and silences; the stored notification format; backoff;
// the delivery workers' handling of rows they cannot send.

#include "alerting/notify/sqlite_notification_store.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "alerting/notify/delivery.h"
#include "alerting/notify/notification_codec.h"
#include "alerting/notify/notify_test_util.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

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

NotificationLogEntry Entry(const std::string& group, std::vector<std::string> firing) {
  return {"oncall", 0, group, std::move(firing), {"b@5"}, 1234, "thread-1"};
}

class NotificationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<SqliteNotificationStore>> s =
        SqliteNotificationStore::Open(path_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }
  std::optional<OutboxNotification> Claim(int64_t now) {
    absl::StatusOr<std::optional<OutboxNotification>> c = store_->ClaimDue(now, now + 1000);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : std::nullopt;
  }
  std::vector<OutboxEntry> Outbox() {
    absl::StatusOr<std::vector<OutboxEntry>> e = store_->ListOutbox(100);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : std::vector<OutboxEntry>();
  }

  vigil::testing::TempDir dir_;
  std::string path_ = dir_.Join("notifications.db");
  std::unique_ptr<SqliteNotificationStore> store_;
};

TEST_F(NotificationStoreTest, FlushWritesNotificationsAndLogTogetherAndSurvivesReopen) {
  FlushBatch batch;
  batch.notifications = {Row("n1", 100)};
  batch.log_upserts = {Entry("g1", {"a@1", "c@2~flapping"})};
  ASSERT_TRUE(store_->CommitFlush(batch).ok());
  // The same id again is the same notification: kept once, as it was.
  batch.notifications[0].payload = "changed";
  ASSERT_TRUE(store_->CommitFlush(batch).ok());
  Reopen();
  std::vector<OutboxEntry> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].notification.id, "n1");
  EXPECT_EQ(outbox[0].notification.payload, "{}");
  EXPECT_EQ(outbox[0].state, OutboxState::kPending);
  absl::StatusOr<std::vector<NotificationLogEntry>> log = store_->LoadLog();
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_EQ(log->size(), 1u);
  EXPECT_THAT((*log)[0].firing, ElementsAre("a@1", "c@2~flapping"));
  EXPECT_THAT((*log)[0].resolved, ElementsAre("b@5"));
  EXPECT_EQ((*log)[0].last_notified_ms, 1234);
  EXPECT_EQ((*log)[0].thread_id, "thread-1");
  FlushBatch later;
  later.log_deletes = {{"oncall", 0, "g1"}};
  ASSERT_TRUE(store_->CommitFlush(later).ok());
  log = store_->LoadLog();
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, IsEmpty());
}

TEST_F(NotificationStoreTest, FlushIsAllOrNothing) {
  FlushBatch batch;
  batch.notifications = {Row("n1", 100), Row("", 100)};  // an empty id violates a CHECK
  batch.log_upserts = {Entry("g1", {"a@1"})};
  absl::Status s = store_->CommitFlush(batch);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(path_));
  EXPECT_THAT(Outbox(), IsEmpty());
  absl::StatusOr<std::vector<NotificationLogEntry>> log = store_->LoadLog();
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, IsEmpty());
}

TEST_F(NotificationStoreTest, ClaimsTakeDueRowsInOrderAndHoldThemUntilRecorded) {
  FlushBatch batch;
  batch.notifications = {Row("late", 200), Row("early", 100)};
  ASSERT_TRUE(store_->CommitFlush(batch).ok());
  EXPECT_FALSE(Claim(99).has_value());
  std::optional<OutboxNotification> c = Claim(150);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->id, "early");
  EXPECT_EQ(c->kind, "record");
  EXPECT_EQ(c->created_ms, 100);
  EXPECT_FALSE(Claim(150).has_value()) << "claimed rows are not handed out twice";
  EXPECT_EQ(Claim(200)->id, "late");
  ASSERT_TRUE(
      store_->RecordAttempt("early", {1, 160, "retry", "timeout"}, OutboxState::kPending, 300)
          .ok());
  EXPECT_FALSE(Claim(250).has_value());
  absl::StatusOr<std::optional<int64_t>> next = store_->NextAttemptMs();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(**next, 200);  // "late" is still claimed, and pending
  c = Claim(300);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->id, "early");
  EXPECT_EQ(c->attempts, 1);
  // A restart voids every claim.
  ASSERT_TRUE(store_->ReleaseClaims().ok());
  EXPECT_EQ(Claim(300)->id, "late");
}

TEST_F(NotificationStoreTest, DeliveredIsFinalAndNeverClaimedAgain) {
  FlushBatch batch;
  batch.notifications = {Row("n1", 100)};
  ASSERT_TRUE(store_->CommitFlush(batch).ok());
  ASSERT_TRUE(Claim(100).has_value());
  ASSERT_TRUE(
      store_->RecordAttempt("n1", {1, 110, "delivered", "250 OK"}, OutboxState::kDelivered, 110)
          .ok());
  ASSERT_TRUE(store_->ReleaseClaims().ok());
  EXPECT_FALSE(Claim(1000000).has_value());
  absl::Status again =
      store_->RecordAttempt("n1", {2, 120, "delivered", ""}, OutboxState::kDelivered, 120);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*store_->CountPending(), 0);
  EXPECT_FALSE(store_->NextAttemptMs()->has_value());
  std::vector<OutboxEntry> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].state, OutboxState::kDelivered);
  EXPECT_EQ(outbox[0].finished_ms, 110);
  ASSERT_EQ(outbox[0].attempts.size(), 1u);
  EXPECT_EQ(outbox[0].attempts[0].detail, "250 OK");
}

TEST_F(NotificationStoreTest, SilencesRoundTripAndUpdate) {
  Silence s;
  s.id = "abc";
  s.matchers = {"host=\"db-1\"", "env=~\"prod|stag\\\"ing\""};
  s.starts_at_ms = 10;
  s.ends_at_ms = 20;
  s.created_by = "alice";
  s.comment = "disk swap";
  s.updated_ms = 5;
  ASSERT_TRUE(store_->SaveSilence(s).ok());
  s.ends_at_ms = 15;
  ASSERT_TRUE(store_->SaveSilence(s).ok());
  Reopen();
  absl::StatusOr<std::vector<Silence>> loaded = store_->LoadSilences();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  const Silence& l = (*loaded)[0];
  EXPECT_EQ(l.matchers, s.matchers);
  ASSERT_EQ(l.parsed.size(), 2u);
  EXPECT_EQ(l.parsed[1].value, "prod|stag\"ing");
  EXPECT_EQ(l.ends_at_ms, 15);
  EXPECT_EQ(l.created_by, "alice");
  EXPECT_EQ(l.comment, "disk swap");
}

TEST_F(NotificationStoreTest, PruneDropsOnlyOldFinishedRowsAndEndedSilences) {
  FlushBatch batch;
  batch.notifications = {Row("old", 100), Row("pending", 100), Row("recent", 100)};
  ASSERT_TRUE(store_->CommitFlush(batch).ok());
  ASSERT_TRUE(
      store_->RecordAttempt("old", {1, 150, "failed", "400"}, OutboxState::kFailed, 150).ok());
  ASSERT_TRUE(
      store_->RecordAttempt("recent", {1, 900, "delivered", ""}, OutboxState::kDelivered, 900)
          .ok());
  Silence ended{"s1", {"a=b"}, {}, 0, 100, "a", "b", 0};
  Silence active{"s2", {"a=b"}, {}, 0, 5000, "a", "b", 0};
  ASSERT_TRUE(store_->SaveSilence(ended).ok());
  ASSERT_TRUE(store_->SaveSilence(active).ok());
  ASSERT_TRUE(store_->Prune(500).ok());
  std::vector<std::string> ids;
  for (const OutboxEntry& e : Outbox()) ids.push_back(e.notification.id);
  std::sort(ids.begin(), ids.end());
  EXPECT_THAT(ids, ElementsAre("pending", "recent"));
  absl::StatusOr<std::vector<Silence>> silences = store_->LoadSilences();
  ASSERT_TRUE(silences.ok());
  ASSERT_EQ(silences->size(), 1u);
  EXPECT_EQ((*silences)[0].id, "s2");
}

TEST_F(NotificationStoreTest, CorruptRowsAreReportedNotMisread) {
  ASSERT_TRUE(store_
                  ->ExecForTesting("INSERT INTO notification_log VALUES ('oncall', 0, 'g', "
                                   "'[\"a@1\"', '[]', 1, 't')")
                  .ok());
  absl::StatusOr<std::vector<NotificationLogEntry>> log = store_->LoadLog();
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(), HasSubstr("receiver oncall group g is malformed"));
  ASSERT_TRUE(
      store_->ExecForTesting("INSERT INTO silences VALUES ('s', '[\"a~b\"]', 0, 1, 'a', 'b', 0)")
          .ok());
  absl::StatusOr<std::vector<Silence>> silences = store_->LoadSilences();
  EXPECT_EQ(silences.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(silences.status().message(), HasSubstr("silence s has malformed matchers"));
}

TEST_F(NotificationStoreTest, NewerSchemaIsRefused) {
  ASSERT_TRUE(store_->ExecForTesting("INSERT INTO schema_version VALUES (99, 0)").ok());
  store_.reset();
  absl::StatusOr<std::unique_ptr<SqliteNotificationStore>> s = SqliteNotificationStore::Open(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr(absl::StrCat(path_, " has schema version 99")));
}

TEST(SqliteNotificationStore, OpenNamesTheFileWhenItCannot) {
  vigil::testing::TempDir dir;
  absl::StatusOr<std::unique_ptr<SqliteNotificationStore>> s =
      SqliteNotificationStore::Open(dir.Join("missing/n.db"));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("missing/n.db"));
  const std::string garbage = dir.Write("garbage.db", std::string(8192, 'x'));
  s = SqliteNotificationStore::Open(garbage);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr(garbage));
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
  auto store = SqliteNotificationStore::Open(dir.Join("n.db"));
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
  o.store = store->get();
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
