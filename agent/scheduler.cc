#include "agent/scheduler.h"

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
  Labels up_labels;
  if (c.name != c.type) up_labels.emplace_back("check", c.name);
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
    samples.push_back({c.type + ".up", up_labels, static_cast<double>(up)});
    batcher_->Add(absl::ToUnixMillis(tick), samples);
  }
}

}  // namespace vigil::agent
