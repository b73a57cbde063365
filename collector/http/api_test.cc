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
}

TEST(HttpApi, ServeWithoutRegistryGivesEmptyMetrics) {
  SeriesStore store{SeriesStore::Options{}};
  ApiContext context;
  context.store = &store;
  HttpApi api(context, ApiLimits{});
  HttpResponse r = api.Serve(HttpRequest{"GET", "/metrics", {}, ""});
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
      api.Serve(HttpRequest{"GET", "/api/v1/series", {{"match", "system.load.1"}}, ""});
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
        HttpRequest{std::move(method), std::move(path), std::move(params), std::move(auth)});
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
  HttpResponse r = api.Serve(HttpRequest{"GET", "/api/v1/alarms", {}, ""});
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("this collector evaluates no rules"));
}

}  // namespace
}  // namespace vigil::collector
