#include "agent/checks/strongswan/strongswan_status.h"

#include <cctype>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil::agent::strongswan {
namespace {

// Lines of `text` without their line ends ("\n" or "\r\n").
std::vector<absl::string_view> Lines(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (absl::string_view& l : lines) absl::ConsumeSuffix(&l, "\r");
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

size_t Indent(absl::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

bool IsBlank(absl::string_view line) { return absl::StripAsciiWhitespace(line).empty(); }

// charon's state names: upper case letters and underscores.
bool IsStateName(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(absl::ascii_isupper(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Shortens a line quoted in an error message.
std::string Quote(absl::string_view line) {
  constexpr size_t kMax = 120;
  if (line.size() <= kMax) return absl::StrCat("'", line, "'");
  return absl::StrCat("'", line.substr(0, kMax), "...'");
}

absl::Status LineError(absl::string_view what, size_t line_no, absl::string_view message,
                       absl::string_view line) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " line ", line_no, ": ", message, ", got ", Quote(line)));
}

// "<N>s ago..." at the start of `text` (swanctl's seconds) as N.
std::optional<int64_t> LeadingSecondsAgo(absl::string_view text) {
  size_t s = text.find("s ago");
  if (s == absl::string_view::npos) return std::nullopt;
  int64_t v = 0;
  if (!AllDigits(text.substr(0, s)) || !absl::SimpleAtoi(text.substr(0, s), &v)) {
    return std::nullopt;
  }
  return v;
}

// The digits that end `text` (after optional spaces): "…, 2250" -> 2250.
std::optional<uint64_t> TrailingNumber(absl::string_view text) {
  text = absl::StripTrailingAsciiWhitespace(text);
  size_t start = text.size();
  while (start > 0 && absl::ascii_isdigit(static_cast<unsigned char>(text[start - 1]))) --start;
  uint64_t v = 0;
  if (start == text.size() || !absl::SimpleAtoi(text.substr(start), &v)) return std::nullopt;
  return v;
}

// "<N> <unit>" where unit is bytes or packets, spaces around allowed.
std::optional<uint64_t> CountWithUnit(absl::string_view part, absl::string_view unit) {
  part = absl::StripAsciiWhitespace(part);
  if (!absl::ConsumeSuffix(&part, unit)) return std::nullopt;
  part = absl::StripTrailingAsciiWhitespace(part);
  uint64_t v = 0;
  if (!AllDigits(part) || !absl::SimpleAtoi(part, &v)) return std::nullopt;
  return v;
}

// ---- swanctl --list-sas ----

constexpr absl::string_view kListSas = "swanctl --list-sas";

// "office-b: #1, ESTABLISHED, IKEv2, 0d3254857e57a8a4_i* b7bdf036d839fe77_r"
absl::StatusOr<IkeSa> ParseSwanctlIkeHeader(absl::string_view line, size_t line_no) {
  size_t pos = line.find(": #");
  if (pos == absl::string_view::npos || pos == 0) {
    return LineError(kListSas, line_no, "expected an IKE_SA line '<name>: #<id>, <state>, ...'",
                     line);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(line.substr(pos + 3), ", ");
  if (parts.size() < 4 || !AllDigits(parts[0]) || !IsStateName(parts[1]) ||
      !absl::StartsWith(parts[2], "IKEv")) {
    return LineError(kListSas, line_no,
                     "expected '<name>: #<id>, <state>, IKEv<n>, <spi>_i <spi>_r' (truncated?)",
                     line);
  }
  std::vector<absl::string_view> spis = absl::StrSplit(parts[3], ' ', absl::SkipEmpty());
  if (spis.size() != 2 || !absl::StrContains(spis[0], "_i") || !absl::StrContains(spis[1], "_r")) {
    return LineError(kListSas, line_no, "expected the IKE SPIs '<spi>_i <spi>_r' (truncated?)",
                     line);
  }
  IkeSa sa;
  sa.connection = std::string(line.substr(0, pos));
  sa.unique_id = absl::StrCat("#", parts[0]);
  sa.state = std::string(parts[1]);
  return sa;
}

// "lan-b: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-128/HMAC_SHA2_256_128"
// (already without its two-space indent). nullopt when `text` is not a CHILD_SA header.
std::optional<ChildSa> ParseSwanctlChildHeader(absl::string_view text) {
  size_t pos = text.find(": #");
  if (pos == absl::string_view::npos || pos == 0) return std::nullopt;
  std::vector<absl::string_view> parts = absl::StrSplit(text.substr(pos + 3), ", ");
  if (parts.size() < 2 || !AllDigits(parts[0]) || !absl::StartsWith(parts[1], "reqid ")) {
    return std::nullopt;
  }
  ChildSa child;
  child.name = std::string(text.substr(0, pos));
  child.unique_id = absl::StrCat("#", parts[0]);
  if (parts.size() >= 5 && IsStateName(parts[2]) && absl::StrContains(parts[4], ':')) {
    child.state = std::string(parts[2]);
  }
  return child;  // an empty state marks a truncated header, reported by the caller
}

// "in  620ef1d9,   2250 bytes,    15 packets,     0s ago" (without indent and "in"/"out").
absl::Status ParseSwanctlCounters(absl::string_view rest, bool in, ChildSa& child, size_t line_no,
                                  absl::string_view line) {
  std::vector<absl::string_view> parts = absl::StrSplit(rest, ',');
  std::optional<uint64_t> bytes, packets;
  if (parts.size() >= 3) {
    bytes = CountWithUnit(parts[1], "bytes");
    packets = CountWithUnit(parts[2], "packets");
  }
  if (!bytes || !packets) {
    return LineError(
        kListSas, line_no,
        absl::StrCat("expected '", in ? "in" : "out",
                     " <spi>, <n> bytes, <n> packets' for CHILD_SA '", child.name, "'"),
        line);
  }
  absl::string_view spi = absl::StripAsciiWhitespace(parts[0]);
  spi = spi.substr(0, spi.find_first_of(" /("));
  if (in) {
    child.spi_in = std::string(spi);
    child.bytes_in = *bytes;
    child.packets_in = *packets;
  } else {
    child.bytes_out = *bytes;
    child.packets_out = *packets;
  }
  return absl::OkStatus();
}

// ---- ipsec statusall ----

constexpr absl::string_view kStatusAll = "ipsec statusall";

// ", 2250 bytes_i (15 pkts, 3s ago), 1035 bytes_o (15 pkts, 3s ago), rekeying in 59 minutes"
bool ParseStrokeCounter(absl::string_view text, absl::string_view unit, uint64_t* bytes,
                        uint64_t* packets) {
  size_t pos = text.find(unit);
  if (pos == absl::string_view::npos) return false;
  std::optional<uint64_t> b = TrailingNumber(text.substr(0, pos));
  if (!b) return false;
  *bytes = *b;
  *packets = 0;  // stroke prints packets only once the SA has been used
  absl::string_view after = text.substr(pos + unit.size());
  if (absl::ConsumePrefix(&after, " (")) {
    size_t end = after.find(" pkt");
    uint64_t p = 0;
    if (end == absl::string_view::npos || !absl::SimpleAtoi(after.substr(0, end), &p)) {
      return false;
    }
    *packets = p;
  }
  return true;
}

// Finishes the CHILD_SA being read: the output must have shown its counters when installed.
absl::Status CheckChildComplete(absl::string_view what, const IkeSa& ike, const ChildSa& child,
                                bool counters_required) {
  if (counters_required && !child.has_counters) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": CHILD_SA '", child.name, "' ", child.unique_id, " of '",
                     ike.connection, "' has no traffic counters (truncated output?)"));
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<int64_t> ParseTimeDelta(absl::string_view text) {
  std::vector<absl::string_view> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
  int64_t n = 0;
  if (parts.size() != 2 || !AllDigits(parts[0]) || !absl::SimpleAtoi(parts[0], &n)) {
    return std::nullopt;
  }
  absl::string_view unit = parts[1];
  absl::ConsumeSuffix(&unit, "s");
  if (unit == "second") return n;
  if (unit == "minute") return n * 60;
  if (unit == "hour") return n * 3600;
  if (unit == "day") return n * 86400;
  return std::nullopt;
}

absl::StatusOr<std::vector<IkeSa>> ParseSwanctlListSas(absl::string_view text) {
  std::vector<IkeSa> sas;
  IkeSa* ike = nullptr;
  ChildSa* child = nullptr;
  struct Seen {
    bool in = false, out = false;
  } seen;
  auto finish_child = [&]() -> absl::Status {
    if (child == nullptr) return absl::OkStatus();
    child->has_counters = seen.in && seen.out;
    absl::Status s = CheckChildComplete(kListSas, *ike, *child, true);
    child = nullptr;
    seen = Seen{};
    return s;
  };

  std::vector<absl::string_view> lines = Lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    const size_t line_no = i + 1;
    if (IsBlank(line)) continue;
    const size_t indent = Indent(line);
    if (indent == 0) {
      if (absl::Status s = finish_child(); !s.ok()) return s;
      absl::StatusOr<IkeSa> sa = ParseSwanctlIkeHeader(line, line_no);
      if (!sa.ok()) return sa.status();
      sas.push_back(*std::move(sa));
      ike = &sas.back();
      continue;
    }
    if (ike == nullptr) {
      return LineError(kListSas, line_no, "indented line before the first IKE_SA", line);
    }
    absl::string_view body = line.substr(indent);
    if (indent == 2) {
      if (std::optional<ChildSa> c = ParseSwanctlChildHeader(body)) {
        if (absl::Status s = finish_child(); !s.ok()) return s;
        if (c->state.empty()) {
          return LineError(kListSas, line_no,
                           "expected a CHILD_SA line '<name>: #<id>, reqid <n>, <state>, "
                           "<mode>, <protocol>:...' (truncated?)",
                           line);
        }
        ike->children.push_back(*std::move(c));
        child = &ike->children.back();
        continue;
      }
      if (child != nullptr) {
        return LineError(kListSas, line_no, "IKE_SA detail after a CHILD_SA", line);
      }
      if (absl::ConsumePrefix(&body, "established ")) {
        std::optional<int64_t> ago = LeadingSecondsAgo(body);
        if (!ago) {
          return LineError(kListSas, line_no, "expected 'established <n>s ago'", line);
        }
        ike->established_seconds_ago = ago;
      }
      continue;  // local, remote, algorithms, queued/active/passive tasks
    }
    if (indent == 4 && child != nullptr) {
      if (absl::ConsumePrefix(&body, "installed ")) {
        std::optional<int64_t> ago = LeadingSecondsAgo(body);
        if (!ago) return LineError(kListSas, line_no, "expected 'installed <n>s ago'", line);
        child->installed_seconds_ago = ago;
      } else if (absl::ConsumePrefix(&body, "in ")) {
        if (absl::Status s = ParseSwanctlCounters(body, true, *child, line_no, line); !s.ok()) {
          return s;
        }
        seen.in = true;
      } else if (absl::ConsumePrefix(&body, "out ")) {
        if (absl::Status s = ParseSwanctlCounters(body, false, *child, line_no, line); !s.ok()) {
          return s;
        }
        seen.out = true;
      }
      continue;  // local and remote traffic selectors
    }
    return LineError(kListSas, line_no, "unexpected indentation", line);
  }
  if (absl::Status s = finish_child(); !s.ok()) return s;
  return sas;
}

absl::StatusOr<std::vector<std::string>> ParseSwanctlListConns(absl::string_view text) {
  std::vector<std::string> names;
  std::vector<absl::string_view> lines = Lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = lines[i];
    if (IsBlank(line) || Indent(line) > 0) continue;
    size_t pos = line.find(": IKEv");
    if (pos == absl::string_view::npos || pos == 0) {
      return LineError("swanctl --list-conns", i + 1,
                       "expected a connection line '<name>: IKEv<n>, ...'", line);
    }
    names.emplace_back(line.substr(0, pos));
  }
  return names;
}

absl::StatusOr<StatusAll> ParseIpsecStatusAll(absl::string_view text) {
  enum class Section { kNone, kConnections, kSas, kOther };
  StatusAll result;
  Section section = Section::kNone;
  bool seen_header = false, seen_sas = false;
  IkeSa* ike = nullptr;
  ChildSa* child = nullptr;
  auto finish_child = [&]() -> absl::Status {
    if (child == nullptr) return absl::OkStatus();
    absl::Status s = CheckChildComplete(kStatusAll, *ike, *child, child->state == "INSTALLED");
    child = nullptr;
    return s;
  };

  std::vector<absl::string_view> lines = Lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    const size_t line_no = i + 1;
    if (IsBlank(line)) continue;
    if (!seen_header) {
      if (!absl::StartsWith(line, "Status of IKE charon daemon")) {
        return LineError(kStatusAll, line_no,
                         "expected 'Status of IKE charon daemon' (is charon running?)", line);
      }
      seen_header = true;
      continue;
    }
    // Section headers start at column 0 and end with their only colon. (Names longer than 12
    // characters start at column 0 too, but have a colon after the name.)
    if (Indent(line) == 0 && absl::EndsWith(line, ":") && line.find(':') == line.size() - 1) {
      if (absl::Status s = finish_child(); !s.ok()) return s;
      if (line == "Connections:") {
        section = Section::kConnections;
      } else if (absl::StartsWith(line, "Security Associations (")) {
        section = Section::kSas;
        seen_sas = true;
      } else {
        section = Section::kOther;  // listening addresses, pools, routed/shunted connections
      }
      continue;
    }
    absl::string_view body = absl::StripLeadingAsciiWhitespace(line);
    if (section == Section::kConnections) {
      // "office-b:  192.168.77.1...192.168.77.2  IKEv1/2" (auth and child lines have three
      // spaces after the colon).
      size_t pos = body.find(':');
      if (pos == absl::string_view::npos || pos == 0) {
        return LineError(kStatusAll, line_no, "expected '<name>: ...' in 'Connections:'", line);
      }
      absl::string_view after = body.substr(pos + 1);
      if (absl::StartsWith(after, "  ") && after.size() > 2 && after[2] != ' ') {
        if (!absl::StrContains(after, "...")) {
          return LineError(kStatusAll, line_no,
                           "expected '<name>:  <local>...<remote>  IKEv<n>' (truncated?)", line);
        }
        std::string name(body.substr(0, pos));
        bool known = false;
        for (const std::string& n : result.connections) known = known || n == name;
        if (!known) result.connections.push_back(std::move(name));
      }
      continue;
    }
    if (section != Section::kSas) continue;
    if (body == "none") continue;

    size_t open = body.find_first_of("[{");
    char close_char = open == absl::string_view::npos ? 0 : (body[open] == '[' ? ']' : '}');
    size_t close = close_char == 0 ? absl::string_view::npos : body.find(close_char, open);
    if (open == 0 || close == absl::string_view::npos ||
        !AllDigits(body.substr(open + 1, close - open - 1)) || body.substr(close + 1, 1) != ":") {
      return LineError(kStatusAll, line_no,
                       "expected an SA line '<name>[<id>]: ...' or '<name>{<id>}: ...'", line);
    }
    absl::string_view name = body.substr(0, open);
    std::string id(body.substr(open, close - open + 1));
    absl::string_view rest = absl::StripLeadingAsciiWhitespace(body.substr(close + 2));

    if (close_char == ']') {
      if (ike != nullptr && child == nullptr && ike->unique_id == id && ike->connection == name) {
        continue;  // SPIs, proposal, tasks, remote identities of the same IKE_SA
      }
      if (ike != nullptr && ike->unique_id == id && ike->connection == name) {
        return LineError(kStatusAll, line_no, "IKE_SA detail after its CHILD_SAs", line);
      }
      if (absl::Status s = finish_child(); !s.ok()) return s;
      // "ESTABLISHED 57 seconds ago, a[id]...b[id]" or "CONNECTING, a[%any]...b[%any]"
      size_t end = rest.find_first_of(" ,");
      absl::string_view state = rest.substr(0, end);
      if (end == absl::string_view::npos || !IsStateName(state)) {
        return LineError(kStatusAll, line_no, "expected '<name>[<id>]: <STATE>...' (truncated?)",
                         line);
      }
      IkeSa sa;
      sa.connection = std::string(name);
      sa.unique_id = id;
      sa.state = std::string(state);
      if (rest[end] == ' ') {
        size_t ago = rest.find(" ago,", end);
        std::optional<int64_t> seconds;
        if (ago != absl::string_view::npos) {
          seconds = ParseTimeDelta(rest.substr(end + 1, ago - end - 1));
        }
        if (!seconds) {
          return LineError(kStatusAll, line_no,
                           "expected '<STATE> <n> <unit> ago, ...' (truncated?)", line);
        }
        sa.established_seconds_ago = seconds;
      }
      result.sas.push_back(std::move(sa));
      ike = &result.sas.back();
      continue;
    }

    // A CHILD_SA line.
    if (ike == nullptr) {
      return LineError(kStatusAll, line_no, "CHILD_SA line before any IKE_SA", line);
    }
    if (child != nullptr && child->unique_id == id && child->name == name) {
      if (absl::StrContains(rest, "bytes_i")) {
        if (!ParseStrokeCounter(rest, " bytes_i", &child->bytes_in, &child->packets_in) ||
            !ParseStrokeCounter(rest, " bytes_o", &child->bytes_out, &child->packets_out)) {
          return LineError(kStatusAll, line_no,
                           "expected '<n> bytes_i [(<n> pkts, ...)], <n> bytes_o ...' "
                           "(truncated?)",
                           line);
        }
        child->has_counters = true;
      }
      continue;  // traffic selectors, "expires in"
    }
    if (absl::Status s = finish_child(); !s.ok()) return s;
    // "INSTALLED, TUNNEL, reqid 1, ESP in UDP SPIs: 620ef1d9_i 307d0b09_o"
    std::vector<absl::string_view> parts = absl::StrSplit(rest, ", ");
    if (parts.size() < 3 || !IsStateName(parts[0]) || !absl::StartsWith(parts[2], "reqid ")) {
      return LineError(kStatusAll, line_no,
                       "expected '<name>{<id>}:  <STATE>, <mode>, reqid <n>...' (truncated?)",
                       line);
    }
    ChildSa c;
    c.name = std::string(name);
    c.unique_id = id;
    c.state = std::string(parts[0]);
    size_t spis = rest.find("SPIs: ");
    if (spis != absl::string_view::npos) {
      absl::string_view s = rest.substr(spis + 6);
      size_t end = s.find("_i");
      if (end == absl::string_view::npos) {
        return LineError(kStatusAll, line_no, "expected 'SPIs: <spi>_i <spi>_o' (truncated?)",
                         line);
      }
      c.spi_in = std::string(s.substr(0, end));
    }
    ike->children.push_back(std::move(c));
    child = &ike->children.back();
  }
  if (absl::Status s = finish_child(); !s.ok()) return s;
  if (!seen_header) {
    return absl::InvalidArgumentError(
        absl::StrCat(kStatusAll, ": empty output (is charon running?)"));
  }
  if (!seen_sas) {
    return absl::InvalidArgumentError(
        absl::StrCat(kStatusAll, ": no 'Security Associations' section (truncated output?)"));
  }
  return result;
}

}  // namespace vigil::agent::strongswan
