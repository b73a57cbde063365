#ifndef VIGIL_COMMON_CONFIG_READER_H_
#define VIGIL_COMMON_CONFIG_READER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "yaml-cpp/yaml.h"

// Strict YAML configuration reading shared by the agent, the collector and the checks.
// Every problem is reported as `file:line:col: message` (1-based), and every key that no
// accessor read is an error ("unknown key"), as fluent-bit's config_map does.
// Not thread-safe; used while loading a config, before it is published.

namespace vigil {

class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file) : file_(std::move(file)) {}

  void Add(const YAML::Mark& mark, absl::string_view message);
  void AddFileError(absl::string_view message);  // `file: message`, no position
  bool empty() const { return messages_.empty(); }
  const std::vector<std::string>& messages() const { return messages_; }
  const std::string& file() const { return file_; }
  // OK, or InvalidArgument whose message is every problem, one per line.
  absl::Status ToStatus() const;

 private:
  std::string file_;
  std::vector<std::string> messages_;
};

// One YAML mapping. Accessors return the default (and record an error) when a value has the
// wrong type or is out of range, so loading continues and reports every problem at once.
class ConfigMap {
 public:
  // `node` may be null/undefined (treated as an empty map); anything else but a map is an error.
  ConfigMap(YAML::Node node, ConfigErrors* errors);

  bool Has(absl::string_view key) const;
  std::string String(absl::string_view key, std::string def = "");
  std::optional<std::string> OptionalString(absl::string_view key);
  int64_t Int(absl::string_view key, int64_t def, int64_t min, int64_t max);
  double Double(absl::string_view key, double def);
  bool Bool(absl::string_view key, bool def);
  absl::Duration Duration(absl::string_view key, absl::Duration def,
                          absl::Duration min = absl::ZeroDuration());
  uint64_t Bytes(absl::string_view key, uint64_t def);
  // A list of strings; a single scalar is accepted as a one-element list.
  std::vector<std::string> StringList(absl::string_view key);
  // A mapping of string to string (scalars only).
  std::map<std::string, std::string> StringMap(absl::string_view key);
  // The raw node (marked as read); undefined if absent.
  YAML::Node Node(absl::string_view key);
  // A nested mapping; absent means empty.
  ConfigMap Map(absl::string_view key);

  // Records an error at `key`'s position (or the map's when the key is absent).
  void Error(absl::string_view key, absl::string_view message);
  // Reports every key not read by an accessor. Call once, after all accessors.
  void Finish();

  const YAML::Mark& mark() const { return mark_; }
  ConfigErrors* errors() const { return errors_; }

 private:
  YAML::Node Lookup(absl::string_view key);

  YAML::Node node_;
  ConfigErrors* errors_;
  YAML::Mark mark_;
  std::set<std::string> read_;
};

// Parses a whole file; syntax errors come back as `file:line:col: message`.
absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path);
absl::StatusOr<YAML::Node> LoadYamlString(const std::string& text, const std::string& name);

// Directory part of a path ("" when it has none).
std::string DirName(const std::string& path);
// Relative paths in a config file are relative to the file's directory, not the working
// directory: joins `dir` and a relative `path`; absolute or empty paths are returned as is.
std::string ResolvePath(const std::string& dir, const std::string& path);
// Empty when `text` is host:port (an IPv6 host in brackets), otherwise what is wrong with it.
// Port 0 ("any free port") is accepted only for listen addresses.
std::string HostPortProblem(absl::string_view text, bool allow_port_zero);

// "500ms", "10s", "1m30s", "6h", "7d". A bare number is rejected (units are required).
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);
// "4096", "64KiB", "256MiB", "1GiB" (also KB/MB/GB as powers of ten).
absl::StatusOr<uint64_t> ParseBytes(absl::string_view text);

}  // namespace vigil

#endif  // VIGIL_COMMON_CONFIG_READER_H_
