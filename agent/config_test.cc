#include "agent/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

// A check with one key of its own, `threshold`, so the loader's handling of check-specific
// keys can be observed. It also keeps the file its entry came from, which checks resolve their
// relative paths against.
class ThresholdCheck : public Check {
 public:
  absl::Status Init(ConfigMap& config) override {
    threshold_ = config.Int("threshold", 5, 0, 100);
    file_ = config.errors()->file();
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time) override { return std::vector<Sample>{}; }
  int64_t threshold() const { return threshold_; }
  const std::string& file() const { return file_; }

 private:
  int64_t threshold_ = -1;
  std::string file_;
};

// A check whose Init fails for a reason that is not about a key.
class BrokenCheck : public Check {
 public:
  absl::Status Init(ConfigMap&) override {
    return absl::FailedPreconditionError("cannot open /proc/nothing");
  }
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time) override { return std::vector<Sample>{}; }
};

std::unique_ptr<Check> MakeCheck(absl::string_view type) {
  if (type == "system" || type == "fake") return std::make_unique<ThresholdCheck>();
  if (type == "broken") return std::make_unique<BrokenCheck>();
  return nullptr;  // "ghost" is listed as known but the factory cannot make it.
}

const std::vector<std::string>& KnownTypes() {
  static const auto* types = new std::vector<std::string>{"system", "fake", "broken", "ghost"};
  return *types;
}

absl::StatusOr<AgentConfig> Parse(const std::string& yaml) {
  return ParseAgentConfig(yaml, "agent.yaml", MakeCheck, KnownTypes());
}

// The error text of a config that must not load.
std::string Problems(const std::string& yaml) {
  absl::StatusOr<AgentConfig> config = Parse(yaml);
  EXPECT_FALSE(config.ok()) << "loaded without error:\n" << yaml;
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

int64_t ThresholdOf(const CheckConfig& c) {
  auto* check = dynamic_cast<ThresholdCheck*>(c.check.get());
  return check == nullptr ? -2 : check->threshold();
}

std::string FileOf(const CheckConfig& c) {
  auto* check = dynamic_cast<ThresholdCheck*>(c.check.get());
  return check == nullptr ? "" : check->file();
}

std::vector<std::string> Lines(const std::string& text) { return absl::StrSplit(text, '\n'); }

std::vector<std::string> NamesOf(const AgentConfig& config) {
  std::vector<std::string> names;
  for (const CheckConfig& c : config.checks) names.push_back(c.name);
  return names;
}

using ::vigil::testing::TempDir;

// One key, one bad value, one exact message.
struct BadValueCase {
  std::string test_name;
  std::string yaml;
  std::string message;
};

// Test names in failure messages and ctest, rather than the struct's bytes.
void PrintTo(const BadValueCase& c, std::ostream* os) { *os << c.test_name; }

class AgentConfigBadValue : public ::testing::TestWithParam<BadValueCase> {};

TEST_P(AgentConfigBadValue, ReportsExactMessageWithPosition) {
  EXPECT_EQ(Problems(GetParam().yaml), GetParam().message);
}

const std::string kLong300(300, 'x');

INSTANTIATE_TEST_SUITE_P(
    Keys, AgentConfigBadValue,
    ::testing::Values(
        BadValueCase{"AgentIdWithSpace", "agent_id: web 1\n",
                     "agent.yaml:1:11: agent_id: 'web 1' must be 1 to 128 letters, digits, '.', "
                     "'_' or '-'"},
        BadValueCase{"AgentIdList", "agent_id: [a, b]\n",
                     "agent.yaml:1:11: agent_id: expected a string"},
        BadValueCase{"HostnameEmpty", "hostname: ''\n",
                     "agent.yaml:1:11: hostname: must not be empty"},
        BadValueCase{"CollectorNotAMap", "collector: 127.0.0.1:4317\n",
                     "agent.yaml:1:12: expected a mapping"},
        BadValueCase{"AddressWithoutPort", "collector:\n  address: collector.example\n",
                     "agent.yaml:2:12: collector.address: expected host:port such as "
                     "127.0.0.1:4317, got 'collector.example'"},
        BadValueCase{"AddressPortZero", "collector:\n  address: 127.0.0.1:0\n",
                     "agent.yaml:2:12: collector.address: port must be a number from 1 to 65535, "
                     "got '0' in '127.0.0.1:0'"},
        BadValueCase{"AddressPortTooLarge", "collector:\n  address: 127.0.0.1:70000\n",
                     "agent.yaml:2:12: collector.address: port must be a number from 1 to 65535, "
                     "got '70000' in '127.0.0.1:70000'"},
        BadValueCase{"AddressMissingHost", "collector:\n  address: ':4317'\n",
                     "agent.yaml:2:12: collector.address: missing host in ':4317'"},
        BadValueCase{"AddressBareIpv6", "collector:\n  address: '::1:4317'\n",
                     "agent.yaml:2:12: collector.address: IPv6 hosts go in brackets, e.g. "
                     "[::1]:4317; got '::1:4317'"},
        BadValueCase{"TokenFileList", "collector:\n  token_file: [a]\n",
                     "agent.yaml:2:15: token_file: expected a string"},
        BadValueCase{"ConnectTimeoutBareNumber", "collector:\n  connect_timeout: 10\n",
                     "agent.yaml:2:20: connect_timeout: bad duration '10': unit must be ms, s, "
                     "m, h or d"},
        BadValueCase{"ConnectTimeoutZero", "collector:\n  connect_timeout: 0s\n",
                     "agent.yaml:2:20: collector.connect_timeout: must be greater than 0"},
        BadValueCase{"TlsEnabledNotBool", "collector:\n  tls:\n    enabled: maybe\n",
                     "agent.yaml:3:14: enabled: expected true or false"},
        BadValueCase{"TlsCertWithoutKey",
                     "collector:\n  tls:\n    cert_file: /etc/vigil/agent.crt\n",
                     "agent.yaml:3:16: collector.tls.key_file: required when cert_file is set (a "
                     "client certificate needs both)"},
        BadValueCase{"TlsKeyWithoutCert",
                     "collector:\n  tls:\n    key_file: /etc/vigil/agent.key\n",
                     "agent.yaml:3:15: collector.tls.cert_file: required when key_file is set (a "
                     "client certificate needs both)"},
        BadValueCase{"TlsEnabledWithoutCa", "collector:\n  tls:\n    enabled: true\n",
                     "agent.yaml:3:14: collector.tls.ca_file: required when tls.enabled is true "
                     "(the CA that signed the collector's certificate)"},
        BadValueCase{"LabelsList", "labels: [web]\n",
                     "agent.yaml:1:9: labels: expected a mapping of label names to values"},
        BadValueCase{"LabelNameUppercase", "labels:\n  Role: web\n",
                     "agent.yaml:2:3: labels: 'Role' is not a valid label name ([a-z_][a-z0-9_]*)"},
        BadValueCase{"LabelNameDash", "labels:\n  data-center: fra1\n",
                     "agent.yaml:2:3: labels: 'data-center' is not a valid label name "
                     "([a-z_][a-z0-9_]*)"},
        BadValueCase{"LabelHost", "labels:\n  host: other\n",
                     "agent.yaml:2:3: labels.host: the host label is always the hostname; set "
                     "'hostname' instead"},
        BadValueCase{"LabelEmptyString", "labels:\n  team: ''\n",
                     "agent.yaml:2:9: labels.team: must not be empty"},
        BadValueCase{"LabelValueTooLong", "labels:\n  team: " + kLong300 + "\n",
                     "agent.yaml:2:9: labels.team: value is 300 characters; at most 256 are "
                     "allowed"},
        BadValueCase{"LabelValueMapping", "labels:\n  role: {a: b}\n",
                     "agent.yaml:2:9: labels.role: expected a string or a list of strings"},
        BadValueCase{"LabelListItemMapping", "labels:\n  role: [web, {a: b}]\n",
                     "agent.yaml:2:15: labels.role: list items must be non-empty strings"},
        BadValueCase{"IntervalBelowOneSecond", "interval: 500ms\n",
                     "agent.yaml:1:11: interval: must be at least 1s"},
        BadValueCase{"IntervalNotADuration", "interval: often\n",
                     "agent.yaml:1:11: interval: bad duration 'often' (e.g. 10s, 1m30s)"},
        BadValueCase{"SpoolDirectoryEmpty", "spool:\n  directory: ''\n",
                     "agent.yaml:2:14: spool.directory: must not be empty"},
        BadValueCase{"SpoolMaxSizeTooSmall", "spool:\n  max_size: 64KiB\n",
                     "agent.yaml:2:13: spool.max_size: must be at least 1MiB, got 65536 bytes"},
        BadValueCase{"SpoolReplayWindowTooLong", "spool:\n  replay_window: 48h\n",
                     "agent.yaml:2:18: spool.replay_window: must be between 0s and 24h"},
        BadValueCase{"SpoolMaxSizeBadUnit", "spool:\n  max_size: 2TB\n",
                     "agent.yaml:2:13: max_size: bad size unit 'TB' in '2TB' (B, KiB, MiB, GiB, "
                     "KB, MB, GB)"},
        BadValueCase{"BatchMaxPointsZero", "batch:\n  max_points: 0\n",
                     "agent.yaml:2:15: max_points: 0 is out of range [1, 1000000]"},
        BadValueCase{"BatchMaxPointsText", "batch:\n  max_points: many\n",
                     "agent.yaml:2:15: max_points: expected an integer, got 'many'"},
        BadValueCase{"MetricsListenNoPort", "metrics:\n  listen: localhost\n",
                     "agent.yaml:2:11: metrics.listen: expected host:port such as "
                     "127.0.0.1:4317, got 'localhost' (\"\" disables the endpoint)"},
        BadValueCase{"ChecksMapping", "checks:\n  type: system\n",
                     "agent.yaml:2:3: checks: expected a list of check entries"},
        BadValueCase{"CheckEntryScalar", "checks:\n  - system\n",
                     "agent.yaml:2:5: checks[0]: expected a mapping with at least 'type'"},
        BadValueCase{"CheckTypeMissing", "checks:\n  - name: cpu\n",
                     "agent.yaml:2:5: checks[0].type: required (known: system, fake, broken, "
                     "ghost)"},
        BadValueCase{"CheckTypeUnknown", "checks:\n  - type: nginx\n",
                     "agent.yaml:2:11: checks[0].type: unknown check type 'nginx' (known: "
                     "system, fake, broken, ghost)"},
        BadValueCase{"CheckTypeList", "checks:\n  - type: [fake]\n",
                     "agent.yaml:2:11: type: expected a string"},
        BadValueCase{"CheckNameEmpty", "checks:\n  - type: fake\n    name: ''\n",
                     "agent.yaml:3:11: checks[0].name: must not be empty"},
        BadValueCase{"CheckIntervalTooShort", "checks:\n  - type: fake\n    interval: 100ms\n",
                     "agent.yaml:3:15: interval: must be at least 1s"},
        BadValueCase{"CheckTimeoutZero", "checks:\n  - type: fake\n    timeout: 0s\n",
                     "agent.yaml:3:14: checks[0].timeout: must be greater than 0"},
        BadValueCase{"CheckTimeoutLongerThanInterval",
                     "checks:\n  - type: fake\n    interval: 5s\n    timeout: 6s\n",
                     "agent.yaml:4:14: checks[0].timeout: 6s is longer than the interval (5s)"},
        BadValueCase{"CheckSpecificKeyBadType", "checks:\n  - type: fake\n    threshold: high\n",
                     "agent.yaml:3:16: threshold: expected an integer, got 'high'"},
        BadValueCase{"CheckSpecificKeyOutOfRange", "checks:\n  - type: fake\n    threshold: 500\n",
                     "agent.yaml:3:16: threshold: 500 is out of range [0, 100]"},
        BadValueCase{"CheckInitFails", "checks:\n  - type: broken\n",
                     "agent.yaml:2:5: checks[0] (broken): cannot open /proc/nothing"},
        BadValueCase{"CheckKnownButNotCreatable", "checks:\n  - type: ghost\n",
                     "agent.yaml:2:11: checks[0].type: check type 'ghost' is listed as known but "
                     "cannot be created"},
        BadValueCase{"DuplicateCheckName",
                     "checks:\n  - type: fake\n  - type: system\n    name: fake\n",
                     "agent.yaml:4:11: checks[1].name: duplicate check name 'fake' (also used by "
                     "the check at line 2); give each check its own name"},
        BadValueCase{"DuplicateDefaultName", "checks:\n  - type: system\n  - type: system\n",
                     "agent.yaml:3:5: checks[1].name: duplicate check name 'system' (also used "
                     "by the check at line 2); give each check its own name"},
        BadValueCase{"RootNotAMapping", "- a\n- b\n", "agent.yaml:1:1: expected a mapping"}),
    [](const ::testing::TestParamInfo<BadValueCase>& info) { return info.param.test_name; });

// Unknown keys at every level, each reported where it is written.
class AgentConfigUnknownKey : public ::testing::TestWithParam<BadValueCase> {};

TEST_P(AgentConfigUnknownKey, ReportsKeyAndPosition) {
  EXPECT_EQ(Problems(GetParam().yaml), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Levels, AgentConfigUnknownKey,
    ::testing::Values(
        BadValueCase{"Top", "agent_id: a\nintervall: 10s\n",
                     "agent.yaml:2:1: unknown key 'intervall'"},
        BadValueCase{"Collector", "collector:\n  adress: 127.0.0.1:4317\n",
                     "agent.yaml:2:3: unknown key 'adress'"},
        BadValueCase{"CollectorTls", "collector:\n  tls:\n    ca: /etc/ca.pem\n",
                     "agent.yaml:3:5: unknown key 'ca'"},
        BadValueCase{"Spool", "spool:\n  dir: /tmp\n", "agent.yaml:2:3: unknown key 'dir'"},
        BadValueCase{"Batch", "batch:\n  max_bytes: 1MiB\n",
                     "agent.yaml:2:3: unknown key 'max_bytes'"},
        BadValueCase{"Metrics", "metrics:\n  port: 9102\n", "agent.yaml:2:3: unknown key 'port'"},
        BadValueCase{"CheckEntry", "checks:\n  - type: fake\n    treshold: 3\n",
                     "agent.yaml:3:5: unknown key 'treshold'"},
        BadValueCase{"KeyTheCheckDoesNotRead", "checks:\n  - type: broken\n    threshold: 3\n",
                     "agent.yaml:2:5: checks[0] (broken): cannot open /proc/nothing\n"
                     "agent.yaml:3:5: unknown key 'threshold'"}),
    [](const ::testing::TestParamInfo<BadValueCase>& info) { return info.param.test_name; });

TEST(AgentConfig, ReportsEveryProblemAtOnce) {
  std::string problems = Problems(
      "agent_id: 'a b'\n"
      "collector:\n"
      "  address: nowhere\n"
      "  colour: blue\n"
      "interval: 0s\n"
      "checks:\n"
      "  - type: nginx\n"
      "  - type: fake\n"
      "    threshold: -1\n");
  EXPECT_THAT(absl::StrSplit(problems, '\n'),
              ElementsAre("agent.yaml:1:11: agent_id: 'a b' must be 1 to 128 letters, digits, "
                          "'.', '_' or '-'",
                          "agent.yaml:3:12: collector.address: expected host:port such as "
                          "127.0.0.1:4317, got 'nowhere'",
                          "agent.yaml:4:3: unknown key 'colour'",
                          "agent.yaml:5:11: interval: must be at least 1s",
                          "agent.yaml:7:11: checks[0].type: unknown check type 'nginx' (known: "
                          "system, fake, broken, ghost)",
                          "agent.yaml:9:16: threshold: -1 is out of range [0, 100]"));
}

TEST(AgentConfig, UnknownCheckTypeDoesNotReportItsKeysAsUnknown) {
  EXPECT_EQ(Problems("checks:\n  - type: nginx\n    url: http://localhost/status\n"),
            "agent.yaml:2:11: checks[0].type: unknown check type 'nginx' (known: system, fake, "
            "broken, ghost)");
}

TEST(AgentConfig, FullFileParsesToExpectedValues) {
  absl::StatusOr<AgentConfig> config = Parse(R"(
agent_id: web-1-prod
hostname: web-1
collector:
  address: collector.internal:4317
  token_file: /etc/vigil/agent.token
  tls:
    enabled: true
    ca_file: /etc/vigil/ca.pem
    cert_file: /etc/vigil/agent.crt
    key_file: /etc/vigil/agent.key
    server_name: collector.example.com
  connect_timeout: 3s
labels:
  role: [web, php]
  env: prod
  team: payments
interval: 15s
spool:
  directory: /data/spool
  max_size: 64MiB
  replay_window: 30m
batch:
  max_points: 2000
metrics:
  listen: '[::1]:9200'
checks:
  - type: system
  - type: fake
    name: fake-fast
    interval: 2s
    timeout: 1500ms
    threshold: 42
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->agent_id, "web-1-prod");
  EXPECT_EQ(config->hostname, "web-1");
  EXPECT_EQ(config->collector.address, "collector.internal:4317");
  EXPECT_EQ(config->collector.token_file, "/etc/vigil/agent.token");
  EXPECT_TRUE(config->collector.tls.enabled);
  EXPECT_EQ(config->collector.tls.ca_file, "/etc/vigil/ca.pem");
  EXPECT_EQ(config->collector.tls.cert_file, "/etc/vigil/agent.crt");
  EXPECT_EQ(config->collector.tls.key_file, "/etc/vigil/agent.key");
  EXPECT_EQ(config->collector.tls.server_name, "collector.example.com");
  EXPECT_EQ(config->collector.connect_timeout, absl::Seconds(3));
  EXPECT_THAT(config->host_labels, ElementsAre(Pair("env", "prod"), Pair("host", "web-1"),
                                               Pair("role", "web,php"), Pair("team", "payments")));
  EXPECT_EQ(config->interval, absl::Seconds(15));
  EXPECT_EQ(config->spool.directory, "/data/spool");
  EXPECT_EQ(config->spool.max_bytes, uint64_t{64} << 20);
  EXPECT_EQ(config->spool.replay_window, absl::Minutes(30));
  EXPECT_EQ(config->batch_max_points, 2000u);
  EXPECT_EQ(config->metrics_listen, "[::1]:9200");

  ASSERT_EQ(config->checks.size(), 2u);
  const CheckConfig& system = config->checks[0];
  EXPECT_EQ(system.type, "system");
  EXPECT_EQ(system.name, "system");
  EXPECT_EQ(system.interval, absl::Seconds(15));  // the agent's interval
  EXPECT_EQ(system.timeout, absl::Seconds(10));   // min(interval, 10s)
  EXPECT_EQ(ThresholdOf(system), 5);              // the check's own default
  EXPECT_EQ(system.mark.line + 1, 28);

  const CheckConfig& fake = config->checks[1];
  EXPECT_EQ(fake.type, "fake");
  EXPECT_EQ(fake.name, "fake-fast");
  EXPECT_EQ(fake.interval, absl::Seconds(2));
  EXPECT_EQ(fake.timeout, absl::Milliseconds(1500));
  EXPECT_EQ(ThresholdOf(fake), 42);
  EXPECT_EQ(fake.node["threshold"].Scalar(), "42");
  EXPECT_EQ(fake.mark.line + 1, 29);
}

TEST(AgentConfig, ScalarLabelValueIsKeptAsIs) {
  absl::StatusOr<AgentConfig> config = Parse("hostname: db-2\nlabels:\n  role: db\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->host_labels, ElementsAre(Pair("host", "db-2"), Pair("role", "db")));
}

TEST(AgentConfig, CheckTimeoutDefaultsToIntervalWhenShorterThanTenSeconds) {
  absl::StatusOr<AgentConfig> config = Parse("interval: 4s\nchecks:\n  - type: fake\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->checks.size(), 1u);
  EXPECT_EQ(config->checks[0].interval, absl::Seconds(4));
  EXPECT_EQ(config->checks[0].timeout, absl::Seconds(4));
}

TEST(AgentConfig, EmptyFileGivesDefaults) {
  absl::StatusOr<AgentConfig> config = Parse("");
  ASSERT_TRUE(config.ok()) << config.status();
  AgentConfig defaults = DefaultAgentConfig();
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(config->hostname, host);
  EXPECT_EQ(config->agent_id, host);
  EXPECT_THAT(config->host_labels, ElementsAre(Pair("host", host)));
  EXPECT_EQ(config->collector.address, "127.0.0.1:4317");
  EXPECT_EQ(config->collector.token_file, "");
  EXPECT_FALSE(config->collector.tls.enabled);
  EXPECT_EQ(config->collector.connect_timeout, absl::Seconds(10));
  EXPECT_EQ(config->interval, absl::Seconds(10));
  EXPECT_EQ(config->spool.directory, "/var/lib/vigil/spool");
  EXPECT_EQ(config->spool.max_bytes, uint64_t{256} << 20);
  EXPECT_EQ(config->spool.replay_window, absl::Hours(1));
  EXPECT_EQ(config->batch_max_points, 5000u);
  EXPECT_EQ(config->metrics_listen, "127.0.0.1:9102");
  ASSERT_EQ(config->checks.size(), 1u);
  EXPECT_EQ(config->checks[0].type, "system");
  EXPECT_EQ(config->checks[0].name, "system");
  EXPECT_EQ(config->checks[0].interval, absl::Seconds(10));
  EXPECT_EQ(config->checks[0].timeout, absl::Seconds(10));
  EXPECT_EQ(ThresholdOf(config->checks[0]), 5);

  // DefaultAgentConfig() holds the same values, with the system check not yet created.
  EXPECT_EQ(defaults.hostname, config->hostname);
  EXPECT_EQ(defaults.host_labels, config->host_labels);
  EXPECT_EQ(defaults.collector.address, config->collector.address);
  EXPECT_EQ(defaults.spool.max_bytes, config->spool.max_bytes);
  EXPECT_EQ(defaults.metrics_listen, config->metrics_listen);
  ASSERT_EQ(defaults.checks.size(), 1u);
  EXPECT_EQ(defaults.checks[0].name, "system");
  EXPECT_EQ(defaults.checks[0].timeout, absl::Seconds(10));
  EXPECT_EQ(defaults.checks[0].check, nullptr);
}

TEST(AgentConfig, EmptyChecksKeyMeansNoChecks) {
  absl::StatusOr<AgentConfig> config = Parse("checks:\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->checks.empty());
  config = Parse("checks: []\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->checks.empty());
}

TEST(AgentConfig, EmptyMetricsListenDisablesEndpoint) {
  absl::StatusOr<AgentConfig> config = Parse("metrics:\n  listen: ''\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metrics_listen, "");
}

TEST(AgentConfig, DefaultAgentIdIsTheConfiguredHostname) {
  absl::StatusOr<AgentConfig> config = Parse("hostname: edge-7\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->agent_id, "edge-7");
  EXPECT_THAT(config->host_labels, ElementsAre(Pair("host", "edge-7")));
}

TEST(AgentConfig, YamlSyntaxErrorHasPosition) {
  absl::StatusOr<AgentConfig> config = Parse("collector:\n  address: [127.0.0.1:4317\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), StartsWith("agent.yaml:3:1: "));
}

TEST(AgentConfig, LoadMissingFileIsNotFoundNamingTheFile) {
  TempDir dir;
  std::string path = dir.path() + "/absent.yaml";
  absl::StatusOr<AgentConfig> config = LoadAgentConfig(path, MakeCheck, KnownTypes());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path));
}

TEST(AgentConfig, LoadReportsProblemsWithTheFilePath) {
  TempDir dir;
  std::string path = dir.Write("agent.yaml", "interval: 1\n");
  absl::StatusOr<AgentConfig> config = LoadAgentConfig(path, MakeCheck, KnownTypes());
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(),
            path + ":1:11: interval: bad duration '1': unit must be ms, s, m, h or d");
}

TEST(AgentConfig, RelativePathsAreResolvedAgainstTheConfigDirectory) {
  TempDir dir;
  std::string path = dir.Write("agent.yaml",
                               "collector:\n"
                               "  token_file: agent.token\n"
                               "  tls: {enabled: true, ca_file: tls/ca.pem}\n"
                               "spool:\n"
                               "  directory: spool\n");
  absl::StatusOr<AgentConfig> config = LoadAgentConfig(path, MakeCheck, KnownTypes());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->collector.token_file, dir.path() + "/agent.token");
  EXPECT_EQ(config->collector.tls.ca_file, dir.path() + "/tls/ca.pem");
  EXPECT_EQ(config->spool.directory, dir.path() + "/spool");
}

// A main file and per-check files in a temporary /etc/vigil.
class AgentConfigIncludeDir : public ::testing::Test {
 protected:
  std::string WriteMain(const std::string& yaml) { return dir_.Write("agent.yaml", yaml); }
  std::string WriteConfD(const std::string& name, const std::string& yaml) {
    std::filesystem::create_directories(dir_.Join("conf.d"));
    return dir_.Write("conf.d/" + name, yaml);
  }
  absl::StatusOr<AgentConfig> Load() {
    return LoadAgentConfig(dir_.Join("agent.yaml"), MakeCheck, KnownTypes());
  }
  std::string LoadProblems() {
    absl::StatusOr<AgentConfig> config = Load();
    EXPECT_FALSE(config.ok()) << "loaded without error";
    if (config.ok()) return "";
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(config.status().message());
  }

  TempDir dir_;
};

TEST_F(AgentConfigIncludeDir, ChecksOfEveryYamlFileFollowTheMainFilesInNameOrder) {
  WriteMain("interval: 20s\nchecks:\n  - type: system\n");
  WriteConfD("b.yaml", "checks:\n  - {type: fake, name: b1, threshold: 7}\n");
  WriteConfD("a.yaml", "checks:\n  - {type: fake, name: a1}\n  - {type: fake, name: a2}\n");
  // Not check files: other suffixes, what package managers leave beside a conffile, hidden.
  WriteConfD("README", "not yaml: [");
  WriteConfD("c.yaml.dpkg-dist", "checks:\n  - {type: fake, name: c1}\n");
  WriteConfD("d.yaml.rpmnew", "checks:\n  - {type: fake, name: d1}\n");
  WriteConfD(".e.yaml", "checks:\n  - {type: fake, name: e1}\n");
  WriteConfD("f.yml", "checks:\n  - {type: fake, name: f1}\n");

  absl::StatusOr<AgentConfig> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(NamesOf(*config), ElementsAre("system", "a1", "a2", "b1"));
  EXPECT_EQ(config->include_dir, dir_.Join("conf.d"));
  const CheckConfig& b1 = config->checks[3];
  EXPECT_EQ(b1.interval, absl::Seconds(20));  // the main file's interval is the default
  EXPECT_EQ(ThresholdOf(b1), 7);
  // A check sees its own file, so its relative paths are relative to conf.d.
  EXPECT_EQ(FileOf(b1), dir_.Join("conf.d/b.yaml"));
  EXPECT_EQ(FileOf(config->checks[0]), dir_.Join("agent.yaml"));
}

TEST_F(AgentConfigIncludeDir, DefaultDirectoryMayBeAbsent) {
  WriteMain("checks:\n  - type: fake\n");
  absl::StatusOr<AgentConfig> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(NamesOf(*config), ElementsAre("fake"));
  EXPECT_EQ(config->include_dir, "");
}

TEST_F(AgentConfigIncludeDir, EmptyFileAndEmptyChecksAddNothing) {
  WriteMain("checks: []\n");
  WriteConfD("empty.yaml", "");
  WriteConfD("none.yaml", "checks:\n");
  WriteConfD("one.yaml", "checks: [{type: fake}]\n");
  absl::StatusOr<AgentConfig> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(NamesOf(*config), ElementsAre("fake"));
}

TEST_F(AgentConfigIncludeDir, DefaultSystemCheckStaysWhenTheMainFileHasNoChecksKey) {
  WriteMain("interval: 10s\n");
  WriteConfD("nginx.yaml", "checks: [{type: fake, name: nginx}]\n");
  absl::StatusOr<AgentConfig> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(NamesOf(*config), ElementsAre("system", "nginx"));
}

TEST_F(AgentConfigIncludeDir, RelativeIncludeDirIsResolvedAgainstTheMainFile) {
  WriteMain("include_dir: checks.d\nchecks: []\n");
  std::filesystem::create_directories(dir_.Join("checks.d"));
  dir_.Write("checks.d/x.yaml", "checks: [{type: fake}]\n");
  WriteConfD("ignored.yaml", "checks: [{type: fake, name: not-read}]\n");
  absl::StatusOr<AgentConfig> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(NamesOf(*config), ElementsAre("fake"));
  EXPECT_EQ(config->include_dir, dir_.Join("checks.d"));
}

TEST_F(AgentConfigIncludeDir, EmptyIncludeDirDisablesPerCheckFiles) {
  WriteMain("include_dir: ''\nchecks: []\n");
  WriteConfD("x.yaml", "checks: [{type: fake}]\n");
  absl::StatusOr<AgentConfig> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->checks.empty());
  EXPECT_EQ(config->include_dir, "");
}

TEST_F(AgentConfigIncludeDir, NamedDirectoryMustExist) {
  WriteMain("checks: []\ninclude_dir: /nonexistent/vigil.d\n");
  EXPECT_EQ(LoadProblems(),
            dir_.Join("agent.yaml") +
                ":2:14: include_dir: cannot read directory '/nonexistent/vigil.d': No such file or "
                "directory");
}

TEST_F(AgentConfigIncludeDir, ProblemsNameTheirFileAndComeAfterTheMainFiles) {
  WriteMain("checks:\n  - type: fake\n    threshold: 500\n");
  WriteConfD("a.yaml",
             "checks:\n"
             "  - type: nginx\n"
             "  - type: fake\n"
             "    name: ok\n"
             "    treshold: 3\n");
  WriteConfD("b.yaml", "checks:\n  - {type: fake, name: b, interval: 1}\n");
  const std::string main = dir_.Join("agent.yaml");
  const std::string a = dir_.Join("conf.d/a.yaml");
  const std::string b = dir_.Join("conf.d/b.yaml");
  EXPECT_THAT(Lines(LoadProblems()),
              ElementsAre(main + ":3:16: threshold: 500 is out of range [0, 100]",
                          a + ":2:11: checks[0].type: unknown check type 'nginx' (known: system, "
                              "fake, broken, ghost)",
                          a + ":5:5: unknown key 'treshold'",
                          b + ":2:37: interval: bad duration '1': unit must be ms, s, m, h or d"));
}

TEST_F(AgentConfigIncludeDir, SyntaxErrorNamesTheFile) {
  WriteMain("checks: []\n");
  WriteConfD("broken.yaml", "checks:\n  - {type: fake\n");
  WriteConfD("good.yaml", "checks:\n  - type: bad-type\n");
  std::vector<std::string> problems = absl::StrSplit(LoadProblems(), '\n');
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_THAT(problems[0], StartsWith(dir_.Join("conf.d/broken.yaml") + ":3:1: "));
  // The other files are still checked: every problem at once.
  EXPECT_THAT(problems[1], StartsWith(dir_.Join("conf.d/good.yaml") + ":2:11: checks[0].type: "));
}

TEST_F(AgentConfigIncludeDir, DuplicateNameAcrossFilesNamesTheFirstUse) {
  WriteMain("checks:\n  - type: system\n  - type: fake\n    name: web\n");
  WriteConfD("web.yaml", "checks:\n  - type: fake\n    name: web\n");
  EXPECT_EQ(LoadProblems(), dir_.Join("conf.d/web.yaml") +
                                ":3:11: checks[0].name: duplicate check name 'web' (also used by "
                                "the check at " +
                                dir_.Join("agent.yaml") + ":3:5); give each check its own name");
}

TEST_F(AgentConfigIncludeDir, DuplicateNameBetweenTwoIncludedFiles) {
  WriteMain("checks: []\n");
  WriteConfD("a.yaml", "checks:\n  - type: fake\n");
  WriteConfD("b.yaml", "\nchecks:\n  - type: fake\n");
  EXPECT_EQ(LoadProblems(), dir_.Join("conf.d/b.yaml") +
                                ":3:5: checks[0].name: duplicate check name 'fake' (also used by "
                                "the check at " +
                                dir_.Join("conf.d/a.yaml") + ":2:5); give each check its own name");
}

TEST_F(AgentConfigIncludeDir, DuplicateOfTheDefaultSystemCheckSaysWhyItRuns) {
  WriteMain("interval: 10s\n");
  WriteConfD("system.yaml", "checks:\n  - type: system\n");
  EXPECT_EQ(LoadProblems(), dir_.Join("conf.d/system.yaml") +
                                ":2:5: checks[0].name: duplicate check name 'system' (also used "
                                "by the default check, which runs because " +
                                dir_.Join("agent.yaml") +
                                " has no `checks:` key); give each check its own name");
}

TEST_F(AgentConfigIncludeDir, OnlyChecksBelongInAnIncludedFile) {
  WriteMain("checks: []\n");
  WriteConfD("x.yaml", "interval: 5s\nchecks:\n  - type: fake\n");
  WriteConfD("y.yaml", "checks:\n  type: fake\n");
  WriteConfD("z.yaml", "- type: fake\n");
  EXPECT_THAT(Lines(LoadProblems()),
              ElementsAre(dir_.Join("conf.d/x.yaml") +
                              ":1:1: 'interval': a file in include_dir holds only `checks:`; "
                              "other keys belong in " +
                              dir_.Join("agent.yaml"),
                          dir_.Join("conf.d/y.yaml") + ":2:3: checks: expected a list of check "
                                                       "entries",
                          dir_.Join("conf.d/z.yaml") + ":1:1: expected a mapping"));
}

TEST_F(AgentConfigIncludeDir, DirectoryNamedYamlIsAProblem) {
  WriteMain("checks: []\n");
  std::filesystem::create_directories(dir_.Join("conf.d/sub.yaml"));
  EXPECT_EQ(LoadProblems(), dir_.Join("conf.d/sub.yaml") +
                                ": not a regular file (include_dir holds *.yaml files of checks)");
}

TEST(AgentConfig, ParsedTextReadsNoDefaultIncludeDir) {
  TempDir dir;
  std::filesystem::create_directories(dir.Join("conf.d"));
  dir.Write("conf.d/x.yaml", "checks: [{type: fake}]\n");
  absl::StatusOr<AgentConfig> config =
      ParseAgentConfig("checks: []\n", dir.Join("agent.yaml"), MakeCheck, KnownTypes());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->checks.empty());
}

TEST(AgentConfig, ExampleFileLoads) {
  absl::StatusOr<AgentConfig> config = LoadAgentConfig(
      VIGIL_SOURCE_DIR "/agent/testdata/agent.example.yaml", MakeCheck, KnownTypes());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->collector.address, "127.0.0.1:4317");
  EXPECT_EQ(config->collector.token_file, "/etc/vigil/agent.token");
  ASSERT_FALSE(config->checks.empty());
  EXPECT_EQ(config->checks[0].type, "system");
}

}  // namespace
}  // namespace vigil::agent
