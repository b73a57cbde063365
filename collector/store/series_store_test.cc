#include "collector/store/series_store.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/store/chunk_ring.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::collector {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kSecond = 1000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kDay = 24 * kHour;
// An arbitrary wall-clock instant (2026-11-22T00:00:00Z) so timestamps look like real ones.
constexpr int64_t kT0 = 1795305600000;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

SeriesKey Key(std::string metric, Labels labels = {}) {
  SeriesKey key{std::move(metric), std::move(labels)};
  key.Normalize();
  return key;
}

SeriesStore MakeStore(absl::Duration retention = absl::Hours(6), int shards = 4) {
  SeriesStore::Options options;
  options.retention = retention;
  options.shards = shards;
  return SeriesStore(options);
}

TEST(SeriesStore, ReadReturnsAppendedPointsInOrder) {
  SeriesStore store = MakeStore();
  SeriesKey key = Key("cpu.usage_percent", {{"host", "a"}});
  AppendResult r = store.Append(key, {{kT0, 1.5}, {kT0 + 10, 2.5}, {kT0 + 20, -3}}, kT0);
  EXPECT_EQ(r.appended, 3u);
  EXPECT_EQ(r.duplicates + r.out_of_order + r.too_old, 0u);
  EXPECT_THAT(store.Read(key, kMin, kMax),
              ElementsAre(DataPoint{kT0, 1.5}, DataPoint{kT0 + 10, 2.5}, DataPoint{kT0 + 20, -3}));
}

TEST(SeriesStore, ReadBoundsAreInclusive) {
  SeriesStore store = MakeStore();
  SeriesKey key = Key("m");
  std::vector<DataPoint> points;
  for (int i = 0; i < 300; ++i) points.push_back({kT0 + i * kSecond, double(i)});
  store.Append(key, points, kT0);
  std::vector<DataPoint> got = store.Read(key, kT0 + 100 * kSecond, kT0 + 250 * kSecond);
  ASSERT_EQ(got.size(), 151u);
  EXPECT_EQ(got.front(), (DataPoint{kT0 + 100 * kSecond, 100}));
  EXPECT_EQ(got.back(), (DataPoint{kT0 + 250 * kSecond, 250}));
  // Bounds between stored points.
  got = store.Read(key, kT0 + 100 * kSecond + 1, kT0 + 101 * kSecond - 1);
  EXPECT_THAT(got, IsEmpty());
  EXPECT_THAT(store.Read(key, kT0 + 5 * kSecond, kT0), IsEmpty());  // from > to
}

TEST(SeriesStore, ReadOfUnknownSeriesIsEmpty) {
  SeriesStore store = MakeStore();
  EXPECT_THAT(store.Read(Key("nope"), kMin, kMax), IsEmpty());
}

TEST(SeriesStore, SeriesWithDifferentLabelsAreSeparate) {
  SeriesStore store = MakeStore();
  store.Append(Key("m", {{"host", "a"}}), {{kT0, 1}}, kT0);
  store.Append(Key("m", {{"host", "b"}}), {{kT0, 2}}, kT0);
  EXPECT_THAT(store.Read(Key("m", {{"host", "a"}}), kMin, kMax), ElementsAre(DataPoint{kT0, 1}));
  EXPECT_THAT(store.Read(Key("m", {{"host", "b"}}), kMin, kMax), ElementsAre(DataPoint{kT0, 2}));
}

TEST(SeriesStore, DuplicateTimestampsAreIgnoredAndCounted) {
  SeriesStore store = MakeStore();
  SeriesKey key = Key("m");
  store.Append(key, {{kT0, 1}, {kT0 + 1000, 2}, {kT0 + 2000, 3}}, kT0);
  // A replay of the whole batch, one with a different value: all duplicates, values unchanged.
  AppendResult r = store.Append(key, {{kT0, 1}, {kT0 + 1000, 99}, {kT0 + 2000, 3}}, kT0);
  EXPECT_EQ(r.duplicates, 3u);
  EXPECT_EQ(r.appended, 0u);
  EXPECT_EQ(r.out_of_order, 0u);
  EXPECT_THAT(store.Read(key, kMin, kMax),
              ElementsAre(DataPoint{kT0, 1}, DataPoint{kT0 + 1000, 2}, DataPoint{kT0 + 2000, 3}));
  EXPECT_EQ(store.Stats().points, 3u);
}

TEST(SeriesStore, ReplayOverlappingNewPointsAppendsOnlyTheNewOnes) {
  SeriesStore store = MakeStore();
  SeriesKey key = Key("m");
  store.Append(key, {{kT0, 1}, {kT0 + 1000, 2}}, kT0);
  AppendResult r = store.Append(key, {{kT0, 1}, {kT0 + 1000, 2}, {kT0 + 2000, 3}}, kT0);
  EXPECT_EQ(r.duplicates, 2u);
  EXPECT_EQ(r.appended, 1u);
  EXPECT_EQ(store.Read(key, kMin, kMax).size(), 3u);
}

TEST(SeriesStore, DuplicateIsFoundInAnOlderChunk) {
  SeriesStore store = MakeStore();
  SeriesKey key = Key("m");
  std::vector<DataPoint> points;
  for (int i = 0; i < 1000; ++i) points.push_back({kT0 + i * kSecond, double(i)});
  store.Append(key, points, kT0);
  AppendResult r = store.Append(key, {{kT0 + 5 * kSecond, 5}, {kT0 + 500 * kSecond, 5}}, kT0);
  EXPECT_EQ(r.duplicates, 2u);
  EXPECT_EQ(r.out_of_order, 0u);
}

TEST(SeriesStore, OlderThanNewestIsRejectedAsOutOfOrder) {
  SeriesStore store = MakeStore();
  SeriesKey key = Key("m");
  store.Append(key, {{kT0, 1}, {kT0 + 2000, 3}}, kT0);
  // kT0 + 1000 lies between stored points; kT0 - 5 is before the first one.
  AppendResult r = store.Append(key, {{kT0 + 1000, 2}, {kT0 - 5, 0}, {kT0 + 3000, 4}}, kT0);
  EXPECT_EQ(r.out_of_order, 2u);
  EXPECT_EQ(r.appended, 1u);
  EXPECT_THAT(store.Read(key, kMin, kMax),
              ElementsAre(DataPoint{kT0, 1}, DataPoint{kT0 + 2000, 3}, DataPoint{kT0 + 3000, 4}));
}

TEST(SeriesStore, OlderThanRetentionIsRejectedAsTooOld) {
  SeriesStore store = MakeStore(absl::Hours(1));
  SeriesKey key = Key("m");
  int64_t now = kT0 + 2 * kHour;
  AppendResult r = store.Append(
      key, {{now - kHour - 1, 1}, {now - kHour, 2}, {now, 3}, {now + kSecond, 4}}, now);
  EXPECT_EQ(r.too_old, 1u);
  EXPECT_EQ(r.appended, 3u);
  EXPECT_THAT(store.Read(key, kMin, kMax), ElementsAre(DataPoint{now - kHour, 2}, DataPoint{now, 3},
                                                       DataPoint{now + kSecond, 4}));
}

TEST(SeriesStore, BatchOfOnlyTooOldPointsCreatesNoSeries) {
  SeriesStore store = MakeStore(absl::Hours(1));
  AppendResult r = store.Append(Key("m"), {{kT0, 1}}, kT0 + 2 * kHour);
  EXPECT_EQ(r.too_old, 1u);
  EXPECT_EQ(store.Stats().series, 0u);
  EXPECT_THAT(store.Select(SeriesSelector{}), IsEmpty());
}

TEST(SeriesStore, EvictDropsOldChunksButReadsFilterExactly) {
  SeriesStore store = MakeStore(absl::Hours(1));
  SeriesKey key = Key("m");
  // 2 hours at 10 s: 720 points, 6 chunks of 128 (the last partly filled).
  std::vector<DataPoint> points;
  for (int i = 0; i < 720; ++i) points.push_back({kT0 + i * 10 * kSecond, double(i)});
  store.Append(key, points, kT0);
  EXPECT_EQ(store.Stats().points, 720u);

  int64_t now = kT0 + 7190 * kSecond;  // newest point: cutoff is kT0 + 3590 s, i.e. point 359
  store.Evict(now);
  StoreStats stats = store.Stats();
  // Chunks 0 and 1 (points 0..255) end before the cutoff and are freed; chunk 2 (256..383)
  // straddles it and stays whole.
  EXPECT_EQ(stats.points, 720u - 256u);
  std::vector<DataPoint> kept = store.Read(key, now - kHour, now);
  ASSERT_EQ(kept.size(), 361u);
  EXPECT_EQ(kept.front(), (DataPoint{kT0 + 3590 * kSecond, 359}));
  EXPECT_EQ(kept.back(), (DataPoint{now, 719}));
}

TEST(SeriesStore, EvictRemovesSeriesLeftEmpty) {
  SeriesStore store = MakeStore(absl::Hours(1));
  store.Append(Key("old"), {{kT0, 1}}, kT0);
  store.Append(Key("fresh"), {{kT0 + 2 * kHour, 1}}, kT0 + 2 * kHour);
  ASSERT_EQ(store.Stats().series, 2u);
  store.Evict(kT0 + 2 * kHour);
  EXPECT_EQ(store.Stats().series, 1u);
  EXPECT_EQ(store.Stats().points, 1u);
  EXPECT_THAT(store.Read(Key("old"), kMin, kMax), IsEmpty());
  EXPECT_THAT(store.Select(SeriesSelector{}), ElementsAre(Key("fresh")));
}

TEST(SeriesStore, AfterEvictionOfASeriesItsOldTimestampsAreTooOld) {
  SeriesStore store = MakeStore(absl::Hours(1));
  store.Append(Key("m"), {{kT0, 1}}, kT0);
  store.Evict(kT0 + 2 * kHour);
  AppendResult r = store.Append(Key("m"), {{kT0, 1}}, kT0 + 2 * kHour);
  EXPECT_EQ(r.too_old, 1u);
  EXPECT_EQ(store.Stats().series, 0u);
}

TEST(SeriesStore, WraparoundKeepsExactlyTheLastRetention) {
  // 1 h retention at 10 s, written for 10 h in batches of one point as a scraper would, with
  // Evict every simulated minute: the ring wraps around many times.
  SeriesStore store = MakeStore(absl::Hours(1));
  SeriesKey key = Key("m", {{"host", "a"}});
  const int64_t step = 10 * kSecond;
  const int total = 3600;  // 10 h
  int64_t now = 0;
  for (int i = 0; i < total; ++i) {
    now = kT0 + i * step;
    AppendResult r = store.Append(key, {{now, i * 0.5}}, now);
    ASSERT_EQ(r.appended, 1u) << i;
    if (i % 6 == 0) store.Evict(now);
  }
  store.Evict(now);
  std::vector<DataPoint> kept = store.Read(key, now - kHour, now);
  ASSERT_EQ(kept.size(), 361u);  // both ends of the hour inclusive
  for (size_t j = 0; j < kept.size(); ++j) {
    int i = total - 361 + static_cast<int>(j);
    ASSERT_EQ(kept[j], (DataPoint{kT0 + i * step, i * 0.5})) << j;
  }
  // Whole chunks older than the cutoff are gone: at most one chunk of older points remains.
  std::vector<DataPoint> all = store.Read(key, kMin, kMax);
  EXPECT_LT(all.size(), 361u + internal::Chunk::kCapacity);
  EXPECT_GE(all.front().timestamp_ms, now - kHour - 128 * step);
  EXPECT_EQ(store.Stats().points, all.size());
}

TEST(SeriesStore, AppendDropsExpiredChunksWithoutEvict) {
  SeriesStore store = MakeStore(absl::Hours(1));
  SeriesKey key = Key("m");
  int64_t now = 0;
  for (int i = 0; i < 3600; ++i) {
    now = kT0 + i * 10 * kSecond;
    store.Append(key, {{now, double(i)}}, now);
  }
  EXPECT_LT(store.Stats().points, 361u + internal::Chunk::kCapacity);
}

TEST(SeriesStore, GapLongerThanUint32OffsetsStartsANewChunk) {
  // 2^32 ms is about 49.7 days; retention is long enough to keep everything.
  SeriesStore store = MakeStore(absl::Hours(24 * 400));
  SeriesKey key = Key("m");
  const int64_t limit = std::numeric_limits<uint32_t>::max();
  std::vector<DataPoint> points = {
      {kT0, 1},
      {kT0 + limit, 2},          // largest offset that fits the first chunk
      {kT0 + limit + 1, 3},      // would overflow: new chunk based here
      {kT0 + 2 * limit + 1, 4},  // fits the second chunk exactly
      {kT0 + 2 * limit + 2, 5},  // third chunk
      {kT0 + 300 * kDay, 6},     // far beyond any offset
  };
  int64_t now = kT0 + 300 * kDay;
  AppendResult r = store.Append(key, points, now);
  EXPECT_EQ(r.appended, 6u);
  EXPECT_EQ(store.Read(key, kMin, kMax), points);
  // Four chunks were needed for six points.
  EXPECT_EQ(store.Stats().bytes, 4 * sizeof(internal::Chunk) + 4 * sizeof(void*));
  // Exact lookups across chunk boundaries: duplicates found, reads bounded exactly.
  EXPECT_EQ(store.Append(key, {{kT0 + limit + 1, 0}}, now).duplicates, 1u);
  EXPECT_EQ(store.Append(key, {{kT0 + limit + 2, 0}}, now).out_of_order, 1u);
  EXPECT_THAT(store.Read(key, kT0 + limit, kT0 + limit + 1),
              ElementsAre(DataPoint{kT0 + limit, 2}, DataPoint{kT0 + limit + 1, 3}));
}

TEST(SeriesStore, NegativeTimestampsAreStored) {
  SeriesStore store = MakeStore(absl::Hours(1));
  SeriesKey key = Key("m");
  store.Append(key, {{-2000, 1}, {-1000, 2}, {0, 3}}, 0);
  EXPECT_THAT(store.Read(key, -1500, 0), ElementsAre(DataPoint{-1000, 2}, DataPoint{0, 3}));
}

TEST(SeriesStore, SelectReturnsMatchingKeysSorted) {
  SeriesStore store = MakeStore(absl::Hours(1), 8);
  for (const char* host : {"web2", "db1", "web1", "db2"}) {
    store.Append(Key("cpu", {{"host", host}}), {{kT0, 1}}, kT0);
    store.Append(Key("mem", {{"host", host}}), {{kT0, 1}}, kT0);
  }
  absl::StatusOr<SeriesSelector> selector = ParseSelector(R"(cpu{host=~"web.*"})");
  ASSERT_TRUE(selector.ok());
  EXPECT_THAT(store.Select(*selector),
              ElementsAre(Key("cpu", {{"host", "web1"}}), Key("cpu", {{"host", "web2"}})));
  std::vector<SeriesKey> all = store.Select(SeriesSelector{});
  ASSERT_EQ(all.size(), 8u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(all.front(), Key("cpu", {{"host", "db1"}}));
  EXPECT_EQ(all.back(), Key("mem", {{"host", "web2"}}));
}

TEST(SeriesStore, StatsBytesFollowChunksOfPoints) {
  SeriesStore store = MakeStore(absl::Hours(6));
  EXPECT_EQ(store.Stats().bytes, 0u);
  const uint64_t chunk = sizeof(internal::Chunk);
  SeriesKey key = Key("m");
  // One point: one whole chunk and a ring of two slots.
  store.Append(key, {{kT0, 0}}, kT0);
  StoreStats s = store.Stats();
  EXPECT_EQ(s.series, 1u);
  EXPECT_EQ(s.points, 1u);
  EXPECT_EQ(s.bytes, chunk + 2 * sizeof(void*));
  // 2160 points (6 h at 10 s) fill 17 chunks, the last one partly; the ring holds 32 slots.
  std::vector<DataPoint> points;
  for (int i = 1; i < 2160; ++i) points.push_back({kT0 + i * 10 * kSecond, double(i)});
  store.Append(key, points, kT0);
  s = store.Stats();
  EXPECT_EQ(s.points, 2160u);
  EXPECT_EQ(s.bytes, 17 * chunk + 32 * sizeof(void*));
  EXPECT_LE(static_cast<double>(s.bytes) / s.points, 16.0);
  EXPECT_GT(s.key_bytes, 0u);
}

TEST(SeriesStore, ChunkHoldsAPointInAboutTwelveBytes) {
  EXPECT_LE(sizeof(internal::Chunk), 12 * internal::Chunk::kCapacity + 16);
}

TEST(SeriesStore, ConcurrentWritersOfDistinctSeriesLoseNothing) {
  SeriesStore store = MakeStore(absl::Hours(6), 16);
  constexpr int kThreads = 8;
  constexpr int kSeriesPerThread = 1000;
  constexpr int kPoints = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      // Interleave series so threads contend on the same shards all the time.
      for (int p = 0; p < kPoints; ++p) {
        int64_t ts = kT0 + p * 10 * kSecond;
        for (int s = 0; s < kSeriesPerThread; ++s) {
          SeriesKey key = Key("load", {{"thread", absl::StrCat(t)}, {"series", absl::StrCat(s)}});
          store.Append(key, {{ts, t * 1e6 + s * 1e3 + p}}, ts);
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();

  StoreStats stats = store.Stats();
  EXPECT_EQ(stats.series, uint64_t{kThreads * kSeriesPerThread});
  EXPECT_EQ(stats.points, uint64_t{kThreads * kSeriesPerThread * kPoints});
  for (int t = 0; t < kThreads; ++t) {
    for (int s = 0; s < kSeriesPerThread; ++s) {
      SeriesKey key = Key("load", {{"thread", absl::StrCat(t)}, {"series", absl::StrCat(s)}});
      std::vector<DataPoint> got = store.Read(key, kMin, kMax);
      ASSERT_EQ(got.size(), size_t{kPoints}) << key.ToString();
      for (int p = 0; p < kPoints; ++p) {
        ASSERT_EQ(got[p], (DataPoint{kT0 + p * 10 * kSecond, t * 1e6 + s * 1e3 + p}))
            << key.ToString() << " point " << p;
      }
    }
  }
}

TEST(SeriesStore, ConcurrentWritersOfTheSameSeriesKeepItOrderedAndComplete) {
  // Every writer offers the same points: each timestamp is stored once, the rest counted.
  SeriesStore store = MakeStore();
  SeriesKey key = Key("shared");
  constexpr int kThreads = 4;
  constexpr int kPoints = 2000;
  std::atomic<uint64_t> appended{0}, rejected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int p = 0; p < kPoints; ++p) {
        AppendResult r = store.Append(key, {{kT0 + p, double(p)}}, kT0);
        appended += r.appended;
        rejected += r.duplicates + r.out_of_order;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::vector<DataPoint> got = store.Read(key, kMin, kMax);
  EXPECT_EQ(appended.load(), got.size());
  EXPECT_EQ(appended + rejected, uint64_t{kThreads * kPoints});
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1].timestamp_ms, got[i].timestamp_ms);
  for (const DataPoint& p : got) ASSERT_EQ(p.value, double(p.timestamp_ms - kT0));
}

TEST(SeriesStore, ReadersSeeConsistentPrefixesWhileWritersAppend) {
  SeriesStore store = MakeStore(absl::Hours(6), 8);
  constexpr int kWriters = 2;
  constexpr int kSeries = 50;
  constexpr int kPoints = 400;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  std::atomic<int> bad{0};
  auto key_of = [](int w, int s) {
    return Key("rw", {{"w", absl::StrCat(w)}, {"s", absl::StrCat(s)}});
  };
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int p = 0; p < kPoints; ++p) {
        for (int s = 0; s < kSeries; ++s) {
          store.Append(key_of(w, s), {{kT0 + p * kSecond, double(p)}}, kT0);
        }
      }
    });
  }
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      absl::StatusOr<SeriesSelector> selector =
          ParseSelector(absl::StrCat("rw{w=\"", r % kWriters, "\"}"));
      // Keeps reading until the writers finish, and at least a few rounds.
      for (int round = 0; !done.load() || round < 5; ++round) {
        for (const SeriesKey& key : store.Select(*selector)) {
          std::vector<DataPoint> got = store.Read(key, kMin, kMax);
          // Every read is a prefix 0, 1, 2, ... of what the writer appends.
          for (size_t i = 0; i < got.size(); ++i) {
            if (!(got[i] == DataPoint{kT0 + static_cast<int64_t>(i) * kSecond, double(i)})) ++bad;
          }
          ++reads;
        }
        store.Stats();
      }
    });
  }
  for (std::thread& th : writers) th.join();
  done = true;
  for (std::thread& th : readers) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(store.Stats().points, uint64_t{kWriters * kSeries * kPoints});
}

TEST(SeriesStore, ConcurrentEvictAndAppendKeepCountersExact) {
  SeriesStore store = MakeStore(absl::Minutes(1), 4);
  std::atomic<bool> done{false};
  std::atomic<int64_t> newest{kT0};  // evicts as of the writers' clock, never ahead of it
  std::thread evictor([&] {
    while (!done.load()) store.Evict(newest.load());
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int p = 0; p < 3000; ++p) {
        int64_t ts = kT0 + p * kSecond;
        store.Append(Key("ev", {{"w", absl::StrCat(w)}, {"s", absl::StrCat(p % 7)}}), {{ts, 1}},
                     ts);
        if (w == 0) newest = ts;
      }
    });
  }
  for (std::thread& th : writers) th.join();
  done = true;
  evictor.join();
  uint64_t points = 0;
  for (const SeriesKey& key : store.Select(SeriesSelector{})) {
    points += store.Read(key, kMin, kMax).size();
  }
  StoreStats stats = store.Stats();
  EXPECT_EQ(stats.points, points);
  EXPECT_GT(stats.points, 0u);
}

}  // namespace
}  // namespace vigil::collector
