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
// CloudWatch's is (see docs/rules.md).
int EvaluationRange(const WindowParams& p);

// Decides the state from the most recent closed periods, oldest first, ending with the period
// that just closed (at most EvaluationRange(p) of them; fewer at the start). Follows AWS
// CloudWatch's documented alarm evaluation, including "Configuring how CloudWatch alarms treat
// missing data" row by row. `current` is the state before this decision (kIgnore keeps it;
// hysteresis depends on it). Pure function; thread-safe.
Decision Decide(const WindowParams& p, absl::Span<const PeriodValue> recent, AlarmState current);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_EVAL_WINDOW_H_
