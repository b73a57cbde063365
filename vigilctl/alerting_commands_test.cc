// vigilctl's alerting commands: `silence add|list|expire` against a real collector HTTP server
// backed by the collector's real alert delivery (SQLite store, dispatcher), and `config check`
// on alerting configs and rule directories in temporary files.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/alarms/alert_delivery.h"
#include "collector/http/http_server.h"
#include "collector/state/open_state_store.h"
#include "collector/store/series_store.h"
#include "common/secret.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "vigilctl/commands.h"
#include "vigilctl/config_check.h"
#include "vigilctl/silences.h"

namespace vigil::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;
using ::vigil::testing::TempDir;

// ---- ParseArgs ----

TEST(ParseArgs, SilenceAddCollectsRepeatedMatchersAndTheTokenFile) {
  absl::StatusOr<Invocation> inv =
      ParseArgs({"silence", "add", "--matcher", "host=\"web1\"", "--matcher=env=~\"prod|staging\"",
                 "--duration", "2h", "--author", "alice", "--comment", "kernel update",
                 "--token-file", "/etc/vigil/api.token"},
                "");
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(inv->command, Invocation::Command::kSilenceAdd);
  EXPECT_THAT(inv->silence.matchers, ElementsAre("host=\"web1\"", "env=~\"prod|staging\""));
  EXPECT_EQ(inv->silence.duration, "2h");
  EXPECT_FALSE(inv->silence.until.has_value());
  EXPECT_EQ(inv->silence.author, "alice");
  EXPECT_EQ(inv->silence.comment, "kernel update");
  EXPECT_EQ(inv->api_token_file, "/etc/vigil/api.token");
}

TEST(ParseArgs, TokenFileComesFromTheEnvironmentUnlessGiven) {
  EXPECT_EQ(ParseArgs({"silence", "expire", "abc"}, "", "/env/token")->api_token_file,
            "/env/token");
  EXPECT_EQ(ParseArgs({"silence", "expire", "abc", "--token-file", "/x"}, "", "/env/token")
                ->api_token_file,
            "/x");
}

TEST(ParseArgs, SilenceListExpireAndConfigCheck) {
  EXPECT_EQ(ParseArgs({"silence", "list"}, "")->command, Invocation::Command::kSilenceList);
  absl::StatusOr<Invocation> expire = ParseArgs({"silence", "expire", "3f2a"}, "");
  EXPECT_EQ(expire->command, Invocation::Command::kSilenceExpire);
  EXPECT_EQ(expire->silence.id, "3f2a");
  absl::StatusOr<Invocation> check =
      ParseArgs({"config", "check", "alerting.yaml", "--rules", "rules/"}, "");
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->command, Invocation::Command::kConfigCheck);
  EXPECT_EQ(check->config_file, "alerting.yaml");
  EXPECT_EQ(check->rules_dir, "rules/");
}

TEST(ParseArgs, AlertingMistakesAreInvalidArgumentNamingTheArgument) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<std::string> ok = {"--author", "a", "--comment", "c"};
  auto add = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"silence", "add"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  for (const Case& c : std::vector<Case>{
           {{"silence"}, "silence: give add, list or expire"},
           {{"silence", "mute"}, "unknown silence command 'mute'"},
           {add({"--duration", "1h", "--author", "a", "--comment", "c"}),
            "silence add: give at least one --matcher such as 'host=\"web1\"'"},
           {add({"--matcher", "a=b", "--author", "a", "--comment", "c"}),
            "silence add: give --duration (e.g. 2h) or --until (RFC3339 time)"},
           {add({"--matcher", "a=b", "--duration", "1h", "--until", "2026-11-23T00:00:00Z",
                 "--author", "a", "--comment", "c"}),
            "silence add: give --duration or --until, not both"},
           {add({"--matcher", "a=b", "--duration", "1h", "--comment", "c"}),
            "silence add: --author is required (who adds it)"},
           {add({"--matcher", "a=b", "--duration", "1h", "--author", "a"}),
            "silence add: --comment is required (why)"},
           {add({"--matcher", "a=b", "--duration", "1h", "--duration", "2h"}),
            "--duration: given more than once"},
           {add({"host=web1"}),
            "silence add: unexpected argument 'host=web1' (matchers go after --matcher)"},
           {add({"--matcher", ""}), "--matcher: empty matcher"},
           {{"silence", "list", "--matcher", "a=b"},
            "--matcher only applies to the silence add command"},
           {{"silence", "list", "x"}, "silence list: unexpected argument 'x'"},
           {{"silence", "expire"}, "silence expire: give one silence id"},
           {{"silence", "expire", "a", "b"}, "silence expire: give one silence id"},
           {{"series", "x", "--comment", "c"}, "--comment only applies to the silence add command"},
           {{"config"}, "config: use 'config check FILE [--rules DIR]'"},
           {{"config", "check"}, "config check: give one alerting config file"},
           {{"rules", "check", "r/", "--rules", "x"},
            "--rules only applies to the config check command"},
       }) {
    absl::StatusOr<Invocation> inv = ParseArgs(c.args, "");
    ASSERT_FALSE(inv.ok()) << ::testing::PrintToString(c.args);
    EXPECT_EQ(inv.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(inv.status().message(), c.message);
  }
}

TEST(Usage, DocumentsTheAlertingCommands) {
  std::string usage = Usage();
  for (const char* text :
       {"silence add --matcher M", "silence list", "silence expire ID",
        "config check FILE [--rules DIR]", "--token-file FILE", "VIGIL_API_TOKEN_FILE"}) {
    EXPECT_THAT(usage, HasSubstr(text));
  }
}

// ---- config check ----

constexpr char kAlerting[] = R"(receivers:
  - name: oncall
    email:
      to: [oncall@example.org]
      from: Vigil <vigil@example.org>
      relays: [{host: 127.0.0.1, port: 2525, tls: none}]
    webhook: {url: "http://127.0.0.1:9/hook"}
  - name: blackhole
route:
  receiver: oncall
  routes:
    - {matchers: ['env="dev"'], receiver: blackhole}
)";

std::string Rules(const std::string& actions) {
  return absl::StrCat(R"(rules:
  - name: system-up
    metric: system.up
    group_by: [host]
    statistic: max
    period: 1m
    evaluation_periods: 1
    comparison: "<"
    threshold: 1
)",
                      actions);
}

struct CheckResult {
  int code;
  std::string out, err;
};

CheckResult Check(const std::string& file, const std::string& rules_dir = "") {
  std::ostringstream out, err;
  int code = RunConfigCheck(file, rules_dir, out, err);
  return {code, out.str(), err.str()};
}

TEST(ConfigCheck, GoodConfigPrintsASummary) {
  TempDir dir;
  CheckResult r = Check(dir.Write("alerting.yaml", kAlerting));
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "alerting config OK: 2 receivers (oncall: email, webhook; blackhole: none), a routing "
            "tree of 2 routes, 0 inhibit rules, 0 maintenance windows\n");
  EXPECT_EQ(r.err, "");
}

TEST(ConfigCheck, EveryProblemIsPrintedWithFileLineAndColumn) {
  TempDir dir;
  const std::string path = dir.Write("alerting.yaml", R"(receivers:
  - name: oncall
    webhook: {url: "ftp://x"}
route:
  receiver: nobody
recievers: []
)");
  CheckResult r = Check(path);
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(r.out, "");
  std::vector<std::string> lines = absl::StrSplit(r.err, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 3u) << r.err;
  for (const std::string& line : lines) {
    EXPECT_THAT(line, MatchesRegex(path + ":[0-9]+:[0-9]+: .*")) << r.err;
  }
  EXPECT_THAT(r.err, HasSubstr(path + ":6:1: unknown key 'recievers'"));
  EXPECT_THAT(r.err, HasSubstr("nobody"));
}

TEST(ConfigCheck, TruncatedAndMalformedFilesFailWithAPosition) {
  TempDir dir;
  const std::string truncated =
      dir.Write("t.yaml", "receivers:\n  - {name: oncall, webhook: {url: \"http://x\"\n");
  CheckResult r = Check(truncated);
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, StartsWith(truncated + ":"));
  const std::string not_a_map = dir.Write("m.yaml", "- just\n- a list\n");
  r = Check(not_a_map);
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, StartsWith(not_a_map + ":1:1: "));
}

TEST(ConfigCheck, MissingFileIsAnError) {
  TempDir dir;
  CheckResult r = Check(dir.Join("absent.yaml"));
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(r.err, "vigilctl: cannot read alerting config " + dir.Join("absent.yaml") + "\n");
}

TEST(ConfigCheck, RulesActionsMustNameDefinedReceivers) {
  TempDir dir;
  const std::string config = dir.Write("alerting.yaml", kAlerting);
  TempDir good, bad;
  good.Write("up.yaml", Rules("    alarm_actions: [oncall]\n    ok_actions: [blackhole]\n"));
  CheckResult r = Check(config, good.path());
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nrules OK: 1 rule (1 threshold, 0 composite) in 1 file"));
  EXPECT_THAT(r.out, HasSubstr("; every *_actions receiver is defined\n"));

  const std::string rule_file = bad.Write("up.yaml", Rules("    alarm_actions: [pager]\n"));
  r = Check(config, bad.path());
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err,
              MatchesRegex(rule_file + ":2:[0-9]+: rule 'system-up': alarm_actions names receiver "
                                       "'pager', which .*alerting.yaml does not define\n"));
  // A broken rule file is reported as `rules check` would.
  bad.Write("up.yaml", "rules:\n  - name: x\n    bogus: 1\n");
  r = Check(config, bad.path());
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, HasSubstr("up.yaml:3:5: unknown key 'bogus'"));
}

// ---- silence commands against a real collector HTTP server ----

class SilenceCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    collector::AlertDelivery::Options o;
    state_ = *collector::OpenStateStore({}, dir_.path());
    o.store = &state_->notifications();
    delivery_ = *collector::AlertDelivery::Start(o, registry_);
    ASSERT_NE(delivery_, nullptr);
    token_file_ = dir_.Write("api.token", "api-secret\n");
    collector::ApiContext context;
    context.store = &store_;
    context.alerting = delivery_.get();
    context.api_token_sha256 = Sha256Hex("api-secret");
    collector::HttpServer::Options options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    auto server = collector::HttpServer::Start(options, context);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::make_unique<ApiClient>(absl::StrCat("http://127.0.0.1:", server_->port()),
                                          absl::Seconds(10));
  }

  SilenceArgs Args() {
    SilenceArgs a;
    a.matchers = {"host=\"web1\"", "alertname=~\"disk-.*\""};
    a.duration = "2h";
    a.author = "alice";
    a.comment = "disk swap";
    return a;
  }

  TempDir dir_;
  prometheus::Registry registry_;
  std::unique_ptr<collector::StateStore> state_;  // before the delivery that uses it
  std::unique_ptr<collector::AlertDelivery> delivery_;
  collector::SeriesStore store_{collector::SeriesStore::Options{}};
  std::unique_ptr<collector::HttpServer> server_;
  std::unique_ptr<ApiClient> client_;
  std::string token_file_;
  std::ostringstream out_, err_;
};

TEST_F(SilenceCommandsTest, AddPrintsTheIdListShowsItExpireEndsIt) {
  ASSERT_EQ(RunSilenceAdd(*client_, token_file_, Args(), out_, err_), kExitOk) << err_.str();
  const std::string id(absl::StripSuffix(out_.str(), "\n"));
  EXPECT_THAT(id, MatchesRegex("[0-9a-f]{32}"));
  ASSERT_EQ(delivery_->Silences().size(), 1u);
  const alerting::Silence stored = delivery_->Silences()[0];
  EXPECT_EQ(stored.id, id);
  EXPECT_EQ(stored.ends_at_ms - stored.starts_at_ms, 2 * 3600 * 1000);
  EXPECT_EQ(stored.created_by, "alice");

  out_.str("");
  ASSERT_EQ(RunSilenceList(*client_, out_, err_), kExitOk) << err_.str();
  std::vector<std::string> lines = absl::StrSplit(out_.str(), '\n');
  ASSERT_GE(lines.size(), 4u);
  EXPECT_THAT(lines[0], MatchesRegex("ID +STATE +MATCHERS +STARTS +ENDS +CREATED BY +COMMENT"));
  EXPECT_THAT(lines[1], MatchesRegex(id + "  active  host=\"web1\", alertname=~\"disk-\\.\\*\"  "
                                          "[-0-9T:.]+Z  [-0-9T:.]+Z  alice       disk swap"));
  EXPECT_EQ(lines[3], "1 silence");

  out_.str("");
  ASSERT_EQ(RunSilenceExpire(*client_, token_file_, id, out_, err_), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(), "silence " + id + " expired\n");
  EXPECT_STREQ(delivery_->Silences()[0].StateAt(absl::ToUnixMillis(absl::Now()) + 1), "expired");
  out_.str("");
  ASSERT_EQ(RunSilenceList(*client_, out_, err_), kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr(id + "  expired"));
}

TEST_F(SilenceCommandsTest, UntilIsSentAsTheEndTime) {
  SilenceArgs a = Args();
  a.duration.reset();
  a.until = "2099-01-01T00:00:00Z";
  ASSERT_EQ(RunSilenceAdd(*client_, token_file_, a, out_, err_), kExitOk) << err_.str();
  EXPECT_EQ(delivery_->Silences()[0].ends_at_ms, 4070908800000);
}

TEST_F(SilenceCommandsTest, CollectorRejectionsArePrinted) {
  SilenceArgs a = Args();
  a.matchers = {"host=~\"(\""};
  EXPECT_EQ(RunSilenceAdd(*client_, token_file_, a, out_, err_), kExitFailure);
  EXPECT_THAT(err_.str(), StartsWith("vigilctl: "));
  EXPECT_THAT(err_.str(), HasSubstr("host"));
  err_.str("");
  a = Args();
  a.duration = "soon";
  EXPECT_EQ(RunSilenceAdd(*client_, token_file_, a, out_, err_), kExitFailure);
  EXPECT_THAT(err_.str(), StartsWith("vigilctl: duration: bad duration 'soon'"));
  EXPECT_TRUE(delivery_->Silences().empty());
  EXPECT_EQ(out_.str(), "");

  err_.str("");
  EXPECT_EQ(RunSilenceExpire(*client_, token_file_, "0123abcd", out_, err_), kExitFailure);
  EXPECT_EQ(err_.str(), "vigilctl: no silence with id '0123abcd'\n");
}

TEST_F(SilenceCommandsTest, StateChangesNeedTheRightToken) {
  EXPECT_EQ(RunSilenceAdd(*client_, "", Args(), out_, err_), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("silence add needs the collector's API token: give "
                                    "--token-file FILE"));
  err_.str("");
  const std::string wrong = dir_.Write("wrong.token", "guess\n");
  EXPECT_EQ(RunSilenceAdd(*client_, wrong, Args(), out_, err_), kExitFailure);
  EXPECT_EQ(err_.str(), "vigilctl: missing or wrong API token (Authorization: Bearer <token>)\n");
  err_.str("");
  EXPECT_EQ(RunSilenceAdd(*client_, dir_.Join("absent.token"), Args(), out_, err_), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("absent.token"));
  EXPECT_TRUE(delivery_->Silences().empty());
  err_.str("");
  EXPECT_EQ(RunSilenceExpire(*client_, token_file_, "../reload", out_, err_), kExitFailure);
  EXPECT_EQ(err_.str(), "vigilctl: '../reload' is not a silence id (see silence list)\n");
}

}  // namespace
}  // namespace vigil::ctl
