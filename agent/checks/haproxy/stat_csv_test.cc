#include "agent/checks/haproxy/stat_csv.h"

#include <string>
#include <vector>

#include "agent/checks/haproxy/haproxy_check.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::haproxy {
namespace {

using ::testing::HasSubstr;

// Recorded with `echo "show stat" | socat - UNIX-CONNECT:...` from HAProxy 2.6.12 (Debian 12):
// show_stat_2.6.csv after 3 requests answered 200 and 1 answered 500 through frontend `web`
// (backend `app`: server `live` up, server `dead` on a closed port); show_stat_2.6_mixed.csv
// with servers in every state (UP, DOWN, no check, MAINT, DRAIN), a backend whose servers are
// all down and a `listen` section.
const std::string kTestData = std::string(VIGIL_SOURCE_DIR) + "/agent/checks/haproxy/testdata/";

std::string Recorded(const std::string& name) { return testing::ReadFile(kTestData + name); }

std::string ErrorOf(const absl::StatusOr<std::vector<StatRow>>& r) {
  return std::string(r.status().message());
}

const StatRow* FindRow(const std::vector<StatRow>& rows, const std::string& proxy,
                       const std::string& name) {
  for (const StatRow& r : rows) {
    if (r.proxy == proxy && r.name == name) return &r;
  }
  return nullptr;
}

TEST(ParseStatCsv, RecordedShowStatOfHaproxy26) {
  absl::StatusOr<std::vector<StatRow>> rows = ParseStatCsv(Recorded("show_stat_2.6.csv"), "sock");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 5u);
  const StatRow* web = FindRow(*rows, "web", "FRONTEND");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->type, RowType::kFrontend);
  EXPECT_EQ(web->Get("status"), "OPEN");
  EXPECT_EQ(web->Number("stot"), 4.0);
  EXPECT_EQ(web->Number("hrsp_2xx"), 3.0);
  EXPECT_EQ(web->Number("hrsp_5xx"), 1.0);
  EXPECT_EQ(web->Number("scur"), 0.0);
  EXPECT_FALSE(web->Number("qcur").has_value());  // empty for frontends
  EXPECT_FALSE(web->Number("rtime").has_value());

  const StatRow* live = FindRow(*rows, "app", "live");
  ASSERT_NE(live, nullptr);
  EXPECT_EQ(live->type, RowType::kServer);
  EXPECT_EQ(live->Get("status"), "UP");
  EXPECT_EQ(live->Get("check_desc"), "Layer4 check passed");
  EXPECT_EQ(live->Number("rtime"), 3.0);
  EXPECT_EQ(live->Number("qcur"), 0.0);
  const StatRow* dead = FindRow(*rows, "app", "dead");
  ASSERT_NE(dead, nullptr);
  EXPECT_EQ(dead->Get("status"), "DOWN");
  EXPECT_EQ(dead->Get("last_chk"), "Connection refused");
  const StatRow* app = FindRow(*rows, "app", "BACKEND");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->type, RowType::kBackend);
  EXPECT_EQ(app->Number("stot"), 4.0);
  EXPECT_EQ(app->Number("hrsp_5xx"), 1.0);
  EXPECT_EQ(app->Get("no-such-column"), "");
}

TEST(ParseStatCsv, RecordedServersInEveryState) {
  absl::StatusOr<std::vector<StatRow>> rows =
      ParseStatCsv(Recorded("show_stat_2.6_mixed.csv"), "sock");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 13u);
  std::vector<std::string> statuses;
  for (const StatRow& r : *rows) statuses.push_back(r.proxy + "/" + r.name + "=" + r.Get("status"));
  EXPECT_THAT(statuses, ::testing::ElementsAre(
                            "web/FRONTEND=OPEN", "app/live=UP", "app/dead=DOWN",
                            "app/nocheck=no check", "app/maint=MAINT", "app/drain=DRAIN",
                            "app/BACKEND=UP", "gone/d1=DOWN", "gone/d2=DOWN", "gone/BACKEND=DOWN",
                            "admin/FRONTEND=OPEN", "admin/a1=UP", "admin/BACKEND=UP"));
  // A `listen` section is a frontend and a backend of the same name.
  EXPECT_EQ(FindRow(*rows, "admin", "FRONTEND")->type, RowType::kFrontend);
  EXPECT_EQ(FindRow(*rows, "admin", "BACKEND")->type, RowType::kBackend);
}

// Hand-made in the shape of older versions: fewer columns, another order, no `type` column
// (the row type then comes from svname), no "# " before the header, CRLF line ends.
TEST(ParseStatCsv, ColumnsAreFoundByNameWhateverTheirOrder) {
  const std::string csv =
      "svname,pxname,status,stot,scur,hrsp_5xx,\r\n"
      "FRONTEND,www,OPEN,10,2,1,\r\n"
      "s1,www_back,UP,7,1,1,\r\n"
      "BACKEND,www_back,UP,7,1,1,\r\n";
  absl::StatusOr<std::vector<StatRow>> rows = ParseStatCsv(csv, "old");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].proxy, "www");
  EXPECT_EQ((*rows)[0].type, RowType::kFrontend);
  EXPECT_EQ((*rows)[0].Number("stot"), 10.0);
  EXPECT_EQ((*rows)[1].type, RowType::kServer);
  EXPECT_EQ((*rows)[1].Get("status"), "UP");
  EXPECT_EQ((*rows)[2].type, RowType::kBackend);
  EXPECT_FALSE((*rows)[2].Number("rtime").has_value());
}

TEST(ParseStatCsv, QuotedFieldsMayHoldCommasAndQuotes) {
  const std::string csv =
      "# pxname,svname,status,check_desc,type,\n"
      "app,s1,DOWN,\"Layer7 wrong status, code: 503, \"\"busy\"\"\",2,\n";
  absl::StatusOr<std::vector<StatRow>> rows = ParseStatCsv(csv, "q");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].Get("check_desc"), "Layer7 wrong status, code: 503, \"busy\"");
  EXPECT_EQ((*rows)[0].type, RowType::kServer);
}

TEST(ParseStatCsv, TruncatedOutputIsAnError) {
  const std::string full = Recorded("show_stat_2.6.csv");
  // Cut inside the header, inside each row, and just before the last newline of a row.
  size_t second_row = full.find("\nstats,");
  ASSERT_NE(second_row, std::string::npos);
  for (size_t cut : {size_t{10}, full.find('\n') - 5, full.find('\n') + 20, second_row - 1,
                     second_row + 30, full.size() - 3}) {
    absl::StatusOr<std::vector<StatRow>> rows = ParseStatCsv(full.substr(0, cut), "/run/s.sock");
    ASSERT_FALSE(rows.ok()) << "cut at " << cut;
    EXPECT_THAT(ErrorOf(rows), HasSubstr("/run/s.sock: line ")) << cut;
  }
  EXPECT_THAT(ErrorOf(ParseStatCsv(full.substr(0, second_row - 1), "s")),
              HasSubstr("line 2: not terminated by a newline (truncated output?)"));
  EXPECT_THAT(ErrorOf(ParseStatCsv("# pxname,svname,\nweb,\"FRONT", "s")),
              HasSubstr("line 2: unterminated quoted field"));
}

TEST(ParseStatCsv, MalformedTablesAreErrorsNamingTheLine) {
  EXPECT_THAT(ErrorOf(ParseStatCsv("", "s")), HasSubstr("s: empty output"));
  EXPECT_THAT(ErrorOf(ParseStatCsv("\n\n", "s")), HasSubstr("s: no header"));
  EXPECT_THAT(ErrorOf(ParseStatCsv("Unknown command. Please enter one of the following...\n", "s")),
              HasSubstr("line 1: header does not name pxname and svname"));
  EXPECT_THAT(ErrorOf(ParseStatCsv("<html><body>stats</body></html>\n", "s")),
              HasSubstr("header does not name pxname and svname"));
  EXPECT_THAT(ErrorOf(ParseStatCsv("# pxname,svname,scur,\nweb,FRONTEND,0,\napp,BACKEND,0\n", "s")),
              HasSubstr("line 3: 3 fields where the header has 4"));
  EXPECT_THAT(ErrorOf(ParseStatCsv("# pxname,svname,type,\nweb,FRONTEND,7,\n", "s")),
              HasSubstr("line 2: type '7' is not 0, 1, 2 or 3"));
  EXPECT_THAT(ErrorOf(ParseStatCsv("# pxname,svname,type,\n,FRONTEND,0,\n", "s")),
              HasSubstr("line 2: empty pxname or svname"));
  // Only a header: no proxies, not an error.
  absl::StatusOr<std::vector<StatRow>> empty = ParseStatCsv("# pxname,svname,\n\n", "s");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());
}

TEST(ParseStatCsv, NonNumericValuesAreNotNumbers) {
  absl::StatusOr<std::vector<StatRow>> rows =
      ParseStatCsv("# pxname,svname,scur,stot,\nweb,FRONTEND,abc,nan,\n", "s");
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_FALSE((*rows)[0].Number("scur").has_value());
  EXPECT_FALSE((*rows)[0].Number("stot").has_value());
}

TEST(ClassifyServerStatus, UpDownAndMaintenanceStates) {
  EXPECT_EQ(ClassifyServerStatus("UP"), ServerHealth::kUp);
  EXPECT_EQ(ClassifyServerStatus("UP 1/3"), ServerHealth::kUp);  // failing, still serving
  EXPECT_EQ(ClassifyServerStatus("no check"), ServerHealth::kUp);
  EXPECT_EQ(ClassifyServerStatus("DOWN"), ServerHealth::kDown);
  EXPECT_EQ(ClassifyServerStatus("DOWN 1/2"), ServerHealth::kDown);  // recovering, not yet up
  EXPECT_EQ(ClassifyServerStatus("NOLB"), ServerHealth::kDown);
  EXPECT_EQ(ClassifyServerStatus("MAINT"), ServerHealth::kMaint);
  EXPECT_EQ(ClassifyServerStatus("MAINT (via app/s1)"), ServerHealth::kMaint);
  EXPECT_EQ(ClassifyServerStatus("MAINT (resolution)"), ServerHealth::kMaint);
  EXPECT_EQ(ClassifyServerStatus("DRAIN"), ServerHealth::kMaint);
  EXPECT_EQ(ClassifyServerStatus(""), ServerHealth::kDown);
  EXPECT_EQ(ClassifyServerStatus("SOMETHING NEW"), ServerHealth::kDown);
}

}  // namespace
}  // namespace vigil::agent::haproxy
