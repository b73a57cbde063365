#include "alerting/notify/notify_metrics.h"

namespace vigil::alerting {
namespace {

prometheus::Registry& RegistryOf(prometheus::Registry* given,
                                 std::shared_ptr<prometheus::Registry>* own) {
  if (given != nullptr) return *given;
  *own = std::make_shared<prometheus::Registry>();
  return **own;
}

}  // namespace

NotifyMetrics::NotifyMetrics(prometheus::Registry* registry)
    : attempts_(prometheus::BuildCounter()
                    .Name("vigil_notifications_total")
                    .Help("Notification delivery attempts by receiver, integration kind and "
                          "result (delivered, retry, failed, expired)")
                    .Register(RegistryOf(registry, &own_registry_))),
      suppressed_(prometheus::BuildCounter()
                      .Name("vigil_notifications_suppressed_total")
                      .Help("Alarm transitions whose notification was held back, by reason "
                            "(silenced, maintenance, inhibited, flapping)")
                      .Register(registry ? *registry : *own_registry_)),
      pending_(prometheus::BuildGauge()
                   .Name("vigil_notification_outbox_pending")
                   .Help("Notifications in the outbox not yet delivered or failed")
                   .Register(registry ? *registry : *own_registry_)
                   .Add({})),
      delivery_seconds_(prometheus::BuildHistogram()
                            .Name("vigil_notification_delivery_seconds")
                            .Help("Seconds from a notification's flush to its delivery, retries "
                                  "included, by integration kind")
                            .Register(registry ? *registry : *own_registry_)) {}

void NotifyMetrics::Attempted(const std::string& receiver, const std::string& integration,
                              absl::string_view result) {
  attempts_
      .Add({{"receiver", receiver}, {"integration", integration}, {"result", std::string(result)}})
      .Increment();
}

void NotifyMetrics::Suppressed(absl::string_view reason) {
  suppressed_.Add({{"reason", std::string(reason)}}).Increment();
}

void NotifyMetrics::SetPending(int64_t pending) { pending_.Set(static_cast<double>(pending)); }

void NotifyMetrics::Delivered(const std::string& integration, double seconds) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600};
  delivery_seconds_.Add({{"integration", integration}}, kBuckets).Observe(seconds);
}

double NotifyMetrics::AttemptedValue(const std::string& receiver, const std::string& integration,
                                     absl::string_view result) {
  return attempts_
      .Add({{"receiver", receiver}, {"integration", integration}, {"result", std::string(result)}})
      .Value();
}

double NotifyMetrics::SuppressedValue(absl::string_view reason) {
  return suppressed_.Add({{"reason", std::string(reason)}}).Value();
}

double NotifyMetrics::PendingValue() { return pending_.Value(); }

}  // namespace vigil::alerting
