#ifndef VIGIL_COLLECTOR_STORE_SERIES_STORE_H_
#define VIGIL_COLLECTOR_STORE_SERIES_STORE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/selector.h"
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
  // Points held, including those past retention that share a chunk with newer points (a chunk
  // is freed when its newest point expires; Read() filters by exact time).
  uint64_t points = 0;
  uint64_t bytes = 0;  // memory held by point storage, including partly filled chunks
  // Per-series overhead outside point storage: hash-map slots and the heap memory of series
  // keys. An estimate from capacities; malloc's own bookkeeping is not included.
  uint64_t key_bytes = 0;
};

// In-memory time-series store: per-series chunked ring buffers holding `retention` of data,
// sharded by series hash so concurrent writers of different series do not contend.
// Thread-safe: every method may be called from any thread; each call locks one shard at a time,
// so Select() and Stats() see each shard at a consistent moment but not all shards at once.
// Memory: about 12.1 bytes per point in full 128-point chunks (docs/performance.md).
class SeriesStore {
 public:
  struct Options {
    absl::Duration retention = absl::Hours(6);
    int shards = 16;
  };
  explicit SeriesStore(Options options);
  ~SeriesStore();

  // Appends points of one series, in timestamp order. `now_ms` bounds retention. Each point is
  // checked in this order: too_old (t < now_ms - retention), duplicate (t already stored; the
  // stored value is kept), out_of_order (t older than the newest stored point), else appended.
  // Chunks of this series that fell out of retention are freed on the way. A call whose points
  // are all rejected creates no series.
  AppendResult Append(const SeriesKey& key, absl::Span<const DataPoint> points, int64_t now_ms);

  // Keys of every series the selector matches, sorted.
  std::vector<SeriesKey> Select(const SeriesSelector& selector) const;

  // Points of one series with from_ms <= t <= to_ms, in order. Empty if unknown.
  std::vector<DataPoint> Read(const SeriesKey& key, int64_t from_ms, int64_t to_ms) const;

  // Drops points older than now_ms - retention, a whole chunk at a time (a chunk goes when its
  // newest point is older), and series left empty.
  void Evict(int64_t now_ms);

  StoreStats Stats() const;

 private:
  struct Shard;
  Shard& ShardFor(const SeriesKey& key) const;

  // Constant after construction.
  Options options_;  // shards >= 1, retention >= 0
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_STORE_SERIES_STORE_H_
