#ifndef VIGIL_AGENT_CONFIG_H_
#define VIGIL_AGENT_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "common/series_key.h"
#include "yaml-cpp/yaml.h"

// The agent's configuration file (agent/testdata/agent.example.yaml documents every key).
// Loading is strict: every problem is reported as `file:line:col: message`, all at once, and
// unknown keys are errors, including keys inside a check entry that the check does not read.
//
// Relative paths (collector.token_file, collector.tls.*_file, spool.directory, include_dir) are
// resolved against the directory of the config file at load time, so the values below are
// usable as is.
//
// Per-check files: every `*.yaml` file of `include_dir` (default: `conf.d` beside the main file,
// which may be absent) holds only a `checks:` list. The files are read in name order and their
// checks appended after the main file's; check names are unique across all files; messages
// about such a file name that file, and relative paths in it are relative to its directory.

namespace vigil::agent {

// TLS towards the collector. cert_file and key_file are set together (client certificate) or
// not at all; ca_file is required when enabled.
struct TlsClientConfig {
  bool enabled = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;  // overrides the name checked in the server's certificate
};

// Where and how the agent streams its samples.
struct CollectorEndpoint {
  std::string address = "127.0.0.1:4317";  // host:port
  // File holding the agent's token; the secret itself never appears in the config. The loader
  // does not require it (the defaults have none): the agent refuses to start when it is empty.
  std::string token_file;
  TlsClientConfig tls;
  absl::Duration connect_timeout = absl::Seconds(10);
};

// The on-disk queue of sealed batches that survives collector outages and agent restarts.
struct SpoolConfig {
  std::string directory = "/var/lib/vigil/spool";
  uint64_t max_bytes = uint64_t{256} << 20;
  // How long acknowledged batches stay in the spool as the replay buffer a collector that takes
  // over from a dead one may ask for (docs/protocol.md); 0 turns it off.
  absl::Duration replay_window = absl::Hours(1);
};

// One entry of `checks:`. `check` has been created by the factory and Init() has succeeded on
// this entry's keys; it is shared because config snapshots are copied, and is read-only (apart
// from Collect on its scheduler thread, see agent/check.h) after loading.
struct CheckConfig {
  std::string type;
  std::string name;  // unique among the checks; defaults to `type`
  absl::Duration interval;
  absl::Duration timeout;  // <= interval; default min(interval, 10s)
  YAML::Node node;         // the entry's mapping, as written
  YAML::Mark mark;         // position of the entry, for messages about it later
  std::shared_ptr<Check> check;
};

struct AgentConfig {
  std::string agent_id;  // default: hostname
  std::string hostname;  // default: gethostname()
  CollectorEndpoint collector;
  // Added to every sample: `host` = hostname plus the configured `labels:` (`role`, `env`,
  // ...), sorted by name. List values are joined with ",".
  Labels host_labels;
  absl::Duration interval = absl::Seconds(10);  // default check interval
  SpoolConfig spool;
  size_t batch_max_points = 5000;  // a batch is sealed per interval or at this many points
  // Self-metrics endpoint (host:port); empty disables it. Anything but a loopback address
  // exposes the agent's metrics to the network, unauthenticated.
  std::string metrics_listen = "127.0.0.1:9102";
  // The directory of per-check files that was read ("" when none was: disabled, or the default
  // directory is absent).
  std::string include_dir;
  std::vector<CheckConfig> checks;  // the main file's, then each per-check file's in name order
};

// Creates a check of a known type, or returns null for an unknown one (agent/checks/registry).
using CheckFactory = std::function<std::unique_ptr<Check>(absl::string_view type)>;

// The built-in defaults: what the file-less agent runs, except that `checks` holds the one
// default `system` entry without a created check (check == nullptr, node undefined). To get
// it initialized, parse an empty document: ParseAgentConfig("", "<defaults>", ...).
AgentConfig DefaultAgentConfig();

// Parses `yaml_text`; `name` is used in messages and as the path relative paths are resolved
// against. `known_types` is listed in the "unknown check type" message. Returns
// InvalidArgument whose message has one `name:line:col: problem` per line. Text has no
// directory of its own, so only an `include_dir` the text sets is read, never the default one.
absl::StatusOr<AgentConfig> ParseAgentConfig(const std::string& yaml_text, const std::string& name,
                                             const CheckFactory& make_check,
                                             const std::vector<std::string>& known_types);

// Reads and parses the file at `path`, then the per-check files of its include_dir (default
// `<dir of path>/conf.d`): NotFound naming the file when `path` cannot be read, otherwise as
// ParseAgentConfig, with each problem naming the file it is in.
absl::StatusOr<AgentConfig> LoadAgentConfig(const std::string& path, const CheckFactory& make_check,
                                            const std::vector<std::string>& known_types);

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CONFIG_H_
