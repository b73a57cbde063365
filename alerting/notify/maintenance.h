#ifndef VIGIL_ALERTING_NOTIFY_MAINTENANCE_H_
#define VIGIL_ALERTING_NOTIFY_MAINTENANCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/selector.h"

// Scheduled maintenance windows from the alerting config: while one is active, notifications of
// the alerts it matches are held back (the alarms still change state and are recorded).
// Immutable once loaded; any thread.

namespace vigil::alerting {

struct MaintenanceWindow {
  std::string name;
  std::vector<LabelMatcher> matchers;  // all must match; empty matches every alert

  // One-off: [start, end). Used when `weekly` is false.
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfinitePast();

  // Weekly: from `start_minute` (minutes after local midnight) on each of `days` for
  // `duration` (at most 7 days), in `time_zone`. A window may run past midnight: a Tuesday
  // 23:00 start for 2h covers Wednesday 00:30.
  bool weekly = false;
  uint8_t days = 0;  // bit d set: weekday d, Monday = 0 ... Sunday = 6
  int start_minute = 0;
  absl::Duration duration = absl::ZeroDuration();
  absl::TimeZone time_zone = absl::UTCTimeZone();
  std::string time_zone_name = "UTC";

  bool ActiveAt(absl::Time t) const;
};

// 0 (Monday) ... 6 (Sunday) for "mon".."sun" or "monday".."sunday" (any case); -1 otherwise.
int ParseWeekday(const std::string& name);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_MAINTENANCE_H_
