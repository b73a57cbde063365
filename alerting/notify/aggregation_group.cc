#include "alerting/notify/aggregation_group.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "alerting/notify/notification_codec.h"
#include "common/secret.h"

namespace vigil::alerting {
namespace {

// A failed commit (a full disk) is tried again this soon, or at group_interval if sooner.
constexpr int64_t kCommitRetryMs = 30000;

bool ContainsFingerprint(const std::vector<std::string>& keys, const std::string& fp) {
  for (const std::string& k : keys) {
    if (k.size() > fp.size() && k.compare(0, fp.size(), fp) == 0 && k[fp.size()] == '@') {
      return true;
    }
  }
  return false;
}

bool IsSubset(const std::vector<std::string>& sorted_sub,
              const std::vector<std::string>& sorted_super) {
  return std::includes(sorted_super.begin(), sorted_super.end(), sorted_sub.begin(),
                       sorted_sub.end());
}

Labels CommonLabels(const std::vector<const Alert*>& alerts) {
  if (alerts.empty()) return {};
  Labels common = alerts[0]->labels;
  for (const Alert* a : alerts) {
    Labels kept;
    std::set_intersection(common.begin(), common.end(), a->labels.begin(), a->labels.end(),
                          std::back_inserter(kept));
    common = std::move(kept);
  }
  return common;
}

std::map<std::string, std::string> CommonAnnotations(const std::vector<const Alert*>& alerts) {
  if (alerts.empty()) return {};
  std::map<std::string, std::string> common = alerts[0]->annotations;
  for (const Alert* a : alerts) {
    for (auto it = common.begin(); it != common.end();) {
      auto found = a->annotations.find(it->first);
      if (found == a->annotations.end() || found->second != it->second) {
        it = common.erase(it);
      } else {
        ++it;
      }
    }
  }
  return common;
}

std::vector<std::string> Fingerprints(const std::vector<const Alert*>& alerts) {
  std::vector<std::string> out;
  for (const Alert* a : alerts) out.push_back(a->fingerprint);
  return out;
}

}  // namespace

std::string FiringKey(const Alert& alert) {
  return absl::StrCat(alert.fingerprint, "@", alert.starts_at_ms,
                      alert.flapping ? "~flapping" : "");
}

std::string ResolvedKey(const Alert& alert) {
  return absl::StrCat(alert.fingerprint, "@", alert.ends_at_ms);
}

AggregationGroup::AggregationGroup(GroupSettings settings, int64_t created_ms)
    : settings_(std::move(settings)),
      next_flush_ms_(created_ms + absl::ToInt64Milliseconds(settings_.group_wait)) {}

void AggregationGroup::Upsert(Alert alert) {
  std::string fp = alert.fingerprint;
  alerts_[fp] = std::move(alert);
}

bool AggregationGroup::Wants(const Alert& alert) const {
  if (alert.firing()) return action_states_.alarm;
  if (alert.state == "OK") return action_states_.ok;
  if (alert.state == "INSUFFICIENT_DATA") return action_states_.insufficient_data;
  return false;
}

FlushPlan AggregationGroup::Plan(int64_t now_ms, const Receiver& receiver,
                                 const std::string& external_url, const LogLookup& log,
                                 const MuteCheck& mute) const {
  FlushPlan plan;
  std::vector<const Alert*> visible;
  for (const auto& [fp, alert] : alerts_) {
    if (!mute(alert).muted()) visible.push_back(&alert);
  }
  // Everything muted: nothing to say and nothing to forget (as Alertmanager's mute stage).
  if (visible.empty()) return plan;
  std::sort(visible.begin(), visible.end(),
            [](const Alert* a, const Alert* b) { return a->labels < b->labels; });
  const int64_t repeat_ms = absl::ToInt64Milliseconds(settings_.repeat_interval);

  for (const Integration& integration : receiver.integrations) {
    const NotificationLogEntry* entry = log(integration.index);
    std::vector<const Alert*> firing, resolved;
    for (const Alert* a : visible) {
      if (a->firing()) {
        if (!settings_.actions || Wants(*a)) firing.push_back(a);
      } else if (settings_.actions) {
        const bool told =
            entry != nullptr &&
            std::binary_search(entry->resolved.begin(), entry->resolved.end(), ResolvedKey(*a));
        if (Wants(*a) && !told) resolved.push_back(a);
      } else if (integration.send_resolved && entry != nullptr &&
                 ContainsFingerprint(entry->firing, a->fingerprint)) {
        resolved.push_back(a);
      }
    }
    std::vector<std::string> firing_keys, resolved_keys;
    for (const Alert* a : firing) firing_keys.push_back(FiringKey(*a));
    for (const Alert* a : resolved) resolved_keys.push_back(ResolvedKey(*a));
    std::sort(firing_keys.begin(), firing_keys.end());
    std::sort(resolved_keys.begin(), resolved_keys.end());

    bool needed;
    if (entry == nullptr) {
      needed = !firing.empty() || !resolved.empty();
    } else {
      needed = !IsSubset(firing_keys, entry->firing) || !resolved.empty() ||
               (!entry->firing.empty() && firing.empty()) ||
               (!firing.empty() && now_ms - entry->last_notified_ms >= repeat_ms);
    }
    if (!needed) continue;
    const LogKey key{receiver.name, integration.index, settings_.key};
    if (firing.empty() && resolved.empty()) {
      // All resolved, and this integration does not want to hear it: the incident is over.
      if (entry != nullptr) plan.batch.log_deletes.push_back(key);
      continue;
    }

    Notification n;
    n.receiver = receiver.name;
    n.group_key = settings_.key;
    n.group_labels = settings_.group_labels;
    std::vector<const Alert*> all = firing;
    all.insert(all.end(), resolved.begin(), resolved.end());
    for (const Alert* a : all) n.alerts.push_back(*a);
    n.common_labels = CommonLabels(all);
    n.common_annotations = CommonAnnotations(all);
    n.status = firing.empty() ? "resolved" : "firing";
    n.created_ms = now_ms;
    n.external_url = external_url;
    n.id = Sha256Hex(absl::StrCat(receiver.name, "\n", integration.index, "\n", settings_.key, "\n",
                                  absl::StrJoin(Fingerprints(firing), ","), "\n",
                                  absl::StrJoin(Fingerprints(resolved), ","), "\n", now_ms));
    n.thread_id = entry != nullptr && !entry->thread_id.empty() ? entry->thread_id : n.id;

    OutboxNotification row;
    row.id = n.id;
    row.receiver = receiver.name;
    row.integration = integration.index;
    row.kind = integration.kind;
    row.payload = EncodeNotification(n);
    row.created_ms = now_ms;
    row.next_attempt_ms = now_ms;
    plan.batch.notifications.push_back(std::move(row));
    if (firing.empty()) {
      if (entry != nullptr) plan.batch.log_deletes.push_back(key);
    } else {
      plan.batch.log_upserts.push_back({receiver.name, integration.index, settings_.key,
                                        std::move(firing_keys), std::move(resolved_keys), now_ms,
                                        n.thread_id});
    }
    plan.notifications.push_back(std::move(n));
  }
  return plan;
}

void AggregationGroup::Flushed(int64_t now_ms) {
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    if (it->second.firing()) {
      ++it;
    } else {
      it = alerts_.erase(it);
    }
  }
  next_flush_ms_ = now_ms + absl::ToInt64Milliseconds(settings_.group_interval);
}

void AggregationGroup::FlushFailed(int64_t now_ms) {
  next_flush_ms_ =
      now_ms + std::min(kCommitRetryMs, absl::ToInt64Milliseconds(settings_.group_interval));
}

}  // namespace vigil::alerting
