#include "collector/state/state_rows.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vigil::collector::state_rows {

using alerting::AlarmState;
using alerting::OutboxState;

const char* AlarmStateText(AlarmState state) {
  switch (state) {
    case AlarmState::kOk:
      return "OK";
    case AlarmState::kAlarm:
      return "ALARM";
    case AlarmState::kInsufficientData:
      return "INSUFFICIENT_DATA";
  }
  return nullptr;
}

std::optional<AlarmState> ParseAlarmState(absl::string_view text) {
  if (text == "OK") return AlarmState::kOk;
  if (text == "ALARM") return AlarmState::kAlarm;
  if (text == "INSUFFICIENT_DATA") return AlarmState::kInsufficientData;
  return std::nullopt;
}

const char* OutboxStateText(OutboxState state) {
  switch (state) {
    case OutboxState::kPending:
      return "pending";
    case OutboxState::kDelivered:
      return "delivered";
    case OutboxState::kFailed:
      return "failed";
  }
  return nullptr;
}

std::optional<OutboxState> ParseOutboxState(absl::string_view text) {
  if (text == "pending") return OutboxState::kPending;
  if (text == "delivered") return OutboxState::kDelivered;
  if (text == "failed") return OutboxState::kFailed;
  return std::nullopt;
}

std::string JsonList(const std::vector<std::string>& items) { return nlohmann::json(items).dump(); }

bool ParseJsonList(const std::string& text, std::vector<std::string>* out) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return false;
  for (const nlohmann::json& item : j) {
    if (!item.is_string()) return false;
    out->push_back(item.get<std::string>());
  }
  return true;
}

absl::Status CheckAlarm(absl::string_view where, const alerting::AlarmRecord& a) {
  if (a.rule.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": alarm ", a.instance, " has an empty rule name"));
  }
  if (AlarmStateText(a.state) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": alarm ", a.rule, " ", a.instance,
                                                   " has an invalid state ",
                                                   static_cast<int>(a.state)));
  }
  return absl::OkStatus();
}

absl::Status CheckTransition(absl::string_view where, const alerting::TransitionRecord& t) {
  if (t.rule.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": transition of ", t.instance, " has an empty rule name"));
  }
  for (AlarmState s : {t.from, t.to}) {
    if (AlarmStateText(s) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": transition of ", t.rule, " ",
                                                     t.instance, " has an invalid state ",
                                                     static_cast<int>(s)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNotification(absl::string_view where, const alerting::OutboxNotification& n) {
  if (n.id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": notification to ", n.receiver, " has an empty id"));
  }
  return absl::OkStatus();
}

absl::Status CheckSilence(absl::string_view where, const alerting::Silence& s) {
  if (s.id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": silence has an empty id"));
  }
  return absl::OkStatus();
}

absl::Status CheckPosition(absl::string_view where, const StreamPosition& p) {
  if (p.agent_id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": position has an empty agent id"));
  }
  // Stored as a signed 64-bit integer by both databases.
  if (p.last_sequence > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": position of ", p.agent_id, ": sequence ", p.last_sequence, " is beyond 2^63-1"));
  }
  return absl::OkStatus();
}

absl::Status Fenced(absl::string_view where, int64_t current_epoch, int64_t held_epoch) {
  return absl::FailedPreconditionError(absl::StrCat(
      where, ": fenced: lease epoch is now ", current_epoch, ", this replica holds ", held_epoch));
}

absl::Status ParseStoredMatchers(absl::string_view where, const std::string& json,
                                 alerting::Silence* s) {
  absl::Status parsed = ParseJsonList(json, &s->matchers)
                            ? alerting::ParseSilenceMatchers(s)
                            : absl::InvalidArgumentError("not a JSON list of strings");
  if (!parsed.ok()) {
    return absl::DataLossError(
        absl::StrCat(where, ": silence ", s->id, " has malformed matchers: ", parsed.message()));
  }
  return absl::OkStatus();
}

}  // namespace vigil::collector::state_rows
