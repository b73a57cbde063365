#ifndef VIGIL_COLLECTOR_ALARMS_ALERT_DELIVERY_H_
#define VIGIL_COLLECTOR_ALARMS_ALERT_DELIVERY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "alerting/notify/dispatcher.h"
#include "alerting/notify/notification_store.h"
#include "collector/http/api.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace vigil::collector {

// Alert delivery inside the collector: runs, over the state store's notification facet, the
// alerting::Dispatcher that turns the evaluator's transitions into emails and webhook calls;
// reloads the alerting config (SIGHUP, POST /-/reload) and answers the silence and alerting
// endpoints of the HTTP API. Thread-safe. The evaluator calls the dispatcher directly
// (dispatcher()); Stop() after the evaluator stopped, destroy after the HTTP server.
class AlertDelivery : public AlertingSource {
 public:
  struct Options {
    // alerting.yaml; empty: none (nothing is sent). A missing file is an empty config unless
    // `config_file_required`, when it is an error at start and a rejected reload.
    std::string config_file;
    bool config_file_required = false;
    // The outbox, notification log and silences (the collector's StateStore facet). Not owned;
    // outlives the AlertDelivery.
    alerting::NotificationStore* store = nullptr;
    std::string store_location;  // where that store is, for the status endpoint and the log
    // The base URL of links in notifications when alerting.yaml sets no external_url.
    std::string default_external_url;
    std::function<int64_t()> now_ms;
  };

  // Opens the store, loads the config and starts the dispatcher (which delivers what an earlier
  // process left in the outbox). Errors: a bad config (every problem as file:line:col), a
  // required config that does not exist, a store that cannot be opened.
  static absl::StatusOr<std::unique_ptr<AlertDelivery>> Start(Options options,
                                                              prometheus::Registry& registry);
  ~AlertDelivery() override;

  // For the evaluator: OnTransitions, Restore, MuteReason. Valid until destruction.
  alerting::Dispatcher* dispatcher() const { return dispatcher_.get(); }
  // Stops the dispatcher's threads (running deliveries finish first). Idempotent.
  void Stop();

  // AlertingSource, any thread.
  std::vector<alerting::Silence> Silences() const override;
  absl::StatusOr<alerting::Silence> AddSilence(const alerting::SilenceRequest& request) override;
  absl::Status ExpireSilence(const std::string& id) override;
  nlohmann::json Status() const override;
  absl::Status Reload() override;

 private:
  AlertDelivery(Options options, prometheus::Registry& registry);

  // Constant after Start().
  const Options options_;
  alerting::NotificationStore* const store_;
  std::unique_ptr<alerting::Dispatcher> dispatcher_;
  prometheus::Gauge& reload_success_;
  prometheus::Gauge& reload_time_;

  mutable absl::Mutex mu_;
  absl::Status last_reload_ ABSL_GUARDED_BY(mu_);
  int64_t last_reload_ms_ ABSL_GUARDED_BY(mu_) = 0;
};

// http://<listen>, with a wildcard host (0.0.0.0, [::], empty) replaced by this host's name:
// the default base URL of links in notifications.
std::string DefaultExternalUrl(const std::string& http_listen);

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_ALARMS_ALERT_DELIVERY_H_
