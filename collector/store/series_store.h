#ifndef VIGIL_COLLECTOR_STORE_SERIES_STORE_H_
#define VIGIL_COLLECTOR_STORE_SERIES_STORE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "collector/store/selector.h"
#include "common/series_key.h"

namespace vigil::collector {

struct DataPoint {
  int64_t timestamp_ms = 0;
  double value = 0;
  friend bool operator==(const DataPoint& a, const DataPoint& b) {
    return a.timestamp_ms == b.timestamp_ms && a.value == b.value;
  }
};

struct AppendResult {
  uint32_t appended = 0;
  uint32_t duplicates = 0;    // same timestamp already stored: ignored (replays are idempotent)
  uint32_t out_of_order = 0;  // older than the newest stored point of the series: rejected
  uint32_t too_old = 0;       // older than now - retention: rejected
};

struct StoreStats {
  uint64_t series = 0;
  uint64_t points = 0;
  uint64_t bytes = 0;  // memory held by point storage, including partly filled chunks
};

// In-memory time-series store: per-series chunked ring buffers holding `retention` of data,
// sharded by series hash so concurrent writers of different series do not contend.
// Thread-safe: every method may be called from any thread.
class SeriesStore {
 public:
  struct Options {
    absl::Duration retention = absl::Hours(6);
    int shards = 16;
  };
  explicit SeriesStore(Options options);
  ~SeriesStore();

  // Appends points of one series, in timestamp order. `now_ms` bounds retention.
  AppendResult Append(const SeriesKey& key, absl::Span<const DataPoint> points, int64_t now_ms);

  // Keys of every series the selector matches, sorted.
  std::vector<SeriesKey> Select(const SeriesSelector& selector) const;

  // Points of one series with from_ms <= t <= to_ms, in order. Empty if unknown.
  std::vector<DataPoint> Read(const SeriesKey& key, int64_t from_ms, int64_t to_ms) const;

  // Drops points older than now_ms - retention and series left empty.
  void Evict(int64_t now_ms);

  StoreStats Stats() const;

 private:
  struct Shard;
  Shard& ShardFor(const SeriesKey& key) const;

  Options options_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_STORE_SERIES_STORE_H_
