#ifndef VIGIL_ALERTING_NOTIFY_MATCHERS_H_
#define VIGIL_ALERTING_NOTIFY_MATCHERS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/selector.h"
#include "common/series_key.h"

// Alertmanager's matcher syntax for routes, inhibit rules, maintenance windows and silences:
// `severity="critical"`, `env=~"prod|staging"`, `role!=test`, `host!~"db-.*"`. The value may be
// double-quoted (escapes \\ \" \n \t) or bare (the rest of the text, trimmed). Regexes are fully
// anchored, as in Alertmanager. Matchers are the shared LabelMatcher of common/selector.h, so
// they are immutable values that any thread may use.

namespace vigil::alerting {

// InvalidArgument naming the matcher and the offset of the mistake, e.g.
// "matcher 'severity~critical': expected one of =, !=, =~, !~ after 'severity' at offset 8".
absl::StatusOr<LabelMatcher> ParseAlertMatcher(absl::string_view text);

// The value of `name` in `labels`, "" when absent (Alertmanager treats absent as empty).
absl::string_view LabelValue(const Labels& labels, absl::string_view name);

bool MatchesLabels(const LabelMatcher& matcher, const Labels& labels);
// True when every matcher matches (so an empty list matches everything).
bool MatchesAll(const std::vector<LabelMatcher>& matchers, const Labels& labels);

// `{a="1",b="2"}` (values escaped as in PromQL), `{}` for no labels: group keys, messages.
std::string FormatLabels(const Labels& labels);
// `name="value"` with op and escaping as written by ParseAlertMatcher's inverse.
std::string FormatMatcher(const LabelMatcher& matcher);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_MATCHERS_H_
