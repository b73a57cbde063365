#include "collector/http/api.h"

#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::collector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr int64_t kNow = 1795341600000;  // 2026-11-22T10:00:00Z

TEST(ParseTimeParam, EpochMilliseconds) {
  EXPECT_EQ(ParseTimeParam("1795341600123", kNow).value(), 1795341600123);
}

TEST(ParseTimeParam, Rfc3339WithZoneAndFraction) {
  EXPECT_EQ(ParseTimeParam("2026-11-22T10:00:00Z", 0).value(), kNow);
  EXPECT_EQ(ParseTimeParam("2026-11-22T11:00:00.250+01:00", 0).value(), kNow + 250);
}

TEST(ParseTimeParam, NowAndDurationsBeforeNow) {
  EXPECT_EQ(ParseTimeParam("now", kNow).value(), kNow);
  EXPECT_EQ(ParseTimeParam("-15m", kNow).value(), kNow - 15 * 60 * 1000);
  EXPECT_EQ(ParseTimeParam("now-1h30m", kNow).value(), kNow - 90 * 60 * 1000);
}

TEST(ParseTimeParam, GarbageIsInvalidArgumentSayingWhatIsExpected) {
  absl::StatusOr<int64_t> t = ParseTimeParam("tomorrow", kNow);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(), HasSubstr("bad time 'tomorrow'"));
  EXPECT_THAT(t.status().message(), HasSubstr("RFC3339"));
  EXPECT_FALSE(ParseTimeParam("", kNow).ok());
  EXPECT_FALSE(ParseTimeParam("-15", kNow).ok());  // a duration needs a unit
  EXPECT_FALSE(ParseTimeParam("99999999999999999999", kNow).ok());
}

TEST(ParseQueryString, DecodesPercentAndPlusInOrder) {
  EXPECT_THAT(ParseQueryString("match=a%7Bb%3D%22c%22%7D&x=1+2&match=d&flag"),
              ElementsAre(Pair("match", "a{b=\"c\"}"), Pair("x", "1 2"), Pair("match", "d"),
                          Pair("flag", "")));
}

TEST(ParseQueryString, KeepsMalformedEscapesLiterally) {
  EXPECT_THAT(ParseQueryString("a=%zz%4"), ElementsAre(Pair("a", "%zz%4")));
}

TEST(HttpApi, HandlerLabelIsBounded) {
  EXPECT_EQ(HttpApi::HandlerLabel("/api/v1/query"), "/api/v1/query");
  EXPECT_EQ(HttpApi::HandlerLabel("/api/v1/query/"), "other");
  EXPECT_EQ(HttpApi::HandlerLabel("/random/42"), "other");
  EXPECT_EQ(HttpApi::HandlerLabel("/api/v1/silences/3f2a"), "/api/v1/silences/{id}");
  EXPECT_EQ(HttpApi::HandlerLabel("/api/v1/silences/"), "other");
  EXPECT_EQ(HttpApi::HandlerLabel("/api/v1/silences/a/b"), "other");
}

TEST(HttpApi, ServeWithoutRegistryGivesEmptyMetrics) {
  SeriesStore store{SeriesStore::Options{}};
  ApiContext context;
  context.store = &store;
  HttpApi api(context, ApiLimits{});
  HttpResponse r = api.Serve(HttpRequest{"GET", "/metrics", {}, "", ""});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
}

TEST(HttpApi, LabelValuesThatAreNotUtf8AreReplacedNotFatal) {
  SeriesStore store{SeriesStore::Options{}};
  SeriesKey key{"system.load.1", {{"host", "bad\xff"}}};
  store.Append(key, std::vector<DataPoint>{{1000, 1}}, 1000);
  ApiContext context;
  context.store = &store;
  HttpApi api(context, ApiLimits{});
  HttpResponse r =
      api.Serve(HttpRequest{"GET", "/api/v1/series", {{"match", "system.load.1"}}, "", ""});
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("\"host\":\"bad\xEF\xBF\xBD\""));
}

}  // namespace
}  // namespace vigil::collector

namespace vigil::collector {
namespace {

// A fake rule engine: records reloads, answers fixed data.
class FakeAlarms : public AlarmSource {
 public:
  nlohmann::json Alarms(const std::string& state) const override {
    last_state = state;
    return nlohmann::json::array({{{"rule", "db-cpu"}, {"state", "ALARM"}}});
  }
  absl::StatusOr<nlohmann::json> History(const std::string& rule, size_t limit) const override {
    if (rule == "nope") return absl::NotFoundError("no rule named 'nope'");
    last_limit = limit;
    return nlohmann::json::array();
  }
  nlohmann::json Rules() const override { return {{"revision", "abc"}}; }
  absl::Status Reload() override {
    ++reloads;
    return reload_result;
  }
  mutable std::string last_state;
  mutable size_t last_limit = 0;
  int reloads = 0;
  absl::Status reload_result;
};

class AlarmApiTest : public ::testing::Test {
 protected:
  AlarmApiTest() {
    context_.store = &store_;
    context_.alarms = &alarms_;
    context_.api_token_sha256 = Sha256Hex("s3cret");
  }
  HttpResponse Serve(std::string method, std::string path, QueryParams params = {},
                     std::string auth = "") {
    HttpApi api(context_, ApiLimits{});
    return api.Serve(
        HttpRequest{std::move(method), std::move(path), std::move(params), std::move(auth), ""});
  }
  SeriesStore store_{SeriesStore::Options{}};
  FakeAlarms alarms_;
  ApiContext context_;
};

TEST_F(AlarmApiTest, AlarmsFilterByState) {
  HttpResponse r = Serve("GET", "/api/v1/alarms", {{"state", "ALARM"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(alarms_.last_state, "ALARM");
  EXPECT_THAT(r.body, HasSubstr("\"rule\":\"db-cpu\""));
  r = Serve("GET", "/api/v1/alarms", {{"state", "RED"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("state must be ALARM, OK or INSUFFICIENT_DATA, got 'RED'"));
}

TEST_F(AlarmApiTest, HistoryLimitsAndUnknownRule) {
  EXPECT_EQ(Serve("GET", "/api/v1/alarms/history", {{"rule", "x"}, {"limit", "5"}}).status, 200);
  EXPECT_EQ(alarms_.last_limit, 5u);
  EXPECT_EQ(Serve("GET", "/api/v1/alarms/history", {{"limit", "0"}}).status, 400);
  EXPECT_EQ(Serve("GET", "/api/v1/alarms/history", {{"rule", "nope"}}).status, 404);
}

TEST_F(AlarmApiTest, ReloadNeedsTheApiToken) {
  EXPECT_EQ(Serve("POST", "/-/reload").status, 401);
  EXPECT_EQ(Serve("POST", "/-/reload", {}, "Bearer wrong").status, 401);
  EXPECT_EQ(alarms_.reloads, 0);
  HttpResponse r = Serve("POST", "/-/reload", {}, "Bearer s3cret");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(alarms_.reloads, 1);
  EXPECT_THAT(r.body, HasSubstr("\"revision\":\"abc\""));
  EXPECT_EQ(Serve("GET", "/-/reload").status, 405);
}

TEST_F(AlarmApiTest, RejectedReloadIsABadRequestWithTheErrors) {
  alarms_.reload_result = absl::InvalidArgumentError("r.yaml:3:5: unknown key 'x'");
  HttpResponse r = Serve("POST", "/-/reload", {}, "Bearer s3cret");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("r.yaml:3:5: unknown key 'x'"));
}

TEST_F(AlarmApiTest, ReloadIsRefusedWithoutAConfiguredToken) {
  context_.api_token_sha256.clear();
  EXPECT_EQ(Serve("POST", "/-/reload", {}, "Bearer s3cret").status, 403);
  EXPECT_EQ(alarms_.reloads, 0);
}

TEST(AlarmApi, WithoutRulesTheAlarmEndpointsAre404) {
  SeriesStore store{SeriesStore::Options{}};
  ApiContext context;
  context.store = &store;
  HttpApi api(context, ApiLimits{});
  HttpResponse r = api.Serve(HttpRequest{"GET", "/api/v1/alarms", {}, "", ""});
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("this collector evaluates no rules"));
}

// ---- Silences and alerting ----

TEST(ParseSilenceRequest, FullRequestWithRfc3339Times) {
  absl::StatusOr<alerting::SilenceRequest> r = ParseSilenceRequest(
      R"({"matchers":["host=\"web1\"","env=~\"prod|staging\""],
          "starts_at":"2026-11-22T11:00:00Z","ends_at":"2026-11-22T13:00:00Z",
          "created_by":"alice","comment":"deploy"})",
      kNow);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->matchers, ElementsAre("host=\"web1\"", "env=~\"prod|staging\""));
  EXPECT_EQ(r->starts_at_ms, kNow + 3600000);
  EXPECT_EQ(r->ends_at_ms, kNow + 3 * 3600000);
  EXPECT_EQ(r->created_by, "alice");
  EXPECT_EQ(r->comment, "deploy");
}

TEST(ParseSilenceRequest, DurationCountsFromTheStartOrNow) {
  absl::StatusOr<alerting::SilenceRequest> r = ParseSilenceRequest(
      R"({"matchers":["host=web1"],"duration":"2h","created_by":"a","comment":"c"})", kNow);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->starts_at_ms, kNow);  // fixed at the request, so the silence lasts exactly 2 h
  EXPECT_EQ(r->ends_at_ms, kNow + 2 * 3600000);
  r = ParseSilenceRequest(
      R"({"matchers":["host=web1"],"starts_at":1795345200000,"duration":"30m",
          "created_by":"a","comment":"c"})",
      kNow);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ends_at_ms, 1795345200000 + 30 * 60000);
}

struct BadSilenceCase {
  std::string name;
  std::string body;
  std::string message;
};
void PrintTo(const BadSilenceCase& c, std::ostream* os) { *os << c.name; }

class BadSilenceRequest : public ::testing::TestWithParam<BadSilenceCase> {};

TEST_P(BadSilenceRequest, IsInvalidArgumentNamingTheProblem) {
  absl::StatusOr<alerting::SilenceRequest> r = ParseSilenceRequest(GetParam().body, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, BadSilenceRequest,
    ::testing::Values(
        BadSilenceCase{"Empty", "", "must be a JSON object with matchers"},
        BadSilenceCase{"Truncated", R"({"matchers":["host=web1"],"dura)",
                       "is not valid JSON: parse error at line 1, column 32"},
        BadSilenceCase{"NotJson", "matchers=host",
                       "is not valid JSON: parse error at line 1, column 1"},
        BadSilenceCase{"NotAnObject", R"(["host=web1"])", "must be a JSON object"},
        BadSilenceCase{"MatchersNotAList", R"({"matchers":"host=web1","duration":"1h"})",
                       "matchers: expected a list of matchers"},
        BadSilenceCase{"MatcherNotAString", R"({"matchers":[1],"duration":"1h"})",
                       "matchers: every matcher must be a string"},
        BadSilenceCase{"UnknownKey", R"({"matchers":["a=b"],"duration":"1h","author":"x"})",
                       "unknown key 'author'"},
        BadSilenceCase{"BadTime", R"({"matchers":["a=b"],"ends_at":"tomorrow"})",
                       "ends_at: bad time 'tomorrow'"},
        BadSilenceCase{"TimeOfWrongType",
                       R"({"matchers":["a=b"],"starts_at":true,"duration":"1h"})",
                       "starts_at: expected an RFC3339 time"},
        BadSilenceCase{"BadDuration", R"({"matchers":["a=b"],"duration":"2 hours"})",
                       "duration: bad duration '2 hours'"},
        BadSilenceCase{"NegativeDuration", R"({"matchers":["a=b"],"duration":"0s"})",
                       "duration: must be greater than 0"},
        BadSilenceCase{"NoEnd", R"({"matchers":["a=b"],"created_by":"a","comment":"c"})",
                       "give ends_at (an RFC3339 time) or duration"},
        BadSilenceCase{"BothEnds",
                       R"({"matchers":["a=b"],"duration":"1h","ends_at":"2026-11-23T00:00:00Z"})",
                       "give either ends_at or duration, not both"},
        BadSilenceCase{"CommentNotAString", R"({"matchers":["a=b"],"duration":"1h","comment":5})",
                       "comment: expected a string"}),
    [](const ::testing::TestParamInfo<BadSilenceCase>& info) { return info.param.name; });

// A fake alert delivery: keeps silences in memory, validates as the dispatcher does.
class FakeAlerting : public AlertingSource {
 public:
  std::vector<alerting::Silence> Silences() const override { return silences; }
  absl::StatusOr<alerting::Silence> AddSilence(const alerting::SilenceRequest& request) override {
    absl::StatusOr<alerting::Silence> s = alerting::MakeSilence(request, kNow);
    if (!s.ok()) return s.status();
    s->id = "s" + std::to_string(silences.size() + 1);
    silences.push_back(*s);
    return s;
  }
  absl::Status ExpireSilence(const std::string& id) override {
    for (alerting::Silence& s : silences) {
      if (s.id != id) continue;
      if (s.ends_at_ms <= kNow)
        return absl::FailedPreconditionError("silence " + id + " has already expired");
      s.ends_at_ms = kNow;
      return absl::OkStatus();
    }
    return absl::NotFoundError("no silence " + id);
  }
  nlohmann::json Status() const override {
    return {{"config_file", "/etc/vigil/alerting.yaml"}, {"outbox_pending", 3}};
  }
  absl::Status Reload() override {
    ++reloads;
    return reload_result;
  }
  std::vector<alerting::Silence> silences;
  int reloads = 0;
  absl::Status reload_result;
};

class AlertingApiTest : public ::testing::Test {
 protected:
  AlertingApiTest() {
    context_.store = &store_;
    context_.alerting = &alerting_;
    context_.api_token_sha256 = Sha256Hex("s3cret");
    context_.now_ms = [] { return kNow; };
  }
  HttpResponse Serve(std::string method, std::string path, std::string body = "",
                     std::string auth = "Bearer s3cret", QueryParams params = {}) {
    HttpApi api(context_, ApiLimits{});
    return api.Serve(HttpRequest{std::move(method), std::move(path), std::move(params),
                                 std::move(auth), std::move(body)});
  }
  nlohmann::json Json(const HttpResponse& r) { return nlohmann::json::parse(r.body); }

  SeriesStore store_{SeriesStore::Options{}};
  FakeAlerting alerting_;
  FakeAlarms alarms_;
  ApiContext context_;
};

constexpr char kSilenceBody[] =
    R"({"matchers":["host=\"web1\""],"duration":"2h","created_by":"alice","comment":"deploy"})";

TEST_F(AlertingApiTest, PostCreatesASilenceAndAnswersItWithItsId) {
  HttpResponse r = Serve("POST", "/api/v1/silences", kSilenceBody);
  ASSERT_EQ(r.status, 200) << r.body;
  nlohmann::json data = Json(r)["data"];
  EXPECT_EQ(data["id"], "s1");
  EXPECT_EQ(data["state"], "active");
  EXPECT_EQ(data["matchers"], nlohmann::json::array({"host=\"web1\""}));
  EXPECT_EQ(data["starts_at"], "2026-11-22T10:00:00.000Z");
  EXPECT_EQ(data["ends_at"], "2026-11-22T12:00:00.000Z");
  EXPECT_EQ(data["created_by"], "alice");
  EXPECT_EQ(data["comment"], "deploy");
  ASSERT_EQ(alerting_.silences.size(), 1u);
  EXPECT_EQ(alerting_.silences[0].ends_at_ms, kNow + 2 * 3600000);
}

TEST_F(AlertingApiTest, PostAndDeleteNeedTheApiToken) {
  EXPECT_EQ(Serve("POST", "/api/v1/silences", kSilenceBody, "").status, 401);
  EXPECT_EQ(Serve("POST", "/api/v1/silences", kSilenceBody, "Bearer wrong").status, 401);
  EXPECT_TRUE(alerting_.silences.empty());
  ASSERT_EQ(Serve("POST", "/api/v1/silences", kSilenceBody).status, 200);
  EXPECT_EQ(Serve("DELETE", "/api/v1/silences/s1", "", "").status, 401);
  EXPECT_EQ(alerting_.silences[0].ends_at_ms, kNow + 2 * 3600000);
  // Reading needs no token.
  EXPECT_EQ(Serve("GET", "/api/v1/silences", "", "").status, 200);
  context_.api_token_sha256.clear();
  HttpResponse r = Serve("POST", "/api/v1/silences", kSilenceBody);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("creating silences is disabled: no auth.api_token_file"));
}

TEST_F(AlertingApiTest, BadSilenceIs400WithTheReason) {
  HttpResponse r =
      Serve("POST", "/api/v1/silences",
            R"({"matchers":["host=~\"(\""],"duration":"1h","created_by":"a","comment":"c"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json(r)["status"], "error");
  r = Serve("POST", "/api/v1/silences",
            R"({"matchers":["host=web1"],"duration":"1h","comment":"c"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("created_by is required"));
  r = Serve("POST", "/api/v1/silences", R"({"matchers":["host=web1"],)");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("not valid JSON"));
  EXPECT_TRUE(alerting_.silences.empty());
}

TEST_F(AlertingApiTest, ListShowsActiveBeforeExpiredAndFiltersByState) {
  ASSERT_EQ(Serve("POST", "/api/v1/silences", kSilenceBody).status, 200);
  ASSERT_EQ(Serve("POST", "/api/v1/silences", kSilenceBody).status, 200);
  ASSERT_EQ(Serve("DELETE", "/api/v1/silences/s1").status, 200);
  nlohmann::json all = Json(Serve("GET", "/api/v1/silences"))["data"];
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["id"], "s2");
  EXPECT_EQ(all[0]["state"], "active");
  EXPECT_EQ(all[1]["id"], "s1");
  EXPECT_EQ(all[1]["state"], "expired");
  nlohmann::json expired =
      Json(Serve("GET", "/api/v1/silences", "", "", {{"state", "expired"}}))["data"];
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0]["id"], "s1");
  EXPECT_EQ(Serve("GET", "/api/v1/silences", "", "", {{"state", "gone"}}).status, 400);
  EXPECT_EQ(Serve("GET", "/api/v1/silences", "", "", {{"limit", "1"}}).status, 400);
}

TEST_F(AlertingApiTest, DeleteExpiresUnknownIs404AndTwiceIs409) {
  ASSERT_EQ(Serve("POST", "/api/v1/silences", kSilenceBody).status, 200);
  HttpResponse r = Serve("DELETE", "/api/v1/silences/s1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r)["data"]["state"], "expired");
  EXPECT_EQ(Json(r)["data"]["ends_at_ms"], kNow);
  EXPECT_EQ(Serve("DELETE", "/api/v1/silences/s1").status, 409);
  r = Serve("DELETE", "/api/v1/silences/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("no silence with id 'nope'"));
  EXPECT_EQ(Serve("GET", "/api/v1/silences/s1", "", "").status, 200);
  EXPECT_EQ(Serve("GET", "/api/v1/silences/nope", "", "").status, 404);
  EXPECT_EQ(Serve("PUT", "/api/v1/silences/s1").status, 405);
  EXPECT_EQ(Serve("PUT", "/api/v1/silences").status, 405);
}

TEST_F(AlertingApiTest, StatusComesFromAlertDelivery) {
  HttpResponse r = Serve("GET", "/api/v1/alerting/status", "", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json(r)["data"]["outbox_pending"], 3);
  EXPECT_EQ(Serve("POST", "/api/v1/alerting/status").status, 405);
}

TEST_F(AlertingApiTest, ReloadReloadsRulesAndAlertingAndReportsBoth) {
  context_.alarms = &alarms_;
  HttpResponse r = Serve("POST", "/-/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(alarms_.reloads, 1);
  EXPECT_EQ(alerting_.reloads, 1);
  nlohmann::json data = Json(r)["data"];
  EXPECT_EQ(data["revision"], "abc");
  EXPECT_EQ(data["alerting"]["success"], true);
  EXPECT_EQ(data["alerting"]["config_file"], "/etc/vigil/alerting.yaml");

  alerting_.reload_result =
      absl::InvalidArgumentError("alerting.yaml:4:7: unknown key 'recievers'");
  r = Serve("POST", "/-/reload");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(alarms_.reloads, 2);  // the rules are reloaded all the same
  EXPECT_THAT(Json(r)["error"].get<std::string>(),
              HasSubstr("alerting config rejected (the previous one keeps running):\n"
                        "alerting.yaml:4:7: unknown key 'recievers'"));
  EXPECT_EQ(Json(r)["data"]["alerting"]["success"], false);
}

TEST_F(AlertingApiTest, ReloadWithoutRulesStillReloadsAlerting) {
  HttpResponse r = Serve("POST", "/-/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(alerting_.reloads, 1);
}

TEST(AlertingApi, WithoutAlertDeliveryTheEndpointsAre404) {
  SeriesStore store{SeriesStore::Options{}};
  ApiContext context;
  context.store = &store;
  context.api_token_sha256 = Sha256Hex("t");
  HttpApi api(context, ApiLimits{});
  EXPECT_EQ(api.Serve(HttpRequest{"GET", "/api/v1/silences", {}, "", ""}).status, 404);
  EXPECT_EQ(api.Serve(HttpRequest{"GET", "/api/v1/alerting/status", {}, "", ""}).status, 404);
  HttpResponse r = api.Serve(HttpRequest{"POST", "/api/v1/silences", {}, "Bearer t", kSilenceBody});
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("this collector delivers no notifications"));
}

}  // namespace
}  // namespace vigil::collector
