// TLS between the real agent and collector: certificates made with the openssl command line in
// the test's directory; server-only TLS and mutual TLS; plaintext agents, agents trusting
// another CA and agents without a client certificate are refused and store nothing.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/stack.h"

namespace vigil::testing {
namespace {

// Runs a shell command with its output in `log`; returns its exit code (-1 if it did not exit).
int Shell(const std::string& command, const std::string& log) {
  const int status = std::system(absl::StrCat("(", command, ") >>", log, " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Makes, in `dir`: ca.pem/ca.key, other-ca.pem/other-ca.key (an unrelated CA), server.pem/.key
// for 127.0.0.1 and localhost signed by ca, client.pem/.key signed by ca. EC P-256 keys.
void MakeCertificates(const TempDir& dir) {
  ASSERT_EQ(Shell("command -v openssl", dir.Join("openssl.log")), 0)
      << "the openssl command line tool is required by this test and was not found in PATH";
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  dir.Write("server.ext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n");
  dir.Write("client.ext",
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n");
  const std::string script =
      absl::StrCat("set -e; cd ", dir.path(), "\n", "for ca in ca other-ca; do openssl req -x509 ",
                   key, " -keyout $ca.key -out $ca.pem",
                   " -days 2 -subj /CN=vigil-test-$ca -addext basicConstraints=critical,CA:TRUE",
                   " -addext keyUsage=critical,keyCertSign,cRLSign; done\n",
                   "for leaf in server client; do openssl req ", key,
                   " -keyout $leaf.key -out $leaf.csr -subj /CN=vigil-test-$leaf\n",
                   "openssl x509 -req -in $leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial",
                   " -CAserial ca.srl -days 2 -extfile $leaf.ext -out $leaf.pem; done\n");
  ASSERT_EQ(Shell(script, dir.Join("openssl.log")), 0) << ReadFile(dir.Join("openssl.log"));
  ASSERT_EQ(Shell(absl::StrCat("openssl verify -CAfile ", dir.Join("ca.pem"), " ",
                               dir.Join("server.pem"), " ", dir.Join("client.pem")),
                  dir.Join("openssl.log")),
            0)
      << ReadFile(dir.Join("openssl.log"));
}

// The base64 body lines of a PEM private key: what must never appear in a log.
std::vector<std::string> KeyLines(const std::string& pem) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(pem, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "-----")) lines.emplace_back(line);
  }
  return lines;
}

class TlsTest : public ::testing::Test {
 protected:
  // A collector with TLS, and one agent, `agent_name`, that trusts the CA and is expected to
  // deliver. With `mutual`, the collector requires client certificates and the agent has one.
  static void StartStack(bool mutual, const std::string& agent_name) {
    stack_ = new Stack();
    MakeCertificates(stack_->dir());
    if (::testing::Test::HasFatalFailure()) return;
    stack_->AppendCollectorConfig(absl::StrCat(
        "tls: {enabled: true, cert_file: ", Path("server.pem"), ", key_file: ", Path("server.key"),
        mutual ? ", client_ca_file: " + Path("ca.pem") : "", "}\n"));
    stack_->StartCollector();
    if (::testing::Test::HasFatalFailure()) return;
    good_agent_name_ = new std::string(agent_name);
    good_agent_ =
        stack_->StartNamedAgent(agent_name, mutual ? WithClientCert() : CaOnly("ca.pem")).release();
    ASSERT_TRUE(WaitFor([&] { return stack_->HostPoints(agent_name, "system.load.1").size() >= 2; },
                        absl::Seconds(30)))
        << good_agent_->Stderr() << stack_->collector()->Stderr();
  }
  static void TearDownTestSuite() {
    delete good_agent_;
    good_agent_ = nullptr;
    delete good_agent_name_;
    good_agent_name_ = nullptr;
    delete stack_;
    stack_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(good_agent_, nullptr) << "the suite's setup failed"; }

  static std::string Path(const std::string& name) { return stack_->dir().Join(name); }
  static std::string CaOnly(const std::string& ca) {
    return absl::StrCat("tls: {enabled: true, ca_file: ", Path(ca), "}");
  }
  static std::string WithClientCert() {
    return absl::StrCat("tls: {enabled: true, ca_file: ", Path("ca.pem"),
                        ", cert_file: ", Path("client.pem"), ", key_file: ", Path("client.key"),
                        "}");
  }

  static size_t SeriesOfHost(const std::string& host) {
    return stack_->Api("/api/v1/series?match=" + UrlEncode("{host=\"" + host + "\"}"))["data"]
        .size();
  }

  // Starts an agent that must be refused: waits until it logs the end of its stream and
  // returns its stderr; then nothing of its host may be stored.
  static std::string RunRefusedAgent(const std::string& name, const std::string& tls) {
    std::unique_ptr<Process> agent = stack_->StartNamedAgent(name, tls);
    const std::string ended =
        absl::StrCat("collector stream to 127.0.0.1:", stack_->grpc_port(), " ended: UNAVAILABLE");
    EXPECT_TRUE(
        WaitFor([&] { return absl::StrContains(agent->Stderr(), ended); }, absl::Seconds(20)))
        << agent->Stderr();
    EXPECT_TRUE(agent->running()) << "a refused agent keeps retrying: " << agent->Stderr();
    EXPECT_EQ(SeriesOfHost(name), 0u);
    return agent->Stderr();
  }

  // The good agent stores a point newer than now.
  static void ExpectGoodAgentStillDelivers() {
    const int64_t after = absl::ToUnixMillis(absl::Now());
    EXPECT_TRUE(WaitFor(
        [&] {
          nlohmann::json p = stack_->HostPoints(*good_agent_name_, "system.load.1");
          return !p.empty() && p.back()[0].get<int64_t>() > after;
        },
        absl::Seconds(15)))
        << good_agent_->Stderr();
  }

  // No line of any private key appears in any log or output file of the collector and agents.
  static void ExpectNoKeyMaterialInLogs() {
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(stack_->dir().path())) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".out" && ext != ".err") continue;
      const std::string log = entry.path().filename().string();
      const std::string text = ReadFile(entry.path().string());
      ++files;
      for (const char* key : {"ca.key", "other-ca.key", "server.key", "client.key"}) {
        for (const std::string& line : KeyLines(ReadFile(Path(key)))) {
          EXPECT_FALSE(absl::StrContains(text, line)) << log << " holds a line of " << key;
        }
      }
      EXPECT_FALSE(absl::StrContains(text, "PRIVATE KEY")) << log;
    }
    EXPECT_GE(files, 6);  // collector, the good agent and a refused agent
  }

  static Stack* stack_;
  static Process* good_agent_;
  static std::string* good_agent_name_;
};
Stack* TlsTest::stack_ = nullptr;
Process* TlsTest::good_agent_ = nullptr;
std::string* TlsTest::good_agent_name_ = nullptr;

class ServerTls : public TlsTest {
 protected:
  static void SetUpTestSuite() { StartStack(false, "tls-agent"); }
};

TEST_F(ServerTls, AgentTrustingTheCaDelivers) {
  nlohmann::json points = stack_->HostPoints("tls-agent", "system.load.1");
  ASSERT_GE(points.size(), 2u);
  EXPECT_TRUE(absl::StrContains(good_agent_->Stderr(), "connected to collector 127.0.0.1:"))
      << good_agent_->Stderr();
  EXPECT_FALSE(absl::StrContains(good_agent_->Stderr(), " ended: ")) << good_agent_->Stderr();
}

TEST_F(ServerTls, PlaintextAgentIsRefusedAndTlsAgentKeepsWorking) {
  const std::string log = RunRefusedAgent("plain-agent", "");
  EXPECT_TRUE(absl::StrContains(log, "reconnecting with backoff")) << log;
  ExpectGoodAgentStillDelivers();
}

TEST_F(ServerTls, AgentTrustingAnotherCaIsRefused) {
  RunRefusedAgent("other-ca-agent", CaOnly("other-ca.pem"));
  ExpectGoodAgentStillDelivers();
}

TEST_F(ServerTls, NoPrivateKeyInAnyLog) {
  RunRefusedAgent("key-check-agent", CaOnly("other-ca.pem"));
  ExpectNoKeyMaterialInLogs();
}

class MutualTls : public TlsTest {
 protected:
  static void SetUpTestSuite() { StartStack(true, "mtls-agent"); }
};

TEST_F(MutualTls, AgentWithClientCertificateDelivers) {
  EXPECT_GE(stack_->HostPoints("mtls-agent", "system.load.1").size(), 2u);
  EXPECT_FALSE(absl::StrContains(good_agent_->Stderr(), " ended: ")) << good_agent_->Stderr();
}

TEST_F(MutualTls, AgentWithoutClientCertificateIsRefused) {
  RunRefusedAgent("no-cert-agent", CaOnly("ca.pem"));
  ExpectGoodAgentStillDelivers();
}

TEST_F(MutualTls, NoPrivateKeyInAnyLog) {
  RunRefusedAgent("key-check-agent", CaOnly("ca.pem"));
  ExpectNoKeyMaterialInLogs();
}

}  // namespace
}  // namespace vigil::testing
