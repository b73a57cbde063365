#include "agent/scheduler.h"

#include <atomic>
#include <map>

#include "absl/synchronization/notification.h"
#include "common/testing/process.h"
#include "gtest/gtest.h"

namespace vigil::agent {
namespace {

// A check whose behaviour the test chooses: succeed, fail, or block until released.
class FakeCheck : public Check {
 public:
  enum class Mode { kOk, kFail, kHang };
  explicit FakeCheck(Mode mode) : mode_(mode) {}
  absl::Status Init(ConfigMap&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time) override {
    ++calls;
    if (mode_ == Mode::kFail) return absl::UnavailableError("service down");
    if (mode_ == Mode::kHang) release.WaitForNotification();
    return std::vector<Sample>{{"fake.value", {}, 42}};
  }
  std::atomic<int> calls{0};
  absl::Notification release;

 private:
  Mode mode_;
};

TEST(Scheduler, FailingCheckReportsUpZeroAndAHungCheckBlocksNoOther) {
  testing::TempDir dir;
  Spool::Options so;
  so.directory = dir.Join("spool");
  auto spool = Spool::Open(so);
  ASSERT_TRUE(spool.ok()) << spool.status();
  AgentMetrics metrics;
  Batcher batcher(spool->get(), {{"host", "h"}}, 100000, &metrics, nullptr);
  auto good = std::make_shared<FakeCheck>(FakeCheck::Mode::kOk);
  auto failing = std::make_shared<FakeCheck>(FakeCheck::Mode::kFail);
  auto hung = std::make_shared<FakeCheck>(FakeCheck::Mode::kHang);
  const absl::Duration second = absl::Seconds(1);
  Scheduler scheduler({{"good", "good", second, second, good},
                       {"failing", "failing", second, second, failing},
                       {"hung", "hung", second, second, hung}},
                      &batcher, &metrics);
  scheduler.Start();
  // The hung check never returns, yet the others keep their schedule.
  ASSERT_TRUE(
      testing::WaitFor([&] { return good->calls >= 3 && failing->calls >= 3; }, absl::Seconds(15)));
  EXPECT_EQ(hung->calls, 1);
  hung->release.Notify();
  scheduler.Stop();
  ASSERT_TRUE(batcher.Flush().ok());

  std::map<std::string, std::vector<double>> values;  // metric -> values
  absl::StatusOr<std::vector<v1::SpooledBatch>> batches = (*spool)->ReadAfter(0, 1000);
  ASSERT_TRUE(batches.ok());
  for (const v1::SpooledBatch& b : *batches) {
    std::map<uint32_t, std::string> names;
    for (const auto& s : b.series()) names[s.id()] = s.metric();
    for (const auto& p : b.points()) values[names[p.series_id()]].push_back(p.value());
  }
  ASSERT_GE(values["good.up"].size(), 3u);
  for (double v : values["good.up"]) EXPECT_EQ(v, 1);
  ASSERT_GE(values["failing.up"].size(), 3u);
  for (double v : values["failing.up"]) EXPECT_EQ(v, 0);
  for (double v : values["fake.value"]) EXPECT_EQ(v, 42);
  EXPECT_EQ(metrics.CheckFailures("failing").Value(), failing->calls.load());
  EXPECT_EQ(metrics.CheckFailures("good").Value(), 0);
}

// A check that reports its own availability (as the http check reports its probe's result).
class OwnUpCheck : public Check {
 public:
  absl::Status Init(ConfigMap&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time) override {
    ++calls;
    return std::vector<Sample>{{"probe.up", {}, 0},
                               {"probe.status_code", {{"a", "1"}, {"z", "2"}}, 500}};
  }
  std::atomic<int> calls{0};
};

TEST(Scheduler, NamedChecksCarryTheCheckLabelAndMayReportTheirOwnUp) {
  testing::TempDir dir;
  Spool::Options so;
  so.directory = dir.Join("spool");
  auto spool = Spool::Open(so);
  ASSERT_TRUE(spool.ok()) << spool.status();
  AgentMetrics metrics;
  Batcher batcher(spool->get(), {{"host", "h"}}, 100000, &metrics, nullptr);
  auto probe = std::make_shared<OwnUpCheck>();
  const absl::Duration second = absl::Seconds(1);
  Scheduler scheduler({{"probe", "health", second, second, probe}}, &batcher, &metrics);
  scheduler.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return probe->calls >= 2; }, absl::Seconds(15)));
  scheduler.Stop();
  ASSERT_TRUE(batcher.Flush().ok());

  std::map<std::string, std::vector<double>> values;  // series -> values
  absl::StatusOr<std::vector<v1::SpooledBatch>> batches = (*spool)->ReadAfter(0, 1000);
  ASSERT_TRUE(batches.ok());
  for (const v1::SpooledBatch& b : *batches) {
    std::map<uint32_t, std::string> names;
    for (const auto& s : b.series()) {
      SeriesKey key{s.metric(), {}};
      for (const auto& l : s.labels()) key.labels.emplace_back(l.name(), l.value());
      names[s.id()] = key.ToString();
    }
    for (const auto& p : b.points()) values[names[p.series_id()]].push_back(p.value());
  }
  // The check's own up (0) is the only up series: the scheduler adds none of its own.
  ASSERT_GE(values[R"(probe.up{check="health",host="h"})"].size(), 2u) << values.size();
  for (double v : values[R"(probe.up{check="health",host="h"})"]) EXPECT_EQ(v, 0);
  EXPECT_GE(values[R"(probe.status_code{a="1",check="health",host="h",z="2"})"].size(), 2u);
  EXPECT_EQ(values.size(), 2u);
}

}  // namespace
}  // namespace vigil::agent
