// The dispatcher with a fake clock: routing into groups, Alertmanager's timers and notification
// log, silences, maintenance windows, inhibition, flapping, *_actions, restarts, delivery.

#include "alerting/notify/dispatcher.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "alerting/notify/alert_labels.h"
#include "alerting/notify/matchers.h"
#include "alerting/notify/notify_test_util.h"
#include "alerting/rules/loader.h"
#include "collector/state/sqlite_state_store.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace vigil::alerting {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr int64_t kT0 = 1796083200000;  // 2026-12-01T00:00:00Z, a Tuesday
constexpr int64_t kSec = 1000;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;

constexpr char kRules[] = R"(
rules:
  - name: cpu-high
    metric: system.cpu.utilization
    where: {role: web}
    group_by: [host]
    threshold: 90
    severity: critical
    annotations: {summary: "CPU high on {{host}}"}
  - name: region-down
    metric: probe.up
    group_by: [region]
    comparison: "<"
    threshold: 1
    severity: page
  - name: disk-full
    metric: system.filesystem.utilization
    group_by: [host]
    threshold: 95
    alarm_actions: [pager]
    ok_actions: [team]
)";

constexpr char kConfig[] = R"(
external_url: http://vigil.example.com:9090
receivers:
  - name: oncall
    record: {name: oncall}
  - name: quiet
    record: [{name: quiet, send_resolved: false}]
  - name: pager
    record: {name: pager}
  - name: team
    record: {name: team}
route:
  receiver: oncall
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['env="staging"']
      receiver: quiet
flapping: {max_transitions: 4, window: 1h}
delivery: {initial_backoff: 1s, max_backoff: 1m, max_age: 1h, workers: 2}
)";

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::shared_ptr<const RuleSet>> rules = ParseRuleSet({{"rules.yaml", kRules}});
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *rules;
    OpenStore();
  }

  void OpenStore() {
    absl::StatusOr<std::unique_ptr<collector::SqliteStateStore>> store =
        collector::SqliteStateStore::Open(dir_.Join("notifications.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // Starts a dispatcher on `config` (written to alerting.yaml) with the fake clock.
  void Start(const std::string& config = kConfig, bool run_delivery = true) {
    config_path_ = dir_.Write("alerting.yaml", config);
    DispatcherOptions o;
    o.config_path = config_path_;
    o.store = store_.get();
    o.now_ms = [this] { return now_.load(); };
    o.manual_clock = true;
    o.registry = &registry_;
    o.integrations = testing::TestIntegrations(recorders_);
    o.run_delivery = run_delivery;
    o.jitter_seed = 42;
    o.default_external_url = default_external_url_;
    absl::StatusOr<std::unique_ptr<Dispatcher>> d = Dispatcher::Start(std::move(o));
    ASSERT_TRUE(d.ok()) << d.status();
    dispatcher_ = *std::move(d);
  }

  // Moves the clock to `t`, running every timer and retry due on the way at its own time.
  void AdvanceTo(int64_t t) {
    for (int guard = 0; guard < 100000; ++guard) {
      std::optional<int64_t> next = dispatcher_->NextWakeMs();
      if (!next || *next > t) break;
      now_ = std::max(now_.load(), *next);
      dispatcher_->Tick();
    }
    now_ = std::max(now_.load(), t);
    dispatcher_->Tick();
  }

  static AlarmView View(const std::string& host, AlarmState state, int64_t since) {
    AlarmView v;
    v.rule = "cpu-high";
    v.labels = {{"host", host}};
    v.instance = FormatLabels(v.labels);
    v.state = state;
    v.state_since_ms = since;
    v.reason = "restored";
    return v;
  }

  Transition Change(const std::string& rule, Labels instance_labels, AlarmState from, AlarmState to,
                    int64_t at) {
    Transition t;
    t.rule = rule;
    t.labels = std::move(instance_labels);
    t.instance = FormatLabels(t.labels);
    t.from = from;
    t.to = to;
    t.at_ms = at;
    t.reason = absl::StrCat(StateName(from), " -> ", StateName(to));
    t.datapoints = {{at - kMin, 97.5}};
    return t;
  }

  // Sends a transition of `rule` for host=<host> at now.
  void Fire(const std::string& rule, const std::string& host, AlarmState from = AlarmState::kOk,
            AlarmState to = AlarmState::kAlarm, Labels extra = {}) {
    Labels labels = {{"host", host}};
    for (auto& l : extra) labels.push_back(l);
    std::sort(labels.begin(), labels.end());
    dispatcher_->OnTransitions({Change(rule, labels, from, to, now_)}, *rules_);
  }
  void Resolve(const std::string& rule, const std::string& host, Labels extra = {}) {
    Fire(rule, host, AlarmState::kAlarm, AlarmState::kOk, std::move(extra));
  }

  std::vector<Notification> Sent(const std::string& name) {
    return recorders_->Get(name)->distinct();
  }

  static std::vector<std::string> Hosts(const Notification& n, bool firing) {
    std::vector<std::string> out;
    for (const Alert& a : n.alerts) {
      if (a.firing() == firing) {
        for (const auto& [k, v] : a.labels) {
          if (k == "host") out.push_back(v);
        }
      }
    }
    return out;
  }

  std::vector<OutboxEntry> Outbox() {
    absl::StatusOr<std::vector<OutboxEntry>> entries = store_->ListOutbox(1000);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<OutboxEntry>();
  }

  vigil::testing::TempDir dir_;
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<collector::SqliteStateStore> store_;
  std::shared_ptr<testing::Recorders> recorders_ = std::make_shared<testing::Recorders>();
  prometheus::Registry registry_;
  std::atomic<int64_t> now_{kT0};
  std::string config_path_;
  std::string default_external_url_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, TenAlertsWithinGroupWaitMakeOneNotification) {
  Start();
  for (int i = 0; i < 10; ++i) {
    Fire("cpu-high", absl::StrCat("web-", i));
    AdvanceTo(now_ + kSec);
  }
  AdvanceTo(kT0 + 29 * kSec);
  EXPECT_THAT(Sent("oncall"), IsEmpty());
  AdvanceTo(kT0 + 30 * kSec);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 1u);
  const Notification& n = sent[0];
  EXPECT_EQ(n.alerts.size(), 10u);
  EXPECT_EQ(n.firing_count(), 10);
  EXPECT_EQ(n.status, "firing");
  EXPECT_EQ(n.receiver, "oncall");
  EXPECT_EQ(n.group_key, "{}:{alertname=\"cpu-high\"}");
  EXPECT_THAT(n.group_labels, ElementsAre(Pair("alertname", "cpu-high")));
  EXPECT_THAT(n.common_labels, ElementsAre(Pair("alertname", "cpu-high"), Pair("role", "web"),
                                           Pair("rule", "cpu-high"), Pair("severity", "critical")));
  EXPECT_EQ(n.thread_id, n.id);
  EXPECT_EQ(n.id.size(), 64u);
  EXPECT_EQ(n.created_ms, kT0 + 30 * kSec);
  EXPECT_EQ(n.external_url, "http://vigil.example.com:9090");
  const Alert& a = n.alerts[0];
  EXPECT_EQ(a.state, "ALARM");
  EXPECT_EQ(a.previous_state, "OK");
  EXPECT_EQ(a.starts_at_ms, kT0);
  EXPECT_EQ(a.annotations.at("summary"), "CPU high on web-0");
  EXPECT_EQ(a.threshold, 90);
  EXPECT_EQ(a.comparison, ">");
  EXPECT_EQ(a.value, 97.5);
  EXPECT_EQ(a.fingerprint, Fingerprint(a.labels));
  EXPECT_EQ(a.url,
            "http://vigil.example.com:9090/#/alarms/cpu-high?instance=%7Bhost%3D%22web-0%22%7D");
  EXPECT_THAT(Hosts(n, true), ElementsAre("web-0", "web-1", "web-2", "web-3", "web-4", "web-5",
                                          "web-6", "web-7", "web-8", "web-9"));
  std::vector<OutboxEntry> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].state, OutboxState::kDelivered);
  ASSERT_EQ(outbox[0].attempts.size(), 1u);
  EXPECT_EQ(outbox[0].attempts[0].result, "delivered");
}

TEST_F(DispatcherTest, LaterAlertWaitsForGroupIntervalAndRepeatIntervalResends) {
  Start();
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 30 * kSec);
  ASSERT_EQ(Sent("oncall").size(), 1u);
  AdvanceTo(kT0 + 60 * kSec);
  Fire("cpu-high", "web-2");
  AdvanceTo(kT0 + 30 * kSec + 5 * kMin - 1);
  EXPECT_EQ(Sent("oncall").size(), 1u) << "the new alert waits for group_interval";
  AdvanceTo(kT0 + 30 * kSec + 5 * kMin);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_THAT(Hosts(sent[1], true), ElementsAre("web-1", "web-2"));
  EXPECT_EQ(sent[1].thread_id, sent[0].id);
  // Nothing new: nothing until repeat_interval (4h) after the last notification.
  AdvanceTo(kT0 + 30 * kSec + 5 * kMin + 4 * kHour - 1);
  EXPECT_EQ(Sent("oncall").size(), 2u);
  AdvanceTo(kT0 + 30 * kSec + 5 * kMin + 4 * kHour);
  sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_THAT(Hosts(sent[2], true), ElementsAre("web-1", "web-2"));
  EXPECT_EQ(sent[2].thread_id, sent[0].id);
}

TEST_F(DispatcherTest, ResolvedIsSentOnceAndThreadsWithTheAlarm) {
  Start();
  Fire("cpu-high", "web-1");
  Fire("cpu-high", "web-2");
  AdvanceTo(kT0 + 30 * kSec);
  AdvanceTo(kT0 + 2 * kMin);
  Resolve("cpu-high", "web-1");
  AdvanceTo(kT0 + 30 * kSec + 5 * kMin);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].status, "firing");
  EXPECT_THAT(Hosts(sent[1], true), ElementsAre("web-2"));
  EXPECT_THAT(Hosts(sent[1], false), ElementsAre("web-1"));
  EXPECT_EQ(sent[1].alerts[1].ends_at_ms, kT0 + 2 * kMin);
  EXPECT_EQ(sent[1].alerts[1].starts_at_ms, kT0);
  EXPECT_EQ(sent[1].alerts[1].state, "OK");
  AdvanceTo(kT0 + 30 * kSec + 15 * kMin);
  EXPECT_EQ(Sent("oncall").size(), 2u) << "the resolution is sent once";
  AdvanceTo(kT0 + 20 * kMin);
  Resolve("cpu-high", "web-2");
  AdvanceTo(kT0 + 30 * kMin);
  sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].status, "resolved");
  EXPECT_THAT(Hosts(sent[2], false), ElementsAre("web-2"));
  EXPECT_EQ(sent[2].thread_id, sent[0].id);
  // A new incident of the group starts a new thread.
  AdvanceTo(kT0 + 40 * kMin);
  Fire("cpu-high", "web-2");
  AdvanceTo(kT0 + 50 * kMin);
  sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[3].thread_id, sent[3].id);
  EXPECT_EQ(sent[3].alerts[0].starts_at_ms, kT0 + 40 * kMin);
}

TEST_F(DispatcherTest, ResolvedBeforeAnythingWasNotifiedSendsNothing) {
  Start();
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 10 * kSec);
  Resolve("cpu-high", "web-1");
  AdvanceTo(kT0 + 2 * kHour);
  EXPECT_THAT(Sent("oncall"), IsEmpty());
  EXPECT_THAT(Outbox(), IsEmpty());
}

TEST_F(DispatcherTest, SendResolvedFalseNeverSendsResolutions) {
  Start();
  Fire("cpu-high", "web-1", AlarmState::kOk, AlarmState::kAlarm, {{"env", "staging"}});
  Fire("cpu-high", "web-2", AlarmState::kOk, AlarmState::kAlarm, {{"env", "staging"}});
  AdvanceTo(kT0 + 30 * kSec);
  ASSERT_EQ(Sent("quiet").size(), 1u);
  EXPECT_THAT(Sent("oncall"), IsEmpty()) << "the staging route does not continue";
  AdvanceTo(kT0 + kMin);
  Resolve("cpu-high", "web-1", {{"env", "staging"}});
  AdvanceTo(kT0 + 20 * kMin);
  EXPECT_EQ(Sent("quiet").size(), 1u);
  Resolve("cpu-high", "web-2", {{"env", "staging"}});
  AdvanceTo(kT0 + 40 * kMin);
  EXPECT_EQ(Sent("quiet").size(), 1u);
  // The incident is over for the log: the next alarm starts a new thread at once.
  AdvanceTo(kT0 + 50 * kMin);
  Fire("cpu-high", "web-3", AlarmState::kOk, AlarmState::kAlarm, {{"env", "staging"}});
  AdvanceTo(kT0 + 51 * kMin);
  std::vector<Notification> sent = Sent("quiet");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].thread_id, sent[1].id);
  EXPECT_THAT(Hosts(sent[1], true), ElementsAre("web-3"));
}

TEST_F(DispatcherTest, SilenceHoldsBackAndReleasesOnlyWhatStillFires) {
  Start();
  absl::StatusOr<Silence> silence = dispatcher_->AddSilence(
      {{"alertname=\"cpu-high\"", "host=~\"web-[12]\""}, 0, kT0 + kHour, "alice", "deploy"});
  ASSERT_TRUE(silence.ok()) << silence.status();
  EXPECT_EQ(silence->id.size(), 32u);
  Fire("cpu-high", "web-1");
  Fire("cpu-high", "web-2");
  Fire("cpu-high", "web-3");
  EXPECT_EQ(
      dispatcher_->MuteReason(AlertLabels(*rules_->Find("cpu-high"), {{"host", "web-1"}}), now_),
      absl::StrCat("silenced by ", silence->id, " (alice: deploy)"));
  EXPECT_EQ(
      dispatcher_->MuteReason(AlertLabels(*rules_->Find("cpu-high"), {{"host", "web-3"}}), now_),
      "");
  AdvanceTo(kT0 + 30 * kSec);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_THAT(Hosts(sent[0], true), ElementsAre("web-3"));
  // web-1 resolves while silenced: nothing was sent for it, so nothing is sent now.
  AdvanceTo(kT0 + 10 * kMin);
  Resolve("cpu-high", "web-1");
  AdvanceTo(kT0 + 20 * kMin);
  EXPECT_EQ(Sent("oncall").size(), 1u);
  ASSERT_TRUE(dispatcher_->ExpireSilence(silence->id).ok());
  EXPECT_EQ(dispatcher_->ExpireSilence(silence->id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(dispatcher_->ExpireSilence("nope").code(), absl::StatusCode::kNotFound);
  // The next group_interval flush tells of web-2, still firing; web-1 is not mentioned.
  AdvanceTo(kT0 + 30 * kSec + 20 * kMin);
  sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_THAT(Hosts(sent[1], true), ElementsAre("web-2", "web-3"));
  EXPECT_THAT(Hosts(sent[1], false), IsEmpty());
  EXPECT_EQ(NotifyMetrics(&registry_).SuppressedValue("silenced"), 3);
}

TEST_F(DispatcherTest, IncidentThatEndsWhileSilencedEndsItsThread) {
  Start();
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 30 * kSec);
  ASSERT_EQ(Sent("oncall").size(), 1u);
  absl::StatusOr<Silence> silence =
      dispatcher_->AddSilence({{"host=\"web-1\""}, 0, kT0 + kHour, "alice", "reboot"});
  ASSERT_TRUE(silence.ok());
  AdvanceTo(kT0 + 2 * kMin);
  Resolve("cpu-high", "web-1");
  AdvanceTo(kT0 + 20 * kMin);
  EXPECT_EQ(Sent("oncall").size(), 1u) << "the OK is muted too";
  ASSERT_TRUE(dispatcher_->ExpireSilence(silence->id).ok());
  AdvanceTo(kT0 + 2 * kHour);
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 2 * kHour + kMin);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].thread_id, sent[1].id) << "a new incident, a new thread";
  EXPECT_EQ(sent[1].alerts[0].starts_at_ms, kT0 + 2 * kHour);
}

TEST_F(DispatcherTest, SilencesArePersistedAndValidated) {
  Start();
  EXPECT_EQ(dispatcher_->AddSilence({{}, 0, kT0 + kHour, "alice", "x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      dispatcher_->AddSilence({{"host=~\"web-(\""}, 0, kT0 + kHour, "a", "x"}).status().message(),
      HasSubstr("bad regex"));
  EXPECT_THAT(dispatcher_->AddSilence({{"host!=x"}, 0, kT0 + kHour, "a", "x"}).status().message(),
              HasSubstr("every alert"));
  EXPECT_THAT(dispatcher_->AddSilence({{"host=x"}, 0, kT0 - 1, "a", "x"}).status().message(),
              HasSubstr("end after it starts"));
  EXPECT_THAT(dispatcher_->AddSilence({{"host=x"}, 0, kT0 + 1, "", "x"}).status().message(),
              HasSubstr("created_by"));
  absl::StatusOr<Silence> s =
      dispatcher_->AddSilence({{"host=\"db-1\""}, kT0 + kMin, kT0 + kHour, "bob", "disk swap"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_STREQ(s->StateAt(now_), "pending");
  dispatcher_.reset();
  Start();
  std::vector<Silence> silences = dispatcher_->ListSilences();
  ASSERT_EQ(silences.size(), 1u);
  EXPECT_EQ(silences[0].id, s->id);
  EXPECT_THAT(silences[0].matchers, ElementsAre("host=\"db-1\""));
  EXPECT_EQ(silences[0].created_by, "bob");
  EXPECT_EQ(silences[0].comment, "disk swap");
  EXPECT_EQ(silences[0].starts_at_ms, kT0 + kMin);
  EXPECT_EQ(dispatcher_->MuteReason({{"host", "db-1"}}, kT0 + 2 * kMin),
            absl::StrCat("silenced by ", s->id, " (bob: disk swap)"));
  EXPECT_EQ(dispatcher_->MuteReason({{"host", "db-1"}}, kT0), "");
}

TEST_F(DispatcherTest, MaintenanceWindowHoldsBackUntilItEnds) {
  Start(absl::StrCat(kConfig, R"(
maintenance_windows:
  - {name: web-deploy, matchers: ['host=~"web-.*"'], start: "2026-12-01T00:00:00Z", end: "2026-12-01T01:00:00Z"}
  - {name: nightly, matchers: ['host="db-1"'], weekly: {days: [tue], start: "23:30", duration: 1h, time_zone: America/New_York}}
)"));
  Fire("cpu-high", "web-1");
  Fire("cpu-high", "web-2");
  EXPECT_EQ(
      dispatcher_->MuteReason(AlertLabels(*rules_->Find("cpu-high"), {{"host", "web-1"}}), now_),
      "in maintenance window web-deploy");
  AdvanceTo(kT0 + 20 * kMin);
  EXPECT_THAT(Sent("oncall"), IsEmpty());
  AdvanceTo(kT0 + 30 * kMin);
  Resolve("cpu-high", "web-1");
  AdvanceTo(kT0 + kHour - 1);
  EXPECT_THAT(Sent("oncall"), IsEmpty());
  // The window ends at 01:00; the group's next flush after that tells of web-2 only.
  AdvanceTo(kT0 + kHour + 5 * kMin);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_THAT(Hosts(sent[0], true), ElementsAre("web-2"));
  EXPECT_THAT(Hosts(sent[0], false), IsEmpty());
  // Weekly in New York: Tuesday 23:30 EST = Wednesday 04:30Z, over midnight local time.
  Labels db = {{"host", "db-1"}};
  EXPECT_EQ(dispatcher_->MuteReason(db, kT0 + 28 * kHour + 29 * kMin), "");
  EXPECT_EQ(dispatcher_->MuteReason(db, kT0 + 28 * kHour + 30 * kMin),
            "in maintenance window nightly");
  EXPECT_EQ(dispatcher_->MuteReason(db, kT0 + 29 * kHour + 15 * kMin),
            "in maintenance window nightly");
  EXPECT_EQ(dispatcher_->MuteReason(db, kT0 + 29 * kHour + 30 * kMin), "");
}

TEST_F(DispatcherTest, InhibitionMutesTargetsWithEqualLabelsButNeverItself) {
  Start(absl::StrCat(kConfig, R"(
inhibit_rules:
  - {source_matchers: ['alertname="region-down"'], target_matchers: ['severity=~"critical|page"'], equal: [region]}
)"));
  dispatcher_->OnTransitions(
      {Change("region-down", {{"region", "eu"}}, AlarmState::kOk, AlarmState::kAlarm, now_)},
      *rules_);
  Fire("cpu-high", "web-1", AlarmState::kOk, AlarmState::kAlarm, {{"region", "eu"}});
  Fire("cpu-high", "web-2", AlarmState::kOk, AlarmState::kAlarm, {{"region", "us"}});
  EXPECT_EQ(
      dispatcher_->MuteReason(
          AlertLabels(*rules_->Find("cpu-high"), {{"host", "web-1"}, {"region", "eu"}}), now_),
      "inhibited by region-down {alertname=\"region-down\",region=\"eu\","
      "rule=\"region-down\",severity=\"page\"}");
  AdvanceTo(kT0 + 30 * kSec);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 2u);  // one group per alertname
  for (const Notification& n : sent) {
    if (n.group_labels[0].second == "region-down") {
      EXPECT_EQ(n.alerts.size(), 1u) << "the source matches the target matchers too";
    } else {
      EXPECT_THAT(Hosts(n, true), ElementsAre("web-2"));
    }
  }
  EXPECT_EQ(NotifyMetrics(&registry_).SuppressedValue("inhibited"), 1);
}

TEST_F(DispatcherTest, FlappingAlarmIsNotifiedOnceThenItsSettledState) {
  Start();
  // ALARM, OK, ALARM, OK within minutes: four transitions are allowed (max_transitions 4).
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 30 * kSec);
  for (int i = 1; i <= 3; ++i) {
    AdvanceTo(kT0 + i * 10 * kMin);
    if (i % 2 == 1) {
      Resolve("cpu-high", "web-1");
    } else {
      Fire("cpu-high", "web-1");
    }
    AdvanceTo(now_ + 5 * kMin);
  }
  ASSERT_EQ(Sent("oncall").size(), 4u);
  // The fifth change within the hour: flapping, notified once as such.
  AdvanceTo(kT0 + 40 * kMin);
  Fire("cpu-high", "web-1");
  for (int i = 1; i <= 6; ++i) {
    AdvanceTo(now_ + 2 * kMin);
    if (i % 2 == 1) {
      Resolve("cpu-high", "web-1");
    } else {
      Fire("cpu-high", "web-1");
    }
  }
  AdvanceTo(kT0 + 40 * kMin + 13 * kMin + 30 * kSec);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 5u);
  ASSERT_EQ(sent[4].alerts.size(), 1u);
  EXPECT_TRUE(sent[4].alerts[0].flapping);
  EXPECT_TRUE(sent[4].alerts[0].firing());
  EXPECT_THAT(sent[4].alerts[0].reason, HasSubstr("flapping"));
  // The last change was at 52 min (ALARM); quiet for an hour, its real state is notified.
  AdvanceTo(kT0 + 52 * kMin + kHour - 1);
  EXPECT_EQ(Sent("oncall").size(), 5u);
  AdvanceTo(kT0 + 52 * kMin + kHour + 5 * kMin);
  sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 6u);
  ASSERT_EQ(sent[5].alerts.size(), 1u);
  EXPECT_FALSE(sent[5].alerts[0].flapping);
  EXPECT_TRUE(sent[5].alerts[0].firing());
  EXPECT_EQ(sent[5].alerts[0].state, "ALARM");
  EXPECT_EQ(Outbox().size(), 6u);
  EXPECT_EQ(NotifyMetrics(&registry_).SuppressedValue("flapping"), 6);
}

TEST_F(DispatcherTest, ActionsBypassTheTreeAndNotifyTheNewStatesReceivers) {
  Start();
  Fire("disk-full", "db-1");
  AdvanceTo(now_);
  std::vector<Notification> pager = Sent("pager");
  ASSERT_EQ(pager.size(), 1u) << "group_wait 0: at once";
  EXPECT_THAT(Sent("oncall"), IsEmpty()) << "the routing tree is bypassed";
  EXPECT_THAT(Sent("team"), IsEmpty());
  EXPECT_EQ(pager[0].group_key,
            "actions:{alertname=\"disk-full\",host=\"db-1\",rule=\"disk-full\"}");
  AdvanceTo(kT0 + 3 * kMin);
  Resolve("disk-full", "db-1");
  AdvanceTo(kT0 + 10 * kMin);
  EXPECT_EQ(Sent("pager").size(), 1u) << "pager is not in ok_actions";
  std::vector<Notification> team = Sent("team");
  ASSERT_EQ(team.size(), 1u);
  EXPECT_EQ(team[0].status, "resolved");
  EXPECT_EQ(team[0].alerts[0].state, "OK");
  // INSUFFICIENT_DATA names nobody: nothing.
  AdvanceTo(kT0 + 20 * kMin);
  Fire("disk-full", "db-1", AlarmState::kOk, AlarmState::kInsufficientData);
  AdvanceTo(kT0 + 30 * kMin);
  EXPECT_EQ(Sent("team").size(), 1u);
  // A new ALARM pages again (a new incident), and repeats at the root's repeat_interval.
  AdvanceTo(kT0 + 40 * kMin);
  Fire("disk-full", "db-1", AlarmState::kInsufficientData, AlarmState::kAlarm);
  AdvanceTo(now_);
  ASSERT_EQ(Sent("pager").size(), 2u);
  AdvanceTo(kT0 + 40 * kMin + 4 * kHour);
  EXPECT_EQ(Sent("pager").size(), 3u);
}

TEST_F(DispatcherTest, CrashAfterTheFlushDeliversExactlyOnceAfterRestart) {
  Start(kConfig, /*run_delivery=*/false);
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 30 * kSec);
  std::vector<OutboxEntry> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].state, OutboxState::kPending);
  EXPECT_THAT(Sent("oncall"), IsEmpty());
  dispatcher_.reset();
  store_.reset();
  OpenStore();
  now_ = kT0 + kMin;
  Start();
  AlarmView view = View("web-1", AlarmState::kAlarm, kT0);
  dispatcher_->Restore({view}, *rules_);
  AdvanceTo(kT0 + 2 * kHour);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].id, outbox[0].notification.id) << "same id: the idempotency key";
  EXPECT_EQ(recorders_->Get("oncall")->count(), 1u);
  outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].state, OutboxState::kDelivered);
  // Resolved after the restart: the OK is sent, in the incident's thread.
  AdvanceTo(kT0 + 3 * kHour);
  Resolve("cpu-high", "web-1");
  AdvanceTo(kT0 + 4 * kHour);
  sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].status, "resolved");
  EXPECT_EQ(sent[1].thread_id, sent[0].id);
}

TEST_F(DispatcherTest, CrashBeforeTheFlushNotifiesOnceAfterRestart) {
  Start();
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 10 * kSec);
  dispatcher_.reset();
  EXPECT_THAT(Outbox(), IsEmpty());
  now_ = kT0 + kMin;
  Start();
  AlarmView view = View("web-1", AlarmState::kAlarm, kT0);
  AlarmView ok = View("web-2", AlarmState::kOk, kT0);
  dispatcher_->Restore({view, ok}, *rules_);
  AdvanceTo(kT0 + 3 * kHour);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_THAT(Hosts(sent[0], true), ElementsAre("web-1"));
  EXPECT_EQ(sent[0].alerts[0].starts_at_ms, kT0);
  // A second restart notifies nothing again.
  dispatcher_.reset();
  Start();
  dispatcher_->Restore({view, ok}, *rules_);
  AdvanceTo(kT0 + 3 * kHour + 10 * kMin);
  EXPECT_EQ(recorders_->Get("oncall")->count(), 1u);
}

TEST_F(DispatcherTest, OkLostInACrashIsSentAfterRestart) {
  Start();
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 30 * kSec);
  ASSERT_EQ(Sent("oncall").size(), 1u);
  AdvanceTo(kT0 + kMin);
  Resolve("cpu-high", "web-1");
  dispatcher_.reset();  // before the group's next flush
  now_ = kT0 + 10 * kMin;
  Start();
  AlarmView ok = View("web-1", AlarmState::kOk, kT0 + kMin);
  dispatcher_->Restore({ok}, *rules_);
  AdvanceTo(kT0 + 20 * kMin);
  std::vector<Notification> sent = Sent("oncall");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].status, "resolved");
  EXPECT_EQ(sent[1].alerts[0].ends_at_ms, kT0 + kMin);
  EXPECT_EQ(sent[1].thread_id, sent[0].id);
}

TEST_F(DispatcherTest, RetryTwiceThenDeliveredMakesThreeAttemptsAndOneDelivery) {
  recorders_->Get("oncall")->Script({DeliveryResult::Retry("connection refused"),
                                     DeliveryResult::Retry("503 Service Unavailable"),
                                     DeliveryResult::Delivered("250 OK")});
  Start();
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 30 * kSec);
  EXPECT_EQ(recorders_->Get("oncall")->count(), 1u);
  AdvanceTo(kT0 + 10 * kMin);
  std::vector<Notification> attempts = recorders_->Get("oncall")->attempts();
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].id, attempts[2].id);
  std::vector<OutboxEntry> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].state, OutboxState::kDelivered);
  ASSERT_EQ(outbox[0].attempts.size(), 3u);
  EXPECT_EQ(outbox[0].attempts[0].result, "retry");
  EXPECT_EQ(outbox[0].attempts[0].detail, "connection refused");
  EXPECT_EQ(outbox[0].attempts[1].result, "retry");
  EXPECT_EQ(outbox[0].attempts[2].result, "delivered");
  EXPECT_EQ(outbox[0].attempts[2].detail, "250 OK");
  // Backoff: the second attempt within [0, 1s] of the first, the third within [0, 2s].
  EXPECT_LE(outbox[0].attempts[1].at_ms - outbox[0].attempts[0].at_ms, 1000);
  EXPECT_LE(outbox[0].attempts[2].at_ms - outbox[0].attempts[1].at_ms, 2000);
}

TEST_F(DispatcherTest, PermanentFailureIsTriedOnce) {
  recorders_->Get("oncall")->Script({DeliveryResult::Permanent("400 Bad Request: no such team")});
  Start();
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 2 * kHour);
  EXPECT_EQ(recorders_->Get("oncall")->count(), 1u);
  std::vector<OutboxEntry> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].state, OutboxState::kFailed);
  ASSERT_EQ(outbox[0].attempts.size(), 1u);
  EXPECT_EQ(outbox[0].attempts[0].result, "failed");
  EXPECT_EQ(outbox[0].attempts[0].detail, "400 Bad Request: no such team");
}

TEST_F(DispatcherTest, RetriesStopAtMaxAge) {
  std::vector<DeliveryResult> always(1000, DeliveryResult::Retry("timeout"));
  recorders_->Get("oncall")->Script(always);
  Start();
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 30 * kSec + kHour - 1);
  std::vector<OutboxEntry> outbox = Outbox();
  ASSERT_EQ(outbox.size(), 1u);
  EXPECT_EQ(outbox[0].state, OutboxState::kPending);
  AdvanceTo(kT0 + 3 * kHour);
  outbox = Outbox();
  EXPECT_EQ(outbox[0].state, OutboxState::kFailed);
  ASSERT_FALSE(outbox[0].attempts.empty());
  EXPECT_EQ(outbox[0].attempts.back().result, "expired");
  EXPECT_EQ(outbox[0].attempts.back().at_ms, kT0 + 30 * kSec + kHour);
  const size_t attempts = outbox[0].attempts.size();
  // Exponential: 1s, 2s, ... capped at 1m: roughly 60 + 6 attempts in an hour, not thousands.
  EXPECT_GT(attempts, 20u);
  EXPECT_LT(attempts, 400u);
  EXPECT_EQ(recorders_->Get("oncall")->count(), attempts);
}

TEST_F(DispatcherTest, RetryAfterIsHonoured) {
  recorders_->Get("oncall")->Script({DeliveryResult::Retry("429", absl::Minutes(10))});
  Start();
  Fire("cpu-high", "web-1");
  AdvanceTo(kT0 + 30 * kSec);
  AdvanceTo(kT0 + 30 * kSec + 10 * kMin - 1);
  EXPECT_EQ(recorders_->Get("oncall")->count(), 1u);
  AdvanceTo(kT0 + 30 * kSec + 10 * kMin);
  EXPECT_EQ(recorders_->Get("oncall")->count(), 2u);
  EXPECT_EQ(Outbox()[0].state, OutboxState::kDelivered);
}

TEST_F(DispatcherTest, ReloadRejectsABadConfigWholeAndAppliesAGoodOne) {
  Start();
  vigil::testing::WriteFile(config_path_, "receivers: [{name: x}]\nroute: {receiver: nobody}\n");
  absl::Status s = dispatcher_->Reload();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("alerting.yaml:2:19: receiver: unknown receiver 'nobody'"));
  EXPECT_EQ(dispatcher_->config()->receivers.size(), 4u);
  vigil::testing::WriteFile(config_path_, R"(
receivers: [{name: other, record: {name: other}}]
route: {receiver: other, group_wait: 0s}
)");
  ASSERT_TRUE(dispatcher_->Reload().ok());
  Fire("cpu-high", "web-1");
  AdvanceTo(now_);
  EXPECT_EQ(Sent("other").size(), 1u);
  EXPECT_THAT(Sent("oncall"), IsEmpty());
}

TEST_F(DispatcherTest, LinksUseTheDefaultExternalUrlWhenTheConfigHasNone) {
  default_external_url_ = "http://collector-1:8080";
  Start("receivers: [{name: r, record: {name: r}}]\nroute: {receiver: r, group_wait: 0s}\n");
  Fire("cpu-high", "web-1");
  AdvanceTo(now_);
  std::vector<Notification> sent = Sent("r");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].external_url, "http://collector-1:8080");
  EXPECT_EQ(sent[0].alerts[0].url,
            "http://collector-1:8080/#/alarms/cpu-high?instance=%7Bhost%3D%22web-1%22%7D");
}

TEST_F(DispatcherTest, MetricsCountAttemptsSuppressionsAndPending) {
  recorders_->Get("oncall")->Script({DeliveryResult::Retry("down")});
  Start(kConfig, /*run_delivery=*/true);
  ASSERT_TRUE(dispatcher_->AddSilence({{"host=\"web-9\""}, 0, kT0 + kHour, "a", "b"}).ok());
  Fire("cpu-high", "web-1");
  Fire("cpu-high", "web-9");
  AdvanceTo(kT0 + 5 * kMin);
  NotifyMetrics metrics(&registry_);  // same families: reads the dispatcher's values
  EXPECT_EQ(metrics.AttemptedValue("oncall", "record", "retry"), 1);
  EXPECT_EQ(metrics.AttemptedValue("oncall", "record", "delivered"), 1);
  EXPECT_EQ(metrics.SuppressedValue("silenced"), 1);
  EXPECT_EQ(metrics.PendingValue(), 0);
}

// Real threads and the wall clock: concurrent callers, two workers, every alert delivered once.
TEST(DispatcherRealClock, ConcurrentTransitionsAreEachDeliveredOnce) {
  vigil::testing::TempDir dir;
  auto store = collector::SqliteStateStore::Open(dir.Join("n.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  auto recorders = std::make_shared<testing::Recorders>();
  auto rules = ParseRuleSet({{"rules.yaml", kRules}});
  ASSERT_TRUE(rules.ok());
  DispatcherOptions o;
  o.config_path = dir.Write("alerting.yaml", R"(
receivers: [{name: r, record: {name: r}}]
route: {receiver: r, group_by: ['...'], group_wait: 0s, group_interval: 100ms}
delivery: {workers: 2}
)");
  o.store = store->get();
  o.integrations = testing::TestIntegrations(recorders);
  auto d = Dispatcher::Start(std::move(o));
  ASSERT_TRUE(d.ok()) << d.status();
  std::vector<std::thread> callers;
  const int64_t now = absl::ToUnixMillis(absl::Now());
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int i = 0; i < 25; ++i) {
        Transition t;
        t.rule = "cpu-high";
        t.labels = {{"host", absl::StrCat("h", c, "-", i)}};
        t.instance = FormatLabels(t.labels);
        t.from = AlarmState::kOk;
        t.to = AlarmState::kAlarm;
        t.at_ms = now;
        (*d)->OnTransitions({t}, **rules);
      }
    });
  }
  for (std::thread& t : callers) t.join();
  ASSERT_TRUE(vigil::testing::WaitFor([&] { return recorders->Get("r")->count() >= 100; },
                                      absl::Seconds(20)));
  (*d)->Tick();
  EXPECT_EQ(recorders->Get("r")->count(), 100u);
  EXPECT_EQ(recorders->Get("r")->distinct().size(), 100u);
  (*d)->Stop();
}

}  // namespace
}  // namespace vigil::alerting
