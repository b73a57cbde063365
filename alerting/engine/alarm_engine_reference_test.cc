// The engine's dense layout and its bit-summary decisions (rule_instances.h, WindowBitsDecider)
// against a reference model written the plain way: each instance keeps its datapoints per period, a
// closing period's value is ComputeStatistic over them, the closed values go in a list, and
// every close calls Decide with explanations. Random workloads (seeded) with silent hosts,
// out-of-order, late and future points; the transitions must be the same, reasons and
// datapoints included.

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "alerting/engine/alarm_engine.h"
#include "alerting/eval/statistics.h"
#include "alerting/eval/window.h"
#include "alerting/rules/loader.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

// Every rule has one series per instance (group_by host, one series per host and metric).
constexpr char kRules[] = R"(rules:
  - name: avg-missing
    metric: m.cpu
    group_by: [host]
    evaluation_periods: 3
    datapoints_to_alarm: 2
    comparison: ">"
    threshold: 70
    retire_after: 3m
  - name: max-breaching-hysteresis
    metric: m.cpu
    statistic: max
    group_by: [host]
    evaluation_periods: 2
    comparison: ">"
    threshold: 90
    recovery_threshold: 50
    treat_missing_data: breaching
    retire_after: 5m
  - name: min-ignore
    metric: m.cpu
    statistic: min
    group_by: [host]
    evaluation_periods: 4
    datapoints_to_alarm: 2
    comparison: "<"
    threshold: 20
    recovery_threshold: 40
    treat_missing_data: ignore
  - name: p90-not-breaching
    metric: m.cpu
    statistic: p90
    group_by: [host]
    evaluation_periods: 2
    comparison: ">="
    threshold: 80
    treat_missing_data: not_breaching
  - name: count-30s
    metric: m.cpu
    statistic: count
    group_by: [host]
    period: 30s
    evaluation_delay: 0s
    comparison: ">="
    threshold: 3
  - name: counter-rate
    metric: m.counter
    statistic: rate
    group_by: [host]
    evaluation_periods: 2
    comparison: ">"
    threshold: 5
    treat_missing_data: not_breaching
  - name: seventy-periods
    metric: m.cpu
    statistic: sum
    group_by: [host]
    evaluation_periods: 70
    datapoints_to_alarm: 3
    comparison: ">"
    threshold: 150
  - name: sixty-two-periods
    metric: m.cpu
    group_by: [host]
    evaluation_periods: 62
    datapoints_to_alarm: 1
    comparison: ">"
    threshold: 95
    retire_after: 6m
)";

std::shared_ptr<const RuleSet> Rules() {
  absl::StatusOr<std::shared_ptr<const RuleSet>> rs = ParseRuleSet({{"r.yaml", kRules}});
  EXPECT_TRUE(rs.ok()) << rs.status();
  return rs.ok() ? *rs : nullptr;
}

int64_t Ms(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

int64_t FloorTo(int64_t t, int64_t step) {
  int64_t q = t / step;
  if (t % step != 0 && t < 0) --q;
  return q * step;
}

// The engine's semantics for rules of one series per instance, without its data layout.
class ReferenceEngine {
 public:
  explicit ReferenceEngine(const RuleSet& rules) {
    for (const Rule& r : rules.rules) {
      RefRule rr;
      rr.rule = &r;
      rr.params.evaluation_periods = r.evaluation_periods;
      rr.params.datapoints_to_alarm = r.datapoints_to_alarm;
      rr.params.comparison = r.comparison;
      rr.params.threshold = r.threshold;
      rr.params.recovery_threshold = r.recovery_threshold;
      rr.params.treat_missing_data = r.treat_missing_data;
      rr.params.period_ms = Ms(r.period);
      rules_.push_back(rr);
    }
  }

  void Observe(const SeriesKey& key, int64_t ts, double value) {
    for (RefRule& rr : rules_) {
      if (rr.rule->queries[0].metric != key.metric) continue;
      const int64_t period = rr.params.period_ms;
      const int64_t start = FloorTo(ts, period);
      if (rr.next_end != 0 && start + period < rr.next_end) continue;  // late
      if (rr.next_end == 0) rr.next_end = start + period;
      const std::string host(key.Label("host"));
      auto [it, created] = rr.instances.try_emplace(absl::StrCat("{host=\"", host, "\"}"));
      Instance& inst = it->second;
      if (created) {
        inst.host = host;
        inst.first_period = start;
      }
      inst.last_data = std::max(inst.last_data, ts);
      inst.open[start].push_back({ts, value});
    }
  }

  std::vector<Transition> AdvanceTo(int64_t now) {
    std::vector<Transition> out;
    for (;;) {
      int64_t next = 0;
      for (const RefRule& rr : rules_) {
        if (rr.next_end == 0 || rr.next_end + Ms(rr.rule->evaluation_delay) > now) continue;
        if (next == 0 || rr.next_end < next) next = rr.next_end;
      }
      if (next == 0) return out;
      for (RefRule& rr : rules_) {
        if (rr.next_end != next || rr.next_end + Ms(rr.rule->evaluation_delay) > now) continue;
        Close(rr, &out);
        rr.next_end += rr.params.period_ms;
      }
    }
  }

 private:
  struct Instance {
    std::string host;
    std::map<int64_t, std::vector<TimedValue>> open;  // points by period start, as they came
    std::vector<PeriodValue> closed;
    AlarmState state = AlarmState::kInsufficientData;
    int64_t last_data = 0;
    int64_t first_period = 0;
    std::optional<TimedValue> previous;  // rate: the last point of the last period with data
  };
  struct RefRule {
    const Rule* rule = nullptr;
    WindowParams params;
    std::map<std::string, Instance> instances;  // by key: transitions come out ordered
    int64_t next_end = 0;
  };

  void Close(RefRule& rr, std::vector<Transition>* out) {
    const Rule& r = *rr.rule;
    const int64_t end = rr.next_end;
    const int64_t start = end - rr.params.period_ms;
    for (auto it = rr.instances.begin(); it != rr.instances.end();) {
      Instance& inst = it->second;
      const Labels labels = {{"host", inst.host}};
      if (inst.last_data + Ms(r.retire_after) <= end && inst.open.empty()) {
        out->push_back({r.name,
                        it->first,
                        labels,
                        end,
                        inst.state,
                        AlarmState::kInsufficientData,
                        absl::StrCat("Retired: no data since ",
                                     absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                                      absl::FromUnixMillis(inst.last_data),
                                                      absl::UTCTimeZone()),
                                     " (retire_after ", absl::FormatDuration(r.retire_after), ")"),
                        {}});
        it = rr.instances.erase(it);
        continue;
      }
      if (start < inst.first_period) {
        ++it;
        continue;
      }
      std::optional<double> value;
      auto period = inst.open.find(start);
      if (period != inst.open.end()) {
        std::vector<TimedValue> points = period->second;
        const Statistic stat = r.queries[0].statistic;
        if (stat == Statistic::kRate) {
          std::stable_sort(points.begin(), points.end(),
                           [](const TimedValue& a, const TimedValue& b) {
                             return a.timestamp_ms < b.timestamp_ms;
                           });
        }
        value = ComputeStatistic(stat, points, inst.previous);
        if (stat == Statistic::kRate) inst.previous = points.back();
      }
      inst.open.erase(inst.open.begin(), inst.open.upper_bound(start));
      inst.closed.push_back({start, value});
      const size_t range = static_cast<size_t>(EvaluationRange(rr.params));
      if (inst.closed.size() > range) inst.closed.erase(inst.closed.begin());
      Decision d = Decide(rr.params, inst.closed, inst.state);
      if (d.state != inst.state) {
        out->push_back(
            {r.name, it->first, labels, end, inst.state, d.state, d.reason, d.datapoints});
        inst.state = d.state;
      }
      ++it;
    }
  }

  std::vector<RefRule> rules_;
};

std::string Describe(const Transition& t) {
  std::string points;
  for (const PeriodValue& p : t.datapoints) {
    absl::StrAppend(&points, p.start_ms, "=", p.value ? FormatNumber(*p.value) : "-", " ");
  }
  return absl::StrCat(t.rule, t.instance, " at ", t.at_ms, ": ", StateName(t.from), " -> ",
                      StateName(t.to), ": ", t.reason, " [", points, "]");
}

std::vector<std::string> Describe(const std::vector<Transition>& ts) {
  std::vector<std::string> out;
  for (const Transition& t : ts) out.push_back(Describe(t));
  return out;
}

// Fails with the first transition that differs (the lists can be long).
void ExpectSame(const std::vector<std::string>& got, const std::vector<std::string>& want,
                const std::string& where) {
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    ASSERT_EQ(i < got.size() ? got[i] : "(none)", i < want.size() ? want[i] : "(none)")
        << where << ", transition " << i;
  }
}

TEST(AlarmEngineReference, SameTransitionsAsThePlainModelOnRandomWorkloads) {
  std::shared_ptr<const RuleSet> rules = Rules();
  ASSERT_NE(rules, nullptr);
  constexpr int kHosts = 8;
  std::vector<SeriesKey> cpu, counter;
  for (int h = 0; h < kHosts; ++h) {
    cpu.push_back({"m.cpu", {{"host", absl::StrCat("h", h)}}});
    counter.push_back({"m.counter", {{"host", absl::StrCat("h", h)}}});
  }
  int64_t transitions = 0;
  for (int seed = 1; seed <= 6; ++seed) {
    std::mt19937_64 rng(seed);
    auto uniform = [&](double a, double b) {
      return std::uniform_real_distribution<double>(a, b)(rng);
    };
    AlarmEngine engine(rules);
    ReferenceEngine reference(*rules);
    std::vector<double> presence(kHosts, 1.0), level(kHosts, 50), total(kHosts, 0);
    int64_t now = 1800000000000 + static_cast<int64_t>(rng() % 60) * 1000;
    for (int step = 0; step < 400; ++step) {
      now += 5000 + static_cast<int64_t>(rng() % 20000);
      // Hosts fall silent (long enough to be retired), come back, and change level.
      for (int h = 0; h < kHosts; ++h) {
        if (rng() % 40 == 0) presence[h] = std::vector<double>{0.0, 0.3, 0.9, 1.0}[rng() % 4];
        if (rng() % 15 == 0) level[h] = std::vector<double>{10, 30, 50, 75, 95}[rng() % 5];
      }
      for (int h = 0; h < kHosts; ++h) {
        for (int metric = 0; metric < 2; ++metric) {
          if (uniform(0, 1) >= presence[h]) continue;
          int64_t ts = now - static_cast<int64_t>(rng() % 15000);  // out of order
          if (rng() % 50 == 0) ts = now - 60000 - rng() % 120000;  // often late
          if (rng() % 80 == 0) ts = now + 60000;                   // a future period
          double v;
          if (metric == 0) {
            v = std::clamp(level[h] + uniform(-15, 15), 0.0, 100.0);
          } else {
            total[h] = rng() % 60 == 0 ? uniform(0, 10) : total[h] + uniform(0, 600);  // resets
            v = total[h];
          }
          const SeriesKey& key = metric == 0 ? cpu[h] : counter[h];
          engine.Observe(key, ts, v);
          reference.Observe(key, ts, v);
        }
      }
      std::vector<std::string> got = Describe(engine.AdvanceTo(now));
      std::vector<std::string> want = Describe(reference.AdvanceTo(now));
      ExpectSame(got, want, absl::StrCat("seed ", seed, " step ", step));
      if (HasFatalFailure()) return;
      transitions += static_cast<int64_t>(got.size());
    }
  }
  EXPECT_GT(transitions, 1000) << "the workload should change states";
}

// A restart from a snapshot taken when no period is open decides every later period as the
// engine that kept running would, for every rule without a counter (rate needs the point
// before the period, which a snapshot does not keep).
TEST(AlarmEngineReference, RestoredEngineDecidesLikeTheOneThatKeptRunning) {
  std::shared_ptr<const RuleSet> rules = Rules();
  ASSERT_NE(rules, nullptr);
  std::mt19937_64 rng(7);
  AlarmEngine running(rules, {true});
  std::vector<SeriesKey> cpu;
  for (int h = 0; h < 6; ++h) cpu.push_back({"m.cpu", {{"host", absl::StrCat("h", h)}}});
  auto feed = [&](AlarmEngine& e, int64_t minute, uint64_t pattern) {
    for (int h = 0; h < 6; ++h) {
      if ((pattern >> h) % 4 == 0) continue;  // missing for this host
      for (int s = 0; s < 60; s += 20) {
        e.Observe(cpu[h], minute * 60000 + s * 1000,
                  static_cast<double>((pattern >> (h + 8)) % 100));
      }
    }
  };
  int transitions = 0;
  std::vector<uint64_t> patterns;
  for (int m = 0; m < 40; ++m) patterns.push_back(rng());
  for (int m = 0; m < 20; ++m) {
    feed(running, m, patterns[m]);
    running.AdvanceTo((m + 1) * 60000);
  }
  AlarmEngine restored(rules, {true}, running.Snapshot());
  for (int m = 20; m < 40; ++m) {
    feed(running, m, patterns[m]);
    feed(restored, m, patterns[m]);
    std::vector<std::string> want = Describe(running.AdvanceTo((m + 1) * 60000));
    std::vector<std::string> got = Describe(restored.AdvanceTo((m + 1) * 60000));
    want.erase(std::remove_if(want.begin(), want.end(),
                              [](const std::string& t) { return t.rfind("counter-rate", 0) == 0; }),
               want.end());
    ExpectSame(got, want, absl::StrCat("minute ", m));
    if (HasFatalFailure()) return;
    transitions += static_cast<int>(got.size());
  }
  EXPECT_GT(transitions, 20);
}

}  // namespace
}  // namespace vigil::alerting
