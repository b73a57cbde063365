#ifndef VIGIL_ALERTING_NOTIFY_CONFIG_H_
#define VIGIL_ALERTING_NOTIFY_CONFIG_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "alerting/notifiers/email/template.h"
#include "alerting/notify/integrations.h"
#include "alerting/notify/maintenance.h"
#include "alerting/notify/notifier.h"
#include "alerting/notify/route.h"
#include "alerting/rules/rule.h"
#include "common/selector.h"

// The alerting config (alerting.yaml; shape and semantics in docs/notifications.md): receivers
// and their integrations, the routing tree, inhibit rules, maintenance windows, flapping and
// delivery settings. Loaded whole and validated; published as std::shared_ptr<const
// AlertingConfig> and swapped whole on reload, never edited in place.

namespace vigil::alerting {

// One integration of a receiver (an email list, a webhook URL).
struct Integration {
  std::string kind;  // "email", "webhook" (IntegrationFactory::kind)
  int index = 0;     // position within the receiver; outbox rows and the log name it
  bool send_resolved = true;
  std::unique_ptr<Notifier> notifier;  // Send() may be called from any thread
};

struct Receiver {
  std::string name;
  std::vector<Integration> integrations;  // none: a receiver that drops what it gets
};

// A firing alert matching `source` mutes alerts matching `target` that have the same values
// of the `equal` labels (absent counts as ""); an alert never mutes itself.
struct InhibitRule {
  std::vector<LabelMatcher> source;
  std::vector<LabelMatcher> target;
  std::vector<std::string> equal;
};

struct FlappingConfig {
  int max_transitions = 6;  // more than this many within `window`: flapping; 0 disables
  absl::Duration window = absl::Hours(1);
};

struct DeliveryConfig {
  absl::Duration max_age = absl::Hours(24);  // a notification not delivered by then fails
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(5);
  int workers = 2;  // read at start only
};

struct AlertingConfig {
  std::string path;          // the file it came from ("" for an empty built-in config)
  std::string external_url;  // the collector's UI, for links; may be empty
  EmailTemplates templates;  // the shipped templates with `templates:` applied
  std::vector<Receiver> receivers;
  // The routing tree; absent: only rules with *_actions notify.
  std::optional<Route> route;
  std::vector<InhibitRule> inhibit_rules;
  std::vector<MaintenanceWindow> maintenance_windows;
  FlappingConfig flapping;
  DeliveryConfig delivery;

  const Receiver* FindReceiver(absl::string_view name) const;
  const Integration* FindIntegration(absl::string_view receiver, int index) const;
  // The root route's group_interval and repeat_interval (the defaults without a route): the
  // timers of *_actions groups.
  absl::Duration RootGroupInterval() const;
  absl::Duration RootRepeatInterval() const;
};

// Reads and validates `path`. A missing or empty file is a valid config with nothing in it
// (no receivers: nothing is sent). Any problem rejects the whole file: InvalidArgument whose
// message lists every problem as `file:line:col: message`, one per line.
absl::StatusOr<std::shared_ptr<const AlertingConfig>> LoadAlertingConfig(
    const std::string& path,
    const std::vector<IntegrationFactory>& integrations = BuiltinIntegrations());
// The same from text (`name` is used in messages), for tests and `vigilctl config check`.
absl::StatusOr<std::shared_ptr<const AlertingConfig>> ParseAlertingConfig(
    const std::string& text, const std::string& name,
    const std::vector<IntegrationFactory>& integrations = BuiltinIntegrations());

// Every *_actions entry of `rules` that names a receiver `config` does not define, as
// `rulefile:line:col: rule 'x': alarm_actions names receiver 'y', which <config> does not
// define`. Empty when all is well.
std::vector<std::string> CheckRuleActions(const RuleSet& rules, const AlertingConfig& config);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_CONFIG_H_
