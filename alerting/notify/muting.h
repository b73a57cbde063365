#ifndef VIGIL_ALERTING_NOTIFY_MUTING_H_
#define VIGIL_ALERTING_NOTIFY_MUTING_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "alerting/notify/config.h"
#include "alerting/notify/silence.h"
#include "common/series_key.h"

// Whether an alert's notifications are held back right now, and why: silences, maintenance
// windows and inhibition, checked in that order. Stateless; any thread.

namespace vigil::alerting {

enum class MuteKind { kNone, kSilenced, kMaintenance, kInhibited };

struct Mute {
  MuteKind kind = MuteKind::kNone;
  // "silenced by <id> (<created_by>: <comment>)", "in maintenance window <name>",
  // "inhibited by <alertname> <labels>"; "" when not muted.
  std::string reason;
  bool muted() const { return kind != MuteKind::kNone; }
};

// "silenced", "maintenance", "inhibited" (the metrics' reason label); "" for kNone.
absl::string_view MuteKindName(MuteKind kind);

// An alarm in ALARM now: a possible inhibition source.
struct FiringAlarm {
  std::string fingerprint;
  Labels labels;
};
// The alarms in ALARM, by rule and instance.
using FiringAlarms = std::map<std::string, FiringAlarm>;

// `fingerprint` is the alert's own, so that it never inhibits itself.
Mute CheckMute(const Labels& labels, absl::string_view fingerprint, int64_t now_ms,
               const std::vector<Silence>& silences, const AlertingConfig& config,
               const FiringAlarms& firing);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_MUTING_H_
