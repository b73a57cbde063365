#include "alerting/rules/types.h"

namespace vigil::alerting {

absl::string_view StatisticName(Statistic s) {
  switch (s) {
    case Statistic::kAvg:
      return "avg";
    case Statistic::kSum:
      return "sum";
    case Statistic::kMin:
      return "min";
    case Statistic::kMax:
      return "max";
    case Statistic::kCount:
      return "count";
    case Statistic::kP50:
      return "p50";
    case Statistic::kP90:
      return "p90";
    case Statistic::kP95:
      return "p95";
    case Statistic::kP99:
      return "p99";
    case Statistic::kRate:
      return "rate";
  }
  return "?";
}

absl::string_view ComparisonSymbol(Comparison c) {
  switch (c) {
    case Comparison::kGreaterThan:
      return ">";
    case Comparison::kGreaterThanOrEqual:
      return ">=";
    case Comparison::kLessThan:
      return "<";
    case Comparison::kLessThanOrEqual:
      return "<=";
  }
  return "?";
}

absl::string_view ComparisonWords(Comparison c) {
  switch (c) {
    case Comparison::kGreaterThan:
      return "greater than";
    case Comparison::kGreaterThanOrEqual:
      return "greater than or equal to";
    case Comparison::kLessThan:
      return "less than";
    case Comparison::kLessThanOrEqual:
      return "less than or equal to";
  }
  return "?";
}

absl::string_view MissingDataName(MissingData m) {
  switch (m) {
    case MissingData::kMissing:
      return "missing";
    case MissingData::kNotBreaching:
      return "not_breaching";
    case MissingData::kBreaching:
      return "breaching";
    case MissingData::kIgnore:
      return "ignore";
  }
  return "?";
}

absl::string_view StateName(AlarmState s) {
  switch (s) {
    case AlarmState::kInsufficientData:
      return "INSUFFICIENT_DATA";
    case AlarmState::kOk:
      return "OK";
    case AlarmState::kAlarm:
      return "ALARM";
  }
  return "?";
}

absl::string_view AggregateName(Aggregate a) {
  switch (a) {
    case Aggregate::kNone:
      return "none";
    case Aggregate::kSum:
      return "sum";
    case Aggregate::kAvg:
      return "avg";
    case Aggregate::kMin:
      return "min";
    case Aggregate::kMax:
      return "max";
    case Aggregate::kCount:
      return "count";
  }
  return "?";
}

std::optional<Statistic> ParseStatistic(absl::string_view name) {
  for (Statistic s :
       {Statistic::kAvg, Statistic::kSum, Statistic::kMin, Statistic::kMax, Statistic::kCount,
        Statistic::kP50, Statistic::kP90, Statistic::kP95, Statistic::kP99, Statistic::kRate}) {
    if (StatisticName(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<Comparison> ParseComparison(absl::string_view name) {
  if (name == ">" || name == "GreaterThanThreshold") return Comparison::kGreaterThan;
  if (name == ">=" || name == "GreaterThanOrEqualToThreshold") {
    return Comparison::kGreaterThanOrEqual;
  }
  if (name == "<" || name == "LessThanThreshold") return Comparison::kLessThan;
  if (name == "<=" || name == "LessThanOrEqualToThreshold") return Comparison::kLessThanOrEqual;
  return std::nullopt;
}

std::optional<MissingData> ParseMissingData(absl::string_view name) {
  if (name == "missing") return MissingData::kMissing;
  if (name == "not_breaching" || name == "notBreaching") return MissingData::kNotBreaching;
  if (name == "breaching") return MissingData::kBreaching;
  if (name == "ignore") return MissingData::kIgnore;
  return std::nullopt;
}

std::optional<AlarmState> ParseAlarmState(absl::string_view name) {
  for (AlarmState s : {AlarmState::kInsufficientData, AlarmState::kOk, AlarmState::kAlarm}) {
    if (StateName(s) == name) return s;
  }
  return std::nullopt;
}

std::optional<Aggregate> ParseAggregate(absl::string_view name) {
  for (Aggregate a :
       {Aggregate::kSum, Aggregate::kAvg, Aggregate::kMin, Aggregate::kMax, Aggregate::kCount}) {
    if (AggregateName(a) == name) return a;
  }
  return std::nullopt;
}

bool Breaches(Comparison c, double value, double threshold) {
  switch (c) {
    case Comparison::kGreaterThan:
      return value > threshold;
    case Comparison::kGreaterThanOrEqual:
      return value >= threshold;
    case Comparison::kLessThan:
      return value < threshold;
    case Comparison::kLessThanOrEqual:
      return value <= threshold;
  }
  return false;
}

}  // namespace vigil::alerting
