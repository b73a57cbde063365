#ifndef VIGIL_COMMON_SECRET_H_
#define VIGIL_COMMON_SECRET_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config_reader.h"

namespace vigil {

// Reads a secret (token, password) from a file, trimming surrounding whitespace. The error
// names the file, never the content. An empty file is an error.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

// Where a config says a secret is: `<key>_file: PATH` (read, whitespace-trimmed) or
// `<key>_env: NAME` (an environment variable). Secrets are never inline in a config file.
// Read() is called at each use, so a rotated file is picked up without a restart.
struct SecretRef {
  std::string file;
  std::string env;

  bool empty() const { return file.empty() && env.empty(); }
  // The secret; the error names the file or variable, never the value.
  absl::StatusOr<std::string> Read() const;
};

// Reads `<key>_file` / `<key>_env` from `config`. Both given, or an inline `<key>:`, is a
// config error at the key's position. Returns an empty ref when neither is given.
SecretRef ReadSecretRef(ConfigMap& config, absl::string_view key);

// Lowercase hex SHA-256 of `data`; agent tokens are stored by the collector in this form.
std::string Sha256Hex(absl::string_view data);

// Comparison whose duration does not depend on where the inputs differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// 32 random bytes from the OS as 64 hex characters: a new agent token.
absl::StatusOr<std::string> GenerateToken();

}  // namespace vigil

#endif  // VIGIL_COMMON_SECRET_H_
