#include "collector/alarms/evaluator.h"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "collector/state/open_state_store.h"
#include "common/testing/process.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace vigil::collector {
namespace {

using ::vigil::testing::TempDir;

constexpr char kRule[] = R"(rules:
  - name: m-high
    metric: t.m
    period: 10s
    evaluation_periods: 1
    evaluation_delay: 0s
    comparison: ">"
    threshold: 0
)";

// The evaluator on a rule directory with a clock the test sets.
class EvaluatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<Evaluator> Start(absl::Duration interval) {
    mkdir(dir_.Join("rules").c_str(), 0755);
    dir_.Write("rules/m.yaml", kRule);
    state_ = *OpenStateStore({}, dir_.path());
    Evaluator::Options o;
    o.rules_dir = dir_.Join("rules");
    o.store = &state_->alarms();
    o.evaluation_interval = interval;
    o.now_ms = [this] { return now_ms_.load(); };
    absl::StatusOr<std::unique_ptr<Evaluator>> e = Evaluator::Start(o, registry_);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *std::move(e) : nullptr;
  }

  // Waits up to 10 s for an instance in `state`.
  static bool AwaitState(const Evaluator& e, const std::string& state) {
    for (int i = 0; i < 1000; ++i) {
      if (!e.Alarms(state).empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  TempDir dir_;
  std::unique_ptr<StateStore> state_;
  prometheus::Registry registry_;
  std::atomic<int64_t> now_ms_{0};
};

// A backlog of kDrainBatch points wakes the evaluation thread without waiting for its timer (an
// hour here): at 1M points/s a second's backlog would delay the next decision by hundreds of
// milliseconds. Nothing else wakes it: with no datapoint seen, no period is due.
TEST_F(EvaluatorTest, ABacklogIsTakenWithoutWaitingForTheTimer) {
  std::unique_ptr<Evaluator> e = Start(absl::Hours(1));
  ASSERT_NE(e, nullptr);
  now_ms_ = 15000;  // the period [0, 10 s) is due, the next one is not
  std::vector<DataPoint> points(Evaluator::kDrainBatch);
  for (size_t i = 0; i < points.size(); ++i) {
    points[i] = {static_cast<int64_t>(i % 10000), 1.0};
  }
  const SeriesKey key{"t.m", {{"host", "h1"}}};
  e->Offer("agent-1", key, absl::MakeConstSpan(points).subspan(0, points.size() - 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(e->Alarms("ALARM").empty()) << "one point short of a batch waits for the timer";
  e->Offer("agent-1", key, absl::MakeConstSpan(points).subspan(points.size() - 1));
  ASSERT_TRUE(AwaitState(*e, "ALARM"));
  nlohmann::json alarms = e->Alarms("ALARM");
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0]["rule"], "m-high");
  EXPECT_EQ(alarms[0]["since_ms"], 10000);
  EXPECT_EQ(alarms[0]["value"], 1.0);
  e->Stop();
}

}  // namespace
}  // namespace vigil::collector
