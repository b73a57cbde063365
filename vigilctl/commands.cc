#include "vigilctl/commands.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/config_reader.h"
#include "common/secret.h"
#include "vigilctl/config_check.h"
#include "vigilctl/rules_check.h"
#include "vigilctl/silences.h"
#include "vigilctl/state_commands.h"
#include "vigilctl/table.h"

namespace vigil::ctl {
namespace {

using nlohmann::json;

int Fail(std::ostream& err, absl::string_view message) {
  err << "vigilctl: " << message << "\n";
  return kExitFailure;
}

// The collector's reply did not have the documented shape.
int BadReply(std::ostream& err, const ApiClient& client, absl::string_view what) {
  return Fail(err,
              absl::StrCat("unexpected reply from collector at ", client.base_url(), ": ", what));
}

}  // namespace

std::string Usage() {
  return R"(Usage: vigilctl [--collector URL] [--timeout DURATION] COMMAND [ARGS]

Commands:
  series MATCH...            List the series matching any of the selectors, sorted, one per
                             line under a SERIES header, then a count line.
  query SELECTOR... [--from T] [--to T] [--step D] [--stat S]
                             Print the points of every matching series: per series a line with
                             the series, then a TIME / VALUE table (TIME in UTC, RFC3339), a blank
                             line between series, and a count line at the end.
                             T: epoch milliseconds, RFC3339 (2026-11-22T10:00:00Z), now, or a
                             duration before now (-15m); default --from -1h --to now.
                             --step D (e.g. 1m) downsamples to one point per step using --stat:
                             avg (default), min, max, sum, count or last.
  token generate             Print a new agent token and its SHA-256. The token goes in the
                             agent's token file; the SHA-256 goes in the collector's auth.tokens.
  token hash [FILE]          Print the SHA-256 of the token in FILE, or on standard input
                             (surrounding whitespace is ignored).
  rules check PATH...        Load the rule files (a file, or every *.yaml / *.yml in a
                             directory) as the collector would. Prints every problem as
                             file:line:col: message and exits 1, or a one-line summary.
  rules test FILE...         Run rule unit tests (format: docs/rules.md). Prints one line per
                             failing expectation (expected and actual) and exits 1 on any.
  alarms [--state STATE]     List alarm instances (STATE: ALARM, OK, INSUFFICIENT_DATA).
  alarm history NAME         Show the state transitions of rule NAME, newest first.
  silence add --matcher M [--matcher M...] (--duration D | --until T) [--start T]
              --author NAME --comment TEXT
                             Hold back the notifications of every alert all matchers match
                             (Alertmanager syntax: 'host="web1"', 'env=~"prod|staging"'), from
                             --start (default now) for D (e.g. 2h) or until T (RFC3339).
                             Prints the new silence's id. Needs the API token (--token-file).
  silence list               List the silences: ID, STATE (active, pending, expired),
                             MATCHERS, STARTS, ENDS, CREATED BY, COMMENT.
  silence expire ID          End a silence now. Needs the API token (--token-file).
  config check FILE [--rules DIR]
                             Load an alerting config (alerting.yaml) as the collector would.
                             Prints every problem as file:line:col: message and exits 1, or a
                             one-line summary. With --rules, also loads the rules in DIR and
                             checks that their *_actions name receivers FILE defines.
  state migrate --config FILE
                             Create or migrate the collector's state store (the state: section
                             of collector config FILE) as the collector does at start; prints
                             the schema version before and after.
  state status --config FILE Show the state store's backend, location, schema version and
                             leader lease (holder, epoch, expiry), changing nothing.

Selectors: metric{label="value",label!="v",label=~"regex",label!~"regex"}; the metric or the
braces may be omitted, e.g. system.load.1 or {host="web-1"}. Quote them for the shell.

Options:
  --collector URL            Collector HTTP API (default: $VIGIL_COLLECTOR_URL, else
                             http://127.0.0.1:8080).
  --timeout DURATION         Give up on the collector after this long (default 10s).
  --token-file FILE          File with the collector's API token (its auth.api_token_file),
                             for state-changing commands (default: $VIGIL_API_TOKEN_FILE).
  -h, --help                 Show this help.
  --version                  Print vigilctl's version.

Exit status: 0 success, 1 the collector was unreachable or refused the request (or rules check
or config check found problems, or a rule test failed, or the state store could not be read or
migrated), 2 bad usage.
)";
}

absl::StatusOr<Invocation> ParseArgs(const std::vector<std::string>& args,
                                     const std::string& env_collector_url,
                                     const std::string& env_token_file) {
  Invocation inv;
  if (!env_collector_url.empty()) inv.collector_url = env_collector_url;
  inv.api_token_file = env_token_file;
  std::vector<std::string> positional;
  std::vector<std::string> query_flags_seen;
  std::vector<std::string> silence_flags_seen;
  bool rules_flag_seen = false;
  bool state_flag_seen = false;
  bool help = false;
  bool version = false;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-' || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      help = true;
      continue;
    }
    if (arg == "--version") {
      version = true;
      continue;
    }
    // --name VALUE or --name=VALUE.
    std::string name = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    std::optional<std::string>* query_slot = nullptr;
    if (name == "--from") query_slot = &inv.query.from;
    if (name == "--to") query_slot = &inv.query.to;
    if (name == "--step") query_slot = &inv.query.step;
    if (name == "--stat") query_slot = &inv.query.stat;
    std::optional<std::string>* silence_slot = nullptr;
    std::string* silence_text = nullptr;
    if (name == "--duration") silence_slot = &inv.silence.duration;
    if (name == "--until") silence_slot = &inv.silence.until;
    if (name == "--start") silence_slot = &inv.silence.start;
    if (name == "--author") silence_text = &inv.silence.author;
    if (name == "--comment") silence_text = &inv.silence.comment;
    const bool silence_flag =
        silence_slot != nullptr || silence_text != nullptr || name == "--matcher";
    if (name != "--collector" && name != "--timeout" && name != "--state" &&
        name != "--token-file" && name != "--rules" && name != "--config" &&
        query_slot == nullptr && !silence_flag) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", name, "'"));
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag ", name, " needs a value"));
      }
      value = args[++i];
    }
    if (name == "--collector") {
      if (value->empty()) return absl::InvalidArgumentError("--collector: empty URL");
      inv.collector_url = *value;
    } else if (name == "--state") {
      if (*value != "ALARM" && *value != "OK" && *value != "INSUFFICIENT_DATA") {
        return absl::InvalidArgumentError(
            absl::StrCat("--state: expected ALARM, OK or INSUFFICIENT_DATA, got '", *value, "'"));
      }
      inv.state = *value;
      state_flag_seen = true;
    } else if (name == "--timeout") {
      absl::StatusOr<absl::Duration> d = ParseDuration(*value);
      if (!d.ok())
        return absl::InvalidArgumentError(absl::StrCat("--timeout: ", d.status().message()));
      if (*d <= absl::ZeroDuration())
        return absl::InvalidArgumentError("--timeout: must be positive");
      inv.timeout = *d;
    } else if (name == "--token-file") {
      if (value->empty()) return absl::InvalidArgumentError("--token-file: empty path");
      inv.api_token_file = *value;
    } else if (name == "--config") {
      if (value->empty()) return absl::InvalidArgumentError("--config: empty path");
      inv.collector_config = *value;
    } else if (name == "--rules") {
      if (value->empty()) return absl::InvalidArgumentError("--rules: empty path");
      inv.rules_dir = *value;
      rules_flag_seen = true;
    } else if (silence_flag) {
      if (name == "--matcher") {
        if (value->empty()) return absl::InvalidArgumentError("--matcher: empty matcher");
        inv.silence.matchers.push_back(*value);
      } else if (silence_slot != nullptr) {
        if (silence_slot->has_value()) {
          return absl::InvalidArgumentError(absl::StrCat(name, ": given more than once"));
        }
        *silence_slot = *value;
      } else {
        *silence_text = *value;
      }
      silence_flags_seen.push_back(name);
    } else {
      *query_slot = *value;
      query_flags_seen.push_back(name);
    }
  }
  if (help) {
    inv.command = Invocation::Command::kHelp;
    return inv;
  }
  if (version) {
    inv.command = Invocation::Command::kVersion;
    return inv;
  }
  if (positional.empty()) return absl::InvalidArgumentError("no command given");
  const std::string command = positional[0];
  std::vector<std::string> rest(positional.begin() + 1, positional.end());
  if (command != "alarms" && state_flag_seen) {
    return absl::InvalidArgumentError("--state only applies to the alarms command");
  }
  if (command != "query" && !query_flags_seen.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(query_flags_seen[0], " only applies to the query command"));
  }
  const bool silence_add = command == "silence" && !rest.empty() && rest[0] == "add";
  if (!silence_add && !silence_flags_seen.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(silence_flags_seen[0], " only applies to the silence add command"));
  }
  if (command != "config" && rules_flag_seen) {
    return absl::InvalidArgumentError("--rules only applies to the config check command");
  }
  if (command != "state" && !inv.collector_config.empty()) {
    return absl::InvalidArgumentError("--config only applies to the state commands");
  }
  if (command == "series") {
    if (rest.empty()) return absl::InvalidArgumentError("series: give at least one selector");
    inv.command = Invocation::Command::kSeries;
    inv.matches = std::move(rest);
  } else if (command == "query") {
    if (rest.empty()) return absl::InvalidArgumentError("query: give at least one selector");
    inv.command = Invocation::Command::kQuery;
    inv.query.selectors = std::move(rest);
  } else if (command == "token") {
    if (rest.empty()) return absl::InvalidArgumentError("token: give generate or hash");
    if (rest[0] == "generate") {
      if (rest.size() > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("token generate: unexpected argument '", rest[1], "'"));
      }
      inv.command = Invocation::Command::kTokenGenerate;
    } else if (rest[0] == "hash") {
      if (rest.size() > 2) {
        return absl::InvalidArgumentError(
            absl::StrCat("token hash: unexpected argument '", rest[2], "'"));
      }
      inv.command = Invocation::Command::kTokenHash;
      if (rest.size() == 2 && rest[1] != "-") inv.token_file = rest[1];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown token command '", rest[0], "'"));
    }
  } else if (command == "rules") {
    if (rest.empty()) return absl::InvalidArgumentError("rules: give check or test");
    if (rest[0] != "check" && rest[0] != "test") {
      return absl::InvalidArgumentError(absl::StrCat("unknown rules command '", rest[0], "'"));
    }
    if (rest.size() < 2) {
      return absl::InvalidArgumentError(rest[0] == "check"
                                            ? "rules check: give at least one file or directory"
                                            : "rules test: give at least one test file");
    }
    inv.command =
        rest[0] == "check" ? Invocation::Command::kRulesCheck : Invocation::Command::kRulesTest;
    inv.rule_paths.assign(rest.begin() + 1, rest.end());
  } else if (command == "alarms") {
    if (!rest.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("alarms: unexpected argument '", rest[0], "' (use --state STATE)"));
    }
    inv.command = Invocation::Command::kAlarms;
  } else if (command == "alarm") {
    if (rest.size() != 2 || rest[0] != "history") {
      return absl::InvalidArgumentError("alarm: use 'alarm history NAME'");
    }
    inv.command = Invocation::Command::kAlarmHistory;
    inv.rule = rest[1];
  } else if (command == "silence") {
    if (rest.empty()) return absl::InvalidArgumentError("silence: give add, list or expire");
    const std::string& sub = rest[0];
    if (sub == "add") {
      if (rest.size() > 1) {
        return absl::InvalidArgumentError(absl::StrCat("silence add: unexpected argument '",
                                                       rest[1], "' (matchers go after --matcher)"));
      }
      const SilenceArgs& a = inv.silence;
      if (a.matchers.empty()) {
        return absl::InvalidArgumentError(
            "silence add: give at least one --matcher such as 'host=\"web1\"'");
      }
      if (a.duration.has_value() == a.until.has_value()) {
        return absl::InvalidArgumentError(
            a.duration ? "silence add: give --duration or --until, not both"
                       : "silence add: give --duration (e.g. 2h) or --until (RFC3339 time)");
      }
      if (a.author.empty()) {
        return absl::InvalidArgumentError("silence add: --author is required (who adds it)");
      }
      if (a.comment.empty()) {
        return absl::InvalidArgumentError("silence add: --comment is required (why)");
      }
      inv.command = Invocation::Command::kSilenceAdd;
    } else if (sub == "list") {
      if (rest.size() > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("silence list: unexpected argument '", rest[1], "'"));
      }
      inv.command = Invocation::Command::kSilenceList;
    } else if (sub == "expire") {
      if (rest.size() != 2) {
        return absl::InvalidArgumentError("silence expire: give one silence id");
      }
      inv.command = Invocation::Command::kSilenceExpire;
      inv.silence.id = rest[1];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown silence command '", sub, "'"));
    }
  } else if (command == "config") {
    if (rest.empty() || rest[0] != "check") {
      return absl::InvalidArgumentError("config: use 'config check FILE [--rules DIR]'");
    }
    if (rest.size() != 2) {
      return absl::InvalidArgumentError("config check: give one alerting config file");
    }
    inv.command = Invocation::Command::kConfigCheck;
    inv.config_file = rest[1];
  } else if (command == "state") {
    if (rest.size() != 1 || (rest[0] != "migrate" && rest[0] != "status")) {
      return absl::InvalidArgumentError("state: use 'state migrate|status --config FILE'");
    }
    if (inv.collector_config.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("state ", rest[0], ": give --config FILE (the collector's config)"));
    }
    inv.command = rest[0] == "migrate" ? Invocation::Command::kStateMigrate
                                       : Invocation::Command::kStateStatus;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown command '", command, "'"));
  }
  return inv;
}

std::string FormatTimestamp(int64_t epoch_ms) {
  absl::Time t = absl::FromUnixMillis(epoch_ms);
  return absl::FormatTime(epoch_ms % 1000 == 0 ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%E3SZ", t,
                          absl::UTCTimeZone());
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

int RunSeries(const ApiClient& client, const std::vector<std::string>& matches, std::ostream& out,
              std::ostream& err) {
  std::vector<std::pair<std::string, std::string>> params;
  for (const std::string& m : matches) params.emplace_back("match", m);
  absl::StatusOr<json> data = client.Get("/api/v1/series", params);
  if (!data.ok()) return Fail(err, data.status().message());
  if (!data->is_array()) return BadReply(err, client, "data is not a list");
  TextTable table({"SERIES"});
  for (const json& s : *data) {
    if (!s.is_object() || !s.contains("series") || !s["series"].is_string()) {
      return BadReply(err, client, "a series entry has no \"series\" string");
    }
    table.AddRow({s["series"].get<std::string>()});
  }
  out << table.Render() << "\n" << table.rows() << " series\n";
  return kExitOk;
}

int RunQuery(const ApiClient& client, const QueryArgs& query, std::ostream& out,
             std::ostream& err) {
  std::vector<std::pair<std::string, std::string>> params;
  for (const std::string& s : query.selectors) params.emplace_back("series", s);
  if (query.from) params.emplace_back("from", *query.from);
  if (query.to) params.emplace_back("to", *query.to);
  if (query.step) params.emplace_back("step", *query.step);
  if (query.stat) params.emplace_back("stat", *query.stat);
  absl::StatusOr<json> data = client.Get("/api/v1/query", params);
  if (!data.ok()) return Fail(err, data.status().message());
  if (!data->is_array()) return BadReply(err, client, "data is not a list");

  std::string text;
  size_t points = 0;
  for (const json& s : *data) {
    if (!s.is_object() || !s.contains("series") || !s["series"].is_string() ||
        !s.contains("points") || !s["points"].is_array()) {
      return BadReply(err, client, "a series entry lacks \"series\" or \"points\"");
    }
    TextTable table({"TIME", "VALUE"});
    table.SetAlign(1, TextTable::Align::kRight);
    for (const json& p : s["points"]) {
      if (!p.is_array() || p.size() != 2 || !p[0].is_number_integer() ||
          !(p[1].is_number() || p[1].is_null())) {
        return BadReply(err, client, "a point is not [timestamp_ms, value]");
      }
      table.AddRow({FormatTimestamp(p[0].get<int64_t>()),
                    p[1].is_null() ? "NaN" : FormatValue(p[1].get<double>())});
    }
    if (!text.empty()) text += "\n";
    absl::StrAppend(&text, s["series"].get<std::string>(), "\n");
    if (table.rows() == 0) {
      text += "(no points in range)\n";
    } else {
      text += table.Render();
    }
    points += table.rows();
  }
  if (!text.empty()) text += "\n";
  absl::StrAppend(&text, data->size(), " series, ", points, points == 1 ? " point\n" : " points\n");
  out << text;
  return kExitOk;
}

int RunTokenGenerate(std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::string> token = GenerateToken();
  if (!token.ok()) return Fail(err, token.status().message());
  out << "token:  " << *token << "\n"
      << "sha256: " << Sha256Hex(*token) << "\n\n"
      << "Put the token in the agent's token file (readable only by the agent).\n"
      << "Put the sha256 in the collector's auth.tokens list; the collector never needs the "
         "token itself.\n";
  return kExitOk;
}

int RunTokenHash(const std::string& file, std::istream& in, std::ostream& out, std::ostream& err) {
  std::string token;
  if (!file.empty()) {
    absl::StatusOr<std::string> read = ReadSecretFile(file);
    if (!read.ok()) return Fail(err, read.status().message());
    token = *std::move(read);
  } else {
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return Fail(err, "cannot read the token from standard input");
    token = std::string(absl::StripAsciiWhitespace(all));
    if (token.empty()) return Fail(err, "no token on standard input");
  }
  out << Sha256Hex(token) << "\n";
  return kExitOk;
}

int RunAlarms(const ApiClient& client, const std::string& state, std::ostream& out,
              std::ostream& err) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!state.empty()) params.emplace_back("state", state);
  absl::StatusOr<json> data = client.Get("/api/v1/alarms", params);
  if (!data.ok()) return Fail(err, data.status().message());
  if (!data->is_array()) return BadReply(err, client, "data is not a list");
  TextTable table({"RULE", "INSTANCE", "STATE", "SINCE", "VALUE"});
  table.SetAlign(4, TextTable::Align::kRight);
  for (const json& a : *data) {
    if (!a.is_object() || !a.contains("rule") || !a.contains("state") || !a.contains("since_ms")) {
      return BadReply(err, client, "an alarm entry lacks rule, state or since_ms");
    }
    const json& v = a.value("value", json());
    table.AddRow(
        {a["rule"].get<std::string>(), a.value("instance", ""), a["state"].get<std::string>(),
         a["since_ms"].get<int64_t>() > 0 ? FormatTimestamp(a["since_ms"].get<int64_t>()) : "-",
         v.is_number() ? FormatValue(v.get<double>()) : "-"});
  }
  out << table.Render() << "\n" << table.rows() << " alarms\n";
  return kExitOk;
}

int RunAlarmHistory(const ApiClient& client, const std::string& rule, std::ostream& out,
                    std::ostream& err) {
  absl::StatusOr<json> data = client.Get("/api/v1/alarms/history", {{"rule", rule}});
  if (!data.ok()) return Fail(err, data.status().message());
  if (!data->is_array()) return BadReply(err, client, "data is not a list");
  TextTable table({"AT", "INSTANCE", "FROM", "TO", "REASON"});
  for (const json& t : *data) {
    if (!t.is_object() || !t.contains("at_ms") || !t.contains("from") || !t.contains("to")) {
      return BadReply(err, client, "a transition lacks at_ms, from or to");
    }
    table.AddRow({FormatTimestamp(t["at_ms"].get<int64_t>()), t.value("instance", ""),
                  t["from"].get<std::string>(), t["to"].get<std::string>(), t.value("reason", "")});
  }
  out << table.Render() << "\n" << table.rows() << " transitions\n";
  return kExitOk;
}

int Run(const Invocation& invocation, std::istream& in, std::ostream& out, std::ostream& err) {
  switch (invocation.command) {
    case Invocation::Command::kHelp:
      out << Usage();
      return kExitOk;
    case Invocation::Command::kVersion:
      out << "vigilctl " << VIGIL_VERSION << "\n";
      return kExitOk;
    case Invocation::Command::kSeries:
      return RunSeries(ApiClient(invocation.collector_url, invocation.timeout), invocation.matches,
                       out, err);
    case Invocation::Command::kQuery:
      return RunQuery(ApiClient(invocation.collector_url, invocation.timeout), invocation.query,
                      out, err);
    case Invocation::Command::kTokenGenerate:
      return RunTokenGenerate(out, err);
    case Invocation::Command::kTokenHash:
      return RunTokenHash(invocation.token_file, in, out, err);
    case Invocation::Command::kRulesCheck:
      return RunRulesCheck(invocation.rule_paths, out, err);
    case Invocation::Command::kRulesTest:
      return RunRulesTest(invocation.rule_paths, out, err);
    case Invocation::Command::kAlarms:
      return RunAlarms(ApiClient(invocation.collector_url, invocation.timeout), invocation.state,
                       out, err);
    case Invocation::Command::kAlarmHistory:
      return RunAlarmHistory(ApiClient(invocation.collector_url, invocation.timeout),
                             invocation.rule, out, err);
    case Invocation::Command::kSilenceAdd:
      return RunSilenceAdd(ApiClient(invocation.collector_url, invocation.timeout),
                           invocation.api_token_file, invocation.silence, out, err);
    case Invocation::Command::kSilenceList:
      return RunSilenceList(ApiClient(invocation.collector_url, invocation.timeout), out, err);
    case Invocation::Command::kSilenceExpire:
      return RunSilenceExpire(ApiClient(invocation.collector_url, invocation.timeout),
                              invocation.api_token_file, invocation.silence.id, out, err);
    case Invocation::Command::kConfigCheck:
      return RunConfigCheck(invocation.config_file, invocation.rules_dir, out, err);
    case Invocation::Command::kStateMigrate:
      return RunStateMigrate(invocation.collector_config, out, err);
    case Invocation::Command::kStateStatus:
      return RunStateStatus(invocation.collector_config, out, err);
  }
  return kExitUsage;
}

}  // namespace vigil::ctl
