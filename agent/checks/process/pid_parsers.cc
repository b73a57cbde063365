#include "agent/checks/process/pid_parsers.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil::agent::pidfs {
namespace {

absl::Status Error(absl::string_view source, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", message));
}

// Every file of /proc/<pid> ends with a newline; content without one was cut short.
absl::Status CheckComplete(absl::string_view content, absl::string_view source) {
  if (content.empty()) return Error(source, "empty content");
  if (content.back() != '\n') return Error(source, "not terminated by a newline (truncated?)");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PidStat> ParsePidStat(absl::string_view content, absl::string_view source) {
  if (absl::Status s = CheckComplete(content, source); !s.ok()) return s;
  size_t open = content.find('(');
  size_t close = content.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return Error(source, "no '(comm)' field");
  }
  PidStat out;
  absl::string_view pid = absl::StripAsciiWhitespace(content.substr(0, open));
  if (!absl::SimpleAtoi(pid, &out.pid) || out.pid <= 0) {
    return Error(source, absl::StrCat("field 1 (pid): '", pid, "' is not a process id"));
  }
  out.comm = std::string(content.substr(open + 1, close - open - 1));

  // Fields 3.. follow the comm; rest[i] is field i + 3.
  std::vector<absl::string_view> rest =
      absl::StrSplit(content.substr(close + 1), absl::ByAnyChar(" \n"), absl::SkipEmpty());
  constexpr size_t kNeeded = 22 - 3 + 1;  // up to starttime (22)
  if (rest.size() < kNeeded) {
    return Error(source, absl::StrCat("expected at least 22 fields, got ", rest.size() + 2));
  }
  if (rest[0].size() != 1 || !absl::ascii_isalpha(rest[0][0])) {
    return Error(source, absl::StrCat("field 3 (state): '", rest[0], "' is not a state letter"));
  }
  out.state = rest[0][0];
  struct Field {
    int number;
    const char* name;
    uint64_t* value;
  };
  uint64_t threads = 0;
  for (const Field& f :
       {Field{14, "utime", &out.utime}, Field{15, "stime", &out.stime},
        Field{20, "num_threads", &threads}, Field{22, "starttime", &out.starttime}}) {
    absl::string_view text = rest[f.number - 3];
    if (!absl::SimpleAtoi(text, f.value)) {
      return Error(source, absl::StrCat("field ", f.number, " (", f.name, "): '", text,
                                        "' is not a non-negative integer"));
    }
  }
  out.threads = static_cast<int64_t>(threads);
  return out;
}

absl::StatusOr<PidStatus> ParsePidStatus(absl::string_view content, absl::string_view source) {
  if (absl::Status s = CheckComplete(content, source); !s.ok()) return s;
  PidStatus out;
  bool have_name = false, have_threads = false;
  size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_number;
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      return Error(source, absl::StrCat("line ", line_number, ": no ':' in '", line, "'"));
    }
    absl::string_view key = line.substr(0, colon);
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (key == "Name") {
      // The name is after "Name:\t" and may itself contain spaces; only the tab is stripped.
      out.name = std::string(absl::StripPrefix(line.substr(colon + 1), "\t"));
      have_name = true;
    } else if (key == "Threads") {
      if (!absl::SimpleAtoi(value, &out.threads) || out.threads < 0) {
        return Error(source, absl::StrCat("line ", line_number, ": Threads: '", value,
                                          "' is not a non-negative integer"));
      }
      have_threads = true;
    } else if (key == "VmRSS") {
      uint64_t kb = 0;
      absl::string_view number = value;
      if (!absl::ConsumeSuffix(&number, " kB") ||
          !absl::SimpleAtoi(absl::StripAsciiWhitespace(number), &kb)) {
        return Error(source, absl::StrCat("line ", line_number, ": VmRSS: '", value,
                                          "' is not a size in kB"));
      }
      out.rss_bytes = kb * 1024;
    }
  }
  if (!have_name) return Error(source, "no Name: line");
  if (!have_threads) return Error(source, "no Threads: line");
  return out;
}

std::string CmdlineToString(absl::string_view content) {
  while (!content.empty() && content.back() == '\0') content.remove_suffix(1);
  std::string out(content);
  for (char& c : out) {
    if (c == '\0') c = ' ';
  }
  return out;
}

}  // namespace vigil::agent::pidfs
