#ifndef VIGIL_ALERTING_NOTIFY_AGGREGATION_GROUP_H_
#define VIGIL_ALERTING_NOTIFY_AGGREGATION_GROUP_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "alerting/notify/config.h"
#include "alerting/notify/muting.h"
#include "alerting/notify/notification.h"
#include "alerting/notify/notification_store.h"

// One aggregation group, as in Alertmanager: the alerts of one receiver that share a route and
// the values of its group_by labels, notified together. The group decides at each flush, per
// integration and against the notification log, whether there is anything to say.
// Not thread-safe: owned by the dispatcher thread.

namespace vigil::alerting {

struct GroupSettings {
  std::string receiver;
  std::string key;  // Notification::group_key: `<route key>:<group labels>`
  Labels group_labels;
  absl::Duration group_wait = absl::ZeroDuration();
  absl::Duration group_interval = absl::Minutes(5);
  absl::Duration repeat_interval = absl::Hours(4);
  // A group of a rule's *_actions (one alarm, one receiver): the receiver hears of exactly the
  // states whose action list names it, OK and INSUFFICIENT_DATA included whether or not it
  // heard of the ALARM, and send_resolved does not apply.
  bool actions = false;
};

// Which of a rule's action lists name the group's receiver (actions groups only).
struct ActionStates {
  bool alarm = false;
  bool ok = false;
  bool insufficient_data = false;
};

// What a flush writes (one transaction) and, for logs, what it notifies.
struct FlushPlan {
  FlushBatch batch;
  std::vector<Notification> notifications;  // same order as batch.notifications
};

// Log keys of the notification log.
std::string FiringKey(const Alert& alert);    // "<fp>@<starts_at_ms>[~flapping]"
std::string ResolvedKey(const Alert& alert);  // "<fp>@<ends_at_ms>"

class AggregationGroup {
 public:
  // The integration's log entry, or null when it has none.
  using LogLookup = std::function<const NotificationLogEntry*(int integration)>;
  using MuteCheck = std::function<Mute(const Alert&)>;

  AggregationGroup(GroupSettings settings, int64_t created_ms);

  // Adds the alert or replaces the one with its fingerprint.
  void Upsert(Alert alert);
  void SetActionStates(ActionStates states) { action_states_ = states; }

  // Decides what to notify at `now_ms` (Alertmanager's dedup stage, per integration):
  // muted alerts are left out (and stay); a resolved alert is told only to integrations that
  // were told it was firing and want resolved ones (actions groups: see GroupSettings); an
  // integration is notified when the firing set has an alert (or start) it was not told of,
  // something resolved, or repeat_interval has passed since its last notification. Log entries
  // whose incident is over are deleted.
  FlushPlan Plan(int64_t now_ms, const Receiver& receiver, const std::string& external_url,
                 const LogLookup& log, const MuteCheck& mute) const;
  // After the plan was committed: resolved alerts leave; the next flush is group_interval on.
  void Flushed(int64_t now_ms);
  // After the commit failed: everything stays, and the flush is tried again soon.
  void FlushFailed(int64_t now_ms);

  const GroupSettings& settings() const { return settings_; }
  int64_t next_flush_ms() const { return next_flush_ms_; }
  bool empty() const { return alerts_.empty(); }
  size_t size() const { return alerts_.size(); }

 private:
  bool Wants(const Alert& alert) const;

  const GroupSettings settings_;
  ActionStates action_states_;
  std::map<std::string, Alert> alerts_;  // by fingerprint
  int64_t next_flush_ms_;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_AGGREGATION_GROUP_H_
