#include "agent/checks/system/proc_parsers.h"

#include <cmath>
#include <limits>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace vigil::agent::proc {
namespace {

// Abseil 20220623 here is built with its own string_view type, so convert explicitly.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status LineError(std::string_view source, size_t line, std::string_view message) {
  return absl::InvalidArgumentError(
      absl::StrCat(Absl(source), ": line ", line, ": ", Absl(message)));
}

absl::Status FileError(std::string_view source, std::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(Absl(source), ": ", Absl(message)));
}

// Splits `content` into lines. Every /proc file ends with a newline, so a last line without
// one means the read was cut short; that is reported instead of parsing a partial number.
// An empty file is an error unless `allow_empty` (a list file with no entries).
absl::StatusOr<std::vector<std::string_view>> Lines(std::string_view content,
                                                    std::string_view source,
                                                    bool allow_empty = false) {
  if (content.empty() && !allow_empty) return FileError(source, "empty content");
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < content.size()) {
    size_t nl = content.find('\n', start);
    if (nl == std::string_view::npos) {
      return LineError(source, lines.size() + 1,
                       "not terminated by a newline (truncated content?)");
    }
    lines.push_back(content.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !IsSpace(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Decimal digits only (no sign, no whitespace), without overflow.
std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// A finite, non-negative decimal number such as "0.52" or "419.78".
std::optional<double> ParseNonNegativeDouble(std::string_view s) {
  double v = 0;
  if (s.empty() || s.front() == '-' || s.front() == '+') return std::nullopt;
  if (!absl::SimpleAtod(Absl(s), &v) || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

// Parses fields[first..] as counters; on error reports which one is not a number.
absl::StatusOr<std::vector<uint64_t>> Counters(const std::vector<std::string_view>& fields,
                                               size_t first, std::string_view source, size_t line,
                                               std::string_view after) {
  std::vector<uint64_t> out;
  for (size_t i = first; i < fields.size(); ++i) {
    std::optional<uint64_t> v = ParseU64(fields[i]);
    if (!v) {
      return LineError(source, line,
                       absl::StrCat("field ", i - first + 1, " after '", Absl(after),
                                    "' is not a non-negative integer: '", Absl(fields[i]), "'"));
    }
    out.push_back(*v);
  }
  return out;
}

// Replaces the octal escapes the kernel writes for space, tab, newline and backslash (\040).
std::string UnescapeOctal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<CpuTimes> ParseProcStat(std::string_view content, std::string_view source) {
  absl::StatusOr<std::vector<std::string_view>> lines = Lines(content, source);
  if (!lines.ok()) return lines.status();
  for (size_t n = 0; n < lines->size(); ++n) {
    std::vector<std::string_view> fields = Fields((*lines)[n]);
    if (fields.empty() || fields[0] != "cpu") continue;
    absl::StatusOr<std::vector<uint64_t>> v = Counters(fields, 1, source, n + 1, "cpu");
    if (!v.ok()) return v.status();
    if (v->size() < 8) {
      return LineError(
          source, n + 1,
          absl::StrCat("expected at least 8 numeric fields after 'cpu', got ", v->size()));
    }
    CpuTimes t;
    t.user = (*v)[0];
    t.nice = (*v)[1];
    t.system = (*v)[2];
    t.idle = (*v)[3];
    t.iowait = (*v)[4];
    t.irq = (*v)[5];
    t.softirq = (*v)[6];
    t.steal = (*v)[7];
    return t;
  }
  return FileError(source, "no aggregate 'cpu' line");
}

absl::StatusOr<LoadAverage> ParseLoadAvg(std::string_view content, std::string_view source) {
  absl::StatusOr<std::vector<std::string_view>> lines = Lines(content, source);
  if (!lines.ok()) return lines.status();
  std::vector<std::string_view> fields = Fields((*lines)[0]);
  if (fields.size() < 3) {
    return LineError(source, 1,
                     absl::StrCat("expected 3 load averages, got ", fields.size(), " fields"));
  }
  double v[3];
  for (int i = 0; i < 3; ++i) {
    std::optional<double> d = ParseNonNegativeDouble(fields[i]);
    if (!d) {
      return LineError(source, 1,
                       absl::StrCat("load average ", i + 1, " is not a non-negative number: '",
                                    Absl(fields[i]), "'"));
    }
    v[i] = *d;
  }
  return LoadAverage{v[0], v[1], v[2]};
}

absl::StatusOr<MemInfo> ParseMemInfo(std::string_view content, std::string_view source) {
  absl::StatusOr<std::vector<std::string_view>> lines = Lines(content, source);
  if (!lines.ok()) return lines.status();
  std::optional<uint64_t> total, available, free, buffers, cached, sreclaimable, swap_total,
      swap_free;
  const std::pair<std::string_view, std::optional<uint64_t>*> wanted[] = {
      {"MemTotal", &total},       {"MemAvailable", &available}, {"MemFree", &free},
      {"Buffers", &buffers},      {"Cached", &cached},          {"SReclaimable", &sreclaimable},
      {"SwapTotal", &swap_total}, {"SwapFree", &swap_free},
  };
  for (size_t n = 0; n < lines->size(); ++n) {
    std::string_view line = (*lines)[n];
    if (Trim(line).empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return LineError(source, n + 1, "expected 'Name: value [kB]'");
    }
    std::string_view name = line.substr(0, colon);
    for (const auto& [key, slot] : wanted) {
      if (name != key) continue;
      std::vector<std::string_view> fields = Fields(line.substr(colon + 1));
      std::optional<uint64_t> v = fields.empty() ? std::nullopt : ParseU64(fields[0]);
      if (!v || fields.size() > 2) {
        return LineError(
            source, n + 1,
            absl::StrCat("expected '", Absl(key), ": <integer> kB', got '", Absl(Trim(line)), "'"));
      }
      uint64_t bytes = *v;
      if (fields.size() == 2) {
        if (fields[1] != "kB") {
          return LineError(source, n + 1,
                           absl::StrCat("unknown unit '", Absl(fields[1]), "' for ", Absl(key)));
        }
        if (bytes > std::numeric_limits<uint64_t>::max() / 1024) {
          return LineError(source, n + 1, absl::StrCat(Absl(key), " is too large"));
        }
        bytes *= 1024;
      }
      *slot = bytes;
    }
  }
  if (!total) return FileError(source, "no MemTotal line (truncated content?)");
  MemInfo m;
  m.total_bytes = *total;
  if (available) {
    m.available_bytes = *available;
  } else if (free && buffers && cached) {
    m.available_bytes = *free + *buffers + *cached + sreclaimable.value_or(0);
  } else {
    return FileError(source,
                     "neither MemAvailable nor MemFree, Buffers and Cached (truncated content?)");
  }
  if (swap_total.has_value() != swap_free.has_value()) {
    return FileError(source,
                     absl::StrCat("found ", swap_total ? "SwapTotal" : "SwapFree", " without ",
                                  swap_total ? "SwapFree" : "SwapTotal", " (truncated content?)"));
  }
  m.swap_total_bytes = swap_total.value_or(0);
  m.swap_free_bytes = swap_free.value_or(0);
  if (m.available_bytes > m.total_bytes) m.available_bytes = m.total_bytes;
  if (m.swap_free_bytes > m.swap_total_bytes) m.swap_free_bytes = m.swap_total_bytes;
  return m;
}

absl::StatusOr<std::vector<DiskStat>> ParseDiskStats(std::string_view content,
                                                     std::string_view source) {
  absl::StatusOr<std::vector<std::string_view>> lines =
      Lines(content, source, /*allow_empty=*/true);
  if (!lines.ok()) return lines.status();
  std::vector<DiskStat> out;
  for (size_t n = 0; n < lines->size(); ++n) {
    std::vector<std::string_view> fields = Fields((*lines)[n]);
    if (fields.empty()) continue;
    // major minor name, then at least the 11 counters every kernel since 2.6 writes.
    if (fields.size() < 14) {
      return LineError(source, n + 1,
                       absl::StrCat("expected at least 14 fields (major minor name and 11 "
                                    "counters), got ",
                                    fields.size()));
    }
    if (!ParseU64(fields[0]) || !ParseU64(fields[1])) {
      return LineError(source, n + 1,
                       absl::StrCat("expected major and minor device numbers, got '",
                                    Absl(fields[0]), " ", Absl(fields[1]), "'"));
    }
    absl::StatusOr<std::vector<uint64_t>> v = Counters(fields, 3, source, n + 1, fields[2]);
    if (!v.ok()) return v.status();
    DiskStat d;
    d.device = std::string(fields[2]);
    d.reads_completed = (*v)[0];
    d.sectors_read = (*v)[2];
    d.writes_completed = (*v)[4];
    d.sectors_written = (*v)[6];
    out.push_back(std::move(d));
  }
  return out;
}

absl::StatusOr<std::vector<NetDevStat>> ParseNetDev(std::string_view content,
                                                    std::string_view source) {
  absl::StatusOr<std::vector<std::string_view>> lines = Lines(content, source);
  if (!lines.ok()) return lines.status();
  if (lines->size() < 2 || (*lines)[1].find('|') == std::string_view::npos) {
    return FileError(source, "expected two header lines ('Inter-|...' and ' face |...')");
  }
  std::vector<NetDevStat> out;
  for (size_t n = 2; n < lines->size(); ++n) {
    std::string_view line = (*lines)[n];
    if (Trim(line).empty()) continue;
    // Older kernels write no space after the colon ("eth0:123"), so split at the colon.
    size_t colon = line.rfind(':');
    std::string_view name = colon == std::string_view::npos ? "" : Trim(line.substr(0, colon));
    if (name.empty()) {
      return LineError(source, n + 1, "expected '<interface>:' followed by 16 counters");
    }
    std::vector<std::string_view> fields = Fields(line.substr(colon + 1));
    absl::StatusOr<std::vector<uint64_t>> v = Counters(fields, 0, source, n + 1, name);
    if (!v.ok()) return v.status();
    if (v->size() < 16) {
      return LineError(
          source, n + 1,
          absl::StrCat("expected 16 numeric fields after '", Absl(name), ":', got ", v->size()));
    }
    NetDevStat s;
    s.interface = std::string(name);
    s.rx_bytes = (*v)[0];
    s.rx_packets = (*v)[1];
    s.rx_errors = (*v)[2];
    s.rx_drops = (*v)[3];
    s.tx_bytes = (*v)[8];
    s.tx_packets = (*v)[9];
    s.tx_errors = (*v)[10];
    s.tx_drops = (*v)[11];
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<Uptime> ParseUptime(std::string_view content, std::string_view source) {
  absl::StatusOr<std::vector<std::string_view>> lines = Lines(content, source);
  if (!lines.ok()) return lines.status();
  std::vector<std::string_view> fields = Fields((*lines)[0]);
  if (fields.size() < 2) {
    return LineError(source, 1, absl::StrCat("expected 2 numbers, got ", fields.size()));
  }
  std::optional<double> up = ParseNonNegativeDouble(fields[0]);
  std::optional<double> idle = ParseNonNegativeDouble(fields[1]);
  if (!up || !idle) {
    return LineError(
        source, 1,
        absl::StrCat("expected two non-negative numbers, got '", Absl(Trim((*lines)[0])), "'"));
  }
  return Uptime{*up, *idle};
}

absl::StatusOr<std::vector<MountEntry>> ParseMounts(std::string_view content,
                                                    std::string_view source) {
  absl::StatusOr<std::vector<std::string_view>> lines =
      Lines(content, source, /*allow_empty=*/true);
  if (!lines.ok()) return lines.status();
  std::vector<MountEntry> out;
  for (size_t n = 0; n < lines->size(); ++n) {
    std::vector<std::string_view> fields = Fields((*lines)[n]);
    if (fields.empty()) continue;
    if (fields.size() < 4) {
      return LineError(source, n + 1,
                       absl::StrCat("expected 'device mountpoint fstype options', got ",
                                    fields.size(), " fields"));
    }
    out.push_back(MountEntry{UnescapeOctal(fields[0]), UnescapeOctal(fields[1]),
                             std::string(fields[2]), std::string(fields[3])});
  }
  return out;
}

}  // namespace vigil::agent::proc
