#ifndef VIGIL_ALERTING_RULES_TYPES_H_
#define VIGIL_ALERTING_RULES_TYPES_H_

#include <optional>

#include "absl/strings/string_view.h"

// Small vocabulary types of the rule engine, shared by the model, the expressions and the
// evaluator. Implemented in types.cc.

namespace vigil::alerting {

enum class Statistic { kAvg, kSum, kMin, kMax, kCount, kP50, kP90, kP95, kP99, kRate };
enum class Comparison { kGreaterThan, kGreaterThanOrEqual, kLessThan, kLessThanOrEqual };
enum class MissingData { kMissing, kNotBreaching, kBreaching, kIgnore };
enum class AlarmState { kInsufficientData, kOk, kAlarm };
// Fleet aggregate: how the per-series values of one instance are combined.
enum class Aggregate { kNone, kSum, kAvg, kMin, kMax, kCount };

// Names as written in rule files and shown to people: "avg", "p99", ">", "not_breaching",
// "ALARM", "INSUFFICIENT_DATA", "sum".
absl::string_view StatisticName(Statistic s);
absl::string_view ComparisonSymbol(Comparison c);
absl::string_view ComparisonWords(Comparison c);  // "greater than", "less than or equal to"
absl::string_view MissingDataName(MissingData m);
absl::string_view StateName(AlarmState s);
absl::string_view AggregateName(Aggregate a);

// The inverse of the names above, as accepted in rule files; nullopt for anything else.
// ParseComparison also takes the CloudWatch names (GreaterThanThreshold, ...) and
// ParseMissingData CloudWatch's camelCase (notBreaching). ParseAggregate never returns kNone.
std::optional<Statistic> ParseStatistic(absl::string_view name);
std::optional<Comparison> ParseComparison(absl::string_view name);
std::optional<MissingData> ParseMissingData(absl::string_view name);
std::optional<AlarmState> ParseAlarmState(absl::string_view name);
std::optional<Aggregate> ParseAggregate(absl::string_view name);

// True when `value` breaches `threshold` under `c` (value > threshold for kGreaterThan, ...).
bool Breaches(Comparison c, double value, double threshold);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_RULES_TYPES_H_
