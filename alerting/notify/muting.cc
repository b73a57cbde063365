#include "alerting/notify/muting.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "alerting/notify/matchers.h"

namespace vigil::alerting {

absl::string_view MuteKindName(MuteKind kind) {
  switch (kind) {
    case MuteKind::kNone:
      return "";
    case MuteKind::kSilenced:
      return "silenced";
    case MuteKind::kMaintenance:
      return "maintenance";
    case MuteKind::kInhibited:
      return "inhibited";
  }
  return "";
}

Mute CheckMute(const Labels& labels, absl::string_view fingerprint, int64_t now_ms,
               const std::vector<Silence>& silences, const AlertingConfig& config,
               const FiringAlarms& firing) {
  for (const Silence& s : silences) {
    if (s.ActiveAt(now_ms) && MatchesAll(s.parsed, labels)) {
      return {MuteKind::kSilenced,
              absl::StrCat("silenced by ", s.id, " (", s.created_by, ": ", s.comment, ")")};
    }
  }
  const absl::Time now = absl::FromUnixMillis(now_ms);
  for (const MaintenanceWindow& w : config.maintenance_windows) {
    if (MatchesAll(w.matchers, labels) && w.ActiveAt(now)) {
      return {MuteKind::kMaintenance, absl::StrCat("in maintenance window ", w.name)};
    }
  }
  for (const InhibitRule& rule : config.inhibit_rules) {
    if (!MatchesAll(rule.target, labels)) continue;
    for (const auto& [key, source] : firing) {
      if (source.fingerprint == fingerprint || !MatchesAll(rule.source, source.labels)) continue;
      bool equal = true;
      for (const std::string& name : rule.equal) {
        equal = equal && LabelValue(source.labels, name) == LabelValue(labels, name);
      }
      if (!equal) continue;
      return {MuteKind::kInhibited,
              absl::StrCat("inhibited by ", LabelValue(source.labels, "alertname"), " ",
                           FormatLabels(source.labels))};
    }
  }
  return {};
}

}  // namespace vigil::alerting
