#include "collector/store/series_store.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "collector/store/chunk_ring.h"

namespace vigil::collector {
namespace {

using internal::Chunk;
using internal::ChunkRing;

constexpr uint64_t kChunkBytes = sizeof(Chunk);
constexpr uint64_t kSlotBytes = sizeof(std::unique_ptr<Chunk>);

// Heap memory of a string beyond the object itself (none when the small-string buffer holds it).
uint64_t StringHeapBytes(const std::string& s) {
  const char* object = reinterpret_cast<const char*>(&s);
  bool inline_buffer = s.data() >= object && s.data() < object + sizeof(s);
  return inline_buffer ? 0 : s.capacity() + 1;
}

uint64_t KeyHeapBytes(const SeriesKey& key) {
  uint64_t bytes = StringHeapBytes(key.metric) + key.labels.capacity() * sizeof(Labels::value_type);
  for (const auto& [name, value] : key.labels) {
    bytes += StringHeapBytes(name) + StringHeapBytes(value);
  }
  return bytes;
}

// Index of the first point of `chunk` with timestamp >= t_ms (chunk.size if none).
uint32_t LowerBound(const Chunk& chunk, int64_t t_ms) {
  const uint32_t* end = chunk.offsets + chunk.size;
  const uint32_t* it = std::partition_point(
      chunk.offsets, end, [&](uint32_t offset) { return chunk.base_ms + offset < t_ms; });
  return static_cast<uint32_t>(it - chunk.offsets);
}

}  // namespace

namespace internal {
// The points of one series, oldest chunk first.
struct Series {
  ChunkRing chunks;

  int64_t newest_ms() const { return chunks.back().newest_ms(); }

  // True if a point with exactly this timestamp is stored.
  bool Contains(int64_t t_ms) const {
    for (size_t i = chunks.size(); i-- > 0;) {
      const Chunk& chunk = chunks.at(i);
      if (chunk.base_ms > t_ms) continue;
      uint32_t index = LowerBound(chunk, t_ms);
      return index < chunk.size && chunk.timestamp(index) == t_ms;
    }
    return false;
  }
};
}  // namespace internal

using internal::Series;

// One lock domain: the series whose key hashes here, and counters kept in step with them so
// Stats() does not walk every chunk.
struct SeriesStore::Shard {
  mutable absl::Mutex mu;
  absl::flat_hash_map<SeriesKey, Series> series ABSL_GUARDED_BY(mu);
  uint64_t points ABSL_GUARDED_BY(mu) = 0;
  uint64_t point_bytes ABSL_GUARDED_BY(mu) = 0;     // chunks plus ring slots
  uint64_t key_heap_bytes ABSL_GUARDED_BY(mu) = 0;  // heap memory of the stored keys

  // Appends a point newer than every stored one.
  void AppendPoint(Series& s, const DataPoint& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    ChunkRing& ring = s.chunks;
    if (ring.empty() || ring.back().full() || !ring.back().CanHold(p.timestamp_ms)) {
      size_t old_capacity = ring.capacity();
      Chunk& chunk = ring.PushBack();
      chunk.base_ms = p.timestamp_ms;
      chunk.size = 0;
      point_bytes += kChunkBytes + (ring.capacity() - old_capacity) * kSlotBytes;
    }
    Chunk& chunk = ring.back();
    chunk.offsets[chunk.size] = static_cast<uint32_t>(p.timestamp_ms - chunk.base_ms);
    chunk.values[chunk.size] = p.value;
    ++chunk.size;
    ++points;
  }

  // Frees whole chunks whose newest point is older than `cutoff_ms`. Returns true if the
  // series is left empty.
  bool DropExpired(Series& s, int64_t cutoff_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    ChunkRing& ring = s.chunks;
    while (!ring.empty() && ring.front().newest_ms() < cutoff_ms) {
      points -= ring.front().size;
      point_bytes -= kChunkBytes;
      ring.PopFront();
    }
    return ring.empty();
  }

  void Erase(absl::flat_hash_map<SeriesKey, Series>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    points -= [&] {
      uint64_t n = 0;
      for (size_t i = 0; i < it->second.chunks.size(); ++i) n += it->second.chunks.at(i).size;
      return n;
    }();
    point_bytes -=
        it->second.chunks.size() * kChunkBytes + it->second.chunks.capacity() * kSlotBytes;
    key_heap_bytes -= KeyHeapBytes(it->first);
    series.erase(it);
  }
};

SeriesStore::SeriesStore(Options options) : options_(options) {
  options_.shards = std::max(1, options_.shards);
  if (options_.retention < absl::ZeroDuration()) options_.retention = absl::ZeroDuration();
  shards_.reset(new Shard[options_.shards]);
}

SeriesStore::~SeriesStore() = default;

SeriesStore::Shard& SeriesStore::ShardFor(const SeriesKey& key) const {
  // The high half of the hash picks the shard: each shard's flat_hash_map uses the low bits, and
  // reusing them here would leave every key in a shard with the same low bits.
  uint64_t hash = absl::Hash<SeriesKey>{}(key);
  return shards_[(hash >> 32) % static_cast<uint64_t>(options_.shards)];
}

namespace {
// now_ms - retention, saturating at the smallest timestamp.
int64_t CutoffMs(int64_t now_ms, absl::Duration retention) {
  int64_t retention_ms = absl::ToInt64Milliseconds(retention);
  if (now_ms < std::numeric_limits<int64_t>::min() + retention_ms) {
    return std::numeric_limits<int64_t>::min();
  }
  return now_ms - retention_ms;
}
}  // namespace

AppendResult SeriesStore::Append(const SeriesKey& key, absl::Span<const DataPoint> points,
                                 int64_t now_ms) {
  AppendResult result;
  const int64_t cutoff_ms = CutoffMs(now_ms, options_.retention);
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.series.find(key);
  // Created on the first accepted point, so a batch of rejected points leaves no empty series.
  Series* series = it == shard.series.end() ? nullptr : &it->second;
  for (const DataPoint& p : points) {
    if (p.timestamp_ms < cutoff_ms) {
      ++result.too_old;
      continue;
    }
    if (series != nullptr && !series->chunks.empty() && p.timestamp_ms <= series->newest_ms()) {
      if (p.timestamp_ms == series->newest_ms() || series->Contains(p.timestamp_ms)) {
        ++result.duplicates;
      } else {
        ++result.out_of_order;
      }
      continue;
    }
    if (series == nullptr) {
      it = shard.series.try_emplace(key).first;
      series = &it->second;
      shard.key_heap_bytes += KeyHeapBytes(it->first);
    }
    shard.AppendPoint(*series, p);
    ++result.appended;
  }
  // Keeps memory bounded for series that are written but for which Evict() has not run yet.
  if (series != nullptr && shard.DropExpired(*series, cutoff_ms)) {
    shard.Erase(shard.series.find(key));
  }
  return result;
}

std::vector<SeriesKey> SeriesStore::Select(const SeriesSelector& selector) const {
  std::vector<SeriesKey> keys;
  for (int i = 0; i < options_.shards; ++i) {
    Shard& shard = shards_[i];
    absl::MutexLock lock(&shard.mu);
    for (const auto& [key, series] : shard.series) {
      if (selector.Matches(key)) keys.push_back(key);
    }
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::vector<DataPoint> SeriesStore::Read(const SeriesKey& key, int64_t from_ms,
                                         int64_t to_ms) const {
  std::vector<DataPoint> out;
  if (from_ms > to_ms) return out;
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.series.find(key);
  if (it == shard.series.end()) return out;
  const ChunkRing& ring = it->second.chunks;
  for (size_t c = 0; c < ring.size(); ++c) {
    const Chunk& chunk = ring.at(c);
    if (chunk.newest_ms() < from_ms) continue;
    if (chunk.base_ms > to_ms) break;
    for (uint32_t i = LowerBound(chunk, from_ms); i < chunk.size; ++i) {
      int64_t t = chunk.timestamp(i);
      if (t > to_ms) return out;
      out.push_back(DataPoint{t, chunk.values[i]});
    }
  }
  return out;
}

void SeriesStore::Evict(int64_t now_ms) {
  const int64_t cutoff_ms = CutoffMs(now_ms, options_.retention);
  for (int i = 0; i < options_.shards; ++i) {
    Shard& shard = shards_[i];
    absl::MutexLock lock(&shard.mu);
    for (auto it = shard.series.begin(); it != shard.series.end();) {
      auto current = it++;  // erasing does not invalidate other iterators of flat_hash_map
      if (shard.DropExpired(current->second, cutoff_ms)) shard.Erase(current);
    }
  }
}

StoreStats SeriesStore::Stats() const {
  StoreStats stats;
  using Slot = std::pair<const SeriesKey, Series>;
  for (int i = 0; i < options_.shards; ++i) {
    Shard& shard = shards_[i];
    absl::MutexLock lock(&shard.mu);
    stats.series += shard.series.size();
    stats.points += shard.points;
    stats.bytes += shard.point_bytes;
    // One slot plus one control byte per bucket of the open-addressing table.
    stats.key_bytes += shard.key_heap_bytes + shard.series.capacity() * (sizeof(Slot) + 1);
  }
  return stats;
}

}  // namespace vigil::collector
