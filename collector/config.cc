#include "collector/config.h"

#include <errno.h>
#include <string.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config_reader.h"
#include "yaml-cpp/yaml.h"

namespace vigil::collector {
namespace {

constexpr absl::Duration kMinRetention = absl::Minutes(5);
constexpr uint64_t kMinMessageBytes = uint64_t{1} << 10;
constexpr uint64_t kMaxMessageBytes = uint64_t{1} << 30;  // gRPC takes the limit as an int
constexpr size_t kSha256HexLength = 64;

// Empty when `text` is a listen address (port 0 = any free port), otherwise what is wrong.
std::string ListenAddressProblem(absl::string_view text) {
  if (text.rfind(':') == 0) {  // nothing before the port
    return absl::StrCat("missing host in '", text, "' (0.0.0.0 listens on all interfaces)");
  }
  return HostPortProblem(text, /*allow_port_zero=*/true);
}

// Empty when `name` can name a token (it is a field of the whitespace-separated tokens file).
std::string TokenNameProblem(absl::string_view name) {
  if (name.empty()) return "required";
  bool ok = std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
  if (!ok) return absl::StrCat("'", name, "' must be letters, digits, '.', '_' or '-'");
  return "";
}

std::string Sha256Problem(absl::string_view hex) {
  const std::string expected = "expected 64 lowercase hex characters (sha256 of the token)";
  if (hex.size() != kSha256HexLength) {
    return absl::StrCat(expected, "; got ", hex.size(), " characters");
  }
  for (size_t i = 0; i < hex.size(); ++i) {
    char c = hex[i];
    if (!(absl::ascii_isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'))) {
      return absl::StrCat(expected, "; got '", std::string(1, c), "' at offset ", i);
    }
  }
  return "";
}

// Records `path: message` at the position of `key`'s value (the map's when absent; an absent
// key comes back as a null node without a position).
void ErrorAt(ConfigMap& map, absl::string_view key, absl::string_view path,
             absl::string_view message) {
  YAML::Mark mark = map.Node(key).Mark();
  map.errors()->Add(mark.is_null() ? map.mark() : mark, absl::StrCat(path, ": ", message));
}

YAML::Mark MarkAt(int line, int column) {
  YAML::Mark mark;
  mark.line = line;
  mark.column = column;
  return mark;
}

class CollectorConfigParser {
 public:
  explicit CollectorConfigParser(const std::string& name) : errors_(name), dir_(DirName(name)) {}

  absl::StatusOr<CollectorConfig> Parse(const YAML::Node& root) {
    CollectorConfig config = DefaultCollectorConfig();
    config.config_dir = dir_;
    ConfigMap top(root, &errors_);

    ConfigMap listen = top.Map("listen");
    config.listen.grpc = ListenAddress(listen, "grpc", config.listen.grpc);
    config.listen.http = ListenAddress(listen, "http", config.listen.http);
    if (config.listen.grpc == config.listen.http && !absl::EndsWith(config.listen.grpc, ":0")) {
      ErrorAt(listen, "http", "listen.http",
              absl::StrCat("same address as listen.grpc (", config.listen.grpc, ")"));
    }
    listen.Finish();

    std::string state_dir = top.String("state_dir", config.state_dir);
    if (state_dir.empty()) {
      ErrorAt(top, "state_dir", "state_dir", "must not be empty");
    } else {
      config.state_dir = ResolvePath(dir_, state_dir);
    }

    ParseAuth(top.Map("auth"), &config.auth);
    ParseTls(top.Map("tls"), &config.tls);
    config.retention = top.Duration("retention", config.retention, kMinRetention);
    ParseLimits(top.Map("limits"), config.retention, &config.limits);

    ConfigMap ingest = top.Map("ingest");
    config.ingest.workers = static_cast<int>(ingest.Int("workers", config.ingest.workers, 1, 64));
    ingest.Finish();

    ConfigMap rules = top.Map("rules");
    if (std::optional<std::string> dir = rules.OptionalString("directory")) {
      config.rules.directory = ResolvePath(dir_, *dir);
    }
    config.rules.evaluation_interval = rules.Duration(
        "evaluation_interval", config.rules.evaluation_interval, absl::Milliseconds(100));
    rules.Finish();

    ParseAlerting(top.Map("alerting"), &config.alerting);
    ParseState(top.Map("state"), &config.state);

    top.Finish();
    std::vector<std::string> problems = errors_.messages();
    problems.insert(problems.end(), token_file_problems_.begin(), token_file_problems_.end());
    if (!problems.empty()) return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
    return config;
  }

 private:
  std::string ListenAddress(ConfigMap& map, absl::string_view key, const std::string& def) {
    std::string address = map.String(key, def);
    std::string problem = ListenAddressProblem(address);
    if (!problem.empty()) ErrorAt(map, key, absl::StrCat("listen.", key), problem);
    return address;
  }

  void ParseAlerting(ConfigMap map, AlertingSettings* out) {
    if (std::optional<std::string> file = map.OptionalString("config_file")) {
      if (file->empty()) {
        ErrorAt(map, "config_file", "alerting.config_file",
                "must not be empty (leave the key out for the default)");
      }
      out->config_file = ResolvePath(dir_, *file);
      out->config_file_required = true;
    } else {
      out->config_file = ResolvePath(dir_, "alerting.yaml");
    }
    out->external_url = map.String("external_url");
    if (!out->external_url.empty() && !absl::StartsWith(out->external_url, "http://") &&
        !absl::StartsWith(out->external_url, "https://")) {
      ErrorAt(map, "external_url", "alerting.external_url",
              absl::StrCat("must start with http:// or https://, got '", out->external_url, "'"));
    }
    map.Finish();
  }

  void ParseState(ConfigMap map, StateConfig* out) {
    out->backend = map.String("backend", out->backend);
    if (out->backend != kSqliteBackend && out->backend != kPostgresBackend) {
      ErrorAt(map, "backend", "state.backend",
              absl::StrCat("must be sqlite or postgres, got '", out->backend, "'"));
    }

    ConfigMap pg = map.Map("postgres");
    PostgresStateConfig& p = out->postgres;
    p.host = pg.String("host", p.host);
    if (p.host.empty()) ErrorAt(pg, "host", "state.postgres.host", "must not be empty");
    p.port = static_cast<int>(pg.Int("port", p.port, 1, 65535));
    p.dbname = pg.String("dbname", p.dbname);
    if (p.dbname.empty()) ErrorAt(pg, "dbname", "state.postgres.dbname", "must not be empty");
    p.user = pg.String("user", p.user);
    if (p.user.empty()) ErrorAt(pg, "user", "state.postgres.user", "must not be empty");
    if (std::optional<std::string> file = pg.OptionalString("password_file")) {
      if (file->empty()) {
        ErrorAt(pg, "password_file", "state.postgres.password_file",
                "must not be empty (leave the key out for libpq's own rules)");
      }
      p.password_file = ResolvePath(dir_, *file);
    }
    p.sslmode = pg.String("sslmode", p.sslmode);
    static const char* const kSslModes[] = {"disable", "allow",     "prefer",
                                            "require", "verify-ca", "verify-full"};
    if (std::find(std::begin(kSslModes), std::end(kSslModes), p.sslmode) == std::end(kSslModes)) {
      ErrorAt(pg, "sslmode", "state.postgres.sslmode",
              absl::StrCat("must be one of disable, allow, prefer, require, verify-ca, "
                           "verify-full; got '",
                           p.sslmode, "'"));
    }
    p.sslrootcert = ResolvePath(dir_, pg.String("sslrootcert"));
    p.connect_timeout = pg.Duration("connect_timeout", p.connect_timeout, absl::Milliseconds(100));
    p.statement_timeout =
        pg.Duration("statement_timeout", p.statement_timeout, absl::Milliseconds(100));
    pg.Finish();

    ConfigMap ha = map.Map("ha");
    HaConfig& h = out->ha;
    h.enabled = ha.Bool("enabled", h.enabled);
    if (h.enabled && out->backend != kPostgresBackend) {
      ErrorAt(ha, "enabled", "state.ha.enabled",
              absl::StrCat("requires state.backend: postgres (replicas share their state "
                           "there), got '",
                           out->backend, "'"));
    }
    h.replica_name = ha.String("replica_name");
    if (h.replica_name.empty()) h.replica_name = DefaultReplicaName();
    h.lease_duration = ha.Duration("lease_duration", h.lease_duration, absl::Seconds(1));
    h.renew_interval = ha.Duration("renew_interval", h.renew_interval, absl::Milliseconds(100));
    if (h.renew_interval >= h.lease_duration / 2) {
      ErrorAt(ha, "renew_interval", "state.ha.renew_interval",
              absl::StrCat("must be less than half of lease_duration (",
                           absl::FormatDuration(h.lease_duration), "), got ",
                           absl::FormatDuration(h.renew_interval),
                           "; a leader must get two tries to renew before its lease lapses"));
    }
    ha.Finish();
    map.Finish();
  }

  void ParseAuth(ConfigMap map, AuthConfig* out) {
    YAML::Node tokens = map.Node("tokens");
    if (tokens.IsSequence()) {
      size_t index = 0;
      for (const YAML::Node& entry : tokens) {
        ParseInlineToken(entry, absl::StrCat("auth.tokens[", index++, "]"), &out->tokens);
      }
    } else if (tokens.IsDefined() && !tokens.IsNull()) {
      errors_.Add(tokens.Mark(), "auth.tokens: expected a list of {name, sha256} entries");
    }

    out->tokens_file = ResolvePath(dir_, map.String("tokens_file"));
    if (!out->tokens_file.empty()) {
      ReadTokensFile(out->tokens_file, map.Node("tokens_file").Mark(), &out->tokens);
    }
    out->api_token_file = ResolvePath(dir_, map.String("api_token_file"));
    map.Finish();
  }

  void ParseInlineToken(const YAML::Node& entry, const std::string& path,
                        std::vector<AgentToken>* tokens) {
    if (!entry.IsMap()) {
      errors_.Add(entry.Mark(), absl::StrCat(path, ": expected a mapping {name, sha256}"));
      return;
    }
    ConfigMap map(entry, &errors_);
    AgentToken token{map.String("name"), map.String("sha256")};
    bool ok = true;
    if (std::string problem = TokenNameProblem(token.name); !problem.empty()) {
      ErrorAt(map, "name", path + ".name", problem);
      ok = false;
    }
    if (std::string problem = Sha256Problem(token.sha256); !problem.empty()) {
      ErrorAt(map, "sha256", path + ".sha256", token.sha256.empty() ? "required" : problem);
      ok = false;
    }
    map.Finish();
    if (!ok) return;
    if (Conflict c = Register(token, path); !c.message.empty()) {
      const char* key = c.about_name ? "name" : "sha256";
      ErrorAt(map, key, absl::StrCat(path, ".", key), c.message);
      return;
    }
    tokens->push_back(std::move(token));
  }

  // Lines "name sha256"; '#' starts a comment; blank lines are skipped.
  void ReadTokensFile(const std::string& path, const YAML::Mark& key_mark,
                      std::vector<AgentToken>* tokens) {
    std::ifstream in(path);
    if (!in) {
      int err = errno;
      errors_.Add(key_mark,
                  absl::StrCat("auth.tokens_file: cannot read '", path, "': ", strerror(err)));
      return;
    }
    ConfigErrors file_errors(path);
    std::string line;
    int line_index = 0;
    for (; std::getline(in, line); ++line_index) {
      size_t hash = line.find('#');
      if (hash != std::string::npos) line.resize(hash);
      // Fields with the column each starts at, for positions in messages.
      std::vector<std::pair<int, std::string>> fields;
      for (size_t i = 0; i < line.size();) {
        if (absl::ascii_isspace(static_cast<unsigned char>(line[i]))) {
          ++i;
          continue;
        }
        size_t start = i;
        while (i < line.size() && !absl::ascii_isspace(static_cast<unsigned char>(line[i]))) ++i;
        fields.emplace_back(static_cast<int>(start), line.substr(start, i - start));
      }
      if (fields.empty()) continue;
      if (fields.size() != 2) {
        file_errors.Add(MarkAt(line_index, fields[0].first),
                        absl::StrCat("expected 'name sha256', got ", fields.size(), " field",
                                     fields.size() == 1 ? "" : "s"));
        continue;
      }
      AgentToken token{fields[0].second, fields[1].second};
      if (std::string problem = TokenNameProblem(token.name); !problem.empty()) {
        file_errors.Add(MarkAt(line_index, fields[0].first), absl::StrCat("name: ", problem));
        continue;
      }
      if (std::string problem = Sha256Problem(token.sha256); !problem.empty()) {
        file_errors.Add(MarkAt(line_index, fields[1].first), absl::StrCat("sha256: ", problem));
        continue;
      }
      std::string where = absl::StrCat(path, ":", line_index + 1);
      if (Conflict c = Register(token, where); !c.message.empty()) {
        file_errors.Add(MarkAt(line_index, fields[c.about_name ? 0 : 1].first),
                        absl::StrCat(c.about_name ? "name: " : "sha256: ", c.message));
        continue;
      }
      tokens->push_back(std::move(token));
    }
    token_file_problems_ = file_errors.messages();
  }

  struct Conflict {
    std::string message;  // empty: no conflict
    bool about_name = false;
  };

  // Remembers a token unless it conflicts with an earlier one: a name used twice, or one token
  // under two names (which would make the agent's identity ambiguous).
  Conflict Register(const AgentToken& token, const std::string& where) {
    auto name = token_names_.find(token.name);
    if (name != token_names_.end()) {
      return {absl::StrCat("duplicate token name '", token.name, "' (also at ", name->second, ")"),
              true};
    }
    auto hash = token_hashes_.find(token.sha256);
    if (hash != token_hashes_.end()) {
      return {absl::StrCat("same hash as token '", hash->second.first, "' (at ",
                           hash->second.second, "); one token cannot have two names"),
              false};
    }
    token_names_.emplace(token.name, where);
    token_hashes_.emplace(token.sha256, std::make_pair(token.name, where));
    return {};
  }

  void ParseTls(ConfigMap map, TlsServerConfig* out) {
    out->enabled = map.Bool("enabled", out->enabled);
    out->cert_file = ResolvePath(dir_, map.String("cert_file"));
    out->key_file = ResolvePath(dir_, map.String("key_file"));
    out->client_ca_file = ResolvePath(dir_, map.String("client_ca_file"));
    if (out->cert_file.empty() != out->key_file.empty()) {
      const char* missing = out->cert_file.empty() ? "cert_file" : "key_file";
      const char* given = out->cert_file.empty() ? "key_file" : "cert_file";
      ErrorAt(map, given, absl::StrCat("tls.", missing),
              absl::StrCat("required when ", given, " is set"));
    } else if (out->enabled && out->cert_file.empty()) {
      ErrorAt(map, "enabled", "tls", "cert_file and key_file are required when enabled is true");
    }
    map.Finish();
  }

  void ParseLimits(ConfigMap map, absl::Duration retention, LimitsConfig* out) {
    out->max_message_bytes = map.Bytes("max_message_bytes", out->max_message_bytes);
    if (out->max_message_bytes < kMinMessageBytes || out->max_message_bytes > kMaxMessageBytes) {
      ErrorAt(map, "max_message_bytes", "limits.max_message_bytes",
              absl::StrCat("must be from 1KiB to 1GiB, got ", out->max_message_bytes, " bytes"));
    }
    out->max_labels_per_series =
        static_cast<int>(map.Int("max_labels_per_series", out->max_labels_per_series, 1, 1000));
    out->max_label_name_length =
        static_cast<int>(map.Int("max_label_name_length", out->max_label_name_length, 1, 65536));
    out->max_label_value_length = static_cast<int>(
        map.Int("max_label_value_length", out->max_label_value_length, 1, 1 << 20));
    out->max_series_per_agent =
        static_cast<int>(map.Int("max_series_per_agent", out->max_series_per_agent, 1, 100000000));
    out->max_future_skew = map.Duration("max_future_skew", out->max_future_skew);
    if (out->max_future_skew <= absl::ZeroDuration()) {
      ErrorAt(map, "max_future_skew", "limits.max_future_skew", "must be greater than 0");
    }
    out->max_past_age = map.Duration("max_past_age", retention);
    if (out->max_past_age <= absl::ZeroDuration()) {
      ErrorAt(map, "max_past_age", "limits.max_past_age", "must be greater than 0");
    } else if (out->max_past_age > retention) {
      ErrorAt(map, "max_past_age", "limits.max_past_age",
              absl::StrCat(absl::FormatDuration(out->max_past_age), " is longer than retention (",
                           absl::FormatDuration(retention), "); such points would be dropped"));
    }
    out->queue_capacity =
        static_cast<int>(map.Int("queue_capacity", out->queue_capacity, 1, 1000000));
    map.Finish();
  }

  ConfigErrors errors_;
  std::string dir_;
  std::vector<std::string> token_file_problems_;
  std::map<std::string, std::string> token_names_;  // name -> where it was defined
  std::map<std::string, std::pair<std::string, std::string>> token_hashes_;  // -> name, where
};

}  // namespace

CollectorConfig DefaultCollectorConfig() { return CollectorConfig(); }

absl::StatusOr<CollectorConfig> ParseCollectorConfig(const std::string& yaml_text,
                                                     const std::string& name) {
  absl::StatusOr<YAML::Node> root = LoadYamlString(yaml_text, name);
  if (!root.ok()) return root.status();
  return CollectorConfigParser(name).Parse(*root);
}

absl::StatusOr<CollectorConfig> LoadCollectorConfig(const std::string& path) {
  absl::StatusOr<YAML::Node> root = LoadYamlFile(path);
  if (!root.ok()) return root.status();
  return CollectorConfigParser(path).Parse(*root);
}

}  // namespace vigil::collector
