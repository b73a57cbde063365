#include "agent/config.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config_reader.h"

namespace vigil::agent {
namespace {

constexpr char kDefaultCheckType[] = "system";
constexpr char kDefaultIncludeDir[] = "conf.d";  // beside the main file
constexpr char kIncludeSuffix[] = ".yaml";
constexpr absl::Duration kMinInterval = absl::Seconds(1);
constexpr absl::Duration kMaxDefaultTimeout = absl::Seconds(10);
constexpr uint64_t kMinSpoolBytes = uint64_t{1} << 20;
constexpr int64_t kMaxBatchPoints = 1000000;
constexpr size_t kMaxLabelValueLength = 256;
constexpr size_t kMaxAgentIdLength = 128;

std::string LocalHostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

bool IsValidAgentId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxAgentIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

// Records `path: message` at the position of `key`'s value (the map's when absent; an absent
// key comes back as a null node without a position).
void ErrorAt(ConfigMap& map, absl::string_view key, absl::string_view path,
             absl::string_view message) {
  YAML::Mark mark = map.Node(key).Mark();
  map.errors()->Add(mark.is_null() ? map.mark() : mark, absl::StrCat(path, ": ", message));
}

class AgentConfigParser {
 public:
  AgentConfigParser(const std::string& name, const CheckFactory& make_check,
                    const std::vector<std::string>& known_types)
      : errors_(name), dir_(DirName(name)), make_check_(make_check), known_types_(known_types) {}

  // `read_default_include` says whether the default include_dir (conf.d beside the file) is
  // read when the file names none.
  absl::StatusOr<AgentConfig> Parse(const YAML::Node& root, bool read_default_include) {
    AgentConfig config = DefaultAgentConfig();
    config.checks.clear();
    ConfigMap top(root, &errors_);

    config.hostname = top.String("hostname", config.hostname);
    if (config.hostname.empty()) {
      ErrorAt(top, "hostname", "hostname", "must not be empty");
    } else if (config.hostname.size() > kMaxLabelValueLength) {
      ErrorAt(top, "hostname", "hostname",
              absl::StrCat("is ", config.hostname.size(), " characters; at most ",
                           kMaxLabelValueLength, " are allowed (it is the `host` label)"));
    }
    config.agent_id = top.String("agent_id", config.hostname);
    // A bad hostname was reported above; do not report it again as the default agent_id.
    if (!IsValidAgentId(config.agent_id) && (top.Has("agent_id") || !config.hostname.empty())) {
      ErrorAt(top, "agent_id", "agent_id",
              absl::StrCat("'", config.agent_id, "' must be 1 to ", kMaxAgentIdLength,
                           " letters, digits, '.', '_' or '-'"));
    }

    ParseCollector(top.Map("collector"), &config.collector);
    config.host_labels = ParseLabels(top.Node("labels"), config.hostname);
    config.interval = top.Duration("interval", config.interval, kMinInterval);
    ParseSpool(top.Map("spool"), &config.spool);

    ConfigMap batch = top.Map("batch");
    config.batch_max_points = static_cast<size_t>(
        batch.Int("max_points", static_cast<int64_t>(config.batch_max_points), 1, kMaxBatchPoints));
    batch.Finish();

    ConfigMap metrics = top.Map("metrics");
    config.metrics_listen = metrics.String("listen", config.metrics_listen);
    if (!config.metrics_listen.empty()) {
      std::string problem = HostPortProblem(config.metrics_listen, /*allow_port_zero=*/true);
      if (!problem.empty()) {
        ErrorAt(metrics, "listen", "metrics.listen",
                absl::StrCat(problem, " (\"\" disables the endpoint)"));
      }
    }
    metrics.Finish();

    bool has_checks = top.Has("checks");
    YAML::Node checks = top.Node("checks");
    if (!has_checks) {
      // No `checks:` key at all: the host's system metrics, so a bare agent is useful.
      YAML::Node entry(YAML::NodeType::Map);
      entry["type"] = kDefaultCheckType;
      ParseCheck(entry, "default check", config.interval, errors_, &config.checks);
    } else {
      ParseCheckList(checks, config.interval, errors_, &config.checks);
    }

    // Read now, used once the main file's own problems have been reported.
    std::optional<std::string> include_dir = top.OptionalString("include_dir");
    YAML::Mark include_mark = top.Node("include_dir").Mark();
    top.Finish();

    if (include_dir.has_value()) {
      // Set in the file: "" disables per-check files; any other directory must exist.
      if (!include_dir->empty()) {
        ReadIncludeDir(ResolvePath(dir_, *include_dir), /*required=*/true, include_mark, &config);
      }
    } else if (read_default_include) {
      ReadIncludeDir(ResolvePath(dir_, kDefaultIncludeDir), /*required=*/false, include_mark,
                     &config);
    }

    std::vector<std::string> problems = errors_.messages();
    problems.insert(problems.end(), include_problems_.begin(), include_problems_.end());
    if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
    return config;
  }

 private:
  void ParseCollector(ConfigMap map, CollectorEndpoint* out) {
    out->address = map.String("address", out->address);
    std::string problem = HostPortProblem(out->address, /*allow_port_zero=*/false);
    if (!problem.empty()) ErrorAt(map, "address", "collector.address", problem);
    out->token_file = ResolvePath(dir_, map.String("token_file", out->token_file));
    out->connect_timeout = map.Duration("connect_timeout", out->connect_timeout);
    if (out->connect_timeout <= absl::ZeroDuration()) {
      ErrorAt(map, "connect_timeout", "collector.connect_timeout", "must be greater than 0");
    }

    ConfigMap tls = map.Map("tls");
    TlsClientConfig& t = out->tls;
    t.enabled = tls.Bool("enabled", t.enabled);
    t.ca_file = ResolvePath(dir_, tls.String("ca_file"));
    t.cert_file = ResolvePath(dir_, tls.String("cert_file"));
    t.key_file = ResolvePath(dir_, tls.String("key_file"));
    t.server_name = tls.String("server_name");
    if (t.cert_file.empty() != t.key_file.empty()) {
      const char* missing = t.cert_file.empty() ? "cert_file" : "key_file";
      const char* given = t.cert_file.empty() ? "key_file" : "cert_file";
      ErrorAt(tls, given, absl::StrCat("collector.tls.", missing),
              absl::StrCat("required when ", given, " is set (a client certificate needs both)"));
    }
    if (t.enabled && t.ca_file.empty()) {
      ErrorAt(tls, "enabled", "collector.tls.ca_file",
              "required when tls.enabled is true (the CA that signed the collector's "
              "certificate)");
    }
    tls.Finish();
    map.Finish();
  }

  // `labels:` maps a label name to a value or a list of values (joined with ",").
  Labels ParseLabels(const YAML::Node& node, const std::string& hostname) {
    std::map<std::string, std::string> labels;
    labels["host"] = hostname;
    if (!node.IsDefined() || node.IsNull()) return Labels(labels.begin(), labels.end());
    if (!node.IsMap()) {
      errors_.Add(node.Mark(), "labels: expected a mapping of label names to values");
      return Labels(labels.begin(), labels.end());
    }
    for (const auto& kv : node) {
      std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      std::string path = absl::StrCat("labels.", name);
      if (!IsValidLabelName(name)) {
        errors_.Add(
            kv.first.Mark(),
            absl::StrCat("labels: '", name, "' is not a valid label name ([a-z_][a-z0-9_]*)"));
        continue;
      }
      if (name == "host") {
        errors_.Add(kv.first.Mark(),
                    "labels.host: the host label is always the hostname; set 'hostname' instead");
        continue;
      }
      std::optional<std::string> value = LabelValue(kv.second, path);
      if (!value) continue;
      if (value->empty()) {
        errors_.Add(kv.second.Mark(), absl::StrCat(path, ": must not be empty"));
      } else if (value->size() > kMaxLabelValueLength) {
        errors_.Add(kv.second.Mark(),
                    absl::StrCat(path, ": value is ", value->size(), " characters; at most ",
                                 kMaxLabelValueLength, " are allowed"));
      } else {
        labels[name] = *std::move(value);
      }
    }
    return Labels(labels.begin(), labels.end());
  }

  std::optional<std::string> LabelValue(const YAML::Node& value, const std::string& path) {
    if (value.IsNull()) return std::string();
    if (value.IsScalar()) return value.Scalar();
    if (value.IsSequence()) {
      std::vector<std::string> parts;
      bool ok = true;
      for (const YAML::Node& item : value) {
        if (!item.IsScalar() || item.Scalar().empty()) {
          errors_.Add(item.Mark(), absl::StrCat(path, ": list items must be non-empty strings"));
          ok = false;
          continue;
        }
        parts.push_back(item.Scalar());
      }
      if (!ok) return std::nullopt;
      return absl::StrJoin(parts, ",");
    }
    errors_.Add(value.Mark(), absl::StrCat(path, ": expected a string or a list of strings"));
    return std::nullopt;
  }

  void ParseSpool(ConfigMap map, SpoolConfig* out) {
    std::string directory = map.String("directory", out->directory);
    if (directory.empty()) {
      ErrorAt(map, "directory", "spool.directory", "must not be empty");
    } else {
      out->directory = ResolvePath(dir_, directory);
    }
    out->max_bytes = map.Bytes("max_size", out->max_bytes);
    if (out->max_bytes < kMinSpoolBytes) {
      ErrorAt(map, "max_size", "spool.max_size",
              absl::StrCat("must be at least 1MiB, got ", out->max_bytes, " bytes"));
    }
    out->replay_window = map.Duration("replay_window", out->replay_window);
    if (out->replay_window < absl::ZeroDuration() || out->replay_window > absl::Hours(24)) {
      ErrorAt(map, "replay_window", "spool.replay_window", "must be between 0s and 24h");
    }
    map.Finish();
  }

  // A `checks:` value: a list of entries; null (`checks:` with nothing) is an empty list.
  void ParseCheckList(const YAML::Node& checks, absl::Duration agent_interval, ConfigErrors& errors,
                      std::vector<CheckConfig>* out) {
    if (checks.IsSequence()) {
      size_t index = 0;
      for (const YAML::Node& entry : checks) {
        ParseCheck(entry, absl::StrCat("checks[", index++, "]"), agent_interval, errors, out);
      }
    } else if (checks.IsDefined() && !checks.IsNull()) {
      errors.Add(checks.Mark(), "checks: expected a list of check entries");
    }
  }

  // Appends the checks of every `*.yaml` file in `dir`, in name order. Each file's problems
  // name that file. An absent directory is an error only when the config named it.
  void ReadIncludeDir(const std::string& dir, bool required, const YAML::Mark& key_mark,
                      AgentConfig* config) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      if (!required && ec == std::errc::no_such_file_or_directory) return;
      errors_.Add(key_mark,
                  absl::StrCat("include_dir: cannot read directory '", dir, "': ", ec.message()));
      return;
    }
    std::vector<std::string> names;
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      // Hidden files and everything else (README, *.yaml.dpkg-dist, *.rpmnew, editor backups)
      // are not read, so package managers and editors cannot add checks by accident.
      if (name[0] == '.' || !absl::EndsWith(name, kIncludeSuffix)) continue;
      names.push_back(std::move(name));
    }
    if (ec) {
      errors_.Add(key_mark,
                  absl::StrCat("include_dir: cannot read directory '", dir, "': ", ec.message()));
      return;
    }
    config->include_dir = dir;
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      ReadIncludeFile(absl::StrCat(dir, "/", name), config);
    }
  }

  void ReadIncludeFile(const std::string& path, AgentConfig* config) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      include_problems_.push_back(
          absl::StrCat(path, ": not a regular file (include_dir holds *.yaml files of checks)"));
      return;
    }
    absl::StatusOr<YAML::Node> root = LoadYamlFile(path);
    if (!root.ok()) {
      include_problems_.emplace_back(root.status().message());
      return;
    }
    ConfigErrors errors(path);
    ConfigMap map(*root, &errors);
    if (root->IsMap()) {
      for (const auto& kv : *root) {
        const std::string key = kv.first.Scalar();
        if (key == "checks") continue;
        map.Node(key);  // reported here, with a better message than "unknown key"
        errors.Add(kv.first.Mark(), absl::StrCat("'", key,
                                                 "': a file in include_dir holds only `checks:`; "
                                                 "other keys belong in ",
                                                 errors_.file()));
      }
    }
    ParseCheckList(map.Node("checks"), config->interval, errors, &config->checks);
    map.Finish();
    include_problems_.insert(include_problems_.end(), errors.messages().begin(),
                             errors.messages().end());
  }

  void ParseCheck(const YAML::Node& entry, const std::string& path, absl::Duration agent_interval,
                  ConfigErrors& errors, std::vector<CheckConfig>* checks) {
    if (!entry.IsMap()) {
      errors.Add(entry.Mark(), absl::StrCat(path, ": expected a mapping with at least 'type'"));
      return;
    }
    ConfigMap map(entry, &errors);
    CheckConfig cc;
    cc.node = entry;
    cc.mark = entry.Mark();

    YAML::Node type_node = map.Node("type");
    std::optional<std::string> type = map.OptionalString("type");
    cc.type = type.value_or("");
    cc.name = map.String("name", cc.type);
    cc.interval = map.Duration("interval", agent_interval, kMinInterval);
    cc.timeout = map.Duration("timeout", std::min(cc.interval, kMaxDefaultTimeout));
    if (cc.timeout <= absl::ZeroDuration()) {
      ErrorAt(map, "timeout", path + ".timeout", "must be greater than 0");
    } else if (cc.timeout > cc.interval) {
      ErrorAt(map, "timeout", path + ".timeout",
              absl::StrCat(absl::FormatDuration(cc.timeout), " is longer than the interval (",
                           absl::FormatDuration(cc.interval), ")"));
    }

    bool type_ok = false;
    if (cc.type.empty()) {
      // A non-scalar type was already reported by OptionalString.
      if (!type_node.IsDefined() || type_node.IsNull() || type_node.IsScalar()) {
        ErrorAt(map, "type", path + ".type",
                absl::StrCat("required (known: ", absl::StrJoin(known_types_, ", "), ")"));
      }
    } else if (std::find(known_types_.begin(), known_types_.end(), cc.type) == known_types_.end()) {
      ErrorAt(map, "type", path + ".type",
              absl::StrCat("unknown check type '", cc.type,
                           "' (known: ", absl::StrJoin(known_types_, ", "), ")"));
    } else {
      type_ok = true;
    }

    if (map.Has("name") && cc.name.empty()) {
      ErrorAt(map, "name", path + ".name", "must not be empty");
    } else if (!cc.name.empty()) {
      auto [it, inserted] = names_.emplace(cc.name, NamedAt{errors.file(), cc.mark});
      if (!inserted) {
        ErrorAt(map, "name", path + ".name",
                absl::StrCat("duplicate check name '", cc.name, "' (also used by ",
                             UsedBy(it->second, errors.file()), "); give each check its own name"));
      }
    }

    // The check's own keys can only be judged by a check of a known type; without one, they
    // would all be reported as unknown, which would only bury the real problem.
    if (!type_ok) return;
    std::unique_ptr<Check> check = make_check_(cc.type);
    if (check == nullptr) {
      ErrorAt(map, "type", path + ".type",
              absl::StrCat("check type '", cc.type, "' is listed as known but cannot be created"));
      return;
    }
    check->SetContext({cc.name, cc.interval, cc.timeout});
    absl::Status init = check->Init(map);
    if (!init.ok()) {
      errors.Add(cc.mark, absl::StrCat(path, " (", cc.name, "): ", init.message()));
    }
    map.Finish();
    cc.check = std::move(check);
    checks->push_back(std::move(cc));
  }

  // Where a check name was first used: the file and the position of its entry (null for the
  // default check, which is not written anywhere).
  struct NamedAt {
    std::string file;
    YAML::Mark mark;
  };

  // "the check at line 2" within one file, "the check at conf.d/a.yaml:2:5" across files.
  std::string UsedBy(const NamedAt& first, const std::string& file) const {
    if (first.mark.is_null()) {
      return absl::StrCat("the default check, which runs because ", errors_.file(),
                          " has no `checks:` key");
    }
    if (first.file == file) return absl::StrCat("the check at line ", first.mark.line + 1);
    return absl::StrCat("the check at ", first.file, ":", first.mark.line + 1, ":",
                        first.mark.column + 1);
  }

  ConfigErrors errors_;  // the main file's problems
  std::string dir_;
  const CheckFactory& make_check_;
  const std::vector<std::string>& known_types_;
  std::map<std::string, NamedAt> names_;  // check name -> where it is first used
  // Problems of the include_dir files, each already `file:line:col: message`; after the main
  // file's in the result.
  std::vector<std::string> include_problems_;
};

}  // namespace

AgentConfig DefaultAgentConfig() {
  AgentConfig config;
  config.hostname = LocalHostname();
  config.agent_id = config.hostname;
  config.host_labels = {{"host", config.hostname}};
  CheckConfig system;
  system.type = kDefaultCheckType;
  system.name = kDefaultCheckType;
  system.interval = config.interval;
  system.timeout = std::min(config.interval, kMaxDefaultTimeout);
  config.checks.push_back(std::move(system));
  return config;
}

absl::StatusOr<AgentConfig> ParseAgentConfig(const std::string& yaml_text, const std::string& name,
                                             const CheckFactory& make_check,
                                             const std::vector<std::string>& known_types) {
  absl::StatusOr<YAML::Node> root = LoadYamlString(yaml_text, name);
  if (!root.ok()) return root.status();
  return AgentConfigParser(name, make_check, known_types)
      .Parse(*root, /*read_default_include=*/false);
}

absl::StatusOr<AgentConfig> LoadAgentConfig(const std::string& path, const CheckFactory& make_check,
                                            const std::vector<std::string>& known_types) {
  absl::StatusOr<YAML::Node> root = LoadYamlFile(path);
  if (!root.ok()) return root.status();
  return AgentConfigParser(path, make_check, known_types)
      .Parse(*root, /*read_default_include=*/true);
}

}  // namespace vigil::agent
