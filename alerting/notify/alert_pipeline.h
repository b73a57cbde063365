#ifndef VIGIL_ALERTING_NOTIFY_ALERT_PIPELINE_H_
#define VIGIL_ALERTING_NOTIFY_ALERT_PIPELINE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "alerting/engine/alarm_engine.h"
#include "alerting/notify/aggregation_group.h"
#include "alerting/notify/config.h"
#include "alerting/notify/flap_detector.h"
#include "alerting/notify/notification.h"
#include "alerting/notify/notification_store.h"
#include "alerting/notify/notify_metrics.h"
#include "alerting/rules/rule.h"

// From alarm state changes to committed notifications: flapping, routing (the tree, or a
// rule's *_actions), aggregation groups and their timers, and the notification log.

namespace vigil::alerting {

// The receivers a rule's *_actions name, per state.
struct ActionLists {
  std::vector<std::string> alarm;
  std::vector<std::string> ok;
  std::vector<std::string> insufficient_data;

  bool any() const { return !alarm.empty() || !ok.empty() || !insufficient_data.empty(); }
  const std::vector<std::string>& For(AlarmState state) const;
  ActionStates StatesOf(const std::string& receiver) const;
  std::set<std::string> All() const;
};

// One alarm state change (or, restored, a state found at start), with everything the pipeline
// needs from the rule, so that it does not hold on to the rule set.
struct AlarmUpdate {
  std::string rule;
  std::string instance;
  bool rule_known = true;  // false: the rule is gone; the pipeline reuses what it knew
  std::string fingerprint;
  Labels labels;  // AlertLabels()
  ActionLists actions;
  AlarmState from = AlarmState::kInsufficientData;
  AlarmState to = AlarmState::kInsufficientData;
  int64_t at_ms = 0;
  bool restored = false;
  // The alert's descriptive fields (rule, description, labels, annotations, reason, value,
  // threshold, comparison, datapoints, url, fingerprint); state and times are set by the
  // pipeline.
  Alert details;
};

// `rule` is null when the transition's rule is no longer in the set (a reload removed it).
AlarmUpdate MakeAlarmUpdate(const Transition& t, const Rule* rule, const std::string& external_url);
AlarmUpdate MakeRestoredUpdate(const AlarmView& view, const Rule* rule,
                               const std::string& external_url);

// Not thread-safe: owned by the dispatcher thread, which calls every method. `store` and
// `metrics` outlive it.
class AlertPipeline {
 public:
  // `default_external_url` is used when the config has no external_url.
  AlertPipeline(NotificationStore* store, NotifyMetrics* metrics,
                std::shared_ptr<const AlertingConfig> config, std::vector<NotificationLogEntry> log,
                std::string default_external_url = "");

  // A new config: the groups are rebuilt from the alarms' current alerts (the log keeps what
  // was notified from being notified again), as Alertmanager does on reload.
  void SetConfig(std::shared_ptr<const AlertingConfig> config, int64_t now_ms);

  void Apply(AlarmUpdate update, int64_t now_ms);
  // At start: alarms in ALARM become firing alerts again; alarms no longer in ALARM that the
  // log says were notified firing become resolved ones (their OK was not sent before a crash).
  void Restore(std::vector<AlarmUpdate> updates, int64_t now_ms);

  // Ends flapping episodes that are over and flushes every group due by `now_ms`, each flush
  // one store transaction. Returns the number of notifications committed.
  int RunTimers(int64_t now_ms, const AggregationGroup::MuteCheck& mute);
  // The earliest group flush or flapping end; nullopt when nothing is scheduled.
  std::optional<int64_t> NextTimerMs() const;

  size_t group_count() const { return groups_.size(); }

 private:
  struct TrackedAlarm {
    AlarmUpdate last;  // newest: identity, labels, actions, descriptive fields
    AlarmState state = AlarmState::kInsufficientData;
    int64_t since_ms = 0;
    FlapDetector flaps;
    std::optional<Alert> notified;  // the alert last given to the groups
  };

  void Transition(TrackedAlarm& alarm, int64_t now_ms);
  void Deliver(TrackedAlarm& alarm, AlarmState from, int64_t now_ms, bool only_logged);
  void DeliverFlapping(TrackedAlarm& alarm, int64_t now_ms);
  // Puts `alert` into the groups it belongs to, creating them as needed; `only_logged`: only
  // into groups whose log says the alert was notified firing (a restored resolution).
  void Route(const TrackedAlarm& alarm, const Alert& alert, int64_t now_ms, bool only_logged);
  AggregationGroup& GroupFor(GroupSettings settings, int64_t now_ms);
  int Flush(AggregationGroup& group, int64_t now_ms, const AggregationGroup::MuteCheck& mute);
  bool LogHasFiring(const std::string& receiver, const std::string& group_key,
                    const std::string& fingerprint) const;
  // A group that emptied (its last alerts resolved, some while muted) ends its incident: log
  // entries still naming its alerts are deleted, so the next incident starts afresh.
  void ForgetLog(const AggregationGroup& group);
  void CollectGarbage(int64_t now_ms);

  NotificationStore* const store_;
  NotifyMetrics* const metrics_;
  const std::string default_external_url_;
  std::shared_ptr<const AlertingConfig> config_;
  std::map<std::string, TrackedAlarm> alarms_;      // by fingerprint
  std::map<std::string, std::string> by_instance_;  // rule '\n' instance -> fingerprint
  // By receiver '\n' group key.
  std::map<std::string, std::unique_ptr<AggregationGroup>> groups_;
  // By receiver '\n' integration '\n' group key; the same as the store's, written through.
  std::map<std::string, NotificationLogEntry> log_;
  std::set<std::string> warned_receivers_;  // *_actions naming receivers the config lacks
  int64_t next_gc_ms_ = 0;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_ALERT_PIPELINE_H_
