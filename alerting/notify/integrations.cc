#include "alerting/notify/integrations.h"

#include "alerting/notifiers/email/email_notifier.h"
#include "alerting/notifiers/webhook/webhook_notifier.h"

namespace vigil::alerting {

std::vector<IntegrationFactory> BuiltinIntegrations() {
  return {
      {"email",
       [](ConfigMap& config, const EmailTemplates& templates) {
         return NewEmailNotifier(config, templates);
       }},
      {"webhook",
       [](ConfigMap& config, const EmailTemplates&) { return NewWebhookNotifier(config); }},
  };
}

}  // namespace vigil::alerting
