#ifndef VIGIL_ALERTING_NOTIFY_NOTIFICATION_CODEC_H_
#define VIGIL_ALERTING_NOTIFY_NOTIFICATION_CODEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "alerting/notify/notification.h"

// The outbox's stored form of a Notification: JSON with every field (times in epoch
// milliseconds), so a notification written before a restart is delivered as it was built.
// Stateless; any thread.

namespace vigil::alerting {

std::string EncodeNotification(const Notification& n);
// DataLoss naming the field when `text` is not what EncodeNotification writes (malformed,
// truncated, a field of the wrong type).
absl::StatusOr<Notification> DecodeNotification(absl::string_view text);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_NOTIFICATION_CODEC_H_
