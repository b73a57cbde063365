// The openvpn check over recorded and constructed status files. openvpn_server_test.cc runs it
// against a real OpenVPN server.
#include "agent/checks/openvpn/openvpn_check.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/checks/check_testing.h"
#include "common/config_reader.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/openvpn/testdata";

Labels Client(const std::string& name) { return {{"client", name}}; }

std::vector<std::string> Clients(const std::vector<Sample>& samples) {
  std::vector<std::string> out;
  for (const Sample& s : samples) {
    if (s.metric == "openvpn.client.bytes_received") out.push_back(s.labels.at(0).second);
  }
  return out;
}

std::vector<std::string> InitWith(OpenVpnCheck& check, const std::string& yaml) {
  return InitCheckForTest(check, yaml);
}

// A version 3 status file written at `time` with rows "name,address,received,sent,since".
std::string V3(int64_t time, const std::vector<std::vector<std::string>>& rows) {
  std::string out = absl::StrCat("TITLE\tOpenVPN 2.6.14\nTIME\tx\t", time,
                                 "\nHEADER\tCLIENT_LIST\tCommon Name\tReal Address\t"
                                 "Bytes Received\tBytes Sent\tConnected Since (time_t)\n");
  for (const auto& r : rows) {
    out +=
        absl::StrCat("CLIENT_LIST\t", r[0], "\t", r[1], "\t", r[2], "\t", r[3], "\t", r[4], "\n");
  }
  return out + "END\n";
}

class OpenVpnCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Join("status.txt");
    ASSERT_THAT(InitWith(check_, "status_file: " + path_ + "\n"), IsEmpty());
  }
  void Serve(const std::string& testdata_file) {
    dir_.Write("status.txt", testing::ReadFile(kTestData + "/" + testdata_file));
  }
  std::vector<Sample> CollectOk(absl::Time now) {
    absl::StatusOr<std::vector<Sample>> s = check_.Collect(now);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : std::vector<Sample>{};
  }

  testing::TempDir dir_;
  std::string path_;
  OpenVpnCheck check_;
};

TEST_F(OpenVpnCheckTest, ClientsCountersAndAge) {
  Serve("status-v3.txt");  // written at 1795322816
  std::vector<Sample> s = CollectOk(absl::FromUnixSeconds(1795322820));
  EXPECT_EQ(FindSample(s, "openvpn.clients.connected"), 2);
  EXPECT_EQ(FindSample(s, "openvpn.status.age_seconds"), 4);
  EXPECT_THAT(Clients(s), ElementsAre("alice", "bob"));
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received", Client("alice")), 1527);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_sent", Client("alice")), 1494);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received", Client("bob")), 1524);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received_per_second", Client("alice")),
            std::nullopt);
}

TEST_F(OpenVpnCheckTest, RatesSpanTheServersRewrites) {
  Serve("status-v3.txt");
  CollectOk(absl::FromUnixSeconds(1795322817));
  Serve("status-v3-later.txt");                                          // written 3 s later
  std::vector<Sample> s = CollectOk(absl::FromUnixSeconds(1795322827));  // collected 10 s later
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received_per_second", Client("alice")),
            (1607.0 - 1527) / 3);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_sent_per_second", Client("alice")), 0);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received_per_second", Client("bob")),
            (1604.0 - 1524) / 3);
  EXPECT_EQ(FindSample(s, "openvpn.status.age_seconds"), 8);
}

TEST_F(OpenVpnCheckTest, VersionOneAndTwoFilesWork) {
  Serve("status-v2.txt");
  std::vector<Sample> s = CollectOk(absl::FromUnixSeconds(1795322810));
  EXPECT_EQ(FindSample(s, "openvpn.clients.connected"), 2);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received", Client("bob")), 1443);
  Serve("status-v1.txt");
  s = CollectOk(absl::FromUnixSeconds(1795322810));
  EXPECT_EQ(FindSample(s, "openvpn.clients.connected"), 2);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received", Client("alice")), 1525);
}

TEST_F(OpenVpnCheckTest, StaleFileShowsGrowingAgeAndNoRates) {
  Serve("status-v3.txt");
  CollectOk(absl::FromUnixSeconds(1795322817));
  std::vector<Sample> s = CollectOk(absl::FromUnixSeconds(1795322816 + 300));
  EXPECT_EQ(FindSample(s, "openvpn.status.age_seconds"), 300);
  EXPECT_EQ(FindSample(s, "openvpn.clients.connected"), 2);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received_per_second", Client("alice")),
            std::nullopt);
  // When the server writes again, the rate spans the whole time since the last new file.
  Serve("status-v3-later.txt");
  s = CollectOk(absl::FromUnixSeconds(1795322816 + 301));
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received_per_second", Client("alice")),
            (1607.0 - 1527) / 3);
}

TEST_F(OpenVpnCheckTest, SessionsOfOneCertificateAreSummedAndPendingOnesNotCounted) {
  Serve("status-v2-handwritten-openvpn24.txt");
  std::vector<Sample> s = CollectOk(absl::FromUnixSeconds(1623929830));
  EXPECT_EQ(FindSample(s, "openvpn.clients.connected"), 2);
  EXPECT_THAT(Clients(s), ElementsAre("carol"));
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received", Client("carol")), 4519821 + 120334);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_sent", Client("carol")), 91833104 + 2019471);
}

TEST_F(OpenVpnCheckTest, ReconnectIsANewSessionNotACounterReset) {
  dir_.Write("status.txt", V3(1000, {{"ann", "1.1.1.1:5", "5000", "7000", "900"}}));
  CollectOk(absl::FromUnixSeconds(1001));
  // ann reconnected at 1005 (new port) and has counted 300/600 since.
  dir_.Write("status.txt", V3(1010, {{"ann", "1.1.1.1:6", "300", "600", "1005"}}));
  std::vector<Sample> s = CollectOk(absl::FromUnixSeconds(1011));
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received", Client("ann")), 300);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received_per_second", Client("ann")), 30);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_sent_per_second", Client("ann")), 60);
}

TEST_F(OpenVpnCheckTest, CounterThatWentDownEmitsNoRate) {
  dir_.Write("status.txt", V3(1000, {{"ann", "1.1.1.1:5", "5000", "7000", "900"},
                                     {"ben", "1.1.1.2:5", "10", "10", "900"}}));
  CollectOk(absl::FromUnixSeconds(1001));
  dir_.Write("status.txt", V3(1010, {{"ann", "1.1.1.1:5", "4000", "7100", "900"},
                                     {"ben", "1.1.1.2:5", "110", "20", "900"}}));
  std::vector<Sample> s = CollectOk(absl::FromUnixSeconds(1011));
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received", Client("ann")), 4000);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received_per_second", Client("ann")), std::nullopt);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_sent_per_second", Client("ann")), std::nullopt);
  EXPECT_EQ(FindSample(s, "openvpn.client.bytes_received_per_second", Client("ben")), 10);
}

TEST_F(OpenVpnCheckTest, MissingFileIsAnErrorNamingIt) {
  absl::StatusOr<std::vector<Sample>> s = check_.Collect(absl::FromUnixSeconds(1));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.status().message(), HasSubstr("cannot open " + path_));
}

TEST_F(OpenVpnCheckTest, TruncatedFileIsAnError) {
  std::string text = testing::ReadFile(kTestData + "/status-v2.txt");
  dir_.Write("status.txt", text.substr(0, text.size() - 10));
  absl::StatusOr<std::vector<Sample>> s = check_.Collect(absl::FromUnixSeconds(1795322810));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr(path_ + ": openvpn status file: no END line"));
}

TEST(OpenVpnCheckConfig, StatusFileIsRequiredAndAbsolute) {
  OpenVpnCheck missing;
  EXPECT_THAT(InitWith(missing, "{}"), ElementsAre(HasSubstr("status_file: is required")));
  OpenVpnCheck relative;
  EXPECT_THAT(InitWith(relative, "status_file: status.log\nextra: 1\n"),
              ElementsAre(HasSubstr("agent.yaml:1:14: status_file: must be an absolute path"),
                          HasSubstr("unknown key 'extra'")));
}

}  // namespace
}  // namespace vigil::agent
