#include "agent/checks/strongswan/strongswan_status.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_split.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::strongswan {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/strongswan/testdata";

std::string Data(const std::string& name) { return testing::ReadFile(kTestData + "/" + name); }

std::vector<IkeSa> ListSas(const std::string& file) {
  absl::StatusOr<std::vector<IkeSa>> sas = ParseSwanctlListSas(Data(file));
  EXPECT_TRUE(sas.ok()) << sas.status();
  return sas.ok() ? *sas : std::vector<IkeSa>{};
}

StatusAll Statusall(const std::string& file) {
  absl::StatusOr<StatusAll> st = ParseIpsecStatusAll(Data(file));
  EXPECT_TRUE(st.ok()) << st.status();
  return st.ok() ? *st : StatusAll{};
}

// The first `n` lines of `text`, the last one cut in the middle: a truncated output.
std::string CutInLine(const std::string& text, size_t n) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  std::string out;
  for (size_t i = 0; i < n && i < lines.size(); ++i) {
    if (i + 1 < n) {
      out += lines[i] + "\n";
    } else {
      out += lines[i].substr(0, lines[i].size() / 2);
    }
  }
  return out;
}

TEST(SwanctlListSas, EstablishedTunnelWithTrafficHasCounters) {
  std::vector<IkeSa> sas = ListSas("list-sas-established-later.txt");
  ASSERT_THAT(sas, SizeIs(1));
  EXPECT_EQ(sas[0].connection, "office-b");
  EXPECT_EQ(sas[0].unique_id, "#1");
  EXPECT_EQ(sas[0].state, "ESTABLISHED");
  EXPECT_TRUE(sas[0].Established());
  EXPECT_EQ(sas[0].established_seconds_ago, 11);
  ASSERT_THAT(sas[0].children, SizeIs(1));
  const ChildSa& c = sas[0].children[0];
  EXPECT_EQ(c.name, "lan-b");
  EXPECT_EQ(c.unique_id, "#1");
  EXPECT_EQ(c.state, "INSTALLED");
  EXPECT_TRUE(c.Installed());
  EXPECT_EQ(c.spi_in, "620ef1d9");
  EXPECT_TRUE(c.has_counters);
  EXPECT_EQ(c.bytes_in, 7090u);
  EXPECT_EQ(c.packets_in, 40u);
  EXPECT_EQ(c.bytes_out, 3020u);
  EXPECT_EQ(c.packets_out, 45u);
  EXPECT_EQ(c.installed_seconds_ago, 11);
}

TEST(SwanctlListSas, RekeyedChildSaIsListedBesideItsReplacement) {
  std::vector<IkeSa> sas = ListSas("list-sas-child-rekeyed.txt");
  ASSERT_THAT(sas, SizeIs(1));
  ASSERT_THAT(sas[0].children, SizeIs(2));
  EXPECT_EQ(sas[0].children[0].state, "DELETED");
  EXPECT_FALSE(sas[0].children[0].Installed());
  EXPECT_EQ(sas[0].children[0].bytes_in, 7090u);
  EXPECT_EQ(sas[0].children[1].state, "INSTALLED");
  EXPECT_EQ(sas[0].children[1].unique_id, "#2");
  EXPECT_EQ(sas[0].children[1].spi_in, "0f7a96e0");
  EXPECT_EQ(sas[0].children[1].bytes_in, 0u);
  EXPECT_EQ(sas[0].children[1].installed_seconds_ago, 1);
}

TEST(SwanctlListSas, ConnectingIkeSaHasNoChildAndNoEstablishedTime) {
  std::vector<IkeSa> sas = ListSas("list-sas-up-and-connecting.txt");
  ASSERT_THAT(sas, SizeIs(2));
  EXPECT_EQ(sas[0].connection, "office-c");
  EXPECT_EQ(sas[0].state, "CONNECTING");
  EXPECT_FALSE(sas[0].Established());
  EXPECT_FALSE(sas[0].established_seconds_ago.has_value());
  EXPECT_THAT(sas[0].children, IsEmpty());
  EXPECT_EQ(sas[1].connection, "office-b");
  EXPECT_TRUE(sas[1].Established());
  ASSERT_THAT(sas[1].children, SizeIs(1));
  EXPECT_EQ(sas[1].children[0].bytes_in, 1165u);
  EXPECT_EQ(sas[1].children[0].packets_out, 6u);
}

TEST(SwanctlListSas, IkeSaWithoutChildSa) {
  std::vector<IkeSa> sas = ListSas("list-sas-ike-without-child.txt");
  ASSERT_THAT(sas, SizeIs(3));
  EXPECT_EQ(sas[0].connection, "idle");
  EXPECT_EQ(sas[0].state, "CONNECTING");
  EXPECT_EQ(sas[1].connection, "site-b");
  EXPECT_EQ(sas[1].state, "ESTABLISHED");
  EXPECT_EQ(sas[1].established_seconds_ago, 57);
  EXPECT_THAT(sas[1].children, IsEmpty());
  EXPECT_EQ(sas[2].connection, "site-a");
  EXPECT_THAT(sas[2].children, IsEmpty());
}

TEST(SwanctlListSas, EmptyOutputMeansNoSas) {
  EXPECT_THAT(ListSas("list-sas-none.txt"), IsEmpty());
  EXPECT_THAT(ListSas("list-sas-connecting.txt"), SizeIs(1));
}

TEST(SwanctlListSas, CrLfLineEndsAreAccepted) {
  std::string text = Data("list-sas-established.txt");
  std::string crlf;
  for (char c : text) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  absl::StatusOr<std::vector<IkeSa>> sas = ParseSwanctlListSas(crlf);
  ASSERT_TRUE(sas.ok()) << sas.status();
  ASSERT_THAT(*sas, SizeIs(1));
  EXPECT_EQ((*sas)[0].children[0].bytes_out, 1035u);
}

TEST(SwanctlListSas, TruncatedOutputIsAnErrorAtEveryCut) {
  const std::string text = Data("list-sas-established.txt");
  // Cut inside the IKE_SA header, the CHILD_SA header, and the counter lines: each is an
  // error, never a tunnel with made-up counters.
  for (size_t n : {1u, 6u, 7u, 8u, 9u}) {
    absl::StatusOr<std::vector<IkeSa>> sas = ParseSwanctlListSas(CutInLine(text, n));
    EXPECT_FALSE(sas.ok()) << "cut in line " << n;
  }
  // Cut after the CHILD_SA header and before its counters.
  std::vector<std::string> all = absl::StrSplit(text, '\n');
  std::string head = all[0] + "\n" + all[1] + "\n" + all[4] + "\n" + all[5] + "\n";
  absl::StatusOr<std::vector<IkeSa>> sas = ParseSwanctlListSas(head);
  ASSERT_FALSE(sas.ok());
  EXPECT_THAT(sas.status().message(), HasSubstr("'lan-b' #1 of 'office-b'"));
  EXPECT_THAT(sas.status().message(), HasSubstr("truncated"));
}

TEST(SwanctlListSas, MalformedLinesNameTheLine) {
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"garbage\n", "line 1: expected an IKE_SA line"},
      {"  indented first\n", "line 1: indented line before the first IKE_SA"},
      {"a: #x, ESTABLISHED, IKEv2, 1_i* 2_r\n", "line 1"},
      {"a: #1, established, IKEv2, 1_i* 2_r\n", "line 1"},
      {"a: #1, ESTABLISHED, IKEv2, 1_i* 2_r\n  established soon\n",
       "line 2: expected 'established <n>s ago'"},
      {"a: #1, ESTABLISHED, IKEv2, 1_i* 2_r\n  c: #1, reqid 1, INSTALLED, TUNNEL, ESP:X\n"
       "    in  1, many bytes, 3 packets\n",
       "line 3: expected 'in <spi>, <n> bytes, <n> packets'"},
      {"a: #1, ESTABLISHED, IKEv2, 1_i* 2_r\n  c: #1, reqid 1, INSTALLED, TUNNEL, ESP:X\n"
       "    in  1, 5 bytes, 3 packets\n    out 2, -5 bytes, 3 packets\n",
       "line 4: expected 'out <spi>"},
      {"a: #1, ESTABLISHED, IKEv2, 1_i* 2_r\n   three spaces\n", "line 2: unexpected indentation"},
      {"a: #1, ESTABLISHED, IKEv2, 1_i* 2_r\n  c: #1, reqid 1, INSTALLED\n",
       "line 2: expected a CHILD_SA line"},
      {std::string("a: #1, ESTABLISHED, IKEv2, 1_i* 2_r\n\0\n", 38), "line 2"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<IkeSa>> sas = ParseSwanctlListSas(c.text);
    ASSERT_FALSE(sas.ok()) << c.text;
    EXPECT_EQ(sas.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(sas.status().message(), HasSubstr("swanctl --list-sas"));
    EXPECT_THAT(sas.status().message(), HasSubstr(c.message)) << c.text;
  }
}

TEST(SwanctlListConns, NamesOfLoadedConnections) {
  absl::StatusOr<std::vector<std::string>> names = ParseSwanctlListConns(Data("list-conns.txt"));
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("office-b", "office-c", "office-d"));
  absl::StatusOr<std::vector<std::string>> none = ParseSwanctlListConns("");
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST(SwanctlListConns, MalformedAndTruncatedAreErrors) {
  absl::StatusOr<std::vector<std::string>> r = ParseSwanctlListConns("office-b: IK");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("swanctl --list-conns line 1"));
  r = ParseSwanctlListConns("office-b: IKEv2, no reauthentication\n  local: %any\nbroken\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("line 3"));
}

TEST(IpsecStatusAll, EstablishedTunnelWithTraffic) {
  StatusAll st = Statusall("statusall-established.txt");
  EXPECT_THAT(st.connections, ElementsAre("office-b"));
  ASSERT_THAT(st.sas, SizeIs(1));
  const IkeSa& sa = st.sas[0];
  EXPECT_EQ(sa.connection, "office-b");
  EXPECT_EQ(sa.unique_id, "[1]");
  EXPECT_EQ(sa.state, "ESTABLISHED");
  EXPECT_EQ(sa.established_seconds_ago, 8);
  ASSERT_THAT(sa.children, SizeIs(1));
  const ChildSa& c = sa.children[0];
  EXPECT_EQ(c.name, "lan-b");
  EXPECT_EQ(c.unique_id, "{1}");
  EXPECT_EQ(c.state, "INSTALLED");
  EXPECT_EQ(c.spi_in, "620ef1d9");
  EXPECT_TRUE(c.has_counters);
  EXPECT_EQ(c.bytes_in, 2250u);
  EXPECT_EQ(c.packets_in, 15u);
  EXPECT_EQ(c.bytes_out, 1035u);
  EXPECT_EQ(c.packets_out, 15u);
  EXPECT_FALSE(c.installed_seconds_ago.has_value());
}

TEST(IpsecStatusAll, ConnectingAndConfiguredButIdleConnections) {
  StatusAll st = Statusall("statusall-up-and-connecting.txt");
  EXPECT_THAT(st.connections, ElementsAre("office-b", "office-c", "office-d"));
  ASSERT_THAT(st.sas, SizeIs(2));
  EXPECT_EQ(st.sas[0].connection, "office-c");
  EXPECT_EQ(st.sas[0].state, "CONNECTING");
  EXPECT_FALSE(st.sas[0].established_seconds_ago.has_value());
  EXPECT_EQ(st.sas[1].connection, "office-b");
  ASSERT_THAT(st.sas[1].children, SizeIs(1));
  EXPECT_EQ(st.sas[1].children[0].unique_id, "{2}");
  EXPECT_EQ(st.sas[1].children[0].bytes_in, 1165u);
  EXPECT_EQ(st.sas[1].children[0].packets_out, 6u);

  StatusAll down = Statusall("statusall-connecting.txt");
  ASSERT_THAT(down.sas, SizeIs(1));
  EXPECT_EQ(down.sas[0].state, "CONNECTING");
}

TEST(IpsecStatusAll, NoSasAndIkeWithoutChild) {
  StatusAll none = Statusall("statusall-none.txt");
  EXPECT_THAT(none.connections, SizeIs(3));
  EXPECT_THAT(none.sas, IsEmpty());

  StatusAll ike_only = Statusall("statusall-ike-without-child.txt");
  EXPECT_THAT(ike_only.connections, ElementsAre("site-a", "site-b", "idle"));
  ASSERT_THAT(ike_only.sas, SizeIs(3));
  EXPECT_EQ(ike_only.sas[1].connection, "site-b");
  EXPECT_EQ(ike_only.sas[1].established_seconds_ago, 57);
  EXPECT_THAT(ike_only.sas[1].children, IsEmpty());
}

TEST(IpsecStatusAll, LongNamesRoutedConnectionsAndCoarseTimes) {
  StatusAll st = Statusall("statusall-handwritten-routed-rekeyed.txt");
  EXPECT_THAT(st.connections, ElementsAre("office-hq", "datacenter-frankfurt"));
  ASSERT_THAT(st.sas, SizeIs(2));  // the routed dc-net{4} is a trap, not an SA
  const IkeSa& hq = st.sas[0];
  EXPECT_EQ(hq.established_seconds_ago, 2 * 3600);
  ASSERT_THAT(hq.children, SizeIs(2));
  EXPECT_EQ(hq.children[0].state, "REKEYED");
  EXPECT_FALSE(hq.children[0].has_counters);
  EXPECT_EQ(hq.children[1].state, "INSTALLED");
  EXPECT_EQ(hq.children[1].bytes_in, 48213u);
  EXPECT_EQ(hq.children[1].packets_in, 312u);
  EXPECT_EQ(hq.children[1].bytes_out, 1093u);
  EXPECT_EQ(hq.children[1].packets_out, 1u);
  const IkeSa& dc = st.sas[1];
  EXPECT_EQ(dc.connection, "datacenter-frankfurt");
  EXPECT_EQ(dc.established_seconds_ago, 180);
  ASSERT_THAT(dc.children, SizeIs(1));
  EXPECT_TRUE(dc.children[0].has_counters);
  EXPECT_EQ(dc.children[0].bytes_in, 0u);
  EXPECT_EQ(dc.children[0].packets_in, 0u);
}

TEST(IpsecStatusAll, TruncatedOutputIsAnError) {
  const std::string text = Data("statusall-established.txt");
  // Cut in the CHILD_SA line and in its counters line.
  for (size_t n : {17u, 18u}) {
    absl::StatusOr<StatusAll> st = ParseIpsecStatusAll(CutInLine(text, n));
    EXPECT_FALSE(st.ok()) << "cut in line " << n;
  }
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  std::string head;
  for (size_t i = 0; i < 12; ++i) head += lines[i] + "\n";  // up to the Connections section
  absl::StatusOr<StatusAll> st = ParseIpsecStatusAll(head);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.status().message(), HasSubstr("no 'Security Associations' section"));
  head.clear();
  for (size_t i = 0; i < 17; ++i) head += lines[i] + "\n";  // the CHILD_SA line, no counters
  st = ParseIpsecStatusAll(head);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.status().message(), HasSubstr("'lan-b' {1} of 'office-b' has no traffic"));
}

TEST(IpsecStatusAll, MalformedInputNamesTheLine) {
  const std::string header = "Status of IKE charon daemon (strongSwan 5.9.8):\n";
  const std::string sas = "Security Associations (1 up, 0 connecting):\n";
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"", "empty output (is charon running?)"},
      {"hello\n", "line 1: expected 'Status of IKE charon daemon'"},
      {header + sas + "   broken line\n", "line 3: expected an SA line"},
      {header + sas + "   a[x]: ESTABLISHED 1 second ago, x\n", "line 3"},
      {header + sas + "   a[1]: ESTABLISHED soon ago, x\n", "line 3: expected '<STATE> <n>"},
      {header + sas + "   a[1]: ESTABLISHED 5 fortnights ago, x\n", "line 3"},
      {header + sas + "   c{1}:  INSTALLED, TUNNEL, reqid 1\n", "line 3: CHILD_SA line before"},
      {header + sas + "   a[1]: CONNECTING, x\n   c{1}:  installed\n", "line 4"},
      {header + sas +
           "   a[1]: ESTABLISHED 1 second ago, x\n"
           "   c{1}:  INSTALLED, TUNNEL, reqid 1, ESP SPIs: 1_i 2_o\n"
           "   c{1}:  AES, lots bytes_i, 0 bytes_o\n",
       "line 5: expected '<n> bytes_i"},
      {header + "Connections:\n   noname\n", "line 3: expected '<name>: ...'"},
      {header + "Connections:\n   a:  nothing-here\n", "line 3"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<StatusAll> st = ParseIpsecStatusAll(c.text);
    ASSERT_FALSE(st.ok()) << c.text;
    EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(st.status().message(), HasSubstr("ipsec statusall"));
    EXPECT_THAT(st.status().message(), HasSubstr(c.message)) << c.text;
  }
}

TEST(TimeDelta, StrongswanUnits) {
  EXPECT_EQ(ParseTimeDelta("1 second"), 1);
  EXPECT_EQ(ParseTimeDelta("57 seconds"), 57);
  EXPECT_EQ(ParseTimeDelta("3 minutes"), 180);
  EXPECT_EQ(ParseTimeDelta("2 hours"), 7200);
  EXPECT_EQ(ParseTimeDelta("3 days"), 3 * 86400);
  EXPECT_FALSE(ParseTimeDelta("3").has_value());
  EXPECT_FALSE(ParseTimeDelta("x seconds").has_value());
  EXPECT_FALSE(ParseTimeDelta("3 weeks").has_value());
  EXPECT_FALSE(ParseTimeDelta("").has_value());
}

}  // namespace
}  // namespace vigil::agent::strongswan
