#ifndef VIGIL_ALERTING_EXPR_BOOL_EXPR_H_
#define VIGIL_ALERTING_EXPR_BOOL_EXPR_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "alerting/rules/types.h"

namespace vigil::alerting {

// CloudWatch composite alarm rule expression: ALARM(name), OK(name), INSUFFICIENT_DATA(name),
// AND, OR, NOT, parentheses, TRUE, FALSE (keywords case-sensitive, as in CloudWatch; NOT binds
// tighter than AND, AND tighter than OR). Rule names may contain [A-Za-z0-9_.-] and may be
// quoted with double quotes. Immutable after parsing; Evaluate is thread-safe.
class BoolExpr {
 public:
  virtual ~BoolExpr() = default;
  virtual bool Evaluate(
      const std::function<AlarmState(absl::string_view rule)>& state_of) const = 0;
  // Rule names referenced, sorted, unique.
  virtual std::vector<std::string> References() const = 0;
};

// INVALID_ARGUMENT with the 1-based column of the problem.
absl::StatusOr<std::unique_ptr<BoolExpr>> ParseBoolExpr(absl::string_view text);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_EXPR_BOOL_EXPR_H_
