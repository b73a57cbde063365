#include "agent/checks/nginx/stub_status.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::nginx {
namespace {

using ::testing::HasSubstr;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/nginx/testdata";

TEST(ParseStubStatus, ReadsRecordedNginxPage) {
  absl::StatusOr<StubStatus> s =
      ParseStubStatus(testing::ReadFile(kTestData + "/stub_status.txt"), "status");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->active, 1u);
  EXPECT_EQ(s->accepts, 9u);
  EXPECT_EQ(s->handled, 9u);
  EXPECT_EQ(s->requests, 9u);
  EXPECT_EQ(s->reading, 0u);
  EXPECT_EQ(s->writing, 1u);
  EXPECT_EQ(s->waiting, 0u);
}

TEST(ParseStubStatus, ReadsLargeCountersAndCrlf) {
  absl::StatusOr<StubStatus> s = ParseStubStatus(
      "Active connections: 291 \r\nserver accepts handled requests\r\n 16630948 16630947 "
      "31070465 \r\nReading: 6 Writing: 179 Waiting: 106 \r\n",
      "status");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->active, 291u);
  EXPECT_EQ(s->accepts, 16630948u);
  EXPECT_EQ(s->handled, 16630947u);
  EXPECT_EQ(s->requests, 31070465u);
  EXPECT_EQ(s->reading, 6u);
  EXPECT_EQ(s->writing, 179u);
  EXPECT_EQ(s->waiting, 106u);
}

TEST(ParseStubStatus, MalformedPagesNameTheLine) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::string ok3 = "server accepts handled requests\n 1 2 3\n";
  for (const Case& c : std::vector<Case>{
           {"", "u: expected the 4 lines of a stub_status page, got 0 (truncated?)"},
           {"<html>Not found</html>\n", "got 1"},
           {"Active connections: x\n" + ok3 + "Reading: 0 Writing: 1 Waiting: 0\n",
            "u: line 1: expected 'Active connections: N'"},
           {"Active connections: 1\nserver accepts\n 1 2 3\nReading: 0 Writing: 1 Waiting: 0\n",
            "u: line 2: expected 'server accepts handled requests'"},
           {"Active connections: 1\nserver accepts handled requests\n 1 2\nReading: 0 Writing: 1 "
            "Waiting: 0\n",
            "u: line 3: expected 3 numbers (accepts handled requests), got 2"},
           {"Active connections: 1\nserver accepts handled requests\n 1 -2 3\nReading: 0 Writing: "
            "1 Waiting: 0\n",
            "u: line 3: expected 3 non-negative integers"},
           {"Active connections: 1\n" + ok3 + "Reading: 0 Writing: 1\n",
            "u: line 4: expected 'Reading: N Writing: N Waiting: N'"},
           {"Active connections: 1\n" + ok3 + "Reading: 0 Writing: 1 Waiting: 0\nmore\n",
            "u: line 5: unexpected text"},
       }) {
    absl::StatusOr<StubStatus> s = ParseStubStatus(c.text, "u");
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.message)) << c.text;
  }
}

TEST(ParseStubStatus, EveryTruncationFailsCleanly) {
  std::string page = testing::ReadFile(kTestData + "/stub_status.txt");
  // Cutting inside the last line's last number still reads as a (smaller) number; every cut
  // before the last line is an error.
  size_t last_line = page.find("Reading:");
  for (size_t n = 0; n < last_line; ++n) {
    absl::StatusOr<StubStatus> s = ParseStubStatus(page.substr(0, n), "u");
    EXPECT_FALSE(s.ok()) << n;
  }
  for (size_t n = last_line; n < page.size(); ++n) {
    (void)ParseStubStatus(page.substr(0, n), "u");  // must not crash
  }
}

}  // namespace
}  // namespace vigil::agent::nginx
