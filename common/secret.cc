#include "common/secret.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace vigil {

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read secret file"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s(absl::StripAsciiWhitespace(ss.str()));
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": secret file is empty"));
  return s;
}

absl::StatusOr<std::string> SecretRef::Read() const {
  if (!file.empty()) return ReadSecretFile(file);
  if (!env.empty()) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) {
      return absl::NotFoundError(absl::StrCat("environment variable ", env, " is not set"));
    }
    std::string s(absl::StripAsciiWhitespace(value));
    if (s.empty())
      return absl::InvalidArgumentError(absl::StrCat("environment variable ", env, " is empty"));
    return s;
  }
  return absl::NotFoundError("no secret configured");
}

SecretRef ReadSecretRef(ConfigMap& config, absl::string_view key) {
  SecretRef ref;
  if (config.Has(key)) {
    config.Node(key);  // consumed here, so Finish() does not also call it unknown
    config.Error(key, absl::StrCat("secrets are not written inline; use ", key, "_file: PATH or ",
                                   key, "_env: VARIABLE"));
  }
  std::string file_key = absl::StrCat(key, "_file");
  std::string env_key = absl::StrCat(key, "_env");
  ref.file = config.String(file_key);
  ref.env = config.String(env_key);
  if (!ref.file.empty() && config.errors() != nullptr) {
    ref.file = ResolvePath(DirName(config.errors()->file()), ref.file);
  }
  if (!ref.file.empty() && !ref.env.empty()) {
    config.Error(env_key, absl::StrCat("give either ", file_key, " or ", env_key, ", not both"));
  }
  return ref;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

absl::StatusOr<std::string> GenerateToken() {
  unsigned char buf[32];
  if (RAND_bytes(buf, sizeof(buf)) != 1) return absl::InternalError("RAND_bytes failed");
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(buf), 32));
}

}  // namespace vigil
