// The libpq connection against a real PostgreSQL 15 started once for this binary: parameters,
// prepared statements, error codes, transactions and quoting.

#include "common/postgres/pg_connection.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/testing/postgres_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::postgres {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kTimeout = absl::Seconds(10);

class PgConnectionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::PostgresServer();
    setup_ = server_->Start();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(setup_.ok()) << setup_;
    auto conn = Connection::Open({{"host", "127.0.0.1"},
                                  {"port", std::to_string(server_->port())},
                                  {"user", "postgres"},
                                  {"dbname", "postgres"}},
                                 kTimeout);
    ASSERT_TRUE(conn.ok()) << conn.status();
    conn_ = *std::move(conn);
  }

  static testing::PostgresServer* server_;
  static absl::Status setup_;
  std::unique_ptr<Connection> conn_;
};

testing::PostgresServer* PgConnectionTest::server_ = nullptr;
absl::Status PgConnectionTest::setup_;

TEST_F(PgConnectionTest, ParametersAreSentApartFromTheSqlIncludingNull) {
  const std::string tricky = "it's a \"quote\"; DROP TABLE x; -- \\ \xc3\xa9";
  absl::StatusOr<Table> t = conn_->Execute("SELECT $1::text, $2::text IS NULL, length($1)",
                                           {tricky, std::nullopt}, kTimeout);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->columns, ElementsAre("text", "?column?", "length"));
  ASSERT_EQ(t->rows.size(), 1u);
  EXPECT_EQ(t->rows[0][0], tricky);
  EXPECT_EQ(t->rows[0][1], "t");
  EXPECT_EQ(t->rows[0][2], "36");  // characters, not bytes
}

TEST_F(PgConnectionTest, PreparedStatementsRunManyTimesWithTheirOwnParameters) {
  ASSERT_TRUE(conn_->Query("CREATE TEMP TABLE kv (k text PRIMARY KEY, v bigint)", kTimeout).ok());
  ASSERT_TRUE(conn_->Prepare("put", "INSERT INTO kv VALUES ($1, $2)", kTimeout).ok());
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<Table> r =
        conn_->ExecutePrepared("put", {"k" + std::to_string(i), std::to_string(i * 10)}, kTimeout);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  absl::StatusOr<Table> sum = conn_->Query("SELECT sum(v), count(*) FROM kv", kTimeout);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->rows[0][0], "30");
  EXPECT_EQ(sum->rows[0][1], "3");
  // A duplicate key is refused input, with its SQLSTATE, and the connection stays usable.
  absl::StatusOr<Table> dup = conn_->ExecutePrepared("put", {"k1", "1"}, kTimeout);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dup.status().message(), HasSubstr("(SQLSTATE 23505)"));
  EXPECT_FALSE(conn_->broken());
  absl::StatusOr<Table> missing = conn_->ExecutePrepared("absent", {}, kTimeout);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(missing.status().message(), HasSubstr("26000"));
}

TEST_F(PgConnectionTest, TransactionStateFollowsBeginAndCommit) {
  EXPECT_FALSE(conn_->in_transaction());
  ASSERT_TRUE(conn_->Query("BEGIN", kTimeout).ok());
  EXPECT_TRUE(conn_->in_transaction());
  EXPECT_FALSE(conn_->Query("SELECT 1/0", kTimeout).ok());
  EXPECT_TRUE(conn_->in_transaction()) << "a failed transaction stays open until ROLLBACK";
  ASSERT_TRUE(conn_->Query("ROLLBACK", kTimeout).ok());
  EXPECT_FALSE(conn_->in_transaction());
}

TEST_F(PgConnectionTest, StatementTimeoutIsDeadlineExceededAndKeepsTheConnection) {
  ASSERT_TRUE(conn_->Query("SET statement_timeout = 100", kTimeout).ok());
  absl::StatusOr<Table> r = conn_->Query("SELECT pg_sleep(5)", kTimeout);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("57014"));
  EXPECT_FALSE(conn_->broken());
  EXPECT_TRUE(conn_->Query("SELECT 1", kTimeout).ok());
}

TEST_F(PgConnectionTest, NoAnswerWithinTheClientDeadlineBreaksTheConnection) {
  absl::StatusOr<Table> r = conn_->Query("SELECT pg_sleep(5)", absl::Milliseconds(200));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("no answer to a query within 200ms"));
  EXPECT_TRUE(conn_->broken());
  EXPECT_EQ(conn_->Query("SELECT 1", kTimeout).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(PgConnectionTest, TerminatedBackendIsUnavailableAndBroken) {
  const int pid = conn_->backend_pid();
  ASSERT_TRUE(server_->Query("SELECT pg_terminate_backend(" + std::to_string(pid) + ")").ok());
  absl::StatusOr<Table> r = conn_->Query("SELECT 1", kTimeout);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(conn_->broken());
}

TEST_F(PgConnectionTest, QuotedLiteralsAndIdentifiersReadBackUnchanged) {
  const std::string text = "a'b\"c\\d";
  absl::StatusOr<Table> r = conn_->Query(
      "SELECT " + QuoteLiteral(text) + " AS " + QuoteIdentifier("we\"ird name"), kTimeout);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->columns[0], "we\"ird name");
  EXPECT_EQ(r->rows[0][0], text);
}

}  // namespace
}  // namespace vigil::postgres
