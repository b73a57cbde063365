#ifndef VIGIL_COLLECTOR_STORE_DOWNSAMPLE_H_
#define VIGIL_COLLECTOR_STORE_DOWNSAMPLE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "collector/store/series_store.h"

namespace vigil::collector {

// How the points of one bucket are reduced to one value.
enum class Statistic { kAvg, kMin, kMax, kSum, kCount, kLast };

// "avg", "min", "max", "sum", "count" or "last"; INVALID_ARGUMENT for anything else.
absl::StatusOr<Statistic> ParseStatistic(absl::string_view name);
// The name ParseStatistic accepts for `stat`.
absl::string_view StatisticName(Statistic stat);

// Reduces points (in timestamp order, as SeriesStore::Read returns them) to one point per
// non-empty bucket of `step_ms`. Buckets are aligned to the epoch: a point at t belongs to the
// bucket starting at floor(t / step_ms) * step_ms, also for negative t. Each output point is
// stamped with its bucket's start and holds `stat` over the bucket's points (kCount: how many).
// step_ms <= 0 returns the input unchanged. A pure function: safe from any thread.
std::vector<DataPoint> Downsample(absl::Span<const DataPoint> points, int64_t step_ms,
                                  Statistic stat);

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_STORE_DOWNSAMPLE_H_
