#include "common/config_reader.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vigil {

void ConfigErrors::Add(const YAML::Mark& mark, absl::string_view message) {
  if (mark.line < 0) {
    AddFileError(message);
    return;
  }
  messages_.push_back(absl::StrCat(file_, ":", mark.line + 1, ":", mark.column + 1, ": ", message));
}

void ConfigErrors::AddFileError(absl::string_view message) {
  messages_.push_back(absl::StrCat(file_, ": ", message));
}

absl::Status ConfigErrors::ToStatus() const {
  if (messages_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(messages_, "\n"));
}

ConfigMap::ConfigMap(YAML::Node node, ConfigErrors* errors)
    : node_(std::move(node)), errors_(errors), mark_(node_.Mark()) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
    errors_->Add(mark_, "expected a mapping");
    node_ = YAML::Node(YAML::NodeType::Map);
  }
}

bool ConfigMap::Has(absl::string_view key) const {
  if (!node_.IsMap()) return false;
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) return true;
  }
  return false;
}

YAML::Node ConfigMap::Lookup(absl::string_view key) {
  read_.insert(std::string(key));
  if (!node_.IsMap()) return YAML::Node();
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) return kv.second;
  }
  return YAML::Node();
}

void ConfigMap::Error(absl::string_view key, absl::string_view message) {
  // The key's value when present, else the map itself: every message has a position.
  YAML::Mark mark = mark_;
  if (node_.IsMap()) {
    for (const auto& kv : node_) {
      if (kv.first.Scalar() == key) mark = kv.second.Mark();
    }
  }
  errors_->Add(mark, absl::StrCat(key, ": ", message));
}

std::optional<std::string> ConfigMap::OptionalString(absl::string_view key) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (!n.IsScalar()) {
    errors_->Add(n.Mark(), absl::StrCat(key, ": expected a string"));
    return std::nullopt;
  }
  return n.Scalar();
}

std::string ConfigMap::String(absl::string_view key, std::string def) {
  std::optional<std::string> v = OptionalString(key);
  return v ? *v : def;
}

int64_t ConfigMap::Int(absl::string_view key, int64_t def, int64_t min, int64_t max) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  int64_t v = 0;
  if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v)) {
    errors_->Add(n.Mark(), absl::StrCat(key, ": expected an integer, got '",
                                        n.IsScalar() ? n.Scalar() : "non-scalar", "'"));
    return def;
  }
  if (v < min || v > max) {
    errors_->Add(n.Mark(), absl::StrCat(key, ": ", v, " is out of range [", min, ", ", max, "]"));
    return def;
  }
  return v;
}

double ConfigMap::Double(absl::string_view key, double def) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  double v = 0;
  if (!n.IsScalar() || !absl::SimpleAtod(n.Scalar(), &v) || !std::isfinite(v)) {
    errors_->Add(n.Mark(), absl::StrCat(key, ": expected a number, got '",
                                        n.IsScalar() ? n.Scalar() : "non-scalar", "'"));
    return def;
  }
  return v;
}

bool ConfigMap::Bool(absl::string_view key, bool def) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  if (n.IsScalar()) {
    std::string s = absl::AsciiStrToLower(n.Scalar());
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  errors_->Add(n.Mark(), absl::StrCat(key, ": expected true or false"));
  return def;
}

absl::Duration ConfigMap::Duration(absl::string_view key, absl::Duration def, absl::Duration min) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  if (!n.IsScalar()) {
    errors_->Add(n.Mark(), absl::StrCat(key, ": expected a duration such as 10s"));
    return def;
  }
  absl::StatusOr<absl::Duration> d = ParseDuration(n.Scalar());
  if (!d.ok()) {
    errors_->Add(n.Mark(), absl::StrCat(key, ": ", d.status().message()));
    return def;
  }
  if (*d < min) {
    errors_->Add(n.Mark(), absl::StrCat(key, ": must be at least ", absl::FormatDuration(min)));
    return def;
  }
  return *d;
}

uint64_t ConfigMap::Bytes(absl::string_view key, uint64_t def) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  absl::StatusOr<uint64_t> b =
      n.IsScalar() ? ParseBytes(n.Scalar()) : absl::InvalidArgumentError("expected a size");
  if (!b.ok()) {
    errors_->Add(n.Mark(), absl::StrCat(key, ": ", b.status().message()));
    return def;
  }
  return *b;
}

std::vector<std::string> ConfigMap::StringList(absl::string_view key) {
  YAML::Node n = Lookup(key);
  std::vector<std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence()) {
    errors_->Add(n.Mark(), absl::StrCat(key, ": expected a list of strings"));
    return out;
  }
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      errors_->Add(item.Mark(), absl::StrCat(key, ": expected a string"));
      continue;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

std::map<std::string, std::string> ConfigMap::StringMap(absl::string_view key) {
  YAML::Node n = Lookup(key);
  std::map<std::string, std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsMap()) {
    errors_->Add(n.Mark(), absl::StrCat(key, ": expected a mapping of names to strings"));
    return out;
  }
  for (const auto& kv : n) {
    if (!kv.second.IsScalar()) {
      errors_->Add(kv.second.Mark(),
                   absl::StrCat(key, ".", kv.first.Scalar(), ": expected a string"));
      continue;
    }
    out[kv.first.Scalar()] = kv.second.Scalar();
  }
  return out;
}

YAML::Node ConfigMap::Node(absl::string_view key) { return Lookup(key); }

ConfigMap ConfigMap::Map(absl::string_view key) { return ConfigMap(Lookup(key), errors_); }

void ConfigMap::Finish() {
  if (!node_.IsMap()) return;
  for (const auto& kv : node_) {
    if (read_.count(kv.first.Scalar()) == 0) {
      errors_->Add(kv.first.Mark(), absl::StrCat("unknown key '", kv.first.Scalar(), "'"));
    }
  }
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string ResolvePath(const std::string& dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return dir.back() == '/' ? dir + path : absl::StrCat(dir, "/", path);
}

std::string HostPortProblem(absl::string_view text, bool allow_port_zero) {
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::StrCat("expected host:port such as 127.0.0.1:4317, got '", text, "'");
  }
  absl::string_view host = text.substr(0, colon);
  absl::string_view port = text.substr(colon + 1);
  if (host.empty()) return absl::StrCat("missing host in '", text, "'");
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      return absl::StrCat("bad IPv6 host in '", text, "' (e.g. [::1]:4317)");
    }
  } else if (host.find(':') != absl::string_view::npos) {
    return absl::StrCat("IPv6 hosts go in brackets, e.g. [::1]:4317; got '", text, "'");
  }
  int port_number = -1;
  bool digits = !port.empty() && std::all_of(port.begin(), port.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
  int min_port = allow_port_zero ? 0 : 1;
  if (!digits || !absl::SimpleAtoi(port, &port_number) || port_number < min_port ||
      port_number > 65535) {
    return absl::StrCat("port must be a number from ", min_port, " to 65535, got '", port, "' in '",
                        text, "'");
  }
  return "";
}

namespace {
absl::StatusOr<YAML::Node> Parse(const std::string& text, const std::string& name, bool is_file) {
  try {
    return is_file ? YAML::LoadFile(name) : YAML::Load(text);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(absl::StrCat(name, ": cannot read file"));
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws; convert at this adapter (no exceptions in our code).
    return absl::InvalidArgumentError(
        absl::StrCat(name, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
}
}  // namespace

absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path) { return Parse("", path, true); }

absl::StatusOr<YAML::Node> LoadYamlString(const std::string& text, const std::string& name) {
  return Parse(text, name, false);
}

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  std::string s(absl::StripAsciiWhitespace(text));
  if (s.empty()) return absl::InvalidArgumentError("empty duration");
  absl::Duration total = absl::ZeroDuration();
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (absl::ascii_isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'))
      ++i;
    double n = 0;
    if (start == i || !absl::SimpleAtod(s.substr(start, i - start), &n)) {
      return absl::InvalidArgumentError(absl::StrCat("bad duration '", s, "' (e.g. 10s, 1m30s)"));
    }
    size_t ustart = i;
    while (i < s.size() && absl::ascii_isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string unit = s.substr(ustart, i - ustart);
    absl::Duration u;
    if (unit == "ms") {
      u = absl::Milliseconds(1);
    } else if (unit == "s") {
      u = absl::Seconds(1);
    } else if (unit == "m") {
      u = absl::Minutes(1);
    } else if (unit == "h") {
      u = absl::Hours(1);
    } else if (unit == "d") {
      u = absl::Hours(24);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("bad duration '", s, "': unit must be ms, s, m, h or d"));
    }
    total += n * u;
  }
  return total;
}

absl::StatusOr<uint64_t> ParseBytes(absl::string_view text) {
  std::string s(absl::StripAsciiWhitespace(text));
  size_t i = 0;
  while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) ++i;
  uint64_t n = 0;
  if (i == 0 || !absl::SimpleAtoi(s.substr(0, i), &n)) {
    return absl::InvalidArgumentError(absl::StrCat("bad size '", s, "' (e.g. 256MiB)"));
  }
  std::string unit(absl::StripAsciiWhitespace(s.substr(i)));
  static const std::map<std::string, uint64_t> kUnits = {
      {"", 1},      {"B", 1},        {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
      {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad size unit '", unit, "' in '", s, "' (B, KiB, MiB, GiB, KB, MB, GB)"));
  }
  return n * it->second;
}

}  // namespace vigil
