// A collector outage loses nothing: the agent spools while the collector is down, replays on
// reconnect, and every interval's datapoint is stored exactly once.
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/stack.h"

namespace vigil::testing {
namespace {

TEST(CollectorOutage, EveryIntervalPresentExactlyOnceAfterThirtySecondsDown) {
  Stack stack;
  stack.StartCollector();
  stack.StartAgent();
  ASSERT_TRUE(
      WaitFor([&] { return stack.Points("system.uptime_seconds").size() >= 3; }, absl::Seconds(30)))
      << stack.agent()->Stderr();

  // SIGKILL: no graceful shutdown; only what was acknowledged (and so in the WAL) survives.
  const int64_t down_at = absl::ToUnixMillis(absl::Now());
  stack.StopCollector(SIGKILL);
  absl::SleepFor(absl::Seconds(30));
  stack.StartCollector();
  const int64_t up_at = absl::ToUnixMillis(absl::Now());

  // Wait until the agent has replayed its spool and live data flows past the restart.
  ASSERT_TRUE(WaitFor(
      [&] {
        nlohmann::json p = stack.Points("system.uptime_seconds");
        return !p.empty() && p.back()[0].get<int64_t>() >= up_at + 2000;
      },
      absl::Seconds(60)))
      << stack.agent()->Stderr();

  nlohmann::json points = stack.Points("system.uptime_seconds");
  std::vector<int64_t> ts;
  for (const auto& p : points) ts.push_back(p[0].get<int64_t>());
  ASSERT_GE(ts.size(), 35u);
  // One point per 1 s tick from the first to the last: no gap, no duplicate.
  for (size_t i = 1; i < ts.size(); ++i) {
    ASSERT_EQ(ts[i] - ts[i - 1], 1000) << "between points " << i - 1 << " and " << i
                                       << " (outage from " << down_at << " to " << up_at << ")";
  }
  EXPECT_LT(ts.front(), down_at - 2000);
  EXPECT_GT(ts.back(), up_at);
  // uptime grows by one second per tick: the replayed values are the ones measured then.
  for (size_t i = 1; i < points.size(); ++i) {
    EXPECT_NEAR(points[i][1].get<double>() - points[i - 1][1].get<double>(), 1.0, 0.2);
  }
}

// A clean stop (SIGTERM) ends the agents' streams with UNAVAILABLE rather than waiting out the
// collector's 5 s shutdown grace for streams that never end by themselves; the agent says why
// its stream ended and comes back with the collector, losing nothing.
TEST(CollectorOutage, CleanStopEndsAgentStreamsAtOnce) {
  Stack stack;
  stack.StartCollector();
  stack.StartAgent();
  ASSERT_TRUE(
      WaitFor([&] { return stack.Points("system.uptime_seconds").size() >= 2; }, absl::Seconds(30)))
      << stack.agent()->Stderr();

  const absl::Time stop_at = absl::Now();
  EXPECT_EQ(stack.collector()->Stop(SIGTERM, absl::Seconds(30)), 0) << stack.collector()->Stderr();
  const absl::Duration stop_took = absl::Now() - stop_at;
  // The grace is 5 s; ending the streams makes the stop independent of it.
  EXPECT_LT(stop_took, absl::Seconds(4)) << stack.collector()->Stderr();
  EXPECT_TRUE(WaitFor(
      [&] {
        return stack.agent()->Stderr().find("ended: UNAVAILABLE: collector is stopping") !=
               std::string::npos;
      },
      absl::Seconds(10)))
      << stack.agent()->Stderr();

  stack.StartCollector();
  const int64_t up_at = absl::ToUnixMillis(absl::Now());
  ASSERT_TRUE(WaitFor(
      [&] {
        nlohmann::json p = stack.Points("system.uptime_seconds");
        return !p.empty() && p.back()[0].get<int64_t>() >= up_at + 1000;
      },
      absl::Seconds(60)))
      << stack.agent()->Stderr();
  nlohmann::json points = stack.Points("system.uptime_seconds");
  for (size_t i = 1; i < points.size(); ++i) {
    ASSERT_EQ(points[i][0].get<int64_t>() - points[i - 1][0].get<int64_t>(), 1000)
        << "between points " << i - 1 << " and " << i;
  }
}

// An agent whose collector is unreachable stops at once on SIGTERM: it does not wait out its
// connect_timeout (10 s) for a collector it cannot reach, and what it measured stays in the
// spool, sent when the collector is back.
TEST(CollectorOutage, AgentStopsAtOnceWhenTheCollectorIsUnreachable) {
  Stack stack;
  stack.StartAgent();  // no collector: connection refused, retried
  absl::SleepFor(absl::Seconds(3));
  const absl::Time stop_at = absl::Now();
  EXPECT_EQ(stack.agent()->Stop(SIGTERM, absl::Seconds(30)), 0) << stack.agent()->Stderr();
  EXPECT_LT(absl::Now() - stop_at, absl::Seconds(3)) << stack.agent()->Stderr();

  stack.StartCollector();
  stack.StartAgent();
  ASSERT_TRUE(WaitFor(
      [&] {
        nlohmann::json p = stack.Points("system.uptime_seconds");
        return !p.empty() && p.front()[0].get<int64_t>() < absl::ToUnixMillis(stop_at) - 1000;
      },
      absl::Seconds(30)))
      << "the points measured before the stop arrive after the restart\n"
      << stack.agent()->Stderr();
}

}  // namespace
}  // namespace vigil::testing
