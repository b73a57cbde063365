#ifndef VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_NOTIFIER_H_
#define VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_NOTIFIER_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "alerting/notify/notifier.h"
#include "common/config_reader.h"
#include "common/http_client.h"
#include "common/secret.h"

namespace vigil::alerting {

// One `webhook:` integration of a receiver, as configured. Config keys (defaults in brackets):
//   url                      http:// or https:// endpoint (required; no user:password@ in it)
//   format                   alertmanager | vigil [alertmanager]
//   max_alerts               alerts per request, the rest counted in truncatedAlerts [0 = all]
//   timeout                  whole request, connect included [10s]
//   headers                  extra request headers {name: value}
//   bearer_token_file/_env   Authorization: Bearer <token>
//   username, password_file/_env   HTTP basic authentication
//   signing_secret_file/_env X-Vigil-Timestamp and X-Vigil-Signature (HMAC-SHA256) headers
//   tls: {ca_file, insecure_skip_verify}   verification of an https endpoint
struct WebhookConfig {
  enum class Format { kAlertmanager, kVigil };

  std::string url;
  Format format = Format::kAlertmanager;
  int max_alerts = 0;
  absl::Duration timeout = absl::Seconds(10);
  std::vector<std::pair<std::string, std::string>> headers;
  SecretRef bearer_token;
  std::string username;
  SecretRef password;
  SecretRef signing_secret;
  std::string ca_file;
  bool insecure_skip_verify = false;
};

// Reads a `webhook:` integration's keys from `config`, recording each problem in
// config.errors() at its position. Returns nullopt when there were problems. Unknown keys are
// reported by the caller's config.Finish().
std::optional<WebhookConfig> ParseWebhookConfig(ConfigMap& config);

// Posts each notification as JSON to one URL: one attempt per Send(), classified for the
// dispatcher (which retries). Headers sent: Content-Type: application/json,
// Idempotency-Key: <notification id>, the configured ones, Authorization when configured, and
// X-Vigil-Timestamp / X-Vigil-Signature when a signing secret is configured. Secrets are read
// at each Send() and appear in no log line and no DeliveryResult::detail.
//
// Threading: immutable after construction; Send() may run on several threads at once.
class WebhookNotifier : public Notifier {
 public:
  explicit WebhookNotifier(WebhookConfig config);

  std::string kind() const override { return "webhook"; }
  // Blocks for at most the configured timeout.
  DeliveryResult Send(const Notification& notification) override;

  // The request body for `notification` in the configured format.
  std::string Payload(const Notification& notification) const;
  const WebhookConfig& config() const { return config_; }

 private:
  const WebhookConfig config_;
};

// The factory the alerting config loader calls for a `webhook:` integration; nullptr when the
// config has errors (recorded in config.errors()).
std::unique_ptr<Notifier> NewWebhookNotifier(ConfigMap& config);

// How one attempt ended, for the dispatcher: 2xx Delivered; 408, 429 and 5xx Retry (with the
// Retry-After header's delay relative to `now`); any transport failure (timeout, refused
// connection, TLS) Retry; any other status (3xx, 4xx) Permanent. The detail names the status
// and the request's `url` (as WebhookDisplayUrl) and quotes up to 512 bytes of the response
// body on one line.
DeliveryResult ClassifyWebhookResponse(const absl::StatusOr<HttpResponse>& response,
                                       const std::string& url, absl::Time now);

// `url` without user information, query and fragment: safe for logs.
std::string WebhookDisplayUrl(const std::string& url);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_NOTIFIER_H_
