// Benchmarks of the rule engine (alerting/engine/alarm_engine.h) on one thread: Observe
// throughput with 100,000 alarm instances, its independence from unrelated rules, the cost of a
// period close (a one-series rule with avg and with p99, and a metric-math rule), the latency of
// an alarm decision, a close in which every instance changes state, and Alarms()/Snapshot().
// Period closes report wall and thread CPU time. Figures are recorded in docs/performance.md,
// section "Rule engine".

#include <malloc.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "alerting/engine/alarm_engine.h"
#include "alerting/rules/loader.h"
#include "benchmark/benchmark.h"
#include "common/series_key.h"

namespace vigil::alerting {
namespace {

// 100,000 hosts; VIGIL_ENGINE_BENCH_HOSTS=<n> shortens a run for a profiler (callgrind).
int Hosts() {
  static const int hosts = [] {
    const char* env = getenv("VIGIL_ENGINE_BENCH_HOSTS");
    return env != nullptr && atoi(env) > 0 ? atoi(env) : 100000;
  }();
  return hosts;
}
constexpr int64_t kStartMs = 1800000000000;  // a multiple of the 60 s period
constexpr int64_t kPeriodMs = 60000;
constexpr int64_t kDelayMs = 10000;   // the rules' default evaluation_delay
constexpr int64_t kScrapeMs = 10000;  // one point per host every 10 s: 6 per period

constexpr char kCpuRule[] = R"(  - name: cpu-high
    metric: system.cpu.utilization
    group_by: [host]
    period: 60s
    evaluation_periods: 3
    comparison: ">"
    threshold: 90
)";

// The CPU rule plus `other_metric` rules on metrics no point carries and `same_metric` rules on
// system.cpu.utilization whose `where:` matches no series.
std::shared_ptr<const RuleSet> BuildRules(int other_metric, int same_metric) {
  std::string yaml = absl::StrCat("rules:\n", kCpuRule);
  for (int i = 0; i < other_metric; ++i) {
    absl::StrAppend(&yaml, "  - name: other-", i, "\n    metric: app.other.m", i,
                    "\n    group_by: [host]\n    threshold: 1\n");
  }
  for (int i = 0; i < same_metric; ++i) {
    absl::StrAppend(&yaml, "  - name: same-", i,
                    "\n    metric: system.cpu.utilization\n    where: {role: db-", i,
                    "}\n    group_by: [host]\n    threshold: 1\n");
  }
  absl::StatusOr<std::shared_ptr<const RuleSet>> rules = ParseRuleSet({{"b.yaml", yaml}});
  if (!rules.ok()) {
    fprintf(stderr, "rule set: %s\n", std::string(rules.status().message()).c_str());
    abort();
  }
  return *rules;
}

// Rule sets are parsed once per shape: parsing 10,000 rules is setup, not the measurement.
std::shared_ptr<const RuleSet> Rules(int other_metric, int same_metric) {
  static auto* cache = new std::map<std::pair<int, int>, std::shared_ptr<const RuleSet>>();
  auto& slot = (*cache)[{other_metric, same_metric}];
  if (slot == nullptr) slot = BuildRules(other_metric, same_metric);
  return slot;
}

// Series keys as the agent labels them, built once so that key construction is not measured.
const std::vector<SeriesKey>& CpuKeys() {
  static auto* keys = [] {
    auto* k = new std::vector<SeriesKey>();
    k->reserve(Hosts());
    for (int i = 0; i < Hosts(); ++i) {
      SeriesKey key{
          "system.cpu.utilization",
          {{"env", "prod"}, {"host", absl::StrCat("host-", 100000 + i)}, {"role", "web"}}};
      key.Normalize();
      k->push_back(std::move(key));
    }
    return k;
  }();
  return *keys;
}

double LowValue(int host) { return 20 + host % 50; }  // always below the threshold of 90

// Feeds one period [start, start + 60 s) for every host (6 points each, scrape order).
void FeedPeriod(AlarmEngine& engine, int64_t start, bool breach) {
  const std::vector<SeriesKey>& keys = CpuKeys();
  const int hosts = Hosts();
  for (int64_t ts = start; ts < start + kPeriodMs; ts += kScrapeMs) {
    for (int i = 0; i < hosts; ++i) {
      engine.Observe(keys[i], ts, breach && i == hosts / 2 ? 99 : LowValue(i));
    }
  }
}

// CPU time of the calling thread, in seconds: on a shared machine the wall clock also counts
// the time other processes held the core.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The measured period closes go through this one function, so that a profiler can count them
// alone: `valgrind --tool=callgrind --toggle-collect='*TimedAdvance*'` leaves out the warm-up
// and the feeding of the periods.
struct TimedResult {
  std::vector<Transition> transitions;
  double wall_s = 0;
  double cpu_s = 0;
};
__attribute__((noinline)) TimedResult TimedAdvance(AlarmEngine& engine, int64_t now_ms) {
  TimedResult r;
  const double cpu0 = ThreadCpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  r.transitions = engine.AdvanceTo(now_ms);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_s = ThreadCpuSeconds() - cpu0;
  return r;
}

double PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // kilobytes on Linux
}

// One Observe per iteration, round-robin over 100k hosts, timestamps advancing 10 s per round.
// Each period is closed (AdvanceTo) when the next one is 10 s old, as the collector would; the
// closes are paused out of the measurement (BM_PeriodClose measures them).
void ObserveLoop(benchmark::State& state, std::shared_ptr<const RuleSet> rules) {
  const std::vector<SeriesKey>& keys = CpuKeys();
  const int hosts = Hosts();
  AlarmEngine engine(std::move(rules));
  for (int i = 0; i < hosts; ++i) engine.Observe(keys[i], kStartMs, LowValue(i));
  state.counters["peak_rss_MB"] = PeakRssMb();
  int i = 1;  // host 0 at kStartMs is fed already: the round continues at host 1
  int64_t ts = kStartMs;
  for (auto _ : state) {
    engine.Observe(keys[i], ts, LowValue(i));
    if (++i == hosts) {
      i = 0;
      ts += kScrapeMs;
      if (ts % kPeriodMs == kDelayMs) {
        state.PauseTiming();
        benchmark::DoNotOptimize(engine.AdvanceTo(ts));
        state.ResumeTiming();
      }
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["instances"] = hosts;
}

// 1. Rule-matched Observe throughput: one rule, 100k instances.
void BM_Observe(benchmark::State& state) { ObserveLoop(state, Rules(0, 0)); }

// 2a. The same workload with state.range(0) more rules on other metrics.
void BM_ObserveUnrelatedRules(benchmark::State& state) {
  ObserveLoop(state, Rules(static_cast<int>(state.range(0)), 0));
}

// 2b. The same workload with state.range(0) more rules on the same metric whose `where:`
// matches no series: the per-rule matcher cost that metric indexing cannot remove.
void BM_ObserveSameMetricNonMatchingRules(benchmark::State& state) {
  ObserveLoop(state, Rules(0, static_cast<int>(state.range(0))));
}

// Builds an engine whose 100k instances have five closed periods (the evaluation range of
// N = 3 is N + 2 = 5, so it is full) and are OK: the steady state of a running collector.
// Returns the next period's start.
int64_t WarmUp(AlarmEngine& engine) {
  int64_t start = kStartMs;
  for (int p = 0; p < 5; ++p, start += kPeriodMs) {
    FeedPeriod(engine, start, false);
    engine.AdvanceTo(start + kPeriodMs + kDelayMs);
  }
  return start;
}

// 3. One period close (AdvanceTo across one boundary) with 100k instances each holding the
// period's 6 points; no transitions. Manual time: only the AdvanceTo call is timed.
void PeriodCloseLoop(benchmark::State& state, std::shared_ptr<const RuleSet> rules) {
  AlarmEngine engine(std::move(rules));
  int64_t start = WarmUp(engine);
  double total_s = 0, max_s = 0, cpu_s = 0;
  int64_t transitions = 0;
  for (auto _ : state) {
    FeedPeriod(engine, start, false);
    TimedResult r = TimedAdvance(engine, start + kPeriodMs + kDelayMs);
    state.SetIterationTime(r.wall_s);
    total_s += r.wall_s;
    max_s = std::max(max_s, r.wall_s);
    cpu_s += r.cpu_s;
    transitions += static_cast<int64_t>(r.transitions.size());
    start += kPeriodMs;
  }
  state.counters["ns_per_instance"] = total_s * 1e9 / state.iterations() / Hosts();
  state.counters["max_close_ms"] = max_s * 1e3;
  state.counters["cpu_ms_per_close"] = cpu_s * 1e3 / state.iterations();
  state.counters["transitions"] = static_cast<double>(transitions);
}

void BM_PeriodClose(benchmark::State& state) { PeriodCloseLoop(state, Rules(0, 0)); }

// PeriodCloseLoop over the rule set in `yaml`.
void PeriodCloseOf(benchmark::State& state, const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const RuleSet>> rules = ParseRuleSet({{"b.yaml", yaml}});
  if (!rules.ok()) {
    state.SkipWithError("rule set");
    return;
  }
  PeriodCloseLoop(state, *rules);
}

// 3a. The same rule with `statistic: p99`: each period's 6 points per instance are kept and
// sorted at the close.
void BM_PeriodCloseP99(benchmark::State& state) {
  PeriodCloseOf(state, absl::StrCat("rules:\n", kCpuRule, "    statistic: p99\n"));
}

// 3c. The same rule with `statistic: rate` (a counter's per-second increase): the general
// per-query path, keeping each period's points and the series' last point before the period.
void BM_PeriodCloseRate(benchmark::State& state) {
  PeriodCloseOf(state, absl::StrCat("rules:\n", kCpuRule, "    statistic: rate\n"));
}

// 3d. A fleet aggregate: one instance over all 100k series (each host's average, averaged over
// the fleet), as the shipped env-web-cpu-near-capacity rule.
void BM_PeriodCloseFleetAggregate(benchmark::State& state) {
  PeriodCloseOf(state, R"(rules:
  - name: fleet-cpu
    metric: system.cpu.utilization
    statistic: avg
    aggregate: avg
    period: 60s
    evaluation_periods: 3
    comparison: ">"
    threshold: 90
)");
}

// 4. Decision latency: one instance of 100k breaches for 3 periods (M = N = 3); the time of the
// AdvanceTo at the third period's due close, which returns its ALARM transition, is measured.
// Between measurements an untimed low period returns the instance to OK.
void BM_DecisionLatency(benchmark::State& state) {
  AlarmEngine engine(Rules(0, 0));
  int64_t start = WarmUp(engine);
  double max_s = 0, cpu_s = 0;
  for (auto _ : state) {
    for (int p = 0; p < 2; ++p, start += kPeriodMs) {
      FeedPeriod(engine, start, true);
      if (!engine.AdvanceTo(start + kPeriodMs + kDelayMs).empty()) {
        state.SkipWithError("a transition before the deciding period");
        return;
      }
    }
    FeedPeriod(engine, start, true);
    TimedResult r = TimedAdvance(engine, start + kPeriodMs + kDelayMs);
    std::vector<Transition> out = std::move(r.transitions);
    state.SetIterationTime(r.wall_s);
    max_s = std::max(max_s, r.wall_s);
    cpu_s += r.cpu_s;
    start += kPeriodMs;
    if (out.size() != 1 || out[0].to != AlarmState::kAlarm) {
      state.SkipWithError("the deciding close did not return exactly one ALARM transition");
      return;
    }
    FeedPeriod(engine, start, false);
    out = engine.AdvanceTo(start + kPeriodMs + kDelayMs);
    start += kPeriodMs;
    if (out.size() != 1 || out[0].to != AlarmState::kOk) {
      state.SkipWithError("the low period did not return the instance to OK");
      return;
    }
  }
  state.counters["max_decision_ms"] = max_s * 1e3;
  state.counters["cpu_ms_per_decision"] = cpu_s * 1e3 / state.iterations();
}

// 3b. As BM_PeriodClose for a metric-math rule: each of the 100k instances is two series (5xx
// responses and requests of a host, one point each per 10 s), so a close goes through the
// general per-instance path (several series, an expression) rather than the one-series one.
constexpr char kShareRule[] = R"(rules:
  - name: web-5xx-share
    queries:
      errors: {metric: nginx.responses, where: {status_class: 5xx}, statistic: sum}
      requests: {metric: nginx.requests, statistic: sum}
    expression: 100 * errors / requests
    group_by: [host]
    period: 60s
    evaluation_periods: 3
    comparison: ">"
    threshold: 5
)";

void BM_PeriodCloseMetricMath(benchmark::State& state) {
  absl::StatusOr<std::shared_ptr<const RuleSet>> rules = ParseRuleSet({{"m.yaml", kShareRule}});
  if (!rules.ok()) {
    state.SkipWithError("rule set");
    return;
  }
  std::vector<SeriesKey> errors, requests;
  for (int i = 0; i < Hosts(); ++i) {
    const std::string host = absl::StrCat("host-", 100000 + i);
    errors.push_back({"nginx.responses", {{"host", host}, {"status_class", "5xx"}}});
    requests.push_back({"nginx.requests", {{"host", host}}});
  }
  AlarmEngine engine(*rules);
  auto feed = [&](int64_t start) {
    for (int64_t ts = start; ts < start + kPeriodMs; ts += kScrapeMs) {
      for (int i = 0; i < Hosts(); ++i) {
        engine.Observe(errors[i], ts, i % 3);  // at most 2 of 100 requests: never above 5 %
        engine.Observe(requests[i], ts, 100);
      }
    }
  };
  int64_t start = kStartMs;
  for (int p = 0; p < 5; ++p, start += kPeriodMs) {
    feed(start);
    engine.AdvanceTo(start + kPeriodMs + kDelayMs);
  }
  double total_s = 0, max_s = 0, cpu_s = 0;
  int64_t transitions = 0;
  for (auto _ : state) {
    feed(start);
    TimedResult r = TimedAdvance(engine, start + kPeriodMs + kDelayMs);
    state.SetIterationTime(r.wall_s);
    total_s += r.wall_s;
    max_s = std::max(max_s, r.wall_s);
    cpu_s += r.cpu_s;
    transitions += static_cast<int64_t>(r.transitions.size());
    start += kPeriodMs;
  }
  state.counters["ns_per_instance"] = total_s * 1e9 / state.iterations() / Hosts();
  state.counters["max_close_ms"] = max_s * 1e3;
  state.counters["cpu_ms_per_close"] = cpu_s * 1e3 / state.iterations();
  state.counters["transitions"] = static_cast<double>(transitions);
}

// 5. Every instance changes state at the same close: all 100k hosts report 99 for three
// periods, and the third close returns 100k transitions to ALARM, each with its reason (the
// worst case: a fleet-wide incident). Timed like BM_PeriodClose.
void BM_MassTransition(benchmark::State& state) {
  double cpu_s = 0;
  for (auto _ : state) {
    // Manual time: only TimedAdvance counts, not this setup or the engine's destruction.
    AlarmEngine engine(Rules(0, 0));
    int64_t start = WarmUp(engine);
    const std::vector<SeriesKey>& keys = CpuKeys();
    for (int p = 0; p < 3; ++p, start += kPeriodMs) {
      for (int64_t ts = start; ts < start + kPeriodMs; ts += kScrapeMs) {
        for (int i = 0; i < Hosts(); ++i) engine.Observe(keys[i], ts, 99);
      }
      if (p < 2) engine.AdvanceTo(start + kPeriodMs + kDelayMs);
    }
    start -= kPeriodMs;
    TimedResult r = TimedAdvance(engine, start + kPeriodMs + kDelayMs);
    state.SetIterationTime(r.wall_s);
    cpu_s += r.cpu_s;
    if (r.transitions.size() != static_cast<size_t>(Hosts())) {
      state.SkipWithError("the close did not return one transition per instance");
      return;
    }
  }
  state.counters["cpu_ms_per_close"] = cpu_s * 1e3 / state.iterations();
}

// 6. What the collector's evaluator also asks of the engine on its thread: Alarms() (every
// round, for the API and metrics) and Snapshot() (after transitions, to save) with 100k
// instances in the steady state. Not part of a decision; measured so their cost is known.
void BM_AlarmsAndSnapshot(benchmark::State& state) {
  AlarmEngine engine(Rules(0, 0));
  const int64_t start = WarmUp(engine);
  FeedPeriod(engine, start, false);
  double alarms_s = 0, snapshot_s = 0;
  for (auto _ : state) {
    double t0 = ThreadCpuSeconds();
    std::vector<AlarmView> views = engine.Alarms();
    double t1 = ThreadCpuSeconds();
    std::vector<AlarmRecord> records = engine.Snapshot();
    double t2 = ThreadCpuSeconds();
    alarms_s += t1 - t0;
    snapshot_s += t2 - t1;
    if (views.size() != static_cast<size_t>(Hosts()) ||
        records.size() != static_cast<size_t>(Hosts())) {
      state.SkipWithError("not one view and one record per instance");
      return;
    }
  }
  state.counters["alarms_cpu_ms"] = alarms_s * 1e3 / state.iterations();
  state.counters["snapshot_cpu_ms"] = snapshot_s * 1e3 / state.iterations();
}

// Memory: heap bytes per instance in the steady state (5 closed periods, one open period with
// 6 points per instance), from glibc's allocator statistics, and the process's peak RSS. Run it
// alone (--benchmark_filter=BM_Memory) so that earlier benchmarks do not raise the peak.
void BM_MemoryPerInstance(benchmark::State& state) {
  const std::vector<SeriesKey>& keys = CpuKeys();
  std::shared_ptr<const RuleSet> rules = Rules(0, 0);
  for (auto _ : state) {
    const size_t before = mallinfo2().uordblks;
    AlarmEngine engine(rules);
    int64_t start = WarmUp(engine);
    FeedPeriod(engine, start, false);
    const size_t after = mallinfo2().uordblks;
    state.counters["heap_bytes_per_instance"] =
        static_cast<double>(after - before) / static_cast<double>(keys.size());
    state.counters["peak_rss_MB"] = PeakRssMb();
    // The same without points: instances that have seen one point and closed nothing.
    AlarmEngine fresh(rules);
    const size_t before_fresh = mallinfo2().uordblks;
    for (int i = 0; i < Hosts(); ++i) fresh.Observe(keys[i], kStartMs, LowValue(i));
    state.counters["heap_bytes_per_new_instance"] =
        static_cast<double>(mallinfo2().uordblks - before_fresh) / Hosts();
  }
}

BENCHMARK(BM_MemoryPerInstance)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Observe);
BENCHMARK(BM_ObserveUnrelatedRules)->Arg(0)->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK(BM_ObserveSameMetricNonMatchingRules)->Arg(1000);
BENCHMARK(BM_PeriodClose)->UseManualTime()->Iterations(10)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PeriodCloseP99)->UseManualTime()->Iterations(10)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PeriodCloseMetricMath)->UseManualTime()->Iterations(10)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PeriodCloseRate)->UseManualTime()->Iterations(10)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PeriodCloseFleetAggregate)
    ->UseManualTime()
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecisionLatency)->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MassTransition)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AlarmsAndSnapshot)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::alerting

BENCHMARK_MAIN();
