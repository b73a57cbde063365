#include "collector/http/api.h"

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
  HttpResponse r = api.Serve(HttpRequest{"GET", "/metrics", {}});
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
  HttpResponse r = api.Serve(HttpRequest{"GET", "/api/v1/series", {{"match", "system.load.1"}}});
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("\"host\":\"bad\xEF\xBF\xBD\""));
}

}  // namespace
}  // namespace vigil::collector
