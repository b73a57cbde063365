#include "alerting/notify/maintenance.h"

#include "absl/strings/ascii.h"

namespace vigil::alerting {
namespace {

int WeekdayIndex(absl::Weekday d) {
  switch (d) {
    case absl::Weekday::monday:
      return 0;
    case absl::Weekday::tuesday:
      return 1;
    case absl::Weekday::wednesday:
      return 2;
    case absl::Weekday::thursday:
      return 3;
    case absl::Weekday::friday:
      return 4;
    case absl::Weekday::saturday:
      return 5;
    case absl::Weekday::sunday:
      return 6;
  }
  return 0;
}

}  // namespace

bool MaintenanceWindow::ActiveAt(absl::Time t) const {
  if (!weekly) return start <= t && t < end;
  // A start on any of the last ceil(duration / 1 day) days (and today) may still cover t.
  const absl::CivilDay today = absl::ToCivilDay(t, time_zone);
  const int64_t lookback = absl::ToInt64Hours(duration) / 24 + 1;
  for (int64_t back = 0; back <= lookback; ++back) {
    const absl::CivilDay day = today - back;
    if ((days & (1u << WeekdayIndex(absl::GetWeekday(day)))) == 0) continue;
    const absl::CivilSecond local(day.year(), day.month(), day.day(), start_minute / 60,
                                  start_minute % 60, 0);
    // `pre`: in a DST gap the start moves by the skipped hour, as a wall clock would show.
    const absl::Time begin = time_zone.At(local).pre;
    if (begin <= t && t < begin + duration) return true;
  }
  return false;
}

int ParseWeekday(const std::string& name) {
  static const char* const kShort[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  static const char* const kLong[] = {"monday", "tuesday",  "wednesday", "thursday",
                                      "friday", "saturday", "sunday"};
  const std::string lower = absl::AsciiStrToLower(name);
  for (int i = 0; i < 7; ++i) {
    if (lower == kShort[i] || lower == kLong[i]) return i;
  }
  return -1;
}

}  // namespace vigil::alerting
