#include "agent/checks/nginx/stub_status.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vigil::agent::nginx {
namespace {

std::vector<absl::string_view> Words(absl::string_view line) {
  return absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
}

}  // namespace

absl::StatusOr<StubStatus> ParseStubStatus(absl::string_view text, absl::string_view source) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  while (!lines.empty() && absl::StripAsciiWhitespace(lines.back()).empty()) lines.pop_back();
  auto error = [&](size_t line, absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": line ", line, ": ", what));
  };
  if (lines.size() < 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected the 4 lines of a stub_status page, got ", lines.size(),
                     " (truncated?)"));
  }
  auto number = [](absl::string_view word, uint64_t* out) { return absl::SimpleAtoi(word, out); };

  StubStatus s;
  std::vector<absl::string_view> w = Words(lines[0]);
  if (w.size() != 3 || w[0] != "Active" || w[1] != "connections:" || !number(w[2], &s.active)) {
    return error(1, "expected 'Active connections: N'");
  }
  w = Words(lines[1]);
  if (w.size() != 4 || w[0] != "server" || w[1] != "accepts" || w[2] != "handled" ||
      w[3] != "requests") {
    return error(2, "expected 'server accepts handled requests'");
  }
  w = Words(lines[2]);
  if (w.size() != 3) {
    return error(3, absl::StrCat("expected 3 numbers (accepts handled requests), got ", w.size()));
  }
  if (!number(w[0], &s.accepts) || !number(w[1], &s.handled) || !number(w[2], &s.requests)) {
    return error(3, "expected 3 non-negative integers (accepts handled requests)");
  }
  w = Words(lines[3]);
  if (w.size() != 6 || w[0] != "Reading:" || w[2] != "Writing:" || w[4] != "Waiting:" ||
      !number(w[1], &s.reading) || !number(w[3], &s.writing) || !number(w[5], &s.waiting)) {
    return error(4, "expected 'Reading: N Writing: N Waiting: N'");
  }
  if (lines.size() > 4) return error(5, "unexpected text after the stub_status page");
  return s;
}

}  // namespace vigil::agent::nginx
