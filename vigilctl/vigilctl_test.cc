#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/http/http_server.h"
#include "collector/store/series_store.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vigilctl/api_client.h"
#include "vigilctl/commands.h"
#include "vigilctl/table.h"

namespace vigil::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

constexpr int64_t kNow = 1795341600000;  // 2026-11-22T10:00:00Z
constexpr int64_t kMinute = 60 * 1000;

// ---- TextTable ----

TEST(TextTable, PadsColumnsToTheWidestCellWithoutTrailingSpaces) {
  TextTable table({"NAME", "VALUE"});
  table.AddRow({"a", "1"});
  table.AddRow({"longer-name", "22"});
  EXPECT_EQ(table.Render(),
            "NAME         VALUE\n"
            "a            1\n"
            "longer-name  22\n");
}

TEST(TextTable, RightAlignedColumnPadsOnTheLeft) {
  TextTable table({"T", "VALUE"});
  table.SetAlign(1, TextTable::Align::kRight);
  table.AddRow({"x", "1.5"});
  table.AddRow({"y", "100"});
  EXPECT_EQ(table.Render(),
            "T  VALUE\n"
            "x    1.5\n"
            "y    100\n");
}

TEST(TextTable, CountsUtf8CharactersNotBytes) {
  TextTable table({"HOST", "N"});
  table.AddRow({"zürich", "1"});
  table.AddRow({"bern", "2"});
  EXPECT_EQ(table.Render(),
            "HOST    N\n"
            "zürich  1\n"
            "bern    2\n");
}

TEST(TextTable, ShortRowsGetEmptyCells) {
  TextTable table({"A", "B"});
  table.AddRow({"only"});
  EXPECT_EQ(table.Render(), "A     B\nonly\n");
  EXPECT_EQ(table.rows(), 1u);
}

// ---- Formatting ----

TEST(FormatTimestamp, UtcRfc3339WithMillisecondsOnlyWhenPresent) {
  EXPECT_EQ(FormatTimestamp(kNow), "2026-11-22T10:00:00Z");
  EXPECT_EQ(FormatTimestamp(kNow + 250), "2026-11-22T10:00:00.250Z");
}

TEST(FormatValue, ShortestRoundTrip) {
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
}

// ---- ParseArgs ----

TEST(ParseArgs, SeriesUsesEnvironmentUrlElseDefault) {
  absl::StatusOr<Invocation> from_env = ParseArgs({"series", "a", "b"}, "http://c:9");
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->command, Invocation::Command::kSeries);
  EXPECT_EQ(from_env->collector_url, "http://c:9");
  EXPECT_THAT(from_env->matches, ElementsAre("a", "b"));
  EXPECT_EQ(ParseArgs({"series", "a"}, "")->collector_url, "http://127.0.0.1:8080");
}

TEST(ParseArgs, CollectorFlagOverridesEnvironmentInBothForms) {
  EXPECT_EQ(ParseArgs({"--collector", "http://x:1", "series", "a"}, "http://c:9")->collector_url,
            "http://x:1");
  EXPECT_EQ(ParseArgs({"series", "a", "--collector=http://y:2"}, "")->collector_url, "http://y:2");
}

TEST(ParseArgs, QueryFlagsInAnyOrderIncludingValuesStartingWithDash) {
  absl::StatusOr<Invocation> inv = ParseArgs(
      {"query", "--from", "-15m", "system.load.1", "--step=1m", "--stat", "max", "--to", "now"},
      "");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, Invocation::Command::kQuery);
  EXPECT_THAT(inv->query.selectors, ElementsAre("system.load.1"));
  EXPECT_EQ(inv->query.from, "-15m");
  EXPECT_EQ(inv->query.to, "now");
  EXPECT_EQ(inv->query.step, "1m");
  EXPECT_EQ(inv->query.stat, "max");
}

TEST(ParseArgs, TimeoutIsADuration) {
  EXPECT_EQ(ParseArgs({"--timeout", "500ms", "series", "a"}, "")->timeout, absl::Milliseconds(500));
  EXPECT_THAT(ParseArgs({"--timeout", "soon", "series", "a"}, "").status().message(),
              HasSubstr("--timeout: bad duration 'soon'"));
}

TEST(ParseArgs, TokenCommands) {
  EXPECT_EQ(ParseArgs({"token", "generate"}, "")->command, Invocation::Command::kTokenGenerate);
  absl::StatusOr<Invocation> from_stdin = ParseArgs({"token", "hash"}, "");
  EXPECT_EQ(from_stdin->command, Invocation::Command::kTokenHash);
  EXPECT_EQ(from_stdin->token_file, "");
  EXPECT_EQ(ParseArgs({"token", "hash", "/etc/vigil/token"}, "")->token_file, "/etc/vigil/token");
  EXPECT_EQ(ParseArgs({"token", "hash", "-"}, "")->token_file, "");
}

TEST(ParseArgs, HelpWinsOverEverythingElse) {
  EXPECT_EQ(ParseArgs({"--help"}, "")->command, Invocation::Command::kHelp);
  EXPECT_EQ(ParseArgs({"--version"}, "")->command, Invocation::Command::kVersion);
  EXPECT_EQ(ParseArgs({"alarms", "--version"}, "")->command, Invocation::Command::kVersion);
  EXPECT_EQ(ParseArgs({"series", "-h"}, "")->command, Invocation::Command::kHelp);
}

TEST(ParseArgs, MistakesAreInvalidArgumentNamingTheArgument) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{}, "no command given"},
           {{"frobnicate"}, "unknown command 'frobnicate'"},
           {{"--verbose", "series", "a"}, "unknown flag '--verbose'"},
           {{"series"}, "series: give at least one selector"},
           {{"query"}, "query: give at least one selector"},
           {{"query", "a", "--from"}, "flag --from needs a value"},
           {{"series", "a", "--step", "1m"}, "--step only applies to the query command"},
           {{"token"}, "token: give generate or hash"},
           {{"token", "burn"}, "unknown token command 'burn'"},
           {{"token", "generate", "x"}, "token generate: unexpected argument 'x'"},
       }) {
    absl::StatusOr<Invocation> inv = ParseArgs(c.args, "");
    ASSERT_FALSE(inv.ok()) << testing::PrintToString(c.args);
    EXPECT_EQ(inv.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(inv.status().message(), c.message);
  }
}

TEST(Usage, DocumentsEveryCommandAndTheQueryOutput) {
  std::string usage = Usage();
  for (const char* text : {"series MATCH...", "query SELECTOR...", "token generate",
                           "token hash [FILE]", "--collector URL", "VIGIL_COLLECTOR_URL",
                           "TIME / VALUE", "avg (default), min, max, sum, count or last"}) {
    EXPECT_THAT(usage, HasSubstr(text));
  }
}

// ---- Commands against a real collector HTTP server ----

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = [](std::string host) {
      return SeriesKey{"system.load.1", {{"host", std::move(host)}}};
    };
    store_.Append(key("web-1"),
                  std::vector<collector::DataPoint>{
                      {kNow - 3 * kMinute, 0.5}, {kNow - 2 * kMinute, 1.25}, {kNow - kMinute, 3}},
                  kNow);
    store_.Append(key("web-2"), std::vector<collector::DataPoint>{{kNow - kMinute, 12}}, kNow);
    store_.Append(SeriesKey{"system.mem.used_bytes", {{"host", "web-1"}}},
                  std::vector<collector::DataPoint>{{kNow - kMinute, 1e9}}, kNow);
    collector::ApiContext context;
    context.store = &store_;
    context.now_ms = [] { return kNow; };
    collector::HttpServer::Options options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    auto server = collector::HttpServer::Start(options, context);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<ApiClient>(absl::StrCat("http://127.0.0.1:", server_->port(), "/"),
                                          absl::Seconds(10));
  }

  collector::SeriesStore store_{collector::SeriesStore::Options{}};
  std::unique_ptr<collector::HttpServer> server_;
  std::unique_ptr<ApiClient> client_;
  std::ostringstream out_, err_;
};

TEST_F(CommandsTest, SeriesPrintsSortedSeriesAndCount) {
  EXPECT_EQ(RunSeries(*client_, {"system.load.1", "{host=\"web-1\"}"}, out_, err_), kExitOk);
  EXPECT_EQ(out_.str(),
            "SERIES\n"
            "system.load.1{host=\"web-1\"}\n"
            "system.load.1{host=\"web-2\"}\n"
            "system.mem.used_bytes{host=\"web-1\"}\n"
            "\n"
            "3 series\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CommandsTest, QueryPrintsATimeValueTablePerSeries) {
  QueryArgs query;
  query.selectors = {"system.load.1"};
  query.from = "-150s";
  EXPECT_EQ(RunQuery(*client_, query, out_, err_), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "system.load.1{host=\"web-1\"}\n"
            "TIME                  VALUE\n"
            "2026-11-22T09:58:00Z   1.25\n"
            "2026-11-22T09:59:00Z      3\n"
            "\n"
            "system.load.1{host=\"web-2\"}\n"
            "TIME                  VALUE\n"
            "2026-11-22T09:59:00Z     12\n"
            "\n"
            "2 series, 3 points\n");
}

TEST_F(CommandsTest, QueryWithStepAndStatDownsamples) {
  QueryArgs query;
  query.selectors = {"system.load.1{host=\"web-1\"}"};
  query.from = "2026-11-22T09:50:00Z";
  query.step = "5m";
  query.stat = "max";
  EXPECT_EQ(RunQuery(*client_, query, out_, err_), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "system.load.1{host=\"web-1\"}\n"
            "TIME                  VALUE\n"
            "2026-11-22T09:55:00Z      3\n"
            "\n"
            "1 series, 1 point\n");
}

TEST_F(CommandsTest, QuerySeriesWithoutPointsInRangeSaysSo) {
  QueryArgs query;
  query.selectors = {"system.mem.used_bytes"};
  query.from = "-10s";
  EXPECT_EQ(RunQuery(*client_, query, out_, err_), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "system.mem.used_bytes{host=\"web-1\"}\n"
            "(no points in range)\n"
            "\n"
            "1 series, 0 points\n");
}

TEST_F(CommandsTest, ApiErrorIsPrintedAndExitsOne) {
  QueryArgs query;
  query.selectors = {"system.load.1"};
  query.from = "yesterday";
  EXPECT_EQ(RunQuery(*client_, query, out_, err_), kExitFailure);
  EXPECT_EQ(out_.str(), "");
  EXPECT_THAT(err_.str(), StartsWith("vigilctl: from: bad time 'yesterday'"));
}

TEST_F(CommandsTest, UnreachableCollectorNamesTheUrl) {
  const std::string url = absl::StrCat("http://127.0.0.1:", server_->port());
  server_.reset();  // nothing listens on the port any more
  ApiClient client(url, absl::Seconds(5));
  EXPECT_EQ(RunSeries(client, {"system.load.1"}, out_, err_), kExitFailure);
  EXPECT_THAT(err_.str(),
              StartsWith(absl::StrCat("vigilctl: cannot reach collector at ", url, ": ")));
}

TEST_F(CommandsTest, ClientReportsNonApiRepliesWithTheStatus) {
  absl::StatusOr<nlohmann::json> reply = client_->Get("/readyz", {});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(reply.status().message(), HasSubstr("answered HTTP 200 to /readyz without an API "
                                                  "reply: ready"));
}

TEST_F(CommandsTest, RunDispatchesFromAParsedCommandLine) {
  absl::StatusOr<Invocation> inv =
      ParseArgs({"--collector", absl::StrCat("http://127.0.0.1:", server_->port()), "series",
                 "system.mem.used_bytes"},
                "");
  ASSERT_TRUE(inv.ok()) << inv.status();
  std::istringstream in;
  EXPECT_EQ(ctl::Run(*inv, in, out_, err_), kExitOk);
  EXPECT_EQ(out_.str(), "SERIES\nsystem.mem.used_bytes{host=\"web-1\"}\n\n1 series\n");
}

TEST(VersionCommand, PrintsTheBuildsVersion) {
  absl::StatusOr<Invocation> inv = ParseArgs({"--version"}, "");
  ASSERT_TRUE(inv.ok()) << inv.status();
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(ctl::Run(*inv, in, out, err), kExitOk);
  EXPECT_EQ(out.str(), std::string("vigilctl ") + VIGIL_VERSION + "\n");
  EXPECT_THAT(out.str(), MatchesRegex("vigilctl [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

// ---- Token commands ----

TEST(TokenCommands, GeneratePrintsTokenAndItsHashWithWhereEachGoes) {
  std::ostringstream out, err;
  ASSERT_EQ(RunTokenGenerate(out, err), kExitOk);
  std::istringstream lines(out.str());
  std::string token_line, hash_line;
  std::getline(lines, token_line);
  std::getline(lines, hash_line);
  ASSERT_THAT(token_line, MatchesRegex("token:  [0-9a-f]{64}"));
  EXPECT_EQ(hash_line, "sha256: " + Sha256Hex(token_line.substr(8)));
  EXPECT_THAT(out.str(), HasSubstr("agent's token file"));
  EXPECT_THAT(out.str(), HasSubstr("collector's auth.tokens"));
}

TEST(TokenCommands, HashReadsTrimmedTokenFromStdin) {
  std::istringstream in("  abc\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunTokenHash("", in, out, err), kExitOk);
  EXPECT_EQ(out.str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n");
}

TEST(TokenCommands, HashReadsTokenFromFile) {
  std::string dir = testing::TempDir() + "vigilctl_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  std::string path = dir + "/token";
  std::ofstream(path) << "abc\n";
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(RunTokenHash(path, in, out, err), kExitOk) << err.str();
  EXPECT_EQ(out.str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n");
  unlink(path.c_str());
  rmdir(dir.c_str());
}

TEST(TokenCommands, HashOfEmptyInputFails) {
  std::istringstream in(" \n");
  std::ostringstream out, err;
  EXPECT_EQ(RunTokenHash("", in, out, err), kExitFailure);
  EXPECT_EQ(err.str(), "vigilctl: no token on standard input\n");
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace vigil::ctl
