#ifndef VIGIL_COMMON_SERIES_KEY_H_
#define VIGIL_COMMON_SERIES_KEY_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {

// Label set of a series, sorted by name with unique names.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Identity of a time series: a metric name plus its labels.
struct SeriesKey {
  std::string metric;
  Labels labels;

  // Sorts labels by name. Duplicate names keep the last value.
  void Normalize();
  // Value of a label, or empty if absent.
  absl::string_view Label(absl::string_view name) const;
  // `metric{a="1",b="2"}` with values escaped as in PromQL; the map key everywhere.
  std::string ToString() const;

  friend bool operator==(const SeriesKey& a, const SeriesKey& b) {
    return a.metric == b.metric && a.labels == b.labels;
  }
  friend bool operator<(const SeriesKey& a, const SeriesKey& b) {
    return a.metric != b.metric ? a.metric < b.metric : a.labels < b.labels;
  }
  template <typename H>
  friend H AbslHashValue(H h, const SeriesKey& k) {
    return H::combine(std::move(h), k.metric, k.labels);
  }
};

// Parses the form ToString() writes: `metric{a="1",b="2"}` or a bare `metric`.
absl::StatusOr<SeriesKey> ParseSeriesKey(absl::string_view text);

// Metric names are dotted lowercase identifiers: [a-z][a-z0-9_]*(\.[a-z0-9_]+)*
bool IsValidMetricName(absl::string_view name);
// Label names: [a-z_][a-z0-9_]*
bool IsValidLabelName(absl::string_view name);

}  // namespace vigil

#endif  // VIGIL_COMMON_SERIES_KEY_H_
