#include "agent/checks/strongswan/strongswan_check.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/checks/strongswan/command.h"
#include "common/log.h"

namespace vigil::agent {
namespace {

using strongswan::ChildSa;
using strongswan::IkeSa;

std::string AbsolutePath(ConfigMap& config, const char* key, std::string def) {
  std::string path = config.String(key, def);
  if (path.empty() || path[0] != '/') {
    config.Error(key, absl::StrCat("must be an absolute path, got '", path, "'"));
    return def;
  }
  return path;
}

// The line of a tool's stderr that says what went wrong: the first one that is not one of
// libstrongswan's "plugin 'x': failed to load" notes, shortened.
std::string StderrSummary(const std::string& err) {
  for (absl::string_view line : absl::StrSplit(err, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "plugin '")) continue;
    if (line.size() > 200) line = line.substr(0, 200);
    return std::string(line);
  }
  return "";
}

// Runs a tool with what is left until `deadline`; a failed exit is an error with its message.
absl::StatusOr<std::string> RunTool(const std::vector<std::string>& argv, absl::Time deadline,
                                    bool check_exit) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(absl::StrCat("no time left to run ", argv[0]));
  }
  absl::StatusOr<CommandResult> r = RunCommand(argv, left);
  if (!r.ok()) return r.status();
  std::string command = absl::StrCat(argv[0], " ", argv[1]);
  if (r->term_signal != 0) {
    return absl::UnavailableError(absl::StrCat(command, " was killed by signal ", r->term_signal));
  }
  if (check_exit && r->exit_code != 0) {
    std::string why = StderrSummary(r->err);
    return absl::UnavailableError(
        absl::StrCat(command, " exited with status ", r->exit_code, why.empty() ? "" : ": ", why));
  }
  if (absl::StrContains(r->err, "parsing SA event failed")) {
    // swanctl skipped (part of) an SA it could not decode: the list is incomplete.
    return absl::DataLossError(absl::StrCat(command, ": ", StderrSummary(r->err)));
  }
  return std::move(r->out);
}

void Add(std::vector<Sample>& out, const char* metric, const std::string& tunnel, double value) {
  out.push_back(Sample{metric, {{"tunnel", tunnel}}, value});
}

std::string ChildKey(const ChildSa& c) { return absl::StrCat(c.unique_id, "/", c.spi_in); }

}  // namespace

absl::Status StrongswanCheck::Init(ConfigMap& config) {
  std::string mode = config.String("mode", "auto");
  if (mode == "auto") {
    mode_ = Mode::kAuto;
  } else if (mode == "swanctl") {
    mode_ = Mode::kSwanctl;
  } else if (mode == "ipsec") {
    mode_ = Mode::kIpsec;
  } else {
    config.Error("mode", absl::StrCat("must be auto, swanctl or ipsec, got '", mode, "'"));
  }
  if (config.Has("connections")) {
    connections_ = config.StringList("connections");
    std::set<std::string> seen;
    for (const std::string& c : connections_) {
      if (c.empty()) {
        config.Error("connections", "names must not be empty");
        break;
      }
      if (!seen.insert(c).second) {
        config.Error("connections", absl::StrCat("'", c, "' is listed twice"));
        break;
      }
    }
  }
  swanctl_path_ = AbsolutePath(config, "swanctl_path", swanctl_path_);
  ipsec_path_ = AbsolutePath(config, "ipsec_path", ipsec_path_);
  if (config.Has("vici_socket")) {
    vici_socket_ = AbsolutePath(config, "vici_socket", "");
    if (mode_ == Mode::kIpsec) {
      config.Error("vici_socket", "is not used with mode: ipsec (stroke's socket is fixed)");
    }
  }
  command_timeout_ = context().timeout * 0.9;
  return absl::OkStatus();
}

std::vector<std::string> StrongswanCheck::SwanctlCommand(const char* command) const {
  std::vector<std::string> argv = {swanctl_path_, command};
  if (!vici_socket_.empty()) {
    argv.push_back("--uri");
    argv.push_back("unix://" + vici_socket_);
  }
  return argv;
}

absl::StatusOr<StrongswanCheck::Reading> StrongswanCheck::ReadSwanctl(absl::Time deadline) const {
  Reading reading;
  reading.source = "swanctl";
  if (connections_.empty()) {
    absl::StatusOr<std::string> conns = RunTool(SwanctlCommand("--list-conns"), deadline, true);
    if (!conns.ok()) return conns.status();
    absl::StatusOr<std::vector<std::string>> names = strongswan::ParseSwanctlListConns(*conns);
    if (!names.ok()) return names.status();
    reading.connections = *std::move(names);
  }
  absl::StatusOr<std::string> sas = RunTool(SwanctlCommand("--list-sas"), deadline, true);
  if (!sas.ok()) return sas.status();
  absl::StatusOr<std::vector<IkeSa>> parsed = strongswan::ParseSwanctlListSas(*sas);
  if (!parsed.ok()) return parsed.status();
  reading.sas = *std::move(parsed);
  return reading;
}

absl::StatusOr<StrongswanCheck::Reading> StrongswanCheck::ReadIpsec(absl::Time deadline) const {
  // `ipsec statusall` exits 3 whenever starter is not running, even with a complete status,
  // so only its output tells whether charon answered.
  absl::StatusOr<std::string> out = RunTool({ipsec_path_, "statusall"}, deadline, false);
  if (!out.ok()) return out.status();
  absl::StatusOr<strongswan::StatusAll> parsed = strongswan::ParseIpsecStatusAll(*out);
  if (!parsed.ok()) return parsed.status();
  Reading reading;
  reading.source = "ipsec statusall";
  if (connections_.empty()) reading.connections = std::move(parsed->connections);
  reading.sas = std::move(parsed->sas);
  return reading;
}

absl::StatusOr<StrongswanCheck::Reading> StrongswanCheck::Read(absl::Time deadline) const {
  if (mode_ == Mode::kSwanctl) return ReadSwanctl(deadline);
  if (mode_ == Mode::kIpsec) return ReadIpsec(deadline);
  absl::StatusOr<Reading> swanctl = ReadSwanctl(deadline);
  if (swanctl.ok()) return swanctl;
  absl::StatusOr<Reading> ipsec = ReadIpsec(deadline);
  if (ipsec.ok()) {
    ipsec->source =
        absl::StrCat(ipsec->source, " (swanctl failed: ", swanctl.status().message(), ")");
    return ipsec;
  }
  return absl::Status(
      swanctl.status().code(),
      absl::StrCat(swanctl.status().message(), "; fallback: ", ipsec.status().message()));
}

absl::StatusOr<std::vector<Sample>> StrongswanCheck::Collect(absl::Time now) {
  absl::StatusOr<Reading> reading = Read(absl::Now() + command_timeout_);
  if (!reading.ok()) return reading.status();
  // Which tool answered is logged when it changes (auto mode falling back, or recovering).
  if (reading->source != last_source_) {
    if (!last_source_.empty() || (mode_ == Mode::kAuto && reading->source != "swanctl")) {
      VIGIL_LOG(Info) << "strongswan check: reading " << reading->source;
    }
    last_source_ = reading->source;
  }

  // The tunnels to report: the configured ones, else every loaded connection and every
  // connection that has SAs.
  std::vector<std::string> tunnels = connections_.empty() ? reading->connections : connections_;
  if (connections_.empty()) {
    for (const IkeSa& sa : reading->sas) {
      if (std::find(tunnels.begin(), tunnels.end(), sa.connection) == tunnels.end()) {
        tunnels.push_back(sa.connection);
      }
    }
  }

  const bool have_prev = prev_.has_value() && now > prev_time_;
  const double seconds = have_prev ? absl::ToDoubleSeconds(now - prev_time_) : 0;
  std::map<std::string, ChildCounters> snapshot;
  std::vector<Sample> out;
  for (const std::string& tunnel : tunnels) {
    bool up = false, ike_up = false, has_children = false, rate_ok = have_prev;
    std::optional<int64_t> since_rekey;
    Counters total, delta;
    ChildCounters& children = snapshot[tunnel];
    const ChildCounters* before = nullptr;
    if (have_prev) {
      auto it = prev_->find(tunnel);
      if (it != prev_->end()) before = &it->second;
    }
    auto note_rekey = [&](const std::optional<int64_t>& ago) {
      if (ago && (!since_rekey || *ago < *since_rekey)) since_rekey = ago;
    };
    for (const IkeSa& sa : reading->sas) {
      if (sa.connection != tunnel) continue;
      if (sa.Established()) {
        ike_up = true;
        note_rekey(sa.established_seconds_ago);
      }
      for (const ChildSa& c : sa.children) {
        if (sa.Established() && c.Installed()) {
          up = true;
          note_rekey(c.installed_seconds_ago);
        }
        if (!c.has_counters) continue;
        has_children = true;
        Counters cur{c.bytes_in, c.bytes_out, c.packets_in, c.packets_out};
        total.bytes_in += cur.bytes_in;
        total.bytes_out += cur.bytes_out;
        total.packets_in += cur.packets_in;
        total.packets_out += cur.packets_out;
        const std::string key = ChildKey(c);
        children[key] = cur;
        if (!rate_ok) continue;
        // A CHILD_SA seen last time adds its increase; one installed since then (a rekey)
        // adds all it has counted; anything else (a counter that went down, an SA of unknown
        // age) leaves the tunnel without rates for this interval.
        Counters prev;
        const Counters* seen = nullptr;
        if (before != nullptr) {
          auto p = before->find(key);
          if (p != before->end()) seen = &p->second;
        }
        if (seen != nullptr) {
          prev = *seen;
          if (cur.bytes_in < prev.bytes_in || cur.bytes_out < prev.bytes_out ||
              cur.packets_in < prev.packets_in || cur.packets_out < prev.packets_out) {
            rate_ok = false;
            continue;
          }
        } else if (!c.installed_seconds_ago ||
                   static_cast<double>(*c.installed_seconds_ago) > seconds) {
          rate_ok = false;
          continue;
        }
        delta.bytes_in += cur.bytes_in - prev.bytes_in;
        delta.bytes_out += cur.bytes_out - prev.bytes_out;
        delta.packets_in += cur.packets_in - prev.packets_in;
        delta.packets_out += cur.packets_out - prev.packets_out;
      }
    }
    Add(out, "tunnel.up", tunnel, up ? 1 : 0);
    Add(out, "tunnel.ike.established", tunnel, ike_up ? 1 : 0);
    if (since_rekey) Add(out, "tunnel.seconds_since_rekey", tunnel, *since_rekey);
    if (!has_children) continue;
    Add(out, "tunnel.bytes_in", tunnel, static_cast<double>(total.bytes_in));
    Add(out, "tunnel.bytes_out", tunnel, static_cast<double>(total.bytes_out));
    Add(out, "tunnel.packets_in", tunnel, static_cast<double>(total.packets_in));
    Add(out, "tunnel.packets_out", tunnel, static_cast<double>(total.packets_out));
    if (rate_ok) {
      Add(out, "tunnel.bytes_in_per_second", tunnel, static_cast<double>(delta.bytes_in) / seconds);
      Add(out, "tunnel.bytes_out_per_second", tunnel,
          static_cast<double>(delta.bytes_out) / seconds);
      Add(out, "tunnel.packets_in_per_second", tunnel,
          static_cast<double>(delta.packets_in) / seconds);
      Add(out, "tunnel.packets_out_per_second", tunnel,
          static_cast<double>(delta.packets_out) / seconds);
    }
  }
  prev_ = std::move(snapshot);
  prev_time_ = now;
  return out;
}

}  // namespace vigil::agent
