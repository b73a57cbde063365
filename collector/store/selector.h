#ifndef VIGIL_COLLECTOR_STORE_SELECTOR_H_
#define VIGIL_COLLECTOR_STORE_SELECTOR_H_

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/series_key.h"

namespace vigil::collector {

struct LabelMatcher {
  enum class Op { kEqual, kNotEqual, kRegex, kNotRegex };
  std::string name;
  Op op = Op::kEqual;
  std::string value;
  std::shared_ptr<const std::regex> regex;  // set for kRegex/kNotRegex; fully anchored

  bool Matches(const SeriesKey& key) const;  // an absent label matches as ""
};

// `metric{a="x",b!="y",c=~"re",d!~"re"}`; the metric may be omitted (`{host="db1"}`) to match
// any metric, and the braces may be omitted to match every series of a metric.
struct SeriesSelector {
  std::string metric;  // empty: any
  std::vector<LabelMatcher> matchers;

  bool Matches(const SeriesKey& key) const;
};

absl::StatusOr<SeriesSelector> ParseSelector(absl::string_view text);

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_STORE_SELECTOR_H_
