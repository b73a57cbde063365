#ifndef VIGIL_ALERTING_NOTIFY_NOTIFIER_H_
#define VIGIL_ALERTING_NOTIFY_NOTIFIER_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "alerting/notify/notification.h"

namespace vigil::alerting {

// The outcome of one delivery attempt. Retrying is the dispatcher's job (exponential backoff
// with jitter, up to the receiver's max age); a notifier only says whether a retry can help.
struct DeliveryResult {
  enum class Kind {
    kDelivered,  // accepted by the peer
    kRetry,      // timeout, connection error, 5xx, 408, 429, every relay down: try again later
    kPermanent,  // other 4xx, rejected recipient: retrying cannot help; logged and counted
  };
  Kind kind = Kind::kDelivered;
  std::string detail;  // what happened, for logs and the delivery record (never a secret)
  std::optional<absl::Duration> retry_after;  // the peer's Retry-After, when it sent one

  static DeliveryResult Delivered(std::string detail = "") {
    return {Kind::kDelivered, std::move(detail), std::nullopt};
  }
  static DeliveryResult Retry(std::string detail, std::optional<absl::Duration> after = {}) {
    return {Kind::kRetry, std::move(detail), after};
  }
  static DeliveryResult Permanent(std::string detail) {
    return {Kind::kPermanent, std::move(detail), std::nullopt};
  }
};

// One integration of a receiver (an email address list, a webhook URL). Created from the
// alerting config when it is loaded; immutable afterwards.
//
// Threading: Send() may be called from several dispatcher threads at once, for different
// notifications; implementations keep no mutable state or guard it themselves. Send() blocks
// for at most the integration's configured timeout(s).
class Notifier {
 public:
  virtual ~Notifier() = default;
  // "email" or "webhook": the integration's kind, for logs and metrics labels.
  virtual std::string kind() const = 0;
  virtual DeliveryResult Send(const Notification& notification) = 0;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_NOTIFIER_H_
