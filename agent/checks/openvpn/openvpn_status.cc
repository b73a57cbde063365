#include "agent/checks/openvpn/openvpn_status.h"

#include <utility>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil::agent::openvpn {
namespace {

std::vector<absl::string_view> Lines(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (absl::string_view& l : lines) absl::ConsumeSuffix(&l, "\r");
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::string Quote(absl::string_view line) {
  constexpr size_t kMax = 120;
  if (line.size() <= kMax) return absl::StrCat("'", line, "'");
  return absl::StrCat("'", line.substr(0, kMax), "...'");
}

absl::Status LineError(size_t line_no, absl::string_view message, absl::string_view line) {
  return absl::InvalidArgumentError(
      absl::StrCat("openvpn status file line ", line_no, ": ", message, ", got ", Quote(line)));
}

std::optional<uint64_t> Counter(absl::string_view s) {
  uint64_t v = 0;
  if (s.empty() ||
      !absl::c_all_of(s,
                      [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
      !absl::SimpleAtoi(s, &v)) {
    return std::nullopt;
  }
  return v;
}

// OpenVPN's own time strings, in the server's zone: "2026-11-22 04:46:25" (2.6) or the
// ctime-like "Thu Jun 17 11:37:09 2021" (before 2.6).
std::optional<absl::Time> ParseServerTime(absl::string_view text, const absl::TimeZone& zone) {
  std::string s = absl::StrJoin(absl::StrSplit(text, ' ', absl::SkipEmpty()), " ");
  absl::Time t;
  std::string err;
  for (const char* format : {"%Y-%m-%d %H:%M:%S", "%a %b %d %H:%M:%S %Y"}) {
    if (absl::ParseTime(format, s, zone, &t, &err)) return t;
  }
  return std::nullopt;
}

// Where the columns of a client row are, from its header.
struct Columns {
  size_t count = 0;
  std::optional<size_t> common_name, real_address, bytes_received, bytes_sent, since_time_t,
      since_text;

  static absl::StatusOr<Columns> FromHeader(const std::vector<absl::string_view>& names,
                                            size_t line_no, absl::string_view line) {
    Columns c;
    c.count = names.size();
    for (size_t i = 0; i < names.size(); ++i) {
      absl::string_view n = names[i];
      if (n == "Common Name") c.common_name = i;
      if (n == "Real Address") c.real_address = i;
      if (n == "Bytes Received") c.bytes_received = i;
      if (n == "Bytes Sent") c.bytes_sent = i;
      if (n == "Connected Since (time_t)") c.since_time_t = i;
      if (n == "Connected Since") c.since_text = i;
    }
    for (auto [column, name] : {std::pair{c.common_name, "Common Name"},
                                {c.bytes_received, "Bytes Received"},
                                {c.bytes_sent, "Bytes Sent"}}) {
      if (!column) {
        return LineError(line_no, absl::StrCat("the client list header has no '", name, "' column"),
                         line);
      }
    }
    return c;
  }

  absl::StatusOr<ClientSession> Row(const std::vector<absl::string_view>& fields,
                                    const absl::TimeZone& zone, size_t line_no,
                                    absl::string_view line) const {
    if (fields.size() != count) {
      return LineError(
          line_no,
          absl::StrCat("a client row has ", fields.size(), " fields, its header ", count,
                       " (a name with the separator in it? status-version 3 "
                       "separates with tabs)"),
          line);
    }
    ClientSession s;
    s.common_name = std::string(fields[*common_name]);
    if (real_address) s.real_address = std::string(fields[*real_address]);
    std::optional<uint64_t> received = Counter(fields[*bytes_received]);
    std::optional<uint64_t> sent = Counter(fields[*bytes_sent]);
    if (!received || !sent) {
      return LineError(line_no, "expected byte counts in 'Bytes Received' and 'Bytes Sent'", line);
    }
    s.bytes_received = *received;
    s.bytes_sent = *sent;
    if (since_time_t) {
      std::optional<uint64_t> t = Counter(fields[*since_time_t]);
      if (!t) return LineError(line_no, "expected a number in 'Connected Since (time_t)'", line);
      s.connected_since = absl::FromUnixSeconds(static_cast<int64_t>(*t));
    } else if (since_text) {
      s.connected_since = ParseServerTime(fields[*since_text], zone);
      if (!s.connected_since)
        return LineError(line_no, "expected a time in 'Connected Since'", line);
    }
    return s;
  }
};

// Versions 2 (commas) and 3 (tabs): every line starts with its kind.
absl::StatusOr<StatusFile> ParseTagged(const std::vector<absl::string_view>& lines, char sep,
                                       int version, const absl::TimeZone& zone) {
  StatusFile file;
  file.version = version;
  bool have_time = false, ended = false;
  std::optional<Columns> columns;
  for (size_t i = 0; i < lines.size() && !ended; ++i) {
    const absl::string_view line = lines[i];
    const size_t line_no = i + 1;
    std::vector<absl::string_view> fields = absl::StrSplit(line, sep);
    absl::string_view tag = fields[0];
    if (tag == "END") {
      ended = true;
    } else if (tag == "TIME") {
      int64_t unix_seconds = 0;
      if (fields.size() >= 3 && absl::SimpleAtoi(fields[2], &unix_seconds)) {
        file.updated = absl::FromUnixSeconds(unix_seconds);
      } else if (std::optional<absl::Time> t =
                     fields.size() >= 2 ? ParseServerTime(fields[1], zone) : std::nullopt) {
        file.updated = *t;
      } else {
        return LineError(line_no, "expected 'TIME<sep><time><sep><unix seconds>'", line);
      }
      have_time = true;
    } else if (tag == "HEADER" && fields.size() >= 2 && fields[1] == "CLIENT_LIST") {
      absl::StatusOr<Columns> c = Columns::FromHeader(
          std::vector<absl::string_view>(fields.begin() + 2, fields.end()), line_no, line);
      if (!c.ok()) return c.status();
      columns = *c;
    } else if (tag == "CLIENT_LIST") {
      if (!columns) return LineError(line_no, "a client row before its HEADER line", line);
      absl::StatusOr<ClientSession> s = columns->Row(
          std::vector<absl::string_view>(fields.begin() + 1, fields.end()), zone, line_no, line);
      if (!s.ok()) return s.status();
      file.clients.push_back(*std::move(s));
    }
    // TITLE, ROUTING_TABLE, GLOBAL_STATS and their headers are not needed.
  }
  if (!have_time) return absl::InvalidArgumentError("openvpn status file: no TIME line");
  if (!columns) {
    return absl::InvalidArgumentError("openvpn status file: no HEADER line for CLIENT_LIST");
  }
  if (!ended) {
    return absl::InvalidArgumentError(
        "openvpn status file: no END line (truncated, or read while the server rewrote it)");
  }
  return file;
}

// Version 1: sections with their own header lines.
absl::StatusOr<StatusFile> ParseVersion1(const std::vector<absl::string_view>& lines,
                                         const absl::TimeZone& zone) {
  StatusFile file;
  file.version = 1;
  size_t i = 1;
  if (i >= lines.size() || !absl::StartsWith(lines[i], "Updated,")) {
    return LineError(i + 1, "expected 'Updated,<time>'", i < lines.size() ? lines[i] : "");
  }
  std::optional<absl::Time> updated = ParseServerTime(lines[i].substr(8), zone);
  if (!updated) return LineError(i + 1, "expected 'Updated,<time>'", lines[i]);
  file.updated = *updated;
  ++i;
  if (i >= lines.size() || !absl::StartsWith(lines[i], "Common Name,")) {
    return LineError(i + 1, "expected the client list header 'Common Name,...'",
                     i < lines.size() ? lines[i] : "");
  }
  absl::StatusOr<Columns> columns =
      Columns::FromHeader(absl::StrSplit(lines[i], ','), i + 1, lines[i]);
  if (!columns.ok()) return columns.status();
  for (++i; i < lines.size() && lines[i] != "ROUTING TABLE"; ++i) {
    absl::StatusOr<ClientSession> s =
        columns->Row(absl::StrSplit(lines[i], ','), zone, i + 1, lines[i]);
    if (!s.ok()) return s.status();
    file.clients.push_back(*std::move(s));
  }
  for (; i < lines.size(); ++i) {
    if (lines[i] == "END") return file;
  }
  return absl::InvalidArgumentError(
      "openvpn status file: no END line (truncated, or read while the server rewrote it)");
}

}  // namespace

absl::StatusOr<StatusFile> ParseStatusFile(absl::string_view text,
                                           const absl::TimeZone& local_zone) {
  std::vector<absl::string_view> lines = Lines(text);
  if (lines.empty()) return absl::InvalidArgumentError("openvpn status file is empty");
  const absl::string_view first = lines[0];
  if (first == "OpenVPN CLIENT LIST") return ParseVersion1(lines, local_zone);
  if (absl::StartsWith(first, "TITLE\t")) return ParseTagged(lines, '\t', 3, local_zone);
  if (absl::StartsWith(first, "TITLE,")) return ParseTagged(lines, ',', 2, local_zone);
  if (first == "OpenVPN STATISTICS") {
    return LineError(1,
                     "this is the status of a client or a point-to-point tunnel, not of a "
                     "server (--mode server)",
                     first);
  }
  return LineError(1,
                   "expected 'OpenVPN CLIENT LIST' (status-version 1) or 'TITLE' (versions 2 "
                   "and 3)",
                   first);
}

}  // namespace vigil::agent::openvpn
