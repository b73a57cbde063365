#ifndef VIGIL_COLLECTOR_CONFIG_H_
#define VIGIL_COLLECTOR_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collector/state/state_config.h"

// The collector's configuration file (collector/testdata/collector.example.yaml documents every
// key). Loading is strict: every problem is reported as `file:line:col: message`, all at once,
// and unknown keys are errors. auth.tokens_file is read at load time and its problems are
// reported as `tokens-file:line:col: message`.
//
// Relative paths (state_dir, auth.tokens_file, auth.api_token_file, tls.*_file,
// alerting.config_file, state.postgres.password_file, state.postgres.sslrootcert) are resolved
// against config_dir at load time, so the values below are usable as is.

namespace vigil::collector {

// An agent credential as the collector stores it: never the token, only its SHA-256.
struct AgentToken {
  std::string name;    // who holds the token, e.g. "web-fleet"; unique
  std::string sha256;  // 64 lowercase hex characters; unique
};

struct ListenConfig {
  std::string grpc = "127.0.0.1:4317";  // host:port; port 0 picks a free port
  std::string http = "127.0.0.1:8080";
};

struct AuthConfig {
  // Accepted agent tokens: the inline `tokens:` entries followed by those of tokens_file.
  std::vector<AgentToken> tokens;
  std::string tokens_file;  // lines "name sha256"; empty = none
  // File with the token required by state-changing HTTP calls. Empty: such calls are refused.
  std::string api_token_file;
};

// TLS for both listeners. cert_file and key_file are set together; both are required when
// enabled. client_ca_file, when set, makes client certificates required (mutual TLS).
struct TlsServerConfig {
  bool enabled = false;
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
};

// Bounds on what one agent may send, so that a broken or hostile agent cannot exhaust memory.
struct LimitsConfig {
  uint64_t max_message_bytes = uint64_t{4} << 20;
  int max_labels_per_series = 32;
  int max_label_name_length = 128;
  int max_label_value_length = 1024;
  int max_series_per_agent = 10000;
  absl::Duration max_future_skew = absl::Minutes(5);
  // Points older than now - max_past_age are rejected. Default: the retention. Spool replay
  // after an outage longer than this loses the older points.
  absl::Duration max_past_age = absl::Hours(6);
  int queue_capacity = 4096;  // batches waiting for the ingest workers
};

struct IngestConfig {
  int workers = 2;  // 1..64
};

struct RulesConfig {
  // Directory of rule files (*.yaml), watched and hot-reloaded; empty: no rules evaluated.
  std::string directory;
  absl::Duration evaluation_interval = absl::Seconds(1);  // how often closed periods are checked
};

// Alert delivery (docs/notifications.md): which alerting config the collector's dispatcher runs.
struct AlertingSettings {
  // The alerting config (receivers, routes, silences' maintenance windows...). Default:
  // <config dir>/alerting.yaml, which may be absent (then nothing is sent until it is created
  // and the collector reloaded). Empty with the embedded defaults: nothing is sent.
  std::string config_file;
  // True when config_file was given explicitly: then it must exist, at start and on reload.
  bool config_file_required = false;
  // Base URL of the collector's UI for links in notifications, used when alerting.yaml sets no
  // external_url. Empty: http://<listen.http> (the host's name for a wildcard address).
  std::string external_url;
};

// Immutable after loading; share it as std::shared_ptr<const CollectorConfig>.
struct CollectorConfig {
  ListenConfig listen;
  std::string state_dir = "/var/lib/vigil-collector";
  AuthConfig auth;
  TlsServerConfig tls;
  absl::Duration retention = absl::Hours(6);  // >= 5m
  LimitsConfig limits;
  IngestConfig ingest;
  RulesConfig rules;
  AlertingSettings alerting;
  StateConfig state;       // where alarm states, the outbox, stream positions and the lease live
  std::string config_dir;  // directory of the config file; empty for the defaults
};

// The built-in defaults: what runs when no config file is given (no agent tokens accepted).
CollectorConfig DefaultCollectorConfig();

// Parses `yaml_text`; `name` is used in messages and its directory becomes config_dir.
// Returns InvalidArgument whose message has one `file:line:col: problem` per line.
absl::StatusOr<CollectorConfig> ParseCollectorConfig(const std::string& yaml_text,
                                                     const std::string& name);

// Reads and parses the file at `path`: NotFound naming the file when it cannot be read,
// otherwise as ParseCollectorConfig.
absl::StatusOr<CollectorConfig> LoadCollectorConfig(const std::string& path);

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_CONFIG_H_
