#ifndef VIGIL_COMMON_SECRET_H_
#define VIGIL_COMMON_SECRET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil {

// Reads a secret (token, password) from a file, trimming surrounding whitespace. The error
// names the file, never the content. An empty file is an error.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

// Lowercase hex SHA-256 of `data`; agent tokens are stored by the collector in this form.
std::string Sha256Hex(absl::string_view data);

// Comparison whose duration does not depend on where the inputs differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// 32 random bytes from the OS as 64 hex characters: a new agent token.
absl::StatusOr<std::string> GenerateToken();

}  // namespace vigil

#endif  // VIGIL_COMMON_SECRET_H_
