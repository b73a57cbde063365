#ifndef VIGIL_COMMON_SELECTOR_H_
#define VIGIL_COMMON_SELECTOR_H_

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/series_key.h"

namespace vigil {

// One label condition of a selector. Immutable once built, so it may be shared across threads;
// build regex matchers with MakeLabelMatcher (or ParseSelector), which compiles `regex`.
struct LabelMatcher {
  enum class Op { kEqual, kNotEqual, kRegex, kNotRegex };
  std::string name;
  Op op = Op::kEqual;
  std::string value;
  std::shared_ptr<const std::regex> regex;  // set for kRegex/kNotRegex; fully anchored

  // An absent label matches as "". The name `__name__` refers to the metric name.
  bool Matches(const SeriesKey& key) const;
};

// Builds a matcher, compiling `value` as a fully anchored ECMAScript regex for kRegex/kNotRegex.
// INVALID_ARGUMENT "bad regex for label '<name>': ..." if it does not compile.
absl::StatusOr<LabelMatcher> MakeLabelMatcher(std::string name, LabelMatcher::Op op,
                                              std::string value);

// `metric{a="x",b!="y",c=~"re",d!~"re"}`; the metric may be omitted (`{host="db1"}`) to match
// any metric, and the braces may be omitted to match every series of a metric. `{}` matches
// every series. Values are double-quoted with the escapes \\ \" \n \t. Immutable once built.
struct SeriesSelector {
  std::string metric;  // empty: any
  std::vector<LabelMatcher> matchers;

  bool Matches(const SeriesKey& key) const;
};

// INVALID_ARGUMENT with the offset of the mistake, e.g.
// "invalid label name 'Host' at offset 4 in selector 'cpu{Host=\"a\"}'".
absl::StatusOr<SeriesSelector> ParseSelector(absl::string_view text);

}  // namespace vigil

#endif  // VIGIL_COMMON_SELECTOR_H_
