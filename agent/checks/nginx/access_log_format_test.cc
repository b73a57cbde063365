#include "agent/checks/nginx/access_log_format.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::nginx {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/nginx/testdata";

// The format of testdata/custom.log (and of the test environment's nginx).
constexpr char kCustomFormat[] =
    "$remote_addr \"$request\" $status rt=$request_time urt=$upstream_response_time";
// The escape=json format of testdata/json.log.
constexpr char kJsonFormat[] =
    "{\"status\":\"$status\",\"rt\":\"$request_time\",\"urt\":\"$upstream_response_time\","
    "\"m\":\"$request_method\",\"host\":\"$host\",\"ua\":\"$http_user_agent\"}";

std::vector<std::string> Lines(const std::string& file) {
  std::string text = testing::ReadFile(kTestData + "/" + file);
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  return lines;
}

AccessLogFormat MustCompile(const std::string& format) {
  absl::StatusOr<AccessLogFormat> f = AccessLogFormat::Compile(format);
  EXPECT_TRUE(f.ok()) << f.status();
  return *f;
}

TEST(ParseSecondsAsMillis, ReadsMillisecondsAndRoundsFinerDigits) {
  uint64_t ms = 0;
  EXPECT_EQ(ParseSecondsAsMillis("0.004", &ms), 5u);
  EXPECT_EQ(ms, 4u);
  EXPECT_EQ(ParseSecondsAsMillis("12.5 x", &ms), 4u);
  EXPECT_EQ(ms, 12500u);
  EXPECT_EQ(ParseSecondsAsMillis("3", &ms), 1u);
  EXPECT_EQ(ms, 3000u);
  EXPECT_EQ(ParseSecondsAsMillis("0.0015", &ms), 6u);
  EXPECT_EQ(ms, 2u);
  EXPECT_EQ(ParseSecondsAsMillis("1.", &ms), 1u);  // the dot is not part of the number
  EXPECT_EQ(ParseSecondsAsMillis("", &ms), 0u);
  EXPECT_EQ(ParseSecondsAsMillis("-", &ms), 0u);
  EXPECT_EQ(ParseSecondsAsMillis(".5", &ms), 0u);
  EXPECT_EQ(ParseSecondsAsMillis("1234567890123", &ms), 0u);  // not a duration
}

TEST(AccessLogFormat, CombinedReadsRecordedNginxLines) {
  AccessLogFormat f = MustCompile(kCombinedLogFormat);
  EXPECT_FALSE(f.has_request_time());
  EXPECT_TRUE(f.has_method());
  std::vector<int> statuses;
  std::vector<std::string> methods;
  for (const std::string& line : Lines("combined.log")) {
    absl::StatusOr<AccessLogRecord> r = f.Parse(line);
    ASSERT_TRUE(r.ok()) << r.status() << "\n" << line;
    statuses.push_back(r->status);
    methods.push_back(r->method ? std::string(*r->method) : "(none)");
    EXPECT_FALSE(r->request_time_ms.has_value());
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 500, 200, 502, 502, 404, 400, 200, 200}));
  // The method is the first word of $request; nginx logged a bad request line as is.
  EXPECT_EQ(methods, (std::vector<std::string>{"GET", "GET", "POST", "GET", "GET", "GET", "GARBAGE",
                                               "GET", "GET"}));
}

TEST(AccessLogFormat, CustomFormatReadsTimesAndUpstreamLists) {
  AccessLogFormat f = MustCompile(kCustomFormat);
  EXPECT_TRUE(f.has_request_time());
  EXPECT_TRUE(f.has_upstream_time());
  std::vector<std::string> lines = Lines("custom.log");
  ASSERT_EQ(lines.size(), 9u);
  std::vector<AccessLogRecord> r;
  for (const std::string& line : lines) {
    absl::StatusOr<AccessLogRecord> rec = f.Parse(line);
    ASSERT_TRUE(rec.ok()) << rec.status() << "\n" << line;
    r.push_back(*rec);
  }
  EXPECT_EQ(r[0].status, 200);
  EXPECT_THAT(r[0].request_time_ms, Optional(0u));
  EXPECT_FALSE(r[0].upstream_time_ms.has_value());   // "-": no upstream
  EXPECT_THAT(r[3].upstream_time_ms, Optional(0u));  // one upstream
  EXPECT_THAT(r[4].upstream_time_ms, Optional(0u));  // "0.000, 0.000": two tried
  EXPECT_EQ(r[6].status, 400);
  EXPECT_THAT(r[6].request_time_ms, Optional(2u));
}

TEST(AccessLogFormat, SumsSeveralUpstreamsAndSkipsDashes) {
  AccessLogFormat f = MustCompile(kCustomFormat);
  absl::StatusOr<AccessLogRecord> r =
      f.Parse("1.2.3.4 \"GET / HTTP/1.1\" 200 rt=0.900 urt=0.100, 0.250 : 0.050");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->upstream_time_ms, Optional(400u));
  r = f.Parse("1.2.3.4 \"GET / HTTP/1.1\" 502 rt=0.900 urt=-, 0.300");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->upstream_time_ms, Optional(300u));
  r = f.Parse("1.2.3.4 \"GET / HTTP/1.1\" 502 rt=0.900 urt=-, -");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->upstream_time_ms.has_value());
}

TEST(AccessLogFormat, UpstreamListInTheMiddleEndsAtItsSeparator) {
  AccessLogFormat f = MustCompile("$status $upstream_response_time $request_time, $host");
  absl::StatusOr<AccessLogRecord> r = f.Parse("200 0.1, 0.2 : 0.3 1.500, example.com");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->upstream_time_ms, Optional(600u));
  EXPECT_THAT(r->request_time_ms, Optional(1500u));
  EXPECT_THAT(r->host, Optional(absl::string_view("example.com")));
}

TEST(AccessLogFormat, JsonEscapedQuotesStayInsideTheValue) {
  AccessLogFormat f = MustCompile(kJsonFormat);
  std::vector<std::string> lines = Lines("json.log");
  ASSERT_EQ(lines.size(), 9u);
  std::vector<AccessLogRecord> r;
  for (const std::string& line : lines) {
    absl::StatusOr<AccessLogRecord> rec = f.Parse(line);
    ASSERT_TRUE(rec.ok()) << rec.status() << "\n" << line;
    r.push_back(*rec);
  }
  EXPECT_EQ(r[1].status, 500);                      // its user agent holds \" and \\ (escape=json)
  EXPECT_FALSE(r[0].upstream_time_ms.has_value());  // "" with escape=json
  EXPECT_THAT(r[3].upstream_time_ms, Optional(0u));
  EXPECT_THAT(r[2].method, Optional(absl::string_view("POST")));
  EXPECT_FALSE(r[6].method.has_value());  // the bad request has an empty method
  EXPECT_THAT(r[7].host, Optional(absl::string_view("www.example.com")));
}

TEST(AccessLogFormat, RequestMethodVariableWinsOverRequest) {
  AccessLogFormat f = MustCompile("$request_method|$request|$status");
  absl::StatusOr<AccessLogRecord> r = f.Parse("PUT|GET /x HTTP/1.1|201");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->method, Optional(absl::string_view("PUT")));
  r = f.Parse("-|GET /x HTTP/1.1|201");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->method.has_value());
}

TEST(AccessLogFormat, BracedVariablesAndOpaqueValues) {
  AccessLogFormat f = MustCompile("${status}x[$time_local] ${request_time}s $sent_http_x_a_b");
  absl::StatusOr<AccessLogRecord> r = f.Parse("404x[22/Nov/2026:04:45:24 +0000] 0.010s a b c");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_THAT(r->request_time_ms, Optional(10u));
}

TEST(AccessLogFormat, EmptyValuesOfOpaqueVariables) {
  AccessLogFormat f = MustCompile("\"$http_referer\" $status \"$http_user_agent\"");
  absl::StatusOr<AccessLogRecord> r = f.Parse("\"\" 204 \"\"");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 204);
}

TEST(AccessLogFormat, CompileErrorsNameTheProblem) {
  struct Case {
    std::string format;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "log_format is empty"},
           {"just text", "no variables"},
           {"$remote_addr $request_time", "no $status"},
           {"$status$body_bytes_sent",
            "column 8: $status is followed directly by $body_bytes_sent"},
           {"$status ${request_time", "column 9: '${' without a closing '}'"},
           {"$status ${}", "column 9: invalid variable name ''"},
           {"$status ${a-b}", "invalid variable name 'a-b'"},
           {"$status $ x", "column 9: '$' is not followed by a variable name"},
       }) {
    absl::StatusOr<AccessLogFormat> f = AccessLogFormat::Compile(c.format);
    ASSERT_FALSE(f.ok()) << c.format;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(f.status().message()), HasSubstr(c.message)) << c.format;
  }
}

TEST(AccessLogFormat, MalformedLinesGetColumnAndExpectation) {
  AccessLogFormat f = MustCompile(kCustomFormat);
  struct Case {
    std::string line;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "column 1: expected ' \"' after $remote_addr (truncated line?)"},
           {"1.2.3.4 \"GET / HTTP/1.1\" abc rt=0.1 urt=-",
            "column 26: $status: expected three digits"},
           {"1.2.3.4 \"GET / HTTP/1.1\" 2000 rt=0.1 urt=-",
            "column 29: expected ' rt=' after $status"},
           {"1.2.3.4 \"GET / HTTP/1.1\" 200 rt=fast urt=-",
            "column 33: $request_time: expected seconds"},
           {"1.2.3.4 \"GET / HTTP/1.1\" 200 rt=0.1 urt=slow",
            "column 41: $upstream_response_time: expected seconds"},
           {"1.2.3.4 \"GET / HTTP/1.1\" 200 rt=0.1 urt=0.1 extra",
            "column 44: unexpected text after $upstream_response_time"},
           {"garbage", "column 8: expected ' \"' after $remote_addr"},
       }) {
    absl::StatusOr<AccessLogRecord> r = f.Parse(c.line);
    ASSERT_FALSE(r.ok()) << c.line;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.message)) << c.line;
  }
}

TEST(AccessLogFormat, PrefixAndSuffixMustMatch) {
  AccessLogFormat f = MustCompile("[$status] \"$http_user_agent\"");
  EXPECT_THAT(std::string(f.Parse("200] \"x\"").status().message()),
              HasSubstr("column 1: expected '[' at the start of the line"));
  EXPECT_THAT(std::string(f.Parse("[200] \"x").status().message()),
              HasSubstr("expected '\"' at the end of the line (truncated line?)"));
  // The last variable runs up to the format's closing text, quotes included (escape=none).
  absl::StatusOr<AccessLogRecord> r = f.Parse("[200] \"say \"hi\"\"");
  EXPECT_TRUE(r.ok()) << r.status();
}

// Every prefix of every recorded line (a line cut by a crash, a full disk or copytruncate)
// either parses or fails with InvalidArgument; none crashes, and full lines parse.
TEST(AccessLogFormat, TruncatedLinesNeverCrash) {
  for (const auto& [file, format] :
       std::vector<std::pair<std::string, std::string>>{{"combined.log", kCombinedLogFormat},
                                                        {"custom.log", kCustomFormat},
                                                        {"json.log", kJsonFormat}}) {
    AccessLogFormat f = MustCompile(format);
    int failures = 0;
    for (const std::string& line : Lines(file)) {
      ASSERT_TRUE(f.Parse(line).ok()) << line;
      for (size_t n = 0; n < line.size(); ++n) {
        absl::StatusOr<AccessLogRecord> r = f.Parse(absl::string_view(line).substr(0, n));
        if (!r.ok()) {
          ++failures;
          EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
          EXPECT_THAT(std::string(r.status().message()), HasSubstr("column "));
        }
      }
    }
    EXPECT_GT(failures, 0) << file;
  }
}

// A truncated line of the custom format is rejected unless the cut falls inside the last value
// where a shorter value is still valid (urt=0.00 for 0.000).
TEST(AccessLogFormat, TruncatedCustomLineIsMalformedBeforeTheLastValue) {
  AccessLogFormat f = MustCompile(kCustomFormat);
  std::string line = "127.0.0.1 \"GET /ok HTTP/1.1\" 200 rt=0.000 urt=-";
  size_t last_value = line.find("urt=") + 4;
  for (size_t n = 0; n < last_value; ++n) {
    EXPECT_FALSE(f.Parse(line.substr(0, n)).ok()) << n;
  }
}

}  // namespace
}  // namespace vigil::agent::nginx
