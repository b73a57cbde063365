#include "agent/scheduler.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "common/log.h"

namespace vigil::agent {

Scheduler::Scheduler(std::vector<ScheduledCheck> checks, Batcher* batcher, AgentMetrics* metrics)
    : checks_(std::move(checks)), batcher_(batcher), metrics_(metrics) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  for (const ScheduledCheck& c : checks_) {
    threads_.emplace_back([this, &c] { Run(c); });
  }
}

void Scheduler::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Scheduler::Run(const ScheduledCheck& c) {
  prometheus::Histogram& duration = metrics_->CheckDuration(c.name);
  prometheus::Counter& failures = metrics_->CheckFailures(c.name);
  int last_up = -1;  // unknown: the first result is always logged
  for (;;) {
    // Next tick: the next multiple of the interval since the epoch.
    const absl::Time now = absl::Now();
    const absl::Time tick = absl::UnixEpoch() + absl::Ceil(now - absl::UnixEpoch(), c.interval);
    if (stop_.WaitForNotificationWithDeadline(tick)) return;

    const absl::Time started = absl::Now();
    absl::StatusOr<std::vector<Sample>> result = c.check->Collect(tick);
    const absl::Duration took = absl::Now() - started;
    duration.Observe(absl::ToDoubleSeconds(took));
    if (result.ok() && took > c.timeout) {
      result = absl::DeadlineExceededError("run took " + absl::FormatDuration(took) +
                                           ", more than the timeout of " +
                                           absl::FormatDuration(c.timeout));
    }
    const int up = result.ok() ? 1 : 0;
    if (up != last_up) {
      if (up) {
        VIGIL_LOG(Info) << "check '" << c.name << "' is up";
      } else {
        VIGIL_LOG(Warning) << "check '" << c.name << "' failed: " << result.status();
      }
      last_up = up;
    }
    std::vector<Sample> samples;
    if (result.ok()) {
      samples = std::move(*result);
    } else {
      failures.Increment();
    }
    // A check may report its own availability (the http check's probe result); otherwise the
    // scheduler reports whether Collect succeeded.
    const std::string up_metric = c.type + ".up";
    const bool own_up = std::any_of(samples.begin(), samples.end(),
                                    [&](const Sample& s) { return s.metric == up_metric; });
    if (!own_up) samples.push_back({up_metric, {}, static_cast<double>(up)});
    // Two checks of one type on a host (two PostgreSQL instances, two probes) are told apart by
    // the `check` label, the check's configured name.
    if (c.name != c.type) {
      for (Sample& s : samples) {
        auto at = std::lower_bound(
            s.labels.begin(), s.labels.end(), std::string("check"),
            [](const auto& label, const std::string& name) { return label.first < name; });
        if (at == s.labels.end() || at->first != "check") s.labels.insert(at, {"check", c.name});
      }
    }
    batcher_->Add(absl::ToUnixMillis(tick), samples);
  }
}

}  // namespace vigil::agent
