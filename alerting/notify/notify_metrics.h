#ifndef VIGIL_ALERTING_NOTIFY_NOTIFY_METRICS_H_
#define VIGIL_ALERTING_NOTIFY_NOTIFY_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace vigil::alerting {

// The Prometheus metrics of alert delivery (docs/notifications.md lists them). Thread-safe:
// prometheus-cpp's families and metrics are.
class NotifyMetrics {
 public:
  // `registry` may be null: the metrics then go to a private registry (tests, tools).
  explicit NotifyMetrics(prometheus::Registry* registry);

  // vigil_notifications_total{receiver, integration, result}: result is delivered, retry,
  // failed (permanent) or expired (max_age passed).
  void Attempted(const std::string& receiver, const std::string& integration,
                 absl::string_view result);
  // vigil_notifications_suppressed_total{reason}: silenced, maintenance, inhibited, flapping.
  void Suppressed(absl::string_view reason);
  // vigil_notification_outbox_pending
  void SetPending(int64_t pending);
  // vigil_notification_delivery_seconds{integration}: from the flush to the delivery.
  void Delivered(const std::string& integration, double seconds);

  double AttemptedValue(const std::string& receiver, const std::string& integration,
                        absl::string_view result);
  double SuppressedValue(absl::string_view reason);
  double PendingValue();

 private:
  std::shared_ptr<prometheus::Registry> own_registry_;  // when none was given
  prometheus::Family<prometheus::Counter>& attempts_;
  prometheus::Family<prometheus::Counter>& suppressed_;
  prometheus::Gauge& pending_;
  prometheus::Family<prometheus::Histogram>& delivery_seconds_;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_NOTIFY_METRICS_H_
