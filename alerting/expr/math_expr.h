#ifndef VIGIL_ALERTING_EXPR_MATH_EXPR_H_
#define VIGIL_ALERTING_EXPR_MATH_EXPR_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vigil::alerting {

// CloudWatch-style metric math over named query results, e.g. `100 * errors / requests`:
// numbers, identifiers (query ids: [a-z][a-z0-9_]*), + - * /, unary minus, parentheses.
// Parsed once into a flat postfix program with identifiers resolved to indexes, so that an
// evaluation (once per alarm instance per period close) is a loop over an array: no allocation,
// no virtual call, no string comparison. Immutable after parsing; Evaluate is thread-safe.
class MathExpr {
 public:
  // The value, or nullopt when an identifier's value is missing or a division by zero (or any
  // non-finite result) occurs: such a period is missing, never infinite. `values[i]` is the
  // value of Identifiers()[i]; values.size() must equal Identifiers().size().
  std::optional<double> Evaluate(absl::Span<const std::optional<double>> values) const;
  // The same with each identifier's value asked for once, in Identifiers() order.
  std::optional<double> Evaluate(
      const std::function<std::optional<double>(absl::string_view id)>& value_of) const;
  // Identifiers used, sorted, unique.
  const std::vector<std::string>& Identifiers() const { return identifiers_; }

  // One postfix instruction; public only for the parser.
  struct Op {
    enum Kind : uint8_t { kConstant, kIdentifier, kNegate, kAdd, kSubtract, kMultiply, kDivide };
    Kind kind;
    uint32_t index = 0;  // kIdentifier: into Identifiers()
    double constant = 0;
  };
  MathExpr(std::vector<Op> program, std::vector<std::string> identifiers);

 private:
  std::vector<Op> program_;
  std::vector<std::string> identifiers_;
  size_t max_stack_ = 0;
};

// INVALID_ARGUMENT with the 1-based column of the problem: "column 7: expected an operand".
absl::StatusOr<std::unique_ptr<MathExpr>> ParseMathExpr(absl::string_view text);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_EXPR_MATH_EXPR_H_
