// WindowBitsDecider, the engine's fast form of Decide, against Decide itself: every window of up to
// N + 3 periods for N <= 3 (each period missing, below the recovery threshold, between the two
// thresholds, or above the threshold), all windows of the full range for N = 4, and random
// windows up to the 64-period limit.

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "alerting/eval/window.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

constexpr int64_t kMinute = 60000;

std::string Describe(const WindowParams& p, const std::vector<PeriodValue>& window,
                     AlarmState current) {
  std::string out = absl::StrCat(
      "N=", p.evaluation_periods, " M=", p.datapoints_to_alarm,
      " cmp=", ComparisonSymbol(p.comparison), " treat=", MissingDataName(p.treat_missing_data),
      " recovery=", p.recovery_threshold ? FormatNumber(*p.recovery_threshold) : "none",
      " current=", StateName(current), " window=[");
  for (const PeriodValue& v : window) {
    absl::StrAppend(&out, v.value ? FormatNumber(*v.value) : "-", " ");
  }
  return out + "]";
}

// Checks WindowBitsDecider against Decide for one window, in every state.
void ExpectSameDecision(const WindowParams& p, const std::vector<PeriodValue>& window) {
  const WindowBitsDecider decider(p);
  WindowBits bits;
  for (const PeriodValue& v : window) decider.Push(bits, v.value);
  for (AlarmState current : {AlarmState::kInsufficientData, AlarmState::kOk, AlarmState::kAlarm}) {
    const AlarmState want = Decide(p, window, current, /*explain=*/false).state;
    ASSERT_EQ(decider.Decide(bits, current), want) << Describe(p, window, current);
  }
}

// "> 70" (or "< 30"), recovery at 30 (or 70) when `recovery`.
WindowParams Params(int n, int m, MissingData treatment, bool greater, bool recovery) {
  WindowParams p;
  p.evaluation_periods = n;
  p.datapoints_to_alarm = m;
  p.comparison = greater ? Comparison::kGreaterThan : Comparison::kLessThan;
  p.threshold = greater ? 70 : 30;
  if (recovery) p.recovery_threshold = greater ? 30 : 70;
  p.treat_missing_data = treatment;
  p.period_ms = kMinute;
  return p;
}

constexpr MissingData kTreatments[] = {MissingData::kMissing, MissingData::kNotBreaching,
                                       MissingData::kBreaching, MissingData::kIgnore};
// Missing, below the lower threshold, between the two, above the upper one.
const std::optional<double> kCells[] = {std::nullopt, 20.0, 50.0, 90.0};

// Every window of `length` periods for the parameters.
void ExpectSameForEveryWindow(const WindowParams& p, int length) {
  int combinations = 1;
  for (int i = 0; i < length; ++i) combinations *= 4;
  std::vector<PeriodValue> window(length);
  for (int c = 0; c < combinations; ++c) {
    int code = c;
    for (int i = 0; i < length; ++i, code /= 4) {
      window[i] = {static_cast<int64_t>(i) * kMinute, kCells[code % 4]};
    }
    ExpectSameDecision(p, window);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(WindowBitsDecider, MatchesDecideForEveryWindowUpToThreePeriods) {
  for (int n = 1; n <= 3; ++n) {
    for (int m = 1; m <= n; ++m) {
      for (MissingData treatment : kTreatments) {
        for (bool greater : {true, false}) {
          for (bool recovery : {false, true}) {
            const WindowParams p = Params(n, m, treatment, greater, recovery);
            // Shorter than the range (a new instance), the range, and one more (shifted out).
            for (int length = 1; length <= EvaluationRange(p) + 1; ++length) {
              ExpectSameForEveryWindow(p, length);
              if (HasFatalFailure()) return;
            }
          }
        }
      }
    }
  }
}

TEST(WindowBitsDecider, MatchesDecideForEveryFullWindowOfFourPeriods) {
  for (int m = 1; m <= 4; ++m) {
    for (MissingData treatment : kTreatments) {
      for (bool recovery : {false, true}) {
        const WindowParams p = Params(4, m, treatment, /*greater=*/true, recovery);
        ExpectSameForEveryWindow(p, EvaluationRange(p));
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(WindowBitsDecider, MatchesDecideForRandomWindowsUpToTheLimit) {
  std::mt19937_64 rng(20261122);
  for (int round = 0; round < 5000; ++round) {
    // N up to 62: a range of 64 periods, the most WindowBits holds.
    const int n = std::uniform_int_distribution<int>(1, 62)(rng);
    const int m = std::uniform_int_distribution<int>(1, n)(rng);
    const WindowParams p = Params(n, m, kTreatments[rng() % 4], rng() % 2 == 0, rng() % 2 == 0);
    ASSERT_TRUE(WindowBitsDecider::Fits(p));
    const int length = std::uniform_int_distribution<int>(1, EvaluationRange(p) + 3)(rng);
    // Mostly real datapoints, as in practice, with a random share missing and breaching.
    const double missing = std::uniform_real_distribution<double>(0, 1)(rng);
    std::vector<PeriodValue> window(length);
    for (int i = 0; i < length; ++i) {
      window[i].start_ms = static_cast<int64_t>(i) * kMinute;
      if (std::uniform_real_distribution<double>(0, 1)(rng) >= missing) {
        window[i].value = kCells[1 + rng() % 3];
      }
    }
    ExpectSameDecision(p, window);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace vigil::alerting
