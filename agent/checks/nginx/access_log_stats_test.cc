#include "agent/checks/nginx/access_log_stats.h"

#include <optional>
#include <string>
#include <vector>

#include "agent/checks/check_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::nginx {
namespace {

using ::testing::IsEmpty;

std::vector<std::string> Names(const std::vector<Sample>& samples, const std::string& prefix) {
  std::vector<std::string> out;
  for (const Sample& s : samples) {
    if (s.metric.rfind(prefix, 0) == 0) out.push_back(s.metric);
  }
  return out;
}

AccessLogRecord Record(int status, std::optional<uint64_t> rt_ms,
                       std::optional<uint64_t> urt_ms = std::nullopt,
                       std::optional<absl::string_view> method = std::nullopt,
                       std::optional<absl::string_view> host = std::nullopt) {
  AccessLogRecord r;
  r.status = status;
  r.request_time_ms = rt_ms;
  r.upstream_time_ms = urt_ms;
  r.method = method;
  r.host = host;
  return r;
}

TEST(LatencyHistogram, NearestRankPercentiles) {
  LatencyHistogram h;
  for (uint64_t ms = 1; ms <= 100; ++ms) h.Add(ms);
  EXPECT_EQ(h.PercentileMillis(0.50), 50u);
  EXPECT_EQ(h.PercentileMillis(0.90), 90u);
  EXPECT_EQ(h.PercentileMillis(0.99), 99u);
  EXPECT_EQ(h.PercentileMillis(1.0), 100u);
  EXPECT_EQ(h.max_millis(), 100u);
  EXPECT_DOUBLE_EQ(h.average_millis(), 50.5);
}

TEST(LatencyHistogram, RepeatedValuesAndSingleValue) {
  LatencyHistogram h;
  EXPECT_EQ(h.PercentileMillis(0.5), 0u);
  h.Add(7);
  EXPECT_EQ(h.PercentileMillis(0.01), 7u);
  EXPECT_EQ(h.PercentileMillis(0.99), 7u);
  LatencyHistogram g;
  for (int i = 0; i < 98; ++i) g.Add(0);
  g.Add(200);
  g.Add(400);
  EXPECT_EQ(g.PercentileMillis(0.50), 0u);
  EXPECT_EQ(g.PercentileMillis(0.98), 0u);
  EXPECT_EQ(g.PercentileMillis(0.99), 200u);
  EXPECT_EQ(g.PercentileMillis(1.00), 400u);
}

TEST(AccessLogStats, CountsByClassAnd5xxCode) {
  AccessLogStats stats(/*per_vhost=*/false);
  for (int status : {101, 200, 201, 204, 301, 304, 404, 499, 500, 502, 502, 503, 200}) {
    stats.Add(Record(status, 1));
  }
  std::vector<Sample> out;
  stats.AppendSamples(&out);
  EXPECT_EQ(FindSample(out, "nginx.requests"), 13);
  EXPECT_EQ(FindSample(out, "nginx.responses", {{"status_class", "1xx"}}), 1);
  EXPECT_EQ(FindSample(out, "nginx.responses", {{"status_class", "2xx"}}), 4);
  EXPECT_EQ(FindSample(out, "nginx.responses", {{"status_class", "3xx"}}), 2);
  EXPECT_EQ(FindSample(out, "nginx.responses", {{"status_class", "4xx"}}), 2);
  EXPECT_EQ(FindSample(out, "nginx.responses", {{"status_class", "5xx"}}), 4);
  EXPECT_EQ(FindSample(out, "nginx.responses_5xx", {{"code", "500"}}), 1);
  EXPECT_EQ(FindSample(out, "nginx.responses_5xx", {{"code", "502"}}), 2);
  EXPECT_EQ(FindSample(out, "nginx.responses_5xx", {{"code", "503"}}), 1);
  EXPECT_EQ(Names(out, "nginx.responses_5xx").size(), 3u);
  EXPECT_EQ(FindSample(out, "nginx.log.malformed_lines"), 0);
}

TEST(AccessLogStats, NoRequestsGivesZerosButNoLatency) {
  AccessLogStats stats(false);
  stats.AddMalformed(2);
  std::vector<Sample> out;
  stats.AppendSamples(&out);
  EXPECT_EQ(FindSample(out, "nginx.requests"), 0);
  for (const char* cls : {"1xx", "2xx", "3xx", "4xx", "5xx"}) {
    EXPECT_EQ(FindSample(out, "nginx.responses", {{"status_class", cls}}), 0) << cls;
  }
  EXPECT_THAT(Names(out, "nginx.request_time"), IsEmpty());
  EXPECT_THAT(Names(out, "nginx.upstream_response_time"), IsEmpty());
  EXPECT_THAT(Names(out, "nginx.responses_5xx"), IsEmpty());
  EXPECT_EQ(FindSample(out, "nginx.log.malformed_lines"), 2);
}

TEST(AccessLogStats, LatencySummariesInSeconds) {
  AccessLogStats stats(false);
  // 7 fast requests without an upstream, 3 proxied ones of 200, 200 and 400 ms.
  for (int i = 0; i < 7; ++i) stats.Add(Record(200, 1));
  stats.Add(Record(200, 202, 200));
  stats.Add(Record(200, 203, 201));
  stats.Add(Record(200, 405, 400));
  std::vector<Sample> out;
  stats.AppendSamples(&out);
  EXPECT_DOUBLE_EQ(*FindSample(out, "nginx.request_time_avg_seconds"),
                   (7 + 202 + 203 + 405) / 10e3);
  EXPECT_DOUBLE_EQ(*FindSample(out, "nginx.request_time_p50_seconds"), 0.001);
  EXPECT_DOUBLE_EQ(*FindSample(out, "nginx.request_time_p90_seconds"), 0.203);
  EXPECT_DOUBLE_EQ(*FindSample(out, "nginx.request_time_p99_seconds"), 0.405);
  EXPECT_DOUBLE_EQ(*FindSample(out, "nginx.request_time_max_seconds"), 0.405);
  // Only the requests that went to an upstream count for its summaries.
  EXPECT_DOUBLE_EQ(*FindSample(out, "nginx.upstream_response_time_avg_seconds"), 0.267);
  EXPECT_DOUBLE_EQ(*FindSample(out, "nginx.upstream_response_time_p50_seconds"), 0.201);
  EXPECT_DOUBLE_EQ(*FindSample(out, "nginx.upstream_response_time_p99_seconds"), 0.400);
  EXPECT_DOUBLE_EQ(*FindSample(out, "nginx.upstream_response_time_max_seconds"), 0.400);
}

TEST(AccessLogStats, RequestsWithoutTimesGiveNoLatency) {
  AccessLogStats stats(false);
  stats.Add(Record(200, std::nullopt));
  std::vector<Sample> out;
  stats.AppendSamples(&out);
  EXPECT_EQ(FindSample(out, "nginx.requests"), 1);
  EXPECT_THAT(Names(out, "nginx.request_time"), IsEmpty());
}

TEST(AccessLogStats, MethodsOutsideTheStandardSetAreOther) {
  AccessLogStats stats(false);
  stats.Add(Record(200, 1, std::nullopt, "GET"));
  stats.Add(Record(200, 1, std::nullopt, "GET"));
  stats.Add(Record(201, 1, std::nullopt, "POST"));
  stats.Add(Record(400, 1, std::nullopt, "\\x16\\x03\\x01"));
  stats.Add(Record(400, 1, std::nullopt, "get"));
  stats.Add(Record(400, 1));  // no method known
  std::vector<Sample> out;
  stats.AppendSamples(&out);
  EXPECT_EQ(FindSample(out, "nginx.requests_by_method", {{"method", "GET"}}), 2);
  EXPECT_EQ(FindSample(out, "nginx.requests_by_method", {{"method", "POST"}}), 1);
  EXPECT_EQ(FindSample(out, "nginx.requests_by_method", {{"method", "other"}}), 2);
  EXPECT_EQ(Names(out, "nginx.requests_by_method").size(), 3u);
}

TEST(AccessLogStats, VhostsOnlyWhenAskedAndBounded) {
  AccessLogStats off(false);
  off.Add(Record(200, 1, std::nullopt, std::nullopt, "a.example"));
  std::vector<Sample> out;
  off.AppendSamples(&out);
  EXPECT_THAT(Names(out, "nginx.requests_by_vhost"), IsEmpty());

  AccessLogStats on(true);
  std::vector<std::string> hosts;
  for (size_t i = 0; i < AccessLogStats::kMaxVhosts + 5; ++i) {
    hosts.push_back("h" + std::to_string(i) + ".example");
  }
  for (const std::string& h : hosts) on.Add(Record(200, 1, std::nullopt, std::nullopt, h));
  on.Add(Record(200, 1, std::nullopt, std::nullopt, "h0.example"));
  out.clear();
  on.AppendSamples(&out);
  EXPECT_EQ(Names(out, "nginx.requests_by_vhost").size(), AccessLogStats::kMaxVhosts + 1);
  EXPECT_EQ(FindSample(out, "nginx.requests_by_vhost", {{"vhost", "h0.example"}}), 2);
  EXPECT_EQ(FindSample(out, "nginx.requests_by_vhost", {{"vhost", "other"}}), 5);
}

TEST(MethodLabel, KnownAndOther) {
  EXPECT_EQ(MethodLabel("DELETE"), "DELETE");
  EXPECT_EQ(MethodLabel("PROPFIND"), "PROPFIND");
  EXPECT_EQ(MethodLabel("GETX"), "other");
  EXPECT_EQ(MethodLabel(""), "other");
}

}  // namespace
}  // namespace vigil::agent::nginx
