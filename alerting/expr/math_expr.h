#ifndef VIGIL_ALERTING_EXPR_MATH_EXPR_H_
#define VIGIL_ALERTING_EXPR_MATH_EXPR_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil::alerting {

// CloudWatch-style metric math over named query results, e.g. `100 * errors / requests`:
// numbers, identifiers (query ids: [a-z][a-z0-9_]*), + - * /, unary minus, parentheses.
// Immutable after parsing; Evaluate is thread-safe.
class MathExpr {
 public:
  virtual ~MathExpr() = default;
  // The value, or nullopt when an identifier's value is missing or a division by zero (or any
  // non-finite result) occurs: such a period is missing, never infinite.
  virtual std::optional<double> Evaluate(
      const std::function<std::optional<double>(absl::string_view id)>& value_of) const = 0;
  // Identifiers used, sorted, unique.
  virtual std::vector<std::string> Identifiers() const = 0;
};

// INVALID_ARGUMENT with the 1-based column of the problem: "column 7: expected an operand".
absl::StatusOr<std::unique_ptr<MathExpr>> ParseMathExpr(absl::string_view text);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_EXPR_MATH_EXPR_H_
