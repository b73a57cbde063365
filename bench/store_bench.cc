// Benchmarks of the collector's in-memory series store (collector/store/series_store.h).
// Figures are recorded in docs/performance.md, section "Series store".

#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "collector/store/series_store.h"

namespace vigil::collector {
namespace {

constexpr int64_t kStepMs = 10'000;                           // 10 s resolution
constexpr int64_t kRetentionMs = 6 * 3600 * 1000;             // 6 h
constexpr int64_t kPointsPerSeries = kRetentionMs / kStepMs;  // 2160
constexpr int64_t kT0 = 1795305600000;                        // 2026-11-22T00:00:00Z

// Keys shaped like real ones: ten metrics per host, `hosts` hosts.
std::vector<SeriesKey> MakeKeys(int count, absl::string_view prefix) {
  static constexpr const char* kMetrics[] = {"system.cpu.usage_percent",
                                             "system.mem.used_bytes",
                                             "system.load.1m",
                                             "system.disk.used_percent",
                                             "system.net.rx_bytes",
                                             "system.net.tx_bytes",
                                             "postgres.connections",
                                             "postgres.replication.lag_bytes",
                                             "nginx.requests_per_second",
                                             "redis.used_memory_bytes"};
  std::vector<SeriesKey> keys;
  keys.reserve(count);
  for (int i = 0; i < count; ++i) {
    SeriesKey key{kMetrics[i % 10],
                  {{"env", "prod"}, {"host", absl::StrCat(prefix, "host-", i / 10)}}};
    key.Normalize();
    keys.push_back(std::move(key));
  }
  return keys;
}

SeriesStore::Options StoreOptions() {
  SeriesStore::Options options;
  options.retention = absl::Milliseconds(kRetentionMs);
  options.shards = 16;
  return options;
}

// Shared by the threads of one run of BM_Append.
std::unique_ptr<SeriesStore> g_store;

void CreateStore(const benchmark::State&) {
  g_store = std::make_unique<SeriesStore>(StoreOptions());
}
void DestroyStore(const benchmark::State&) { g_store.reset(); }

// Appends points round-robin over 1,000 series per thread (each thread its own series), in
// batches of range(0) consecutive points per series, as the ingest path does. The timestamps
// keep advancing, so long runs also exercise retention (expired chunks freed on append).
// items_per_second is datapoints per second over all threads (wall clock).
void BM_Append(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  constexpr int kSeries = 1000;
  std::vector<SeriesKey> keys = MakeKeys(kSeries, absl::StrCat("t", state.thread_index(), "-"));
  std::vector<DataPoint> points(batch);
  int64_t round = 0;
  int series = 0;
  for (auto _ : state) {
    int64_t t = kT0 + round * batch * kStepMs;
    for (int i = 0; i < batch; ++i) points[i] = {t + i * kStepMs, static_cast<double>(i)};
    AppendResult r = g_store->Append(keys[series], points, t + (batch - 1) * kStepMs);
    benchmark::DoNotOptimize(r);
    if (++series == kSeries) {
      series = 0;
      ++round;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_Append)
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(10)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Setup(CreateStore)
    ->Teardown(DestroyStore);

uint64_t HeapInUse() { return mallinfo2().uordblks; }

// `now_ms` is the newest timestamp written; the retention window is [now_ms - 6 h, now_ms].
void ReportMemory(benchmark::State& state, const SeriesStore& store, uint64_t heap_before,
                  int64_t now_ms) {
  StoreStats stats = store.Stats();
  uint64_t heap_bytes = HeapInUse() - heap_before;
  // Stats().points also counts points past retention that share a chunk with newer ones;
  // bytes_per_retained_point charges the memory to the points a reader can still ask for.
  uint64_t retained = 0;
  for (const SeriesKey& key : store.Select(SeriesSelector{})) {
    retained += store.Read(key, now_ms - kRetentionMs, now_ms).size();
  }
  state.counters["bytes_per_retained_point"] = static_cast<double>(stats.bytes) / retained;
  state.counters["series"] = static_cast<double>(stats.series);
  state.counters["points"] = static_cast<double>(stats.points);
  state.counters["bytes_per_point"] = static_cast<double>(stats.bytes) / stats.points;
  state.counters["key_bytes_per_series"] = static_cast<double>(stats.key_bytes) / stats.series;
  // What malloc says the whole store holds (points, keys, map, allocator overhead) per point.
  state.counters["heap_bytes_per_point"] = static_cast<double>(heap_bytes) / stats.points;
}

// Fills 10,000 series with 6 h at 10 s (2,160 points each), written as a collector receives
// them: every series once per 10 s tick. Reports memory per stored datapoint.
void BM_MemoryFill6h(benchmark::State& state) {
  constexpr int kSeries = 10'000;
  std::vector<SeriesKey> keys = MakeKeys(kSeries, "");
  for (auto _ : state) {
    uint64_t heap_before = HeapInUse();
    auto store = std::make_unique<SeriesStore>(StoreOptions());
    for (int64_t tick = 0; tick < kPointsPerSeries; ++tick) {
      int64_t t = kT0 + tick * kStepMs;
      for (const SeriesKey& key : keys) store->Append(key, {{t, static_cast<double>(tick)}}, t);
    }
    state.PauseTiming();
    ReportMemory(state, *store, heap_before, kT0 + (kPointsPerSeries - 1) * kStepMs);
    state.SetItemsProcessed(kSeries * kPointsPerSeries);
    store.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_MemoryFill6h)->Iterations(1)->Unit(benchmark::kMillisecond);

// Steady state: 12 h written with Evict() once per simulated minute, so every ring has wrapped
// around and holds a partly expired oldest chunk and a partly filled newest one. Reports the
// figures at the end and the worst bytes_per_point seen after any Evict() of the second 6 h.
void BM_MemorySteadyState(benchmark::State& state) {
  constexpr int kSeries = 10'000;
  std::vector<SeriesKey> keys = MakeKeys(kSeries, "");
  for (auto _ : state) {
    uint64_t heap_before = HeapInUse();
    auto store = std::make_unique<SeriesStore>(StoreOptions());
    double worst = 0;
    for (int64_t tick = 0; tick < 2 * kPointsPerSeries; ++tick) {
      int64_t t = kT0 + tick * kStepMs;
      for (const SeriesKey& key : keys) store->Append(key, {{t, static_cast<double>(tick)}}, t);
      if (tick % 6 == 5) {
        store->Evict(t);
        if (tick >= kPointsPerSeries) {
          StoreStats stats = store->Stats();
          worst = std::max(worst, static_cast<double>(stats.bytes) / stats.points);
        }
      }
    }
    state.PauseTiming();
    ReportMemory(state, *store, heap_before, kT0 + (2 * kPointsPerSeries - 1) * kStepMs);
    state.counters["max_bytes_per_point"] = worst;
    state.SetItemsProcessed(2 * kSeries * kPointsPerSeries);
    store.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_MemorySteadyState)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::collector

BENCHMARK_MAIN();
