#ifndef VIGIL_ALERTING_EVAL_WINDOW_H_
#define VIGIL_ALERTING_EVAL_WINDOW_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "alerting/rules/types.h"

namespace vigil::alerting {

// One closed period of an alarm instance: its start (aligned to the epoch) and its value, or
// nullopt when the period had no datapoint.
struct PeriodValue {
  int64_t start_ms = 0;
  std::optional<double> value;
};

struct WindowParams {
  int evaluation_periods = 1;   // N
  int datapoints_to_alarm = 1;  // M
  Comparison comparison = Comparison::kGreaterThan;
  double threshold = 0;
  std::optional<double> recovery_threshold;
  MissingData treat_missing_data = MissingData::kMissing;
  int64_t period_ms = 60000;
};

struct Decision {
  AlarmState state = AlarmState::kInsufficientData;
  // In words with the datapoints, e.g. "Threshold crossed: 3 out of the last 3 datapoints
  // [82.1 (12:01), 91.0 (12:02), 77.4 (12:03)] were greater than the threshold (70.0)."
  // Times are the period starts in UTC, HH:MM (HH:MM:SS when the period is not whole minutes).
  std::string reason;
  std::vector<PeriodValue> datapoints;  // the datapoints the decision used, oldest first
};

// How many most recent periods the decision looks at: the evaluation range, larger than N as
// CloudWatch's is: N + 2 (5 for N = 3, as in CloudWatch's documented examples). See
// docs/rules-evaluation.md.
int EvaluationRange(const WindowParams& p);

// Decides the state from the most recent closed periods, oldest first, ending with the period
// that just closed (at most EvaluationRange(p) of them; fewer at the start). Follows AWS
// CloudWatch's documented alarm evaluation, including "Configuring how CloudWatch alarms treat
// missing data" row by row. `current` is the state before this decision (kIgnore keeps it;
// hysteresis depends on it). Pure function; thread-safe. `recent` must be contiguous periods
// (missing ones present with no value); periods before the first one given count as missing.
// N < 1 is taken as 1 and M is clamped to [1, N] (the rule loader rejects such rules).
//
// Reasons (every form is in docs/rules-evaluation.md), with the N evaluated datapoints oldest
// first, a filled period shown as "- (12:04, missing, treated as breaching)", "- (12:04,
// missing, treated as not breaching)" or, for `missing` and `ignore`, "- (12:04, missing)":
//   ALARM: "Threshold crossed: B out of the last N datapoints [...] was|were <words> the
//          threshold (T)."
//   OK:    "Threshold not crossed: B out of the last N datapoints [...] was|were <words> the
//          threshold (T) (minimum M datapoints for ALARM)."
//   "the recovery threshold (R)" replaces "the threshold (T)" while hysteresis applies;
//   INSUFFICIENT_DATA: "Insufficient Data: 5 datapoints were unknown." (all of the range) or
//          "Insufficient Data: U out of the last N datapoints [...] were unknown.";
//   ignore: "Missing data ignored: ...; the state stays OK."
// With explain == false the reason and the datapoints are left empty and nothing is allocated
// (for N <= 14): the engine asks for them only when the state changes.
Decision Decide(const WindowParams& p, absl::Span<const PeriodValue> recent, AlarmState current,
                bool explain = true);

// The evaluation range of one alarm instance in summary form, for a range of at most
// kMaxBitsRange periods: bit k describes the period that closed k periods ago (bit 0 the newest).
// An engine keeps one per instance and shifts in each period as it closes
// (WindowBitsDecider::Push), so deciding costs a few bit operations instead of a pass over the
// periods' values.
struct WindowBits {
  static constexpr int kMaxBitsRange = 64;
  uint64_t present = 0;    // the period has a value
  uint64_t breaching = 0;  // the value breaches the threshold
  // The value breaches the recovery threshold (the threshold when there is none): what counts
  // as breaching in ALARM.
  uint64_t breaching_recovery = 0;
};

// Decide for windows in WindowBits form: Decide(p, recent, current, false).state, for the periods
// `bits` summarizes (periods older than those pushed count as missing, as in Decide), with the
// parameters' constants worked out once (an engine keeps one per rule). Allocates nothing.
// Immutable after construction; thread-safe.
class WindowBitsDecider {
 public:
  // Whether the evaluation range fits in WindowBits (N <= 62).
  static bool Fits(const WindowParams& p) {
    return EvaluationRange(p) <= WindowBits::kMaxBitsRange;
  }
  // Requires Fits(p).
  explicit WindowBitsDecider(const WindowParams& p);

  // Shifts in the period that just closed.
  void Push(WindowBits& bits, std::optional<double> value) const;

  AlarmState Decide(const WindowBits& bits, AlarmState current) const {
    // The steady state: every period of the range has a value, so the N most recent are
    // evaluated and the missing-data treatment plays no part.
    if ((bits.present & in_range_) == in_range_) {
      const uint64_t breach =
          (current == AlarmState::kAlarm ? bits.breaching_recovery : bits.breaching) & last_n_;
      return breach != 0 && BitCount(breach) >= m_ ? AlarmState::kAlarm : AlarmState::kOk;
    }
    return DecideWithMissing(bits, current);
  }

 private:
  static int BitCount(uint64_t x) {
    // The portable form: without -mpopcnt, __builtin_popcountll is a library call.
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return static_cast<int>((x * 0x0101010101010101ull) >> 56);
  }
  AlarmState DecideWithMissing(const WindowBits& bits, AlarmState current) const;

  WindowParams params_;
  int n_ = 1;
  int m_ = 1;
  uint64_t in_range_ = 0;  // the range's bits
  uint64_t last_n_ = 0;    // the N newest periods' bits
};

// A number as reasons show it: the shortest form that reads back as the same double, without
// exponent, with at least one decimal (70 -> "70.0", 82.1 -> "82.1", 0.25 -> "0.25").
std::string FormatNumber(double v);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_EVAL_WINDOW_H_
