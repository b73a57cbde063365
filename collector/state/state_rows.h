#ifndef VIGIL_COLLECTOR_STATE_STATE_ROWS_H_
#define VIGIL_COLLECTOR_STATE_STATE_ROWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "alerting/notify/notification_store.h"
#include "alerting/state/alarm_store.h"
#include "collector/state/state_store.h"

// What both state stores write the same way: the stored spelling of enums and lists, the
// checks of records before they are written (so both backends refuse the same input with the
// same message), and the fencing error. Pure functions; thread-safe.

namespace vigil::collector::state_rows {

// "OK", "ALARM", "INSUFFICIENT_DATA". Kept here rather than using the display names so that the
// stored format cannot change when they do. nullptr for a value outside the enum.
const char* AlarmStateText(alerting::AlarmState state);
std::optional<alerting::AlarmState> ParseAlarmState(absl::string_view text);

// "pending", "delivered", "failed".
const char* OutboxStateText(alerting::OutboxState state);
std::optional<alerting::OutboxState> ParseOutboxState(absl::string_view text);

// A list of strings as a JSON array, and back (false when `text` is not an array of strings).
std::string JsonList(const std::vector<std::string>& items);
bool ParseJsonList(const std::string& text, std::vector<std::string>* out);

// InvalidArgument naming the record when it cannot be stored; `where` prefixes the message
// ("state database X: SaveAlarms").
absl::Status CheckAlarm(absl::string_view where, const alerting::AlarmRecord& alarm);
absl::Status CheckTransition(absl::string_view where, const alerting::TransitionRecord& t);
absl::Status CheckNotification(absl::string_view where, const alerting::OutboxNotification& n);
absl::Status CheckSilence(absl::string_view where, const alerting::Silence& silence);
absl::Status CheckPosition(absl::string_view where, const StreamPosition& position);

// FailedPrecondition "<where>: fenced: lease epoch is now N, this replica holds E".
absl::Status Fenced(absl::string_view where, int64_t current_epoch, int64_t held_epoch);

// Fills silence.matchers from the stored JSON list and silence.parsed from them; DataLoss
// naming the silence when they do not parse (a row written by something else, or corrupted).
absl::Status ParseStoredMatchers(absl::string_view where, const std::string& json,
                                 alerting::Silence* silence);

}  // namespace vigil::collector::state_rows

#endif  // VIGIL_COLLECTOR_STATE_STATE_ROWS_H_
