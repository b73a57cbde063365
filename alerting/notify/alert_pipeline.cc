#include "alerting/notify/alert_pipeline.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "alerting/notify/alert_labels.h"
#include "alerting/notify/matchers.h"
#include "alerting/notify/route.h"
#include "common/log.h"

namespace vigil::alerting {
namespace {

// Tracked alarms that no longer matter are dropped at most this often.
constexpr int64_t kGcIntervalMs = 60000;

std::string InstanceKey(const std::string& rule, const std::string& instance) {
  return absl::StrCat(rule, "\n", instance);
}

std::string GroupMapKey(const std::string& receiver, const std::string& group_key) {
  return absl::StrCat(receiver, "\n", group_key);
}

std::string LogMapKey(const std::string& receiver, int integration, const std::string& group_key) {
  return absl::StrCat(receiver, "\n", integration, "\n", group_key);
}

bool Contains(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// "<fp>@<starts>[~flapping]" -> fp and starts.
bool ParseFiringKey(const std::string& key, std::string* fp, int64_t* starts) {
  size_t at = key.find('@');
  if (at == std::string::npos) return false;
  size_t end = key.find('~', at);
  *fp = key.substr(0, at);
  return absl::SimpleAtoi(key.substr(at + 1, end == std::string::npos ? end : end - at - 1),
                          starts);
}

Alert BaseAlert(const Transition& t, const Rule* rule, const Labels& labels,
                const std::string& fingerprint, const std::string& external_url) {
  Alert a;
  a.rule = t.rule;
  a.fingerprint = fingerprint;
  a.labels = labels;
  a.reason = t.reason;
  a.datapoints = t.datapoints;
  if (!t.datapoints.empty()) a.value = t.datapoints.back().value;
  a.url = AlarmUrl(external_url, t.rule, t.instance);
  if (rule != nullptr) {
    a.description = rule->description;
    a.annotations = RenderAnnotations(rule->annotations, labels);
    if (rule->kind == Rule::Kind::kThreshold) {
      a.threshold = rule->threshold;
      a.comparison = std::string(ComparisonSymbol(rule->comparison));
    }
  }
  return a;
}

}  // namespace

const std::vector<std::string>& ActionLists::For(AlarmState state) const {
  switch (state) {
    case AlarmState::kAlarm:
      return alarm;
    case AlarmState::kOk:
      return ok;
    case AlarmState::kInsufficientData:
      return insufficient_data;
  }
  return insufficient_data;
}

ActionStates ActionLists::StatesOf(const std::string& receiver) const {
  return {Contains(alarm, receiver), Contains(ok, receiver), Contains(insufficient_data, receiver)};
}

std::set<std::string> ActionLists::All() const {
  std::set<std::string> all(alarm.begin(), alarm.end());
  all.insert(ok.begin(), ok.end());
  all.insert(insufficient_data.begin(), insufficient_data.end());
  return all;
}

AlarmUpdate MakeAlarmUpdate(const Transition& t, const Rule* rule,
                            const std::string& external_url) {
  AlarmUpdate u;
  u.rule = t.rule;
  u.instance = t.instance;
  u.rule_known = rule != nullptr;
  u.from = t.from;
  u.to = t.to;
  u.at_ms = t.at_ms;
  if (rule != nullptr) {
    u.labels = AlertLabels(*rule, t.labels);
    u.fingerprint = Fingerprint(u.labels);
    u.actions = {rule->alarm_actions, rule->ok_actions, rule->insufficient_data_actions};
  }
  u.details = BaseAlert(t, rule, u.labels, u.fingerprint, external_url);
  return u;
}

AlarmUpdate MakeRestoredUpdate(const AlarmView& view, const Rule* rule,
                               const std::string& external_url) {
  Transition t;
  t.rule = view.rule;
  t.instance = view.instance;
  t.labels = view.labels;
  t.at_ms = view.state_since_ms;
  t.to = view.state;
  t.from = view.state == AlarmState::kAlarm ? AlarmState::kOk : AlarmState::kAlarm;
  t.reason = view.reason;
  AlarmUpdate u = MakeAlarmUpdate(t, rule, external_url);
  u.details.value = view.last_value;
  u.restored = true;
  return u;
}

AlertPipeline::AlertPipeline(NotificationStore* store, NotifyMetrics* metrics,
                             std::shared_ptr<const AlertingConfig> config,
                             std::vector<NotificationLogEntry> log,
                             std::string default_external_url)
    : store_(store),
      metrics_(metrics),
      default_external_url_(std::move(default_external_url)),
      config_(std::move(config)) {
  for (NotificationLogEntry& e : log) {
    std::string key = LogMapKey(e.receiver, e.integration, e.group_key);
    log_[key] = std::move(e);
  }
}

void AlertPipeline::SetConfig(std::shared_ptr<const AlertingConfig> config, int64_t now_ms) {
  config_ = std::move(config);
  groups_.clear();
  warned_receivers_.clear();
  for (auto& [fp, alarm] : alarms_) {
    if (alarm.notified) Route(alarm, *alarm.notified, now_ms, /*only_logged=*/false);
  }
}

void AlertPipeline::Apply(AlarmUpdate u, int64_t now_ms) {
  const std::string key = InstanceKey(u.rule, u.instance);
  auto known = by_instance_.find(key);
  if (!u.rule_known) {
    // The rule is gone: keep the identity it had, take the new state and reason.
    if (known == by_instance_.end()) return;
    auto it = alarms_.find(known->second);
    if (it == alarms_.end()) return;
    AlarmUpdate merged = it->second.last;
    merged.from = u.from;
    merged.to = u.to;
    merged.at_ms = u.at_ms;
    merged.restored = u.restored;
    merged.details.reason = u.details.reason;
    merged.details.datapoints = u.details.datapoints;
    merged.details.value = u.details.value;
    u = std::move(merged);
  } else if (known != by_instance_.end() && known->second != u.fingerprint) {
    // The rule's labels changed: the alarm under its old labels ends here.
    auto old = alarms_.find(known->second);
    if (old != alarms_.end()) {
      AlarmUpdate end = old->second.last;
      end.from = old->second.state;
      end.to = u.to == AlarmState::kAlarm ? AlarmState::kInsufficientData : u.to;
      end.at_ms = u.at_ms;
      end.restored = u.restored;
      end.details.reason = u.details.reason;
      old->second.last = std::move(end);
      Transition(old->second, now_ms);
    }
  }
  by_instance_[key] = u.fingerprint;
  TrackedAlarm& alarm = alarms_[u.fingerprint];
  alarm.last = std::move(u);
  Transition(alarm, now_ms);
}

void AlertPipeline::Transition(TrackedAlarm& alarm, int64_t now_ms) {
  const AlarmUpdate& u = alarm.last;
  alarm.state = u.to;
  alarm.since_ms = u.at_ms;
  if (!u.restored) {
    const bool started = alarm.flaps.Record(u.at_ms, config_->flapping);
    if (started) {
      DeliverFlapping(alarm, now_ms);
      return;
    }
    if (alarm.flaps.flapping()) {
      metrics_->Suppressed("flapping");
      return;
    }
  }
  Deliver(alarm, u.from, now_ms, /*only_logged=*/false);
}

void AlertPipeline::Deliver(TrackedAlarm& alarm, AlarmState from, int64_t now_ms,
                            bool only_logged) {
  const AlarmUpdate& u = alarm.last;
  Alert a = u.details;
  a.state = std::string(StateName(alarm.state));
  a.previous_state = std::string(StateName(from));
  a.flapping = false;
  if (alarm.state == AlarmState::kAlarm) {
    a.starts_at_ms = alarm.since_ms;
    a.ends_at_ms = 0;
  } else {
    const bool was_firing = alarm.notified && alarm.notified->firing();
    if (!was_firing && !u.actions.any()) {
      // Not firing before, not firing now: nothing for the routing tree.
      alarm.notified.reset();
      return;
    }
    a.starts_at_ms = was_firing ? alarm.notified->starts_at_ms : alarm.since_ms;
    a.ends_at_ms = std::max<int64_t>({alarm.since_ms, a.starts_at_ms, 1});
  }
  alarm.notified = a;
  Route(alarm, a, now_ms, only_logged);
}

void AlertPipeline::DeliverFlapping(TrackedAlarm& alarm, int64_t now_ms) {
  const AlarmUpdate& u = alarm.last;
  Alert a = u.details;
  a.state = std::string(StateName(alarm.state));
  a.previous_state = std::string(StateName(u.from));
  a.flapping = true;
  a.starts_at_ms = alarm.since_ms;
  a.ends_at_ms = 0;
  a.reason = absl::StrCat("flapping: more than ", config_->flapping.max_transitions,
                          " state changes within ", absl::FormatDuration(config_->flapping.window),
                          "; further changes are not notified until it has been stable for ",
                          absl::FormatDuration(config_->flapping.window),
                          ". Last change: ", u.details.reason);
  VIGIL_LOG(Warning) << "alarm " << u.rule << (u.instance == "{}" ? "" : u.instance)
                     << " is flapping; its changes are not notified until it is stable for "
                     << absl::FormatDuration(config_->flapping.window);
  alarm.notified = a;
  Route(alarm, a, now_ms, /*only_logged=*/false);
}

AggregationGroup& AlertPipeline::GroupFor(GroupSettings settings, int64_t now_ms) {
  std::unique_ptr<AggregationGroup>& group = groups_[GroupMapKey(settings.receiver, settings.key)];
  if (group == nullptr) group = std::make_unique<AggregationGroup>(std::move(settings), now_ms);
  return *group;
}

void AlertPipeline::Route(const TrackedAlarm& alarm, const Alert& alert, int64_t now_ms,
                          bool only_logged) {
  const AlarmUpdate& u = alarm.last;
  if (u.actions.any()) {
    // CloudWatch actions: one group per receiver and alarm, bypassing the routing tree.
    const AlarmState state = alert.firing() ? AlarmState::kAlarm : alarm.state;
    const std::string key = absl::StrCat("actions:", FormatLabels(alert.labels));
    for (const std::string& receiver : u.actions.All()) {
      if (config_->FindReceiver(receiver) == nullptr) {
        if (warned_receivers_.insert(receiver).second) {
          VIGIL_LOG(Warning) << "rule " << u.rule << " names receiver '" << receiver
                             << "' in its actions, which the alerting config does not define; "
                                "nothing is sent to it";
        }
        continue;
      }
      const bool exists = groups_.count(GroupMapKey(receiver, key)) > 0;
      const bool wanted = only_logged ? LogHasFiring(receiver, key, alert.fingerprint)
                                      : Contains(u.actions.For(state), receiver);
      if (!exists && !wanted) continue;
      GroupSettings settings;
      settings.receiver = receiver;
      settings.key = key;
      settings.group_labels = alert.labels;
      settings.group_wait = absl::ZeroDuration();
      settings.group_interval = config_->RootGroupInterval();
      settings.repeat_interval = config_->RootRepeatInterval();
      settings.actions = true;
      AggregationGroup& group = GroupFor(std::move(settings), now_ms);
      group.SetActionStates(u.actions.StatesOf(receiver));
      group.Upsert(alert);
    }
    return;
  }
  if (!config_->route) return;
  for (const alerting::Route* route : MatchRoutes(*config_->route, alert.labels)) {
    GroupSettings settings;
    settings.receiver = route->receiver;
    settings.group_labels = GroupLabels(*route, alert.labels);
    settings.key = absl::StrCat(route->key, ":", FormatLabels(settings.group_labels));
    settings.group_wait = route->group_wait;
    settings.group_interval = route->group_interval;
    settings.repeat_interval = route->repeat_interval;
    GroupFor(std::move(settings), now_ms).Upsert(alert);
  }
}

bool AlertPipeline::LogHasFiring(const std::string& receiver, const std::string& group_key,
                                 const std::string& fingerprint) const {
  const Receiver* r = config_->FindReceiver(receiver);
  if (r == nullptr) return false;
  for (const Integration& integration : r->integrations) {
    auto it = log_.find(LogMapKey(receiver, integration.index, group_key));
    if (it == log_.end()) continue;
    for (const std::string& k : it->second.firing) {
      std::string fp;
      int64_t starts = 0;
      if (ParseFiringKey(k, &fp, &starts) && fp == fingerprint) return true;
    }
  }
  return false;
}

void AlertPipeline::Restore(std::vector<AlarmUpdate> updates, int64_t now_ms) {
  std::map<std::string, int64_t> logged_starts;  // fingerprint -> starts_at notified firing
  for (const auto& [key, entry] : log_) {
    for (const std::string& k : entry.firing) {
      std::string fp;
      int64_t starts = 0;
      if (ParseFiringKey(k, &fp, &starts)) logged_starts[fp] = starts;
    }
  }
  for (AlarmUpdate& u : updates) {
    u.restored = true;
    if (!u.rule_known) continue;
    if (u.to == AlarmState::kAlarm) {
      Apply(std::move(u), now_ms);
      continue;
    }
    auto logged = logged_starts.find(u.fingerprint);
    if (logged == logged_starts.end()) continue;
    // Notified firing, resolved since, and the resolution not yet notified.
    by_instance_[InstanceKey(u.rule, u.instance)] = u.fingerprint;
    TrackedAlarm& alarm = alarms_[u.fingerprint];
    Alert firing = u.details;
    firing.starts_at_ms = logged->second;
    firing.ends_at_ms = 0;
    alarm.notified = firing;
    alarm.state = u.to;
    alarm.since_ms = u.at_ms;
    alarm.last = std::move(u);
    Deliver(alarm, AlarmState::kAlarm, now_ms, /*only_logged=*/true);
  }
}

int AlertPipeline::Flush(AggregationGroup& group, int64_t now_ms,
                         const AggregationGroup::MuteCheck& mute) {
  const Receiver* receiver = config_->FindReceiver(group.settings().receiver);
  if (receiver == nullptr) {
    group.Flushed(now_ms);
    return 0;
  }
  auto lookup = [&](int integration) -> const NotificationLogEntry* {
    auto it = log_.find(LogMapKey(receiver->name, integration, group.settings().key));
    return it == log_.end() ? nullptr : &it->second;
  };
  const std::string& external_url =
      config_->external_url.empty() ? default_external_url_ : config_->external_url;
  FlushPlan plan = group.Plan(now_ms, *receiver, external_url, lookup, mute);
  if (plan.batch.empty()) {
    group.Flushed(now_ms);
    return 0;
  }
  if (absl::Status s = store_->CommitFlush(plan.batch); !s.ok()) {
    VIGIL_LOG(Error) << "cannot write the notifications of group " << group.settings().key
                     << " for " << receiver->name << " to the outbox; trying again: " << s;
    group.FlushFailed(now_ms);
    return 0;
  }
  for (NotificationLogEntry& e : plan.batch.log_upserts) {
    std::string key = LogMapKey(e.receiver, e.integration, e.group_key);
    log_[key] = std::move(e);
  }
  for (const LogKey& k : plan.batch.log_deletes) {
    log_.erase(LogMapKey(k.receiver, k.integration, k.group_key));
  }
  for (const Notification& n : plan.notifications) {
    VIGIL_LOG(Info) << "notification " << n.id << " for " << n.receiver << ": " << n.firing_count()
                    << " firing, " << n.resolved_count() << " resolved (group " << n.group_key
                    << ")";
  }
  group.Flushed(now_ms);
  return static_cast<int>(plan.notifications.size());
}

int AlertPipeline::RunTimers(int64_t now_ms, const AggregationGroup::MuteCheck& mute) {
  for (auto& [fp, alarm] : alarms_) {
    if (alarm.flaps.flapping() && alarm.flaps.QuietAtMs(config_->flapping) <= now_ms) {
      alarm.flaps.EndEpisode();
      VIGIL_LOG(Info) << "alarm " << alarm.last.rule
                      << (alarm.last.instance == "{}" ? "" : alarm.last.instance)
                      << " stopped flapping; it is " << StateName(alarm.state);
      Deliver(alarm, alarm.last.from, now_ms, /*only_logged=*/false);
    }
  }
  std::vector<std::pair<int64_t, std::string>> due;
  for (const auto& [key, group] : groups_) {
    if (group->next_flush_ms() <= now_ms) due.emplace_back(group->next_flush_ms(), key);
  }
  std::sort(due.begin(), due.end());
  int committed = 0;
  for (const auto& [when, key] : due) committed += Flush(*groups_[key], now_ms, mute);
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (!it->second->empty()) {
      ++it;
      continue;
    }
    ForgetLog(*it->second);
    it = groups_.erase(it);
  }
  if (now_ms >= next_gc_ms_) {
    CollectGarbage(now_ms);
    next_gc_ms_ = now_ms + kGcIntervalMs;
  }
  return committed;
}

void AlertPipeline::ForgetLog(const AggregationGroup& group) {
  const Receiver* receiver = config_->FindReceiver(group.settings().receiver);
  if (receiver == nullptr) return;
  FlushBatch batch;
  for (const Integration& integration : receiver->integrations) {
    if (log_.count(LogMapKey(receiver->name, integration.index, group.settings().key)) > 0) {
      batch.log_deletes.push_back({receiver->name, integration.index, group.settings().key});
    }
  }
  if (batch.empty()) return;
  if (absl::Status s = store_->CommitFlush(batch); !s.ok()) {
    VIGIL_LOG(Warning) << "cannot forget the notification log of group " << group.settings().key
                       << ": " << s;
    return;
  }
  for (const LogKey& k : batch.log_deletes) {
    log_.erase(LogMapKey(k.receiver, k.integration, k.group_key));
  }
}

void AlertPipeline::CollectGarbage(int64_t now_ms) {
  for (auto it = alarms_.begin(); it != alarms_.end();) {
    const TrackedAlarm& alarm = it->second;
    const bool keep = alarm.state == AlarmState::kAlarm ||
                      !alarm.flaps.Idle(now_ms, config_->flapping) ||
                      (alarm.notified && alarm.notified->firing());
    if (keep) {
      ++it;
      continue;
    }
    auto known = by_instance_.find(InstanceKey(alarm.last.rule, alarm.last.instance));
    if (known != by_instance_.end() && known->second == it->first) by_instance_.erase(known);
    it = alarms_.erase(it);
  }
}

std::optional<int64_t> AlertPipeline::NextTimerMs() const {
  std::optional<int64_t> next;
  auto consider = [&next](int64_t t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [key, group] : groups_) consider(group->next_flush_ms());
  for (const auto& [fp, alarm] : alarms_) {
    if (alarm.flaps.flapping()) consider(alarm.flaps.QuietAtMs(config_->flapping));
  }
  return next;
}

}  // namespace vigil::alerting
