#include "collector/http/http_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "collector/store/series_store.h"
#include "common/secret.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"

namespace vigil::collector {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1795341600000;  // 2026-11-22T10:00:00Z
constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;

struct Reply {
  long code = 0;
  std::string body;
  std::string content_type;
  std::string headers;
};

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Reply Fetch(int port, const std::string& method, const std::string& path_and_query,
            const std::string& body = "", const std::string& bearer = "") {
  Reply reply;
  CURL* curl = curl_easy_init();
  std::string url = absl::StrCat("http://127.0.0.1:", port, path_and_query);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_slist* headers = nullptr;
  if (!bearer.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + bearer).c_str());
  }
  if (!body.empty()) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  CURLcode rc = curl_easy_perform(curl);
  EXPECT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc) << " for " << url;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.code);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr) reply.content_type = type;
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  return reply;
}

std::string Escape(const std::string& s) {
  char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out(e);
  curl_free(e);
  return out;
}

SeriesKey Key(std::string metric, Labels labels) {
  SeriesKey key{std::move(metric), std::move(labels)};
  key.Normalize();
  return key;
}

// Points as the API returns them: [[ts, value], ...].
json Points(const std::vector<std::pair<int64_t, double>>& points) {
  json out = json::array();
  for (const auto& [t, v] : points) out.push_back(json::array({t, v}));
  return out;
}

// Alert delivery that records what the API hands it.
class RecordingAlerting : public AlertingSource {
 public:
  std::vector<alerting::Silence> Silences() const override {
    absl::MutexLock lock(&mu_);
    return silences_;
  }
  absl::StatusOr<alerting::Silence> AddSilence(const alerting::SilenceRequest& request) override {
    absl::StatusOr<alerting::Silence> s = alerting::MakeSilence(request, kNow);
    if (!s.ok()) return s.status();
    absl::MutexLock lock(&mu_);
    s->id = absl::StrCat("id", silences_.size());
    silences_.push_back(*s);
    return s;
  }
  absl::Status ExpireSilence(const std::string& id) override {
    absl::MutexLock lock(&mu_);
    for (alerting::Silence& s : silences_) {
      if (s.id == id) {
        s.ends_at_ms = kNow;
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError(id);
  }
  json Status() const override { return json::object(); }
  absl::Status Reload() override { return absl::OkStatus(); }

 private:
  mutable absl::Mutex mu_;
  std::vector<alerting::Silence> silences_ ABSL_GUARDED_BY(mu_);
};

// One server over one filled store for the whole suite: stopping a civetweb server takes about
// two seconds (its accept loop polls with that timeout). Tests that need other limits or fresh
// metrics start their own.
class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    store_ = new SeriesStore(SeriesStore::Options{});
    registry_ = new prometheus::Registry();
    // system.load.1{host="web-1"}: every 10s from 09:50:00 to 09:59:50, value = index 0..59.
    std::vector<DataPoint> web1;
    for (int i = 0; i < 60; ++i) web1.push_back({kNow - 10 * kMinute + i * 10 * kSecond, 1.0 * i});
    store_->Append(Key("system.load.1", {{"host", "web-1"}}), web1, kNow);
    store_->Append(
        Key("system.load.1", {{"host", "web-2"}}),
        std::vector<DataPoint>{{kNow - 120 * kMinute, 7}, {kNow - 30 * kMinute, 8}, {kNow, 9}},
        kNow);
    store_->Append(Key("system.cpu.util", {{"host", "web-1"}, {"cpu", "total"}}),
                   std::vector<DataPoint>{{kNow - kMinute, 42.5}}, kNow);
    server_ = StartServer(ApiLimits{}, registry_).release();
  }

  static void TearDownTestSuite() {
    delete server_;
    delete registry_;
    delete store_;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ready_ = true;
    now_ = kNow;
  }

  static std::unique_ptr<HttpServer> StartServer(ApiLimits limits, prometheus::Registry* registry) {
    ApiContext context;
    context.store = store_;
    context.registry = registry;
    context.ready = [] { return ready_.load(); };
    context.version = "1.2.3";
    context.now_ms = [] { return now_.load(); };
    context.alerting = &alerting_;
    context.api_token_sha256 = Sha256Hex("s3cret");
    HttpServer::Options options;
    options.listen = "127.0.0.1:0";
    options.threads = 2;
    options.limits = limits;
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, context);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  static Reply Get(const std::string& path) { return Fetch(server_->port(), "GET", path); }

  // Parses a JSON reply, failing the test if it is not JSON.
  static json Json(const Reply& reply) {
    json j = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << reply.body;
    return j;
  }

  // data[] of a successful query reply.
  static json QueryData(const std::string& query) {
    Reply reply = Get("/api/v1/query?" + query);
    EXPECT_EQ(reply.code, 200) << reply.body;
    json j = Json(reply);
    EXPECT_EQ(j["status"], "success");
    return j["data"];
  }

  static SeriesStore* store_;
  static prometheus::Registry* registry_;
  static std::atomic<bool> ready_;
  static std::atomic<int64_t> now_;
  static HttpServer* server_;
  static RecordingAlerting alerting_;
};

SeriesStore* HttpServerTest::store_ = nullptr;
prometheus::Registry* HttpServerTest::registry_ = nullptr;
std::atomic<bool> HttpServerTest::ready_{true};
std::atomic<int64_t> HttpServerTest::now_{kNow};
HttpServer* HttpServerTest::server_ = nullptr;
RecordingAlerting HttpServerTest::alerting_;

TEST_F(HttpServerTest, PortZeroBindsAFreePort) {
  ASSERT_NE(server_, nullptr);
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(Get("/healthz").code, 200);
}

TEST_F(HttpServerTest, HealthzSaysOk) {
  Reply reply = Get("/healthz");
  EXPECT_EQ(reply.code, 200);
  EXPECT_EQ(reply.body, "ok\n");
}

TEST_F(HttpServerTest, ReadyzFollowsReadyFunction) {
  ready_ = false;
  Reply not_ready = Get("/readyz");
  EXPECT_EQ(not_ready.code, 503);
  EXPECT_EQ(not_ready.body, "not ready\n");
  ready_ = true;
  Reply ready = Get("/readyz");
  EXPECT_EQ(ready.code, 200);
  EXPECT_EQ(ready.body, "ready\n");
}

TEST_F(HttpServerTest, HeadHasHeadersButNoBody) {
  Reply reply = Fetch(server_->port(), "HEAD", "/healthz");
  EXPECT_EQ(reply.code, 200);
  EXPECT_EQ(reply.body, "");
  EXPECT_THAT(reply.headers, HasSubstr("Content-Length: 3"));
}

TEST_F(HttpServerTest, StatusReportsVersionAndStoreSize) {
  Reply reply = Get("/api/v1/status");
  ASSERT_EQ(reply.code, 200) << reply.body;
  json data = Json(reply)["data"];
  EXPECT_EQ(data["version"], "1.2.3");
  EXPECT_EQ(data["ready"], true);
  EXPECT_EQ(data["series"], 3);
  EXPECT_EQ(data["points"], 64);
}

TEST_F(HttpServerTest, SeriesListsMatchesWithLabels) {
  Reply reply = Get("/api/v1/series?match=system.load.1");
  ASSERT_EQ(reply.code, 200) << reply.body;
  EXPECT_EQ(reply.content_type, "application/json");
  json expected = json::parse(R"({"status":"success","data":[
      {"metric":"system.load.1","labels":{"host":"web-1"},"series":"system.load.1{host=\"web-1\"}"},
      {"metric":"system.load.1","labels":{"host":"web-2"},"series":"system.load.1{host=\"web-2\"}"}
  ]})");
  EXPECT_EQ(Json(reply), expected);
}

TEST_F(HttpServerTest, RepliesKeepTheDocumentedKeyOrder) {
  Reply reply = Get("/api/v1/query?series=system.cpu.util&from=-1m");
  EXPECT_EQ(reply.body,
            R"({"status":"success","data":[{"metric":"system.cpu.util","labels":{"cpu":"total",)"
            R"("host":"web-1"},"series":"system.cpu.util{cpu=\"total\",host=\"web-1\"}",)"
            R"("points":[[1795341540000,42.5]]}]})"
            "\n");
}

TEST_F(HttpServerTest, SeriesUnionsRepeatedMatchSortedWithoutDuplicates) {
  Reply reply = Get("/api/v1/series?match=" + Escape(R"(system.load.1{host="web-1"})") +
                    "&match=" + Escape(R"({host="web-1"})"));
  ASSERT_EQ(reply.code, 200) << reply.body;
  json data = Json(reply)["data"];
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0]["series"], R"(system.cpu.util{cpu="total",host="web-1"})");
  EXPECT_EQ(data[0]["labels"], json({{"cpu", "total"}, {"host", "web-1"}}));
  EXPECT_EQ(data[1]["series"], R"(system.load.1{host="web-1"})");
}

TEST_F(HttpServerTest, SeriesWithNoMatchingSeriesIsEmptySuccess) {
  Reply reply = Get("/api/v1/series?match=no.such.metric");
  EXPECT_EQ(reply.code, 200);
  EXPECT_EQ(Json(reply), json::parse(R"({"status":"success","data":[]})"));
}

TEST_F(HttpServerTest, QueryReturnsPointsInInclusiveRange) {
  json data = QueryData("series=" + Escape(R"(system.load.1{host="web-1"})") +
                        absl::StrCat("&from=", kNow - 30 * kSecond, "&to=", kNow - 10 * kSecond));
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["metric"], "system.load.1");
  EXPECT_EQ(data[0]["labels"], json({{"host", "web-1"}}));
  EXPECT_EQ(data[0]["series"], R"(system.load.1{host="web-1"})");
  EXPECT_EQ(
      data[0]["points"],
      Points({{kNow - 30 * kSecond, 57}, {kNow - 20 * kSecond, 58}, {kNow - 10 * kSecond, 59}}));
}

TEST_F(HttpServerTest, QueryDefaultsToTheLastHour) {
  json data = QueryData("series=" + Escape(R"(system.load.1{host="web-2"})"));
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["points"], Points({{kNow - 30 * kMinute, 8}, {kNow, 9}}));
}

TEST_F(HttpServerTest, QueryRelativeTimesUseTheInjectedClock) {
  now_ = kNow - 5 * kMinute;
  json data = QueryData("series=" + Escape(R"(system.load.1{host="web-1"})") + "&from=-20s&to=now");
  ASSERT_EQ(data.size(), 1u);
  // now = 09:55:00: 09:54:40, 09:54:50 and 09:55:00 are indexes 28, 29, 30.
  EXPECT_EQ(data[0]["points"], Points({{kNow - 5 * kMinute - 20 * kSecond, 28},
                                       {kNow - 5 * kMinute - 10 * kSecond, 29},
                                       {kNow - 5 * kMinute, 30}}));
}

TEST_F(HttpServerTest, QueryAcceptsRfc3339Times) {
  json data = QueryData("series=" + Escape(R"(system.load.1{host="web-1"})") +
                        "&from=2026-11-22T09:59:40Z&to=" + Escape("2026-11-22T10:59:50+01:00"));
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["points"], Points({{kNow - 20 * kSecond, 58}, {kNow - 10 * kSecond, 59}}));
}

TEST_F(HttpServerTest, QueryWithStepDownsamplesWithTheGivenStatistic) {
  json data = QueryData("series=" + Escape(R"(system.load.1{host="web-1"})") +
                        "&from=-10m&to=-7m&step=1m&stat=max");
  ASSERT_EQ(data.size(), 1u);
  // Buckets 09:50, 09:51, 09:52 hold indexes 0-5, 6-11, 12-17; 09:53:00 (index 18) is `to`.
  EXPECT_EQ(data[0]["points"], Points({{kNow - 10 * kMinute, 5},
                                       {kNow - 9 * kMinute, 11},
                                       {kNow - 8 * kMinute, 17},
                                       {kNow - 7 * kMinute, 18}}));
}

TEST_F(HttpServerTest, QueryStepWithoutStatAverages) {
  json data = QueryData("series=" + Escape(R"(system.load.1{host="web-1"})") +
                        "&from=-10m&to=-8m10s&step=1m");
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["points"], Points({{kNow - 10 * kMinute, 2.5}, {kNow - 9 * kMinute, 8.5}}));
}

TEST_F(HttpServerTest, QueryReturnsEverySelectedSeriesSorted) {
  json data = QueryData("series=system.load.1&from=-1m&to=now");
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0]["series"], R"(system.load.1{host="web-1"})");
  EXPECT_EQ(data[0]["points"].size(), 6u);
  EXPECT_EQ(data[1]["series"], R"(system.load.1{host="web-2"})");
  EXPECT_EQ(data[1]["points"], Points({{kNow, 9}}));
}

struct BadQuery {
  std::string name;
  std::string path_and_query;
  std::string message;
};

class HttpServerBadQueryTest : public HttpServerTest,
                               public ::testing::WithParamInterface<BadQuery> {};

TEST_P(HttpServerBadQueryTest, Returns400WithMessageNamingTheProblem) {
  Reply reply = Get(GetParam().path_and_query);
  EXPECT_EQ(reply.code, 400) << reply.body;
  EXPECT_EQ(reply.content_type, "application/json");
  json j = Json(reply);
  EXPECT_EQ(j["status"], "error");
  EXPECT_THAT(j["error"].get<std::string>(), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HttpServerBadQueryTest,
    ::testing::Values(
        BadQuery{"SeriesWithoutMatch", "/api/v1/series", "missing parameter 'match'"},
        BadQuery{"SeriesBadSelector", "/api/v1/series?match=%7Bhost%3D", "match: bad selector"},
        BadQuery{"SeriesUnknownParameter", "/api/v1/series?match=a&mtch=b",
                 "unknown parameter 'mtch'"},
        BadQuery{"QueryWithoutSeries", "/api/v1/query?from=-1h", "missing parameter 'series'"},
        BadQuery{"QueryBadSelector", "/api/v1/query?series=%7B", "series: bad selector '{'"},
        BadQuery{"BadFrom", "/api/v1/query?series=a&from=yesterday", "from: bad time 'yesterday'"},
        BadQuery{"BadTo", "/api/v1/query?series=a&to=-5x", "to: bad time '-5x'"},
        BadQuery{"FromAfterTo", "/api/v1/query?series=a&from=2000&to=1000",
                 "from (2000) is after to (1000)"},
        BadQuery{"BadStep", "/api/v1/query?series=a&step=fast", "step: bad duration 'fast'"},
        BadQuery{"ZeroStep", "/api/v1/query?series=a&step=0s", "step: must be at least 1ms"},
        BadQuery{"BadStat", "/api/v1/query?series=a&step=1m&stat=median",
                 "stat: unknown statistic 'median'"},
        BadQuery{"StatWithoutStep", "/api/v1/query?series=a&stat=max",
                 "stat: only applies with step"},
        BadQuery{"RepeatedFrom", "/api/v1/query?series=a&from=1&from=2",
                 "from: given more than once"},
        BadQuery{"QueryUnknownParameter", "/api/v1/query?series=a&limit=5",
                 "unknown parameter 'limit'"}),
    [](const ::testing::TestParamInfo<BadQuery>& info) { return info.param.name; });

TEST_F(HttpServerTest, TooManySeriesIs400) {
  std::unique_ptr<HttpServer> small = StartServer(ApiLimits{1, 1000}, nullptr);
  ASSERT_NE(small, nullptr);
  Reply series = Fetch(small->port(), "GET", "/api/v1/series?match=system.load.1");
  EXPECT_EQ(series.code, 400);
  EXPECT_EQ(Json(series)["error"],
            "match selects 2 series, more than the limit of 1; use a narrower selector");
  Reply query = Fetch(small->port(), "GET", "/api/v1/query?series=system.load.1");
  EXPECT_EQ(query.code, 400);
  EXPECT_THAT(Json(query)["error"].get<std::string>(),
              HasSubstr("series selects 2 series, more than the limit of 1"));
}

TEST_F(HttpServerTest, TooManyPointsIs400UnlessDownsampled) {
  std::unique_ptr<HttpServer> small = StartServer(ApiLimits{1000, 20}, nullptr);
  ASSERT_NE(small, nullptr);
  Reply raw = Fetch(small->port(), "GET", "/api/v1/query?series=system.load.1&from=-10m");
  EXPECT_EQ(raw.code, 400);
  EXPECT_THAT(Json(raw)["error"].get<std::string>(),
              HasSubstr("query returns more than the limit of 20 points"));
  Reply downsampled =
      Fetch(small->port(), "GET", "/api/v1/query?series=system.load.1&from=-10m&step=5m");
  EXPECT_EQ(downsampled.code, 200) << downsampled.body;
}

TEST_F(HttpServerTest, UnknownPathIs404Json) {
  Reply reply = Get("/api/v1/nope");
  EXPECT_EQ(reply.code, 404);
  EXPECT_EQ(Json(reply),
            json::parse(R"({"status":"error","error":"no such endpoint: /api/v1/nope"})"));
}

TEST_F(HttpServerTest, NonGetIs405WithAllowHeader) {
  for (const char* path : {"/healthz", "/metrics", "/api/v1/query"}) {
    Reply reply = Fetch(server_->port(), "POST", path);
    EXPECT_EQ(reply.code, 405) << path;
    EXPECT_EQ(Json(reply)["error"], absl::StrCat("method POST not allowed on ", path, "; use GET"));
    EXPECT_THAT(reply.headers, HasSubstr("Allow: GET, HEAD"));
  }
  EXPECT_EQ(Fetch(server_->port(), "DELETE", "/api/v1/series").code, 405);
}

TEST_F(HttpServerTest, PostBodyReachesTheApiAndDeleteExpires) {
  Reply reply = Fetch(server_->port(), "POST", "/api/v1/silences",
                      R"({"matchers":["host=\"web-1\""],"duration":"1h","created_by":"bob",)"
                      R"("comment":"disk swap"})",
                      "s3cret");
  ASSERT_EQ(reply.code, 200) << reply.body;
  json data = Json(reply)["data"];
  EXPECT_EQ(data["matchers"], json::array({"host=\"web-1\""}));
  EXPECT_EQ(data["comment"], "disk swap");
  const std::string id = data["id"];
  reply = Fetch(server_->port(), "DELETE", "/api/v1/silences/" + id, "", "s3cret");
  ASSERT_EQ(reply.code, 200) << reply.body;
  EXPECT_EQ(Json(reply)["data"]["state"], "expired");
  EXPECT_EQ(Fetch(server_->port(), "DELETE", "/api/v1/silences/" + id).code, 401);
}

TEST_F(HttpServerTest, OversizedBodyIs413) {
  std::string body(kMaxRequestBody + 1, ' ');
  Reply reply = Fetch(server_->port(), "POST", "/api/v1/silences", body, "s3cret");
  EXPECT_EQ(reply.code, 413);
  EXPECT_THAT(reply.body, HasSubstr("request body larger than 65536 bytes"));
}

TEST_F(HttpServerTest, MetricsCountsRequestsByHandlerAndCode) {
  prometheus::Registry registry;  // fresh counts
  std::unique_ptr<HttpServer> server = StartServer(ApiLimits{}, &registry);
  ASSERT_NE(server, nullptr);
  auto get = [&](const std::string& path) { return Fetch(server->port(), "GET", path); };
  get("/healthz");
  get("/healthz");
  get("/api/v1/series");  // 400
  get("/nowhere");        // 404
  Reply reply = get("/metrics");
  EXPECT_EQ(reply.code, 200);
  EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4");
  EXPECT_THAT(reply.body,
              HasSubstr("vigil_http_requests_total{code=\"200\",handler=\"/healthz\"} 2\n"));
  EXPECT_THAT(reply.body,
              HasSubstr("vigil_http_requests_total{code=\"400\",handler=\"/api/v1/series\"} 1\n"));
  EXPECT_THAT(reply.body,
              HasSubstr("vigil_http_requests_total{code=\"404\",handler=\"other\"} 1\n"));
  EXPECT_THAT(reply.body,
              HasSubstr("vigil_http_request_duration_seconds_count{handler=\"/healthz\"} 2\n"));
  // The /metrics request itself is counted once it has been served.
  EXPECT_THAT(get("/metrics").body,
              HasSubstr("vigil_http_requests_total{code=\"200\",handler=\"/metrics\"} 1\n"));
}

TEST_F(HttpServerTest, SlowClientDoesNotBlockOthers) {
  // A client that sends half a request holds one worker; the other still answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const char partial[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(write(fd, partial, sizeof(partial) - 1), static_cast<ssize_t>(sizeof(partial) - 1));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get("/healthz").body, "ok\n");
  close(fd);
}

TEST_F(HttpServerTest, StartFailsNamingTheAddressWhenThePortIsTaken) {
  ApiContext context;
  context.store = store_;
  HttpServer::Options options;
  options.listen = absl::StrCat("127.0.0.1:", server_->port());
  absl::StatusOr<std::unique_ptr<HttpServer>> second = HttpServer::Start(options, context);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(options.listen));
}

TEST_F(HttpServerTest, StartRejectsAnAddressWithoutPort) {
  ApiContext context;
  context.store = store_;
  HttpServer::Options options;
  options.listen = "127.0.0.1";
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, context);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("'127.0.0.1' must be host:port"));
}

}  // namespace
}  // namespace vigil::collector
