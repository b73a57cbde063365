#include "agent/checks/openvpn/openvpn_status.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::openvpn {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/openvpn/testdata";

std::string Data(const std::string& name) { return testing::ReadFile(kTestData + "/" + name); }

StatusFile Parse(const std::string& file, absl::TimeZone zone = absl::UTCTimeZone()) {
  absl::StatusOr<StatusFile> st = ParseStatusFile(Data(file), zone);
  EXPECT_TRUE(st.ok()) << file << ": " << st.status();
  return st.ok() ? *st : StatusFile{};
}

absl::Time Utc(int y, int mo, int d, int h, int mi, int s) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

TEST(OpenVpnStatus, Version2FromOpenVpn26) {
  StatusFile st = Parse("status-v2.txt");
  EXPECT_EQ(st.version, 2);
  EXPECT_EQ(st.updated, absl::FromUnixSeconds(1795322809));
  ASSERT_THAT(st.clients, SizeIs(2));
  EXPECT_EQ(st.clients[0].common_name, "alice");
  EXPECT_EQ(st.clients[0].real_address, "127.0.0.1:49603");
  EXPECT_EQ(st.clients[0].bytes_received, 1445u);
  EXPECT_EQ(st.clients[0].bytes_sent, 1494u);
  EXPECT_EQ(st.clients[0].connected_since, absl::FromUnixSeconds(1795322783));
  EXPECT_EQ(st.clients[1].common_name, "bob");
  EXPECT_EQ(st.clients[1].bytes_received, 1443u);
}

TEST(OpenVpnStatus, Version3IsTabSeparated) {
  StatusFile st = Parse("status-v3-later.txt");
  EXPECT_EQ(st.version, 3);
  EXPECT_EQ(st.updated, absl::FromUnixSeconds(1795322819));
  ASSERT_THAT(st.clients, SizeIs(2));
  EXPECT_EQ(st.clients[0].common_name, "alice");
  EXPECT_EQ(st.clients[0].bytes_received, 1607u);
  EXPECT_EQ(st.clients[0].bytes_sent, 1494u);
  EXPECT_EQ(st.clients[1].common_name, "bob");
  EXPECT_EQ(st.clients[1].bytes_received, 1604u);
}

TEST(OpenVpnStatus, Version1TimesAreInTheServersZone) {
  StatusFile st = Parse("status-v1.txt");
  EXPECT_EQ(st.version, 1);
  EXPECT_EQ(st.updated, Utc(2026, 11, 22, 4, 47, 7));
  ASSERT_THAT(st.clients, SizeIs(2));
  EXPECT_EQ(st.clients[0].common_name, "bob");
  EXPECT_EQ(st.clients[0].bytes_received, 1522u);
  EXPECT_EQ(st.clients[0].connected_since, Utc(2026, 11, 22, 4, 47, 4));
  EXPECT_EQ(st.clients[1].common_name, "alice");

  StatusFile east = Parse("status-v1.txt", absl::FixedTimeZone(3600));
  EXPECT_EQ(east.updated, Utc(2026, 11, 22, 3, 47, 7));
}

TEST(OpenVpnStatus, OlderServersCtimeTimesDuplicateNamesAndPendingSessions) {
  StatusFile v2 = Parse("status-v2-handwritten-openvpn24.txt");
  EXPECT_EQ(v2.updated, absl::FromUnixSeconds(1623929829));
  ASSERT_THAT(v2.clients, SizeIs(3));
  EXPECT_EQ(v2.clients[0].common_name, "carol");
  EXPECT_EQ(v2.clients[0].bytes_received, 4519821u);
  EXPECT_EQ(v2.clients[0].bytes_sent, 91833104u);
  EXPECT_EQ(v2.clients[1].common_name, "carol");
  EXPECT_EQ(v2.clients[2].common_name, "UNDEF");

  StatusFile v1 = Parse("status-v1-handwritten-ctime.txt");
  EXPECT_EQ(v1.updated, Utc(2021, 6, 3, 9, 5, 44));
  ASSERT_THAT(v1.clients, SizeIs(1));
  EXPECT_EQ(v1.clients[0].connected_since, Utc(2021, 6, 3, 8, 55, 10));
  EXPECT_EQ(v1.clients[0].bytes_sent, 40012u);
}

TEST(OpenVpnStatus, EveryTruncationIsAnError) {
  for (const char* file : {"status-v1.txt", "status-v2.txt", "status-v3.txt"}) {
    const std::string text = Data(file);
    std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
    std::string head;
    for (size_t n = 0; n < lines.size(); ++n) {
      // The first n lines, then the first n lines and half of the next one.
      absl::StatusOr<StatusFile> st = ParseStatusFile(head, absl::UTCTimeZone());
      EXPECT_FALSE(st.ok()) << file << " cut after " << n << " lines";
      std::string half = head + lines[n].substr(0, lines[n].size() / 2);
      st = ParseStatusFile(half, absl::UTCTimeZone());
      EXPECT_FALSE(st.ok()) << file << " cut in line " << n + 1;
      head += lines[n] + "\n";
    }
    EXPECT_TRUE(ParseStatusFile(head, absl::UTCTimeZone()).ok()) << file;
  }
}

TEST(OpenVpnStatus, TruncationMessageSaysWhy) {
  std::string text = Data("status-v3.txt");
  absl::StatusOr<StatusFile> st =
      ParseStatusFile(text.substr(0, text.find("HEADER\tROUTING")), absl::UTCTimeZone());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(st.status().message(), HasSubstr("no END line (truncated"));
}

TEST(OpenVpnStatus, MalformedInputNamesTheLine) {
  const std::string title = "TITLE,OpenVPN 2.6.14\nTIME,2026-11-22 04:46:49,1795322809\n";
  const std::string header =
      "HEADER,CLIENT_LIST,Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since "
      "(time_t)\n";
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"", "openvpn status file is empty"},
      {"hello\n", "line 1: expected 'OpenVPN CLIENT LIST' (status-version 1) or 'TITLE'"},
      {"OpenVPN STATISTICS\nUpdated,2026-11-22 04:47:07\nEND\n",
       "line 1: this is the status of a client"},
      {title + header + "CLIENT_LIST,a,1.2.3.4:5,12x,3,1795322783\nEND\n",
       "line 4: expected byte counts"},
      {title + header + "CLIENT_LIST,a,b,1.2.3.4:5,12,3,1795322783\nEND\n",
       "line 4: a client row has 6 fields, its header 5"},
      {title + header + "CLIENT_LIST,a,1.2.3.4:5,12,3,yesterday\nEND\n",
       "line 4: expected a number in 'Connected Since (time_t)'"},
      {title + "CLIENT_LIST,a,1.2.3.4:5,12,3,1795322783\nEND\n",
       "line 3: a client row before its HEADER line"},
      {"TITLE,x\nTIME,sometime\n" + header + "END\n", "line 2: expected 'TIME"},
      {"TITLE,x\n" + header + "END\n", "no TIME line"},
      {title + "END\n", "no HEADER line for CLIENT_LIST"},
      {title + "HEADER,CLIENT_LIST,Common Name,Bytes Sent\nEND\n",
       "line 3: the client list header has no 'Bytes Received' column"},
      {"OpenVPN CLIENT LIST\nUpdated,soon\n", "line 2: expected 'Updated,<time>'"},
      {"OpenVPN CLIENT LIST\nUpdated,2026-11-22 04:47:07\nROUTING TABLE\nEND\n",
       "line 3: expected the client list header"},
      {"OpenVPN CLIENT LIST\nUpdated,2026-11-22 04:47:07\n"
       "Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since\n"
       "a,1.2.3.4:5,1,2,not a time\nROUTING TABLE\nEND\n",
       "line 4: expected a time in 'Connected Since'"},
      {std::string("TITLE,x\0\n", 9), "no TIME line"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<StatusFile> st = ParseStatusFile(c.text, absl::UTCTimeZone());
    ASSERT_FALSE(st.ok()) << c.text;
    EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(st.status().message(), HasSubstr(c.message)) << c.text;
  }
}

}  // namespace
}  // namespace vigil::agent::openvpn
