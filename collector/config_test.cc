#include "collector/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "alerting/notify/config.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::collector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// sha256 of "web-token", "db-token" and "edge-token".
constexpr char kWebHash[] = "671391faf68e509ca4ec48ccb0690453e9b82c2fa48273703233d60b52b9640d";
constexpr char kDbHash[] = "caf4beb67df21e835c8514c03217c01f9a24bbb43cd4e0ed85dcd48b8edbe495";
constexpr char kEdgeHash[] = "95bcb846a7202cab322c3ed48397e32059113f872a90b8d7ba169b63184092db";

MATCHER_P2(Token, name, sha256, "") { return arg.name == name && arg.sha256 == sha256; }

absl::StatusOr<CollectorConfig> Parse(const std::string& yaml) {
  return ParseCollectorConfig(yaml, "collector.yaml");
}

// The error text of a config that must not load.
std::string Problems(const std::string& yaml, const std::string& name = "collector.yaml") {
  absl::StatusOr<CollectorConfig> config = ParseCollectorConfig(yaml, name);
  EXPECT_FALSE(config.ok()) << "loaded without error:\n" << yaml;
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

using ::vigil::testing::TempDir;

struct BadValueCase {
  std::string test_name;
  std::string yaml;
  std::string message;
};

// Test names in failure messages and ctest, rather than the struct's bytes.
void PrintTo(const BadValueCase& c, std::ostream* os) { *os << c.test_name; }

std::string CaseName(const ::testing::TestParamInfo<BadValueCase>& info) {
  return info.param.test_name;
}

class CollectorConfigBadValue : public ::testing::TestWithParam<BadValueCase> {};

TEST_P(CollectorConfigBadValue, ReportsExactMessageWithPosition) {
  EXPECT_EQ(Problems(GetParam().yaml), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Keys, CollectorConfigBadValue,
    ::testing::Values(
        BadValueCase{"ListenNotAMap", "listen: 127.0.0.1:4317\n",
                     "collector.yaml:1:9: expected a mapping"},
        BadValueCase{"GrpcWithoutPort", "listen:\n  grpc: localhost\n",
                     "collector.yaml:2:9: listen.grpc: expected host:port such as "
                     "127.0.0.1:4317, got 'localhost'"},
        BadValueCase{"GrpcPortTooLarge", "listen:\n  grpc: 0.0.0.0:99999\n",
                     "collector.yaml:2:9: listen.grpc: port must be a number from 0 to 65535, "
                     "got '99999' in '0.0.0.0:99999'"},
        BadValueCase{"HttpMissingHost", "listen:\n  http: ':8080'\n",
                     "collector.yaml:2:9: listen.http: missing host in ':8080' (0.0.0.0 listens "
                     "on all interfaces)"},
        BadValueCase{"HttpBareIpv6", "listen:\n  http: '::1:8080'\n",
                     "collector.yaml:2:9: listen.http: IPv6 hosts go in brackets, e.g. "
                     "[::1]:4317; got '::1:8080'"},
        BadValueCase{"HttpSameAsGrpc", "listen:\n  grpc: 0.0.0.0:9000\n  http: 0.0.0.0:9000\n",
                     "collector.yaml:3:9: listen.http: same address as listen.grpc "
                     "(0.0.0.0:9000)"},
        BadValueCase{"GrpcList", "listen:\n  grpc: [a]\n",
                     "collector.yaml:2:9: grpc: expected a string"},
        BadValueCase{"StateDirEmpty", "state_dir: ''\n",
                     "collector.yaml:1:12: state_dir: must not be empty"},
        BadValueCase{"AuthNotAMap", "auth: secret\n", "collector.yaml:1:7: expected a mapping"},
        BadValueCase{"TokensNotAList", "auth:\n  tokens: {name: a}\n",
                     "collector.yaml:2:11: auth.tokens: expected a list of {name, sha256} "
                     "entries"},
        BadValueCase{"TokenEntryScalar", "auth:\n  tokens:\n    - web\n",
                     "collector.yaml:3:7: auth.tokens[0]: expected a mapping {name, sha256}"},
        BadValueCase{"TokenShortHash",
                     absl::StrCat("auth:\n  tokens:\n    - {name: web, sha256: ", kWebHash,
                                  "}\n    - {name: db, sha256: 3a7bd3e2360a}\n"),
                     "collector.yaml:4:26: auth.tokens[1].sha256: expected 64 lowercase hex "
                     "characters (sha256 of the token); got 12 characters"},
        BadValueCase{"TokenUppercaseHash",
                     "auth:\n  tokens:\n    - name: web\n      sha256: "
                     "671391FAF68E509CA4EC48CCB0690453E9B82C2FA48273703233D60B52B9640D\n",
                     "collector.yaml:4:15: auth.tokens[0].sha256: expected 64 lowercase hex "
                     "characters (sha256 of the token); got 'F' at offset 6"},
        BadValueCase{"TokenHashMissing", "auth:\n  tokens:\n    - name: web\n",
                     "collector.yaml:3:7: auth.tokens[0].sha256: required"},
        BadValueCase{"TokenNameMissing",
                     absl::StrCat("auth:\n  tokens:\n    - sha256: ", kWebHash, "\n"),
                     "collector.yaml:3:7: auth.tokens[0].name: required"},
        BadValueCase{
            "TokenNameWithSpace",
            absl::StrCat("auth:\n  tokens:\n    - {name: web fleet, sha256: ", kWebHash, "}\n"),
            "collector.yaml:3:14: auth.tokens[0].name: 'web fleet' must be letters, "
            "digits, '.', '_' or '-'"},
        BadValueCase{"TokenNameDuplicate",
                     absl::StrCat("auth:\n  tokens:\n    - {name: web, sha256: ", kWebHash,
                                  "}\n    - {name: web, sha256: ", kDbHash, "}\n"),
                     "collector.yaml:4:14: auth.tokens[1].name: duplicate token name 'web' (also "
                     "at auth.tokens[0])"},
        BadValueCase{"TokenHashDuplicate",
                     absl::StrCat("auth:\n  tokens:\n    - {name: web, sha256: ", kWebHash,
                                  "}\n    - {name: db, sha256: ", kWebHash, "}\n"),
                     "collector.yaml:4:26: auth.tokens[1].sha256: same hash as token 'web' (at "
                     "auth.tokens[0]); one token cannot have two names"},
        BadValueCase{"TokensFileMissing", "auth:\n  tokens_file: /nonexistent/agent-tokens\n",
                     "collector.yaml:2:16: auth.tokens_file: cannot read "
                     "'/nonexistent/agent-tokens': No such file or directory"},
        BadValueCase{"ApiTokenFileList", "auth:\n  api_token_file: [a, b]\n",
                     "collector.yaml:2:19: api_token_file: expected a string"},
        BadValueCase{"TlsEnabledNotBool", "tls:\n  enabled: sometimes\n",
                     "collector.yaml:2:12: enabled: expected true or false"},
        BadValueCase{"TlsCertWithoutKey", "tls:\n  cert_file: /etc/vigil/collector.crt\n",
                     "collector.yaml:2:14: tls.key_file: required when cert_file is set"},
        BadValueCase{"TlsKeyWithoutCert", "tls:\n  key_file: /etc/vigil/collector.key\n",
                     "collector.yaml:2:13: tls.cert_file: required when key_file is set"},
        BadValueCase{"TlsEnabledWithoutCert", "tls:\n  enabled: true\n",
                     "collector.yaml:2:12: tls: cert_file and key_file are required when enabled "
                     "is true"},
        BadValueCase{"RetentionTooShort", "retention: 1m\n",
                     "collector.yaml:1:12: retention: must be at least 5m"},
        BadValueCase{"RetentionNotADuration", "retention: forever\n",
                     "collector.yaml:1:12: retention: bad duration 'forever' (e.g. 10s, 1m30s)"},
        BadValueCase{"MaxMessageBytesTooSmall", "limits:\n  max_message_bytes: 100\n",
                     "collector.yaml:2:22: limits.max_message_bytes: must be from 1KiB to 1GiB, "
                     "got 100 bytes"},
        BadValueCase{"MaxMessageBytesTooLarge", "limits:\n  max_message_bytes: 2GiB\n",
                     "collector.yaml:2:22: limits.max_message_bytes: must be from 1KiB to 1GiB, "
                     "got 2147483648 bytes"},
        BadValueCase{"MaxMessageBytesBadUnit", "limits:\n  max_message_bytes: 4mb\n",
                     "collector.yaml:2:22: max_message_bytes: bad size unit 'mb' in '4mb' (B, "
                     "KiB, MiB, GiB, KB, MB, GB)"},
        BadValueCase{"MaxLabelsPerSeriesZero", "limits:\n  max_labels_per_series: 0\n",
                     "collector.yaml:2:26: max_labels_per_series: 0 is out of range [1, 1000]"},
        BadValueCase{"MaxLabelsPerSeriesText", "limits:\n  max_labels_per_series: lots\n",
                     "collector.yaml:2:26: max_labels_per_series: expected an integer, got "
                     "'lots'"},
        BadValueCase{"MaxLabelNameLengthZero", "limits:\n  max_label_name_length: 0\n",
                     "collector.yaml:2:26: max_label_name_length: 0 is out of range [1, 65536]"},
        BadValueCase{"MaxLabelValueLengthTooLarge", "limits:\n  max_label_value_length: 2000000\n",
                     "collector.yaml:2:27: max_label_value_length: 2000000 is out of range [1, "
                     "1048576]"},
        BadValueCase{"MaxSeriesPerAgentNegative", "limits:\n  max_series_per_agent: -5\n",
                     "collector.yaml:2:25: max_series_per_agent: -5 is out of range [1, "
                     "100000000]"},
        BadValueCase{"MaxFutureSkewZero", "limits:\n  max_future_skew: 0s\n",
                     "collector.yaml:2:20: limits.max_future_skew: must be greater than 0"},
        BadValueCase{"MaxFutureSkewBareNumber", "limits:\n  max_future_skew: 300\n",
                     "collector.yaml:2:20: max_future_skew: bad duration '300': unit must be ms, "
                     "s, m, h or d"},
        BadValueCase{"MaxPastAgeZero", "limits:\n  max_past_age: 0s\n",
                     "collector.yaml:2:17: limits.max_past_age: must be greater than 0"},
        BadValueCase{"MaxPastAgeBeyondRetention", "retention: 2h\nlimits:\n  max_past_age: 3h\n",
                     "collector.yaml:3:17: limits.max_past_age: 3h is longer than retention "
                     "(2h); such points would be dropped"},
        BadValueCase{"QueueCapacityZero", "limits:\n  queue_capacity: 0\n",
                     "collector.yaml:2:19: queue_capacity: 0 is out of range [1, 1000000]"},
        BadValueCase{"WorkersTooMany", "ingest:\n  workers: 65\n",
                     "collector.yaml:2:12: workers: 65 is out of range [1, 64]"},
        BadValueCase{"WorkersZero", "ingest:\n  workers: 0\n",
                     "collector.yaml:2:12: workers: 0 is out of range [1, 64]"},
        BadValueCase{"RootNotAMapping", "just text\n", "collector.yaml:1:1: expected a mapping"}),
    CaseName);

class CollectorConfigUnknownKey : public ::testing::TestWithParam<BadValueCase> {};

TEST_P(CollectorConfigUnknownKey, ReportsKeyAndPosition) {
  EXPECT_EQ(Problems(GetParam().yaml), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Levels, CollectorConfigUnknownKey,
    ::testing::Values(BadValueCase{"Top", "retention: 6h\nretension: 7d\n",
                                   "collector.yaml:2:1: unknown key 'retension'"},
                      BadValueCase{"Listen", "listen:\n  grcp: 127.0.0.1:4317\n",
                                   "collector.yaml:2:3: unknown key 'grcp'"},
                      BadValueCase{"Auth", "auth:\n  token: abc\n",
                                   "collector.yaml:2:3: unknown key 'token'"},
                      BadValueCase{"TokenEntry",
                                   absl::StrCat("auth:\n  tokens:\n    - name: web\n      sha256: ",
                                                kWebHash, "\n      token: plain\n"),
                                   "collector.yaml:5:7: unknown key 'token'"},
                      BadValueCase{"Tls", "tls:\n  ca_file: /etc/ca.pem\n",
                                   "collector.yaml:2:3: unknown key 'ca_file'"},
                      BadValueCase{"Limits", "limits:\n  max_series: 5\n",
                                   "collector.yaml:2:3: unknown key 'max_series'"},
                      BadValueCase{"Ingest", "ingest:\n  threads: 4\n",
                                   "collector.yaml:2:3: unknown key 'threads'"},
                      BadValueCase{"Alerting", "alerting:\n  config: a.yaml\n",
                                   "collector.yaml:2:3: unknown key 'config'"},
                      BadValueCase{"State", "state:\n  backnd: postgres\n",
                                   "collector.yaml:2:3: unknown key 'backnd'"},
                      BadValueCase{"StatePostgres", "state:\n  postgres:\n    password: x\n",
                                   "collector.yaml:3:5: unknown key 'password'"},
                      BadValueCase{"StateHa", "state:\n  ha:\n    lease: 15s\n",
                                   "collector.yaml:3:5: unknown key 'lease'"}),
    CaseName);

TEST(CollectorConfig, ReportsEveryProblemAtOnce) {
  std::string problems =
      Problems(absl::StrCat("listen:\n"
                            "  grpc: nowhere\n"
                            "auth:\n"
                            "  tokens:\n"
                            "    - {name: web, sha256: abc}\n"
                            "retention: 1m\n"
                            "limits:\n"
                            "  queue_capacity: 0\n"
                            "colour: blue\n"));
  EXPECT_THAT(absl::StrSplit(problems, '\n'),
              ElementsAre("collector.yaml:2:9: listen.grpc: expected host:port such as "
                          "127.0.0.1:4317, got 'nowhere'",
                          "collector.yaml:5:27: auth.tokens[0].sha256: expected 64 lowercase hex "
                          "characters (sha256 of the token); got 3 characters",
                          "collector.yaml:6:12: retention: must be at least 5m",
                          "collector.yaml:8:19: queue_capacity: 0 is out of range [1, 1000000]",
                          "collector.yaml:9:1: unknown key 'colour'"));
}

TEST(CollectorConfig, FullFileParsesToExpectedValues) {
  TempDir dir;
  dir.Write("agent-tokens", absl::StrCat("edge ", kEdgeHash, "\n"));
  std::string path = dir.Write("collector.yaml", absl::StrCat(R"(
listen:
  grpc: 0.0.0.0:4317
  http: '[::1]:8080'
state_dir: /srv/vigil
auth:
  tokens:
    - {name: web-fleet, sha256: )",
                                                              kWebHash, R"(}
    - name: db-fleet
      sha256: )",
                                                              kDbHash, R"(
  tokens_file: agent-tokens  # relative to this file's directory
  api_token_file: /etc/vigil/api.token
tls:
  enabled: true
  cert_file: /etc/vigil/collector.crt
  key_file: /etc/vigil/collector.key
  client_ca_file: /etc/vigil/ca.pem
retention: 12h
limits:
  max_message_bytes: 8MiB
  max_labels_per_series: 16
  max_label_name_length: 64
  max_label_value_length: 512
  max_series_per_agent: 20000
  max_future_skew: 1m
  max_past_age: 2h
  queue_capacity: 100
ingest:
  workers: 4
)"));
  absl::StatusOr<CollectorConfig> config = LoadCollectorConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen.grpc, "0.0.0.0:4317");
  EXPECT_EQ(config->listen.http, "[::1]:8080");
  EXPECT_EQ(config->state_dir, "/srv/vigil");
  EXPECT_THAT(config->auth.tokens,
              ElementsAre(Token("web-fleet", kWebHash), Token("db-fleet", kDbHash),
                          Token("edge", kEdgeHash)));
  EXPECT_EQ(config->auth.tokens_file, dir.path() + "/agent-tokens");
  EXPECT_EQ(config->auth.api_token_file, "/etc/vigil/api.token");
  EXPECT_TRUE(config->tls.enabled);
  EXPECT_EQ(config->tls.cert_file, "/etc/vigil/collector.crt");
  EXPECT_EQ(config->tls.key_file, "/etc/vigil/collector.key");
  EXPECT_EQ(config->tls.client_ca_file, "/etc/vigil/ca.pem");
  EXPECT_EQ(config->retention, absl::Hours(12));
  EXPECT_EQ(config->limits.max_message_bytes, uint64_t{8} << 20);
  EXPECT_EQ(config->limits.max_labels_per_series, 16);
  EXPECT_EQ(config->limits.max_label_name_length, 64);
  EXPECT_EQ(config->limits.max_label_value_length, 512);
  EXPECT_EQ(config->limits.max_series_per_agent, 20000);
  EXPECT_EQ(config->limits.max_future_skew, absl::Minutes(1));
  EXPECT_EQ(config->limits.max_past_age, absl::Hours(2));
  EXPECT_EQ(config->limits.queue_capacity, 100);
  EXPECT_EQ(config->ingest.workers, 4);
  EXPECT_EQ(config->config_dir, dir.path());
}

TEST(CollectorConfig, EmptyFileGivesDefaults) {
  absl::StatusOr<CollectorConfig> config = Parse("");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen.grpc, "127.0.0.1:4317");
  EXPECT_EQ(config->listen.http, "127.0.0.1:8080");
  EXPECT_EQ(config->state_dir, "/var/lib/vigil-collector");
  EXPECT_TRUE(config->auth.tokens.empty());
  EXPECT_EQ(config->auth.tokens_file, "");
  EXPECT_EQ(config->auth.api_token_file, "");
  EXPECT_FALSE(config->tls.enabled);
  EXPECT_EQ(config->retention, absl::Hours(6));
  EXPECT_EQ(config->limits.max_message_bytes, uint64_t{4} << 20);
  EXPECT_EQ(config->limits.max_labels_per_series, 32);
  EXPECT_EQ(config->limits.max_label_name_length, 128);
  EXPECT_EQ(config->limits.max_label_value_length, 1024);
  EXPECT_EQ(config->limits.max_series_per_agent, 10000);
  EXPECT_EQ(config->limits.max_future_skew, absl::Minutes(5));
  EXPECT_EQ(config->limits.max_past_age, absl::Hours(6));
  EXPECT_EQ(config->limits.queue_capacity, 4096);
  EXPECT_EQ(config->ingest.workers, 2);
  EXPECT_EQ(config->config_dir, "");

  CollectorConfig defaults = DefaultCollectorConfig();
  EXPECT_EQ(defaults.listen.grpc, config->listen.grpc);
  EXPECT_EQ(defaults.retention, config->retention);
  EXPECT_EQ(defaults.limits.max_past_age, config->limits.max_past_age);
  EXPECT_EQ(defaults.ingest.workers, config->ingest.workers);
}

TEST(CollectorConfig, MaxPastAgeDefaultsToRetention) {
  absl::StatusOr<CollectorConfig> config = Parse("retention: 2d\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->limits.max_past_age, absl::Hours(48));
}

TEST(CollectorConfig, PortZeroIsAllowedOnBothListeners) {
  absl::StatusOr<CollectorConfig> config =
      Parse("listen:\n  grpc: 127.0.0.1:0\n  http: 127.0.0.1:0\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen.grpc, "127.0.0.1:0");
  EXPECT_EQ(config->listen.http, "127.0.0.1:0");
}

TEST(CollectorConfig, TokensFileProblemsHaveTheirOwnFileLineAndColumn) {
  TempDir dir;
  std::string tokens = dir.Write("agent-tokens", absl::StrCat("# fleet tokens\n"
                                                              "\n"
                                                              "web ",
                                                              kWebHash,
                                                              "\n"
                                                              "lonely\n"
                                                              "db  ABC  # comment\n"
                                                              "bad$name ",
                                                              kDbHash,
                                                              "\n"
                                                              "  again ",
                                                              kWebHash,
                                                              "\n"
                                                              "web ",
                                                              kEdgeHash,
                                                              "\n"
                                                              "a b c\n"));
  std::string problems =
      Problems(absl::StrCat("auth:\n  tokens_file: ", tokens, "\n"), "collector.yaml");
  EXPECT_THAT(
      absl::StrSplit(problems, '\n'),
      ElementsAre(tokens + ":4:1: expected 'name sha256', got 1 field",
                  tokens + ":5:5: sha256: expected 64 lowercase hex characters (sha256 "
                           "of the token); got 3 characters",
                  tokens + ":6:1: name: 'bad$name' must be letters, digits, '.', '_' or "
                           "'-'",
                  tokens + ":7:9: sha256: same hash as token 'web' (at " + tokens +
                      ":3); one token cannot have two names",
                  tokens + ":8:1: name: duplicate token name 'web' (also at " + tokens + ":3)",
                  tokens + ":9:1: expected 'name sha256', got 3 fields"));
}

TEST(CollectorConfig, TokensFileNamesMustDifferFromInlineTokens) {
  TempDir dir;
  std::string tokens = dir.Write("agent-tokens", absl::StrCat("web ", kDbHash, "\n"));
  EXPECT_EQ(Problems(absl::StrCat("auth:\n  tokens:\n    - {name: web, sha256: ", kWebHash,
                                  "}\n  tokens_file: ", tokens, "\n")),
            tokens + ":1:1: name: duplicate token name 'web' (also at auth.tokens[0])");
}

TEST(CollectorConfig, RelativePathsAreResolvedAgainstTheConfigDirectory) {
  TempDir dir;
  dir.Write("agent-tokens", absl::StrCat("web ", kWebHash, "\n"));
  std::string path = dir.Write("collector.yaml",
                               "state_dir: state\n"
                               "auth:\n"
                               "  tokens_file: agent-tokens\n"
                               "  api_token_file: api.token\n"
                               "tls: {enabled: true, cert_file: tls/c.pem, key_file: tls/k.pem,"
                               " client_ca_file: tls/ca.pem}\n");
  absl::StatusOr<CollectorConfig> config = LoadCollectorConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->state_dir, dir.path() + "/state");
  EXPECT_EQ(config->auth.tokens_file, dir.path() + "/agent-tokens");
  EXPECT_THAT(config->auth.tokens, ElementsAre(Token("web", kWebHash)));
  EXPECT_EQ(config->auth.api_token_file, dir.path() + "/api.token");
  EXPECT_EQ(config->tls.cert_file, dir.path() + "/tls/c.pem");
  EXPECT_EQ(config->tls.key_file, dir.path() + "/tls/k.pem");
  EXPECT_EQ(config->tls.client_ca_file, dir.path() + "/tls/ca.pem");
}

TEST(CollectorConfig, YamlSyntaxErrorHasPosition) {
  absl::StatusOr<CollectorConfig> config = Parse("listen:\n  grpc: \"127.0.0.1:4317\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), StartsWith("collector.yaml:2:9: "));
}

TEST(CollectorConfig, LoadMissingFileIsNotFoundNamingTheFile) {
  TempDir dir;
  std::string path = dir.path() + "/absent.yaml";
  absl::StatusOr<CollectorConfig> config = LoadCollectorConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(path));
}

TEST(CollectorConfig, LoadReportsProblemsWithTheFilePath) {
  TempDir dir;
  std::string path = dir.Write("collector.yaml", "ingest:\n  workers: 100\n");
  absl::StatusOr<CollectorConfig> config = LoadCollectorConfig(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(), path + ":2:12: workers: 100 is out of range [1, 64]");
}

TEST(CollectorConfig, ExampleFileLoads) {
  absl::StatusOr<CollectorConfig> config =
      LoadCollectorConfig(VIGIL_SOURCE_DIR "/collector/testdata/collector.example.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen.grpc, "127.0.0.1:4317");
  EXPECT_EQ(config->retention, absl::Hours(6));
  EXPECT_EQ(config->state.backend, "sqlite");
  EXPECT_EQ(config->state.postgres.statement_timeout, absl::Seconds(10));
  EXPECT_EQ(config->state.ha.renew_interval, absl::Seconds(2));
}

TEST(CollectorConfig, AlertingDefaultsToAnOptionalFileBesideTheConfig) {
  TempDir dir;
  std::string path = dir.Write("collector.yaml", "retention: 6h\n");
  absl::StatusOr<CollectorConfig> config = LoadCollectorConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->alerting.config_file, dir.path() + "/alerting.yaml");
  EXPECT_FALSE(config->alerting.config_file_required);
  EXPECT_EQ(config->alerting.external_url, "");
  // The embedded defaults send nothing.
  EXPECT_EQ(DefaultCollectorConfig().alerting.config_file, "");
}

TEST(CollectorConfig, AlertingConfigFileIsResolvedAndRequiredWhenGiven) {
  TempDir dir;
  std::string path = dir.Write(
      "collector.yaml",
      "alerting: {config_file: conf/alerting.yaml, external_url: 'https://vigil.example:8080'}\n");
  absl::StatusOr<CollectorConfig> config = LoadCollectorConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->alerting.config_file, dir.path() + "/conf/alerting.yaml");
  EXPECT_TRUE(config->alerting.config_file_required);
  EXPECT_EQ(config->alerting.external_url, "https://vigil.example:8080");
}

TEST(CollectorConfig, AlertingBadValuesArePositioned) {
  EXPECT_EQ(Problems("alerting:\n  config_file: ''\n  external_url: vigil.example\n"),
            "collector.yaml:2:16: alerting.config_file: must not be empty (leave the key out for "
            "the default)\n"
            "collector.yaml:3:17: alerting.external_url: must start with http:// or https://, "
            "got 'vigil.example'");
  EXPECT_EQ(Problems("alerting: [a]\n"), "collector.yaml:1:11: expected a mapping");
}

TEST(CollectorConfig, ExampleAlertingConfigLoads) {
  absl::StatusOr<std::shared_ptr<const alerting::AlertingConfig>> config =
      alerting::LoadAlertingConfig(VIGIL_SOURCE_DIR "/collector/testdata/alerting.example.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ((*config)->receivers.size(), 3u);
  EXPECT_EQ((*config)->receivers[0].name, "oncall");
  EXPECT_EQ((*config)->receivers[0].integrations.size(), 2u);
  ASSERT_TRUE((*config)->route.has_value());
  EXPECT_EQ((*config)->route->routes.size(), 3u);
  EXPECT_EQ((*config)->maintenance_windows.size(), 1u);
  EXPECT_EQ((*config)->inhibit_rules.size(), 1u);
}

TEST(CollectorConfig, ExampleTokensFileLoads) {
  std::string dir = VIGIL_SOURCE_DIR "/collector/testdata";
  absl::StatusOr<CollectorConfig> config =
      ParseCollectorConfig("auth:\n  tokens_file: agent-tokens.example\n", dir + "/collector.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->auth.tokens,
              ElementsAre(Token("web-fleet", kWebHash), Token("db-fleet", kDbHash)));
}

TEST(CollectorConfig, StateDefaultsToSqliteInTheStateDirectory) {
  ::unsetenv("POD_NAME");
  absl::StatusOr<CollectorConfig> config = Parse("retention: 6h\n");
  ASSERT_TRUE(config.ok()) << config.status();
  const StateConfig& s = config->state;
  EXPECT_EQ(s.backend, "sqlite");
  EXPECT_EQ(s.postgres.host, "127.0.0.1");
  EXPECT_EQ(s.postgres.port, 5432);
  EXPECT_EQ(s.postgres.dbname, "vigil");
  EXPECT_EQ(s.postgres.user, "vigil");
  EXPECT_EQ(s.postgres.password_file, "");
  EXPECT_EQ(s.postgres.sslmode, "prefer");
  EXPECT_EQ(s.postgres.sslrootcert, "");
  EXPECT_EQ(s.postgres.connect_timeout, absl::Seconds(5));
  EXPECT_EQ(s.postgres.statement_timeout, absl::Seconds(10));
  EXPECT_FALSE(s.ha.enabled);
  char host[256] = {0};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(s.ha.replica_name, host);
  EXPECT_EQ(s.ha.lease_duration, absl::Seconds(10));
  EXPECT_EQ(s.ha.renew_interval, absl::Seconds(2));
  EXPECT_EQ(DefaultCollectorConfig().state.backend, "sqlite");
}

TEST(CollectorConfig, StatePostgresWithHaParsesEveryKey) {
  TempDir dir;
  const std::string path = dir.Write("collector.yaml", R"(state:
  backend: postgres
  postgres:
    host: pg.example
    port: 6432
    dbname: vigil_prod
    user: collector
    password_file: secrets/pg-password
    sslmode: verify-full
    sslrootcert: /etc/ssl/pg-ca.pem
    connect_timeout: 2s
    statement_timeout: 30s
  ha:
    enabled: true
    replica_name: collector-0
    lease_duration: 10s
    renew_interval: 2s
)");
  absl::StatusOr<CollectorConfig> config = LoadCollectorConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  const StateConfig& s = config->state;
  EXPECT_EQ(s.backend, "postgres");
  EXPECT_EQ(s.postgres.host, "pg.example");
  EXPECT_EQ(s.postgres.port, 6432);
  EXPECT_EQ(s.postgres.dbname, "vigil_prod");
  EXPECT_EQ(s.postgres.user, "collector");
  EXPECT_EQ(s.postgres.password_file, dir.Join("secrets/pg-password"));
  EXPECT_EQ(s.postgres.sslmode, "verify-full");
  EXPECT_EQ(s.postgres.sslrootcert, "/etc/ssl/pg-ca.pem");
  EXPECT_EQ(s.postgres.connect_timeout, absl::Seconds(2));
  EXPECT_EQ(s.postgres.statement_timeout, absl::Seconds(30));
  EXPECT_TRUE(s.ha.enabled);
  EXPECT_EQ(s.ha.replica_name, "collector-0");
  EXPECT_EQ(s.ha.lease_duration, absl::Seconds(10));
  EXPECT_EQ(s.ha.renew_interval, absl::Seconds(2));
}

TEST(CollectorConfig, ReplicaNameDefaultsToThePodName) {
  ASSERT_EQ(::setenv("POD_NAME", "vigil-collector-7d9f-x2x4q", 1), 0);
  absl::StatusOr<CollectorConfig> config =
      Parse("state: {backend: postgres, ha: {enabled: true}}\n");
  ::unsetenv("POD_NAME");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->state.ha.replica_name, "vigil-collector-7d9f-x2x4q");
}

TEST(CollectorConfig, StateBadValuesArePositioned) {
  EXPECT_EQ(Problems("state:\n  backend: mysql\n"),
            "collector.yaml:2:12: state.backend: must be sqlite or postgres, got 'mysql'");
  EXPECT_EQ(Problems("state:\n  ha:\n    enabled: true\n"),
            "collector.yaml:3:14: state.ha.enabled: requires state.backend: postgres (replicas "
            "share their state there), got 'sqlite'");
  EXPECT_EQ(
      Problems("state:\n  backend: postgres\n  ha: {lease_duration: 10s, renew_interval: 5s}\n"),
      "collector.yaml:3:45: state.ha.renew_interval: must be less than half of "
      "lease_duration (10s), got 5s; a leader must get two tries to renew before its lease "
      "lapses");
  EXPECT_EQ(Problems("state:\n  postgres:\n    port: 70000\n    sslmode: verify\n"
                     "    password_file: ''\n    dbname: ''\n    statement_timeout: 0s\n"),
            "collector.yaml:3:11: port: 70000 is out of range [1, 65535]\n"
            "collector.yaml:6:13: state.postgres.dbname: must not be empty\n"
            "collector.yaml:5:20: state.postgres.password_file: must not be empty (leave the key "
            "out for libpq's own rules)\n"
            "collector.yaml:4:14: state.postgres.sslmode: must be one of disable, allow, prefer, "
            "require, verify-ca, verify-full; got 'verify'\n"
            "collector.yaml:7:24: statement_timeout: must be at least 100ms");
  EXPECT_EQ(Problems("state: postgres\n"), "collector.yaml:1:8: expected a mapping");
}

TEST(CollectorConfig, ExampleFileDocumentsTheStateSection) {
  const std::string example =
      testing::ReadFile(VIGIL_SOURCE_DIR "/collector/testdata/collector.example.yaml");
  for (const char* key :
       {"backend:", "postgres:", "host:", "port:", "dbname:", "user:", "password_file:", "sslmode:",
        "sslrootcert:", "connect_timeout:", "statement_timeout:", "ha:", "enabled:",
        "replica_name:", "lease_duration:", "renew_interval:"}) {
    EXPECT_THAT(example, HasSubstr(key)) << key;
  }
}

}  // namespace
}  // namespace vigil::collector
