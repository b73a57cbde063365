#ifndef VIGIL_ALERTING_NOTIFY_INTEGRATIONS_H_
#define VIGIL_ALERTING_NOTIFY_INTEGRATIONS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alerting/notifiers/email/template.h"
#include "alerting/notify/notifier.h"
#include "common/config_reader.h"

// The registry of notifier kinds a receiver may use: the one place that lists them (no
// self-registering statics). Stateless; any thread.

namespace vigil::alerting {

struct IntegrationFactory {
  // The receiver key that configures it: `email:`, `webhook:`.
  std::string kind;
  // Reads one integration's mapping (every key but `send_resolved`, which the loader reads)
  // and records each problem in config.errors() at its position; nullptr when there were
  // problems. Does not call config.Finish() (the loader does, to report unknown keys).
  // `templates` are the config's email templates (the shipped ones overridden by `templates:`).
  std::function<std::unique_ptr<Notifier>(ConfigMap& config, const EmailTemplates& templates)> make;
};

// email (alerting/notifiers/email) and webhook (alerting/notifiers/webhook).
std::vector<IntegrationFactory> BuiltinIntegrations();

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_INTEGRATIONS_H_
