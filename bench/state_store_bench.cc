// Benchmark of the SQLite state store (alerting/state/sqlite_state_store.h): the cost of
// persisting one evaluation round. Figures are recorded in docs/performance.md, section
// "State store".

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "alerting/state/sqlite_state_store.h"
#include "benchmark/benchmark.h"

namespace vigil::alerting {
namespace {

constexpr int kBatch = 1000;       // records per SaveAlarms call (one transaction)
constexpr int kPeriodBytes = 480;  // ~30 serialized periods per instance

// A fresh directory for the database, removed at the end of the benchmark.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vigil-bench-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// SaveAlarms of kBatch records per transaction into a table holding state.range(0) instances
// (the batch walks over them, so every call updates existing rows as a running engine does).
void BM_SaveAlarms(benchmark::State& state) {
  const int instances = static_cast<int>(state.range(0));
  ScratchDir dir;
  auto store = SqliteStateStore::Open(dir.path() + "/state.db");
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  std::vector<AlarmRecord> records(instances);
  for (int i = 0; i < instances; ++i) {
    AlarmRecord& r = records[i];
    r.rule = absl::StrCat("rule-", i % 100);
    r.instance = absl::StrCat("{host=\"host-", i / 100, "\"}");
    r.state = AlarmState::kOk;
    r.state_since_ms = 1795305600000;
    r.rule_fingerprint = 0x9e3779b97f4a7c15ULL * (i % 100);
    r.last_data_ms = 1795305600000;
    r.periods.assign(kPeriodBytes, static_cast<char>(i));
  }
  for (int begin = 0; begin < instances; begin += kBatch) {
    std::vector<AlarmRecord> batch(records.begin() + begin,
                                   records.begin() + std::min(begin + kBatch, instances));
    if (!(*store)->SaveAlarms(batch).ok()) {
      state.SkipWithError("initial fill failed");
      return;
    }
  }

  int64_t round = 0;
  std::vector<AlarmRecord> batch(kBatch);
  for (auto _ : state) {
    state.PauseTiming();
    const int begin = static_cast<int>((round * kBatch) % instances);
    for (int i = 0; i < kBatch; ++i) {
      batch[i] = records[(begin + i) % instances];
      batch[i].last_data_ms += 60000 * (round + 1);
    }
    ++round;
    state.ResumeTiming();
    absl::Status status = (*store)->SaveAlarms(batch);
    if (!status.ok()) {
      state.SkipWithError(std::string(status.message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_SaveAlarms)->Arg(1000)->Arg(100000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace vigil::alerting

BENCHMARK_MAIN();
