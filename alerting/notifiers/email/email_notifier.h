#ifndef VIGIL_ALERTING_NOTIFIERS_EMAIL_EMAIL_NOTIFIER_H_
#define VIGIL_ALERTING_NOTIFIERS_EMAIL_EMAIL_NOTIFIER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "alerting/notifiers/email/mime.h"
#include "alerting/notifiers/email/template.h"
#include "alerting/notify/notifier.h"
#include "common/config_reader.h"
#include "common/secret.h"

// The `email` integration of a receiver (issue #4): one multipart text + HTML email per
// notification, sent over SMTP through libcurl to the first of several relays that accepts it.

namespace vigil::alerting {

// One SMTP relay (smarthost) of an email integration.
struct SmtpRelay {
  enum class Tls {
    kStartTls,  // plain connection upgraded with STARTTLS; fails when the relay does not offer it
    kImplicit,  // TLS from the first byte (smtps, port 465)
    kNone,      // no TLS (a relay on loopback or a trusted network only)
  };
  std::string host;
  int port = 587;
  Tls tls = Tls::kStartTls;
  int priority = 10;     // lower first, like an MX preference
  std::string username;  // AUTH (PLAIN, LOGIN, ... as the relay offers) when not empty
  SecretRef password;
  std::string ca_file;  // PEM bundle to verify the relay with; empty: the system's CAs
  bool insecure_skip_verify = false;

  // "host:port", as error messages name the relay.
  std::string name() const;
};

struct EmailConfig {
  std::vector<EmailAddress> to;
  EmailAddress from;
  std::vector<SmtpRelay> relays;  // sorted by priority; equal priorities keep the config order
  absl::Duration timeout = absl::Seconds(30);  // per relay: connect and whole exchange
  std::string hello;                           // the EHLO name; empty: this host's name
  std::vector<std::pair<std::string, std::string>> headers;
  EmailTemplates templates;
};

// What one relay did with a message.
struct RelayOutcome {
  enum class Kind {
    kAccepted,  // the relay took the message (250 after the data)
    kFailed,    // unreachable, timeout, TLS or authentication failure, 4xx reply: try the next
    kRejected,  // 5xx reply to MAIL FROM, RCPT TO or the data: no relay will take it
  };
  Kind kind = Kind::kFailed;
  std::string detail;  // the relay's reply or libcurl's error; never a password
};

// Sends `message` (CRLF lines) from `from` to `to` through `relay`, bounded by `timeout` for
// the connection and for the whole exchange. Recipients the relay rejects while it accepts at
// least one are named in the detail of an accepted outcome. Thread-safe (one curl handle per
// call).
RelayOutcome SendViaRelay(const SmtpRelay& relay, const std::string& hello, const std::string& from,
                          const std::vector<std::string>& to, const std::string& message,
                          absl::Duration timeout);

// Immutable after construction; Send() may run on several threads at once.
class EmailNotifier : public Notifier {
 public:
  explicit EmailNotifier(EmailConfig config);

  std::string kind() const override { return "email"; }
  // Renders the templates, builds the message and offers it to each relay in priority order:
  // Delivered by the first that accepts it; Permanent when one rejects it with a 5xx reply;
  // Retry (naming every relay's error) when none accepted it.
  DeliveryResult Send(const Notification& notification) override;

  // The message Send() would send at `now` (for tests and `vigilctl` previews).
  absl::StatusOr<std::string> BuildMessage(const Notification& notification, absl::Time now) const;

  const EmailConfig& config() const { return config_; }

 private:
  const EmailConfig config_;
};

// Reads an email integration: `to` (required, one address or a list), `from` (required),
// `relays` (required: host, port, tls, priority, username, password_file/password_env,
// ca_file, insecure_skip_verify), `timeout` (30s), `hello`, `headers`, and the templates
// `subject`, `text` and `html` over `defaults`. Problems are recorded in config.errors() with
// their positions and the result is then nullptr. Relay maps are finished here (unknown keys
// are errors); the caller calls config.Finish() for the integration's own map.
std::unique_ptr<Notifier> NewEmailNotifier(ConfigMap& config, const EmailTemplates& defaults);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFIERS_EMAIL_EMAIL_NOTIFIER_H_
