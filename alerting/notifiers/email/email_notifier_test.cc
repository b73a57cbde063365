#include "alerting/notifiers/email/email_notifier.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "alerting/notifiers/email/email_test_util.h"
#include "common/config_reader.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

// Sends real emails to aiosmtpd (Debian's python3-aiosmtpd) relays on loopback, started once
// for the whole binary: two plain relays, one requiring STARTTLS, one with implicit TLS, and
// one requiring AUTH (testdata/smtp_auth_server.py). Each relay stores messages in its own
// Maildir; the tests read them back and parse them with Python's email package.

namespace vigil::alerting {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kPassword[] = "s3cret-Relay-pa55";

std::string TestData(const std::string& name) {
  return absl::StrCat(VIGIL_SOURCE_DIR, "/alerting/notifiers/email/testdata/", name);
}

bool PortOpen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

std::vector<std::string> MaildirFiles(const std::string& maildir) {
  std::vector<std::string> files;
  std::string dir = maildir + "/new";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return files;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') files.push_back(dir + "/" + e->d_name);
  }
  closedir(d);
  return files;
}

// The stored messages of `maildir` that contain `needle` (a Message-ID).
std::vector<std::string> MessagesWith(const std::string& maildir, const std::string& needle) {
  std::vector<std::string> out;
  for (const std::string& f : MaildirFiles(maildir)) {
    if (absl::StrContains(testing::ReadFile(f), needle)) out.push_back(f);
  }
  return out;
}

// A relay stores the message before it answers 250, so it is there when Send() returns; the
// wait only covers a slow file system.
std::string WaitForMessage(const std::string& maildir, const std::string& needle) {
  std::string found;
  testing::WaitFor(
      [&] {
        std::vector<std::string> m = MessagesWith(maildir, needle);
        if (!m.empty()) found = m[0];
        return !m.empty();
      },
      absl::Seconds(10));
  return found;
}

class EmailNotifierTest : public ::testing::Test {
 protected:
  struct Relays {
    testing::TempDir dir;
    std::string cert;
    int plain_a = 0, plain_b = 0, starttls = 0, smtps = 0, auth = 0, auth_login = 0;
    std::string maildir_a, maildir_b, maildir_starttls, maildir_smtps, maildir_auth;
    std::vector<std::unique_ptr<testing::Process>> processes;
    testing::Process* auth_process = nullptr;
  };

  static void SetUpTestSuite() {
    relays_ = new Relays;
    Relays& r = *relays_;
    auto run = [&](std::vector<std::string> argv, const std::string& name) {
      r.processes.push_back(std::make_unique<testing::Process>(
          std::move(argv), r.dir.Join(name + ".out"), r.dir.Join(name + ".err")));
      return r.processes.back().get();
    };
    if (access(kPython, X_OK) != 0) {
      setup_error_ =
          "/usr/bin/python3 is missing: install python3-aiosmtpd (scripts/install-deps.sh)";
      return;
    }
    testing::Process check({kPython, "-c", "import aiosmtpd"}, r.dir.Join("check.out"),
                           r.dir.Join("check.err"));
    if (check.Wait(absl::Seconds(60)) != 0) {
      setup_error_ =
          absl::StrCat("aiosmtpd is not installed for /usr/bin/python3 (Debian package ",
                       "python3-aiosmtpd; scripts/install-deps.sh installs it): ", check.Stderr());
      return;
    }
    // A certificate for 127.0.0.1, made with the openssl CLI as an operator would.
    r.cert = r.dir.Join("relay.crt");
    std::string key = r.dir.Join("relay.key");
    testing::Process openssl(
        {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", r.cert, "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"},
        r.dir.Join("openssl.out"), r.dir.Join("openssl.err"));
    if (openssl.Wait(absl::Seconds(60)) != 0) {
      setup_error_ = absl::StrCat("openssl req failed: ", openssl.Stderr());
      return;
    }
    std::string password_file = r.dir.Write("relay-password", absl::StrCat(kPassword, "\n"));

    auto aiosmtpd = [&](const std::string& name, int* port, std::string* maildir,
                        std::vector<std::string> tls) {
      *port = testing::FreePort();
      *maildir = r.dir.Join("maildir-" + name);
      std::vector<std::string> argv = {kPython, "-m", "aiosmtpd",
                                       "-n",    "-l", absl::StrCat("127.0.0.1:", *port)};
      argv.insert(argv.end(), tls.begin(), tls.end());
      argv.insert(argv.end(), {"-c", "aiosmtpd.handlers.Mailbox", *maildir});
      run(argv, name);
    };
    aiosmtpd("a", &r.plain_a, &r.maildir_a, {});
    aiosmtpd("b", &r.plain_b, &r.maildir_b, {});
    aiosmtpd("starttls", &r.starttls, &r.maildir_starttls, {"--tlscert", r.cert, "--tlskey", key});
    aiosmtpd("smtps", &r.smtps, &r.maildir_smtps, {"--smtpscert", r.cert, "--smtpskey", key});
    r.auth = testing::FreePort();
    r.auth_login = testing::FreePort();
    r.maildir_auth = r.dir.Join("maildir-auth");
    r.auth_process =
        run({kPython, TestData("smtp_auth_server.py"), "--port", std::to_string(r.auth),
             "--login-port", std::to_string(r.auth_login), "--maildir", r.maildir_auth, "--user",
             "vigil", "--password-file", password_file},
            "auth");
    for (int port : {r.plain_a, r.plain_b, r.starttls, r.smtps, r.auth, r.auth_login}) {
      if (!testing::WaitFor([&] { return PortOpen(port); }, absl::Seconds(60))) {
        setup_error_ = absl::StrCat("an SMTP relay did not listen on port ", port, ": ");
        for (const auto& p : r.processes) absl::StrAppend(&setup_error_, p->Stderr());
        return;
      }
    }
  }

  static void TearDownTestSuite() {
    for (auto& p : relays_->processes) {
      if (p->running()) p->Stop(SIGTERM);
    }
    delete relays_;
    relays_ = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static std::string Relay(int port, const std::string& extra = "") {
    return absl::StrCat("{host: 127.0.0.1, port: ", port, ", tls: none", extra, "}");
  }

  // An email notifier from YAML; fails the test on config errors.
  static std::unique_ptr<Notifier> Make(const std::string& yaml) {
    ConfigErrors errors("alerting.yaml");
    absl::StatusOr<YAML::Node> node = LoadYamlString(yaml, "alerting.yaml");
    EXPECT_TRUE(node.ok()) << node.status();
    if (!node.ok()) return nullptr;
    ConfigMap map(*node, &errors);
    std::unique_ptr<Notifier> n = NewEmailNotifier(map, DefaultEmailTemplates());
    map.Finish();
    EXPECT_TRUE(errors.empty()) << errors.ToStatus();
    EXPECT_NE(n, nullptr);
    return errors.empty() ? std::move(n) : nullptr;
  }

  static std::string Config(const std::string& relays, const std::string& to = "oncall@example.org",
                            const std::string& extra = "") {
    return absl::StrCat("to: [", to, "]\nfrom: 'Vigil <vigil@example.org>'\nrelays: [", relays,
                        "]\n", extra);
  }

  // The message parsed by Python's email package (testdata/parse_mail.py).
  static json Parse(const std::string& path) {
    testing::TempDir tmp;
    testing::Process p({kPython, TestData("parse_mail.py"), path}, tmp.Join("out"),
                       tmp.Join("err"));
    EXPECT_EQ(p.Wait(absl::Seconds(60)), 0) << p.Stderr();
    json j = json::parse(p.Stdout(), nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << p.Stdout();
    return j;
  }

  static std::string Header(const json& mail, const std::string& name) {
    for (const json& h : mail["headers"]) {
      if (absl::EqualsIgnoreCase(h[0].get<std::string>(), name)) return h[1].get<std::string>();
    }
    return "<absent>";
  }

  static int HeaderCount(const json& mail, const std::string& name) {
    int n = 0;
    for (const json& h : mail["headers"]) {
      n += absl::EqualsIgnoreCase(h[0].get<std::string>(), name) ? 1 : 0;
    }
    return n;
  }

  static Relays* relays_;
  static std::string setup_error_;
};

EmailNotifierTest::Relays* EmailNotifierTest::relays_ = nullptr;
std::string EmailNotifierTest::setup_error_;

TEST_F(EmailNotifierTest, TwoFiringAlarmsArriveAsOneMultipartEmail) {
  std::unique_ptr<Notifier> notifier =
      Make(Config(Relay(relays_->plain_a), "oncall@example.org, 'DBA team <dba@example.net>'",
                  "headers: {X-Team: databases}\n"));
  ASSERT_NE(notifier, nullptr);
  EXPECT_EQ(notifier->kind(), "email");
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("a1b2c3d4e5f60001"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_THAT(result.detail, HasSubstr(absl::StrCat("127.0.0.1:", relays_->plain_a)));
  EXPECT_THAT(result.detail, HasSubstr("250"));

  std::string path = WaitForMessage(relays_->maildir_a, "<a1b2c3d4e5f60001@example.org>");
  ASSERT_FALSE(path.empty());
  json mail = Parse(path);
  EXPECT_EQ(Header(mail, "From"), "Vigil <vigil@example.org>");
  EXPECT_EQ(Header(mail, "To"), "oncall@example.org, DBA team <dba@example.net>");
  EXPECT_EQ(Header(mail, "Subject"), "[ALARM:2] db-cpu-high (env=prod role=db severity=critical)");
  EXPECT_EQ(Header(mail, "Message-ID"), "<a1b2c3d4e5f60001@example.org>");
  EXPECT_EQ(Header(mail, "In-Reply-To"), "<absent>");  // the first email of the incident
  EXPECT_EQ(Header(mail, "References"), "<absent>");
  EXPECT_EQ(Header(mail, "MIME-Version"), "1.0");
  EXPECT_EQ(Header(mail, "Auto-Submitted"), "auto-generated");
  EXPECT_EQ(Header(mail, "X-Team"), "databases");
  EXPECT_THAT(Header(mail, "Date"), ::testing::EndsWith("+0000"));
  // The envelope, as the relay saw it (aiosmtpd's Mailbox records it).
  EXPECT_EQ(Header(mail, "X-MailFrom"), "vigil@example.org");
  EXPECT_EQ(Header(mail, "X-RcptTo"), "oncall@example.org, dba@example.net");
  EXPECT_EQ(mail["content_type"], "multipart/alternative");
  EXPECT_THAT(mail["defects"], ::testing::IsEmpty());
  EXPECT_LE(mail["max_line_length"].get<int>(), 78);

  ASSERT_EQ(mail["parts"].size(), 2u);
  const json& text = mail["parts"][0];
  const json& html = mail["parts"][1];
  EXPECT_EQ(text["content_type"], "text/plain");
  EXPECT_EQ(text["charset"], "utf-8");
  EXPECT_EQ(html["content_type"], "text/html");
  EXPECT_EQ(html["charset"], "utf-8");
  std::string t = text["content"];
  EXPECT_THAT(t, HasSubstr("2 alarm(s) firing:"));
  EXPECT_THAT(t, HasSubstr("Reason:      Threshold crossed: 3 out of the last 3 datapoints "
                           "[82.1, 91.0, 77.4] were greater than the threshold (70.0)."));
  EXPECT_THAT(t, HasSubstr("Value:       91 (threshold > 70)"));
  EXPECT_THAT(t, HasSubstr("Value:       88.5 (threshold > 70)"));
  EXPECT_THAT(t, HasSubstr("Labels:      env=prod host=db-1 role=db severity=critical"));
  EXPECT_THAT(t, HasSubstr("Labels:      env=prod host=db-2 role=db severity=critical"));
  EXPECT_THAT(t, HasSubstr("Runbook:     https://runbooks.example/db-cpu-high"));
  EXPECT_THAT(t, HasSubstr("State:       ALARM (was OK)"));
  std::string h = html["content"];
  EXPECT_THAT(h, HasSubstr("<table"));
  EXPECT_THAT(h, HasSubstr(">ALARM</span>"));
  EXPECT_THAT(h, HasSubstr("[82.1, 91.0, 77.4] were greater than the threshold (70.0)."));
  EXPECT_THAT(h, HasSubstr("<strong>91</strong>"));
  EXPECT_THAT(h, HasSubstr("<strong>88.5</strong>"));
  EXPECT_THAT(h, HasSubstr("&gt; 70"));
  EXPECT_THAT(h, HasSubstr(">host=db-1</span>"));
  EXPECT_THAT(h, HasSubstr(">host=db-2</span>"));
}

TEST_F(EmailNotifierTest, ResolvedFollowUpJoinsTheIncidentsThread) {
  std::unique_ptr<Notifier> notifier = Make(Config(Relay(relays_->plain_a)));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult first = notifier->Send(emailtest::TwoFiring("7e57000000000001"));
  ASSERT_EQ(first.kind, DeliveryResult::Kind::kDelivered) << first.detail;
  DeliveryResult ok =
      notifier->Send(emailtest::BothResolved("7e57000000000002", "7e57000000000001"));
  ASSERT_EQ(ok.kind, DeliveryResult::Kind::kDelivered) << ok.detail;

  std::string path = WaitForMessage(relays_->maildir_a, "<7e57000000000002@example.org>");
  ASSERT_FALSE(path.empty());
  json mail = Parse(path);
  EXPECT_EQ(Header(mail, "Subject"), "[OK] db-cpu-high (env=prod role=db severity=critical)");
  EXPECT_EQ(Header(mail, "Message-ID"), "<7e57000000000002@example.org>");
  EXPECT_EQ(Header(mail, "In-Reply-To"), "<7e57000000000001@example.org>");
  EXPECT_EQ(Header(mail, "References"), "<7e57000000000001@example.org>");
  std::string t = mail["parts"][0]["content"];
  EXPECT_THAT(t, HasSubstr("2 alarm(s) resolved:"));
  EXPECT_THAT(t, HasSubstr("State:       OK (was ALARM)"));
  EXPECT_THAT(t, HasSubstr("Ended at:    2026-11-22T10:10:00.000Z"));
  EXPECT_THAT(t, Not(HasSubstr("firing")));
}

TEST_F(EmailNotifierTest, NextRelayByPriorityTakesOverWhenOneIsDown) {
  int closed = testing::FreePort();
  // Config order is not priority order: the closed relay (5) is tried first, then B (10);
  // A (20) is not needed.
  std::unique_ptr<Notifier> notifier = Make(Config(
      absl::StrCat(Relay(relays_->plain_a, ", priority: 20"), ", ", Relay(closed, ", priority: 5"),
                   ", ", Relay(relays_->plain_b, ", priority: 10"))));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("fa110000000000b1"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_THAT(result.detail, HasSubstr(absl::StrCat("accepted by 127.0.0.1:", relays_->plain_b)));
  EXPECT_THAT(result.detail, HasSubstr(absl::StrCat("127.0.0.1:", closed, ": ")));
  EXPECT_FALSE(WaitForMessage(relays_->maildir_b, "<fa110000000000b1@").empty());
  EXPECT_TRUE(MessagesWith(relays_->maildir_a, "<fa110000000000b1@").empty());
}

TEST_F(EmailNotifierTest, AllRelaysDownIsRetryNamingEachRelay) {
  int closed1 = testing::FreePort(), closed2 = testing::FreePort();
  std::unique_ptr<Notifier> notifier =
      Make(Config(absl::StrCat(Relay(closed1), ", ", Relay(closed2, ", priority: 11"))));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("d0e500000000000d"));
  EXPECT_EQ(result.kind, DeliveryResult::Kind::kRetry);
  EXPECT_THAT(result.detail, HasSubstr("no relay accepted the message"));
  EXPECT_THAT(result.detail, HasSubstr(absl::StrCat("127.0.0.1:", closed1, ": ")));
  EXPECT_THAT(result.detail, HasSubstr(absl::StrCat("127.0.0.1:", closed2, ": ")));
  EXPECT_LT(result.detail.find(absl::StrCat(":", closed1, ":")),
            result.detail.find(absl::StrCat(":", closed2, ":")));
}

TEST_F(EmailNotifierTest, StartTlsVerifiesTheRelayWithTheCaFile) {
  std::string relay = absl::StrCat("{host: 127.0.0.1, port: ", relays_->starttls,
                                   ", tls: starttls, ca_file: ", relays_->cert, "}");
  std::unique_ptr<Notifier> notifier = Make(Config(relay));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("7150000000000001"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_FALSE(WaitForMessage(relays_->maildir_starttls, "<7150000000000001@").empty());

  // Without the CA the self-signed certificate is refused...
  notifier = Make(Config(absl::StrCat("{host: 127.0.0.1, port: ", relays_->starttls, "}")));
  ASSERT_NE(notifier, nullptr);
  result = notifier->Send(emailtest::TwoFiring("7150000000000002"));
  EXPECT_EQ(result.kind, DeliveryResult::Kind::kRetry);
  EXPECT_THAT(absl::AsciiStrToLower(result.detail), HasSubstr("certificate"));
  EXPECT_TRUE(MessagesWith(relays_->maildir_starttls, "<7150000000000002@").empty());

  // ...unless verification is switched off.
  notifier = Make(Config(absl::StrCat("{host: 127.0.0.1, port: ", relays_->starttls,
                                      ", insecure_skip_verify: true}")));
  ASSERT_NE(notifier, nullptr);
  result = notifier->Send(emailtest::TwoFiring("7150000000000003"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_FALSE(WaitForMessage(relays_->maildir_starttls, "<7150000000000003@").empty());
}

TEST_F(EmailNotifierTest, StartTlsIsRequiredNotOpportunistic) {
  // Relay A does not offer STARTTLS: with tls: starttls (the default) nothing is sent in clear.
  std::unique_ptr<Notifier> notifier =
      Make(Config(absl::StrCat("{host: 127.0.0.1, port: ", relays_->plain_a, "}")));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("c1ea000000000001"));
  EXPECT_EQ(result.kind, DeliveryResult::Kind::kRetry);
  EXPECT_THAT(result.detail, HasSubstr("does not offer STARTTLS"));
  EXPECT_TRUE(MessagesWith(relays_->maildir_a, "<c1ea000000000001@").empty());
}

TEST_F(EmailNotifierTest, ImplicitTlsDelivers) {
  std::unique_ptr<Notifier> notifier =
      Make(Config(absl::StrCat("{host: 127.0.0.1, port: ", relays_->smtps,
                               ", tls: implicit, ca_file: ", relays_->cert, "}")));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("5e75000000000001"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_FALSE(WaitForMessage(relays_->maildir_smtps, "<5e75000000000001@").empty());
}

TEST_F(EmailNotifierTest, AuthWithPasswordFile) {
  std::string password_file = relays_->dir.Write("password-ok", absl::StrCat(kPassword, "\n"));
  std::unique_ptr<Notifier> notifier = Make(Config(
      Relay(relays_->auth, absl::StrCat(", username: vigil, password_file: ", password_file))));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("a0740000000000a1"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_FALSE(WaitForMessage(relays_->maildir_auth, "<a0740000000000a1@").empty());
  // libcurl picks PLAIN when the relay offers PLAIN and LOGIN.
  EXPECT_THAT(relays_->auth_process->Stdout(), HasSubstr("auth PLAIN vigil ok"));
}

TEST_F(EmailNotifierTest, AuthLoginWithPasswordFileOrEnvironment) {
  std::string password_file = relays_->dir.Write("password-login", kPassword);
  std::unique_ptr<Notifier> notifier = Make(Config(Relay(
      relays_->auth_login, absl::StrCat(", username: vigil, password_file: ", password_file))));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("a0740000000000a2"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_FALSE(WaitForMessage(relays_->maildir_auth, "<a0740000000000a2@").empty());
  EXPECT_THAT(relays_->auth_process->Stdout(), HasSubstr("auth LOGIN vigil ok"));

  setenv("VIGIL_TEST_SMTP_PASSWORD", kPassword, 1);
  notifier = Make(Config(
      Relay(relays_->auth_login, ", username: vigil, password_env: VIGIL_TEST_SMTP_PASSWORD")));
  ASSERT_NE(notifier, nullptr);
  result = notifier->Send(emailtest::TwoFiring("a0740000000000a3"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_FALSE(WaitForMessage(relays_->maildir_auth, "<a0740000000000a3@").empty());
}

TEST_F(EmailNotifierTest, WrongPasswordIsNotDeliveredAndNeverShown) {
  const std::string wrong = "wrong-Pa55word-42";
  std::string password_file = relays_->dir.Write("password-wrong", wrong);
  for (int port : {relays_->auth, relays_->auth_login}) {
    std::unique_ptr<Notifier> notifier = Make(
        Config(Relay(port, absl::StrCat(", username: vigil, password_file: ", password_file))));
    ASSERT_NE(notifier, nullptr);
    std::string id = absl::StrCat("bad0000000", port);
    DeliveryResult result = notifier->Send(emailtest::TwoFiring(id));
    EXPECT_EQ(result.kind, DeliveryResult::Kind::kRetry) << result.detail;
    EXPECT_THAT(result.detail, HasSubstr("authentication failed"));
    EXPECT_THAT(result.detail, HasSubstr("535"));
    EXPECT_THAT(result.detail, Not(HasSubstr(wrong)));
    EXPECT_THAT(result.detail, Not(HasSubstr(kPassword)));
    EXPECT_TRUE(MessagesWith(relays_->maildir_auth, absl::StrCat("<", id, "@")).empty());
  }
  EXPECT_THAT(relays_->auth_process->Stdout(), HasSubstr("vigil failed"));
}

TEST_F(EmailNotifierTest, MissingPasswordFileFailsTheRelayNotTheProcess) {
  std::unique_ptr<Notifier> notifier = Make(Config(absl::StrCat(
      Relay(relays_->auth, ", username: vigil, password_file: /nonexistent/smtp-password"), ", ",
      Relay(relays_->plain_b, ", priority: 20"))));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("0f11e00000000001"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_THAT(result.detail, HasSubstr("/nonexistent/smtp-password: cannot read secret file"));
  EXPECT_FALSE(WaitForMessage(relays_->maildir_b, "<0f11e00000000001@").empty());
}

TEST_F(EmailNotifierTest, RejectedRecipientIsPermanentAndNoOtherRelayIsTried) {
  std::string password_file = relays_->dir.Write("password-ok2", kPassword);
  std::unique_ptr<Notifier> notifier = Make(Config(
      absl::StrCat(
          Relay(relays_->auth, absl::StrCat(", username: vigil, password_file: ", password_file)),
          ", ", Relay(relays_->plain_b, ", priority: 20")),
      "reject-me@example.org"));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("4e1ec70000000001"));
  EXPECT_EQ(result.kind, DeliveryResult::Kind::kPermanent) << result.detail;
  EXPECT_THAT(result.detail,
              HasSubstr(absl::StrCat("127.0.0.1:", relays_->auth, " rejected the message")));
  EXPECT_THAT(result.detail, HasSubstr("RCPT TO:<reject-me@example.org>: 550 5.1.1"));
  EXPECT_TRUE(MessagesWith(relays_->maildir_b, "<4e1ec70000000001@").empty());
}

TEST_F(EmailNotifierTest, OneRejectedRecipientDoesNotStopTheOthers) {
  std::string password_file = relays_->dir.Write("password-ok3", kPassword);
  std::unique_ptr<Notifier> notifier = Make(Config(
      Relay(relays_->auth, absl::StrCat(", username: vigil, password_file: ", password_file)),
      "oncall@example.org, reject-old@example.org"));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("4e1ec70000000002"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_THAT(result.detail,
              HasSubstr("refused recipients: RCPT TO:<reject-old@example.org>: 550"));
  std::string path = WaitForMessage(relays_->maildir_auth, "<4e1ec70000000002@");
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(Header(Parse(path), "X-RcptTo"), "oncall@example.org");
}

TEST_F(EmailNotifierTest, TemporaryRejectionTriesTheNextRelay) {
  std::string password_file = relays_->dir.Write("password-ok4", kPassword);
  std::unique_ptr<Notifier> notifier = Make(Config(
      absl::StrCat(
          Relay(relays_->auth, absl::StrCat(", username: vigil, password_file: ", password_file)),
          ", ", Relay(relays_->plain_b, ", priority: 20")),
      "tempfail@example.org"));
  ASSERT_NE(notifier, nullptr);
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("7e3f000000000001"));
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  EXPECT_THAT(result.detail, HasSubstr(absl::StrCat("accepted by 127.0.0.1:", relays_->plain_b)));
  EXPECT_THAT(result.detail, HasSubstr("RCPT TO:<tempfail@example.org>: 451 4.3.0"));
  EXPECT_FALSE(WaitForMessage(relays_->maildir_b, "<7e3f000000000001@").empty());
}

TEST_F(EmailNotifierTest, HungRelayIsRetryWithinTheTimeout) {
  // Accepts connections (the kernel completes them in the backlog) and never says a word.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int port = testing::FreePort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  std::unique_ptr<Notifier> notifier =
      Make(Config(Relay(port), "oncall@example.org", "timeout: 1s\n"));
  ASSERT_NE(notifier, nullptr);
  absl::Time start = absl::Now();
  DeliveryResult result = notifier->Send(emailtest::TwoFiring("4a4a000000000001"));
  absl::Duration took = absl::Now() - start;
  close(fd);
  EXPECT_EQ(result.kind, DeliveryResult::Kind::kRetry);
  EXPECT_THAT(absl::AsciiStrToLower(result.detail), HasSubstr("timed out"));
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(5));
}

TEST_F(EmailNotifierTest, LineBreaksInLabelsAddNoHeaders) {
  std::unique_ptr<Notifier> notifier = Make(Config(Relay(relays_->plain_a)));
  ASSERT_NE(notifier, nullptr);
  Notification n = emailtest::TwoFiring("1ec7000000000001");
  n.common_labels.push_back({"zone", "eu\r\nBcc: evil@example.com\r\nX-Injected: yes"});
  n.group_labels = {{"alertname", "db-cpu-high\nTo: evil@example.com"}};
  for (Alert& a : n.alerts) a.labels.push_back({"zone", "eu\r\nBcc: evil@example.com"});
  DeliveryResult result = notifier->Send(n);
  ASSERT_EQ(result.kind, DeliveryResult::Kind::kDelivered) << result.detail;
  std::string path = WaitForMessage(relays_->maildir_a, "<1ec7000000000001@example.org>");
  ASSERT_FALSE(path.empty());
  json mail = Parse(path);
  EXPECT_EQ(HeaderCount(mail, "Bcc"), 0);
  EXPECT_EQ(HeaderCount(mail, "X-Injected"), 0);
  EXPECT_EQ(HeaderCount(mail, "To"), 1);
  EXPECT_EQ(Header(mail, "To"), "oncall@example.org");
  EXPECT_EQ(Header(mail, "X-RcptTo"), "oncall@example.org");
  EXPECT_EQ(Header(mail, "Subject"),
            "[ALARM:2] db-cpu-high (env=prod role=db severity=critical zone=eu Bcc: "
            "evil@example.com X-Injected: yes)");
  EXPECT_THAT(mail["defects"], ::testing::IsEmpty());
}

TEST_F(EmailNotifierTest, ConcurrentSendsAreAllDelivered) {
  std::unique_ptr<Notifier> notifier = Make(Config(Relay(relays_->plain_b)));
  ASSERT_NE(notifier, nullptr);
  std::vector<std::thread> threads;
  std::vector<DeliveryResult> results(6);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = notifier->Send(emailtest::TwoFiring(absl::StrCat("c0c0000000000", i)));
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].kind, DeliveryResult::Kind::kDelivered) << results[i].detail;
    EXPECT_EQ(MessagesWith(relays_->maildir_b, absl::StrCat("<c0c0000000000", i, "@")).size(), 1u);
  }
}

// Config validation: no relay needed.

struct Loaded {
  std::unique_ptr<Notifier> notifier;
  std::vector<std::string> errors;
};

Loaded Load(const std::string& yaml) {
  ConfigErrors errors("alerting.yaml");
  absl::StatusOr<YAML::Node> node = LoadYamlString(yaml, "alerting.yaml");
  EXPECT_TRUE(node.ok()) << node.status();
  ConfigMap map(node.ok() ? *node : YAML::Node(), &errors);
  Loaded out;
  out.notifier = NewEmailNotifier(map, DefaultEmailTemplates());
  map.Finish();
  out.errors = errors.messages();
  return out;
}

TEST(EmailConfig, DefaultsAndPriorityOrder) {
  Loaded l = Load(
      "to: oncall@example.org\n"
      "from: vigil@example.org\n"
      "relays:\n"
      "  - {host: backup.example.org, priority: 20}\n"
      "  - {host: smtp.example.org}\n"
      "  - {host: mx2.example.org, tls: implicit}\n"
      "  - {host: relay.internal, tls: none, priority: 5}\n");
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  auto* email = dynamic_cast<EmailNotifier*>(l.notifier.get());
  ASSERT_NE(email, nullptr);
  const EmailConfig& c = email->config();
  ASSERT_EQ(c.relays.size(), 4u);
  EXPECT_EQ(c.relays[0].name(), "relay.internal:25");
  EXPECT_EQ(c.relays[1].name(), "smtp.example.org:587");
  EXPECT_EQ(c.relays[1].tls, SmtpRelay::Tls::kStartTls);
  EXPECT_EQ(c.relays[1].priority, 10);
  EXPECT_EQ(c.relays[2].name(), "mx2.example.org:465");  // equal priority: config order
  EXPECT_EQ(c.relays[3].name(), "backup.example.org:587");
  EXPECT_EQ(c.timeout, absl::Seconds(30));
  ASSERT_EQ(c.to.size(), 1u);
  EXPECT_EQ(c.to[0].address, "oncall@example.org");
  EXPECT_EQ(c.templates.subject, DefaultEmailTemplates().subject);
}

TEST(EmailConfig, RequiredKeysAreReported) {
  Loaded l = Load("subject: x\n");
  EXPECT_EQ(l.notifier, nullptr);
  EXPECT_THAT(l.errors,
              ::testing::ElementsAre(
                  "alerting.yaml:1:1: to: is required: one address or a list",
                  "alerting.yaml:1:1: from: is required, e.g. 'Vigil <vigil@example.org>'",
                  "alerting.yaml:1:1: relays: is required: a list of SMTP relays, e.g. "
                  "[{host: smtp.example.org}]"));
}

TEST(EmailConfig, BadValuesAreReportedWithPositions) {
  Loaded l = Load(
      "to: [oncall@example.org, 'not an address']\n"
      "from: 'Vigil <vigil@example.org'\n"
      "relays:\n"
      "  - host: smtp.example.org\n"
      "    tls: ssl\n"
      "    port: 70000\n"
      "    username: vigil\n"
      "  - {host: 'smtp.example.org:25', password: hunter2, colour: blue}\n"
      "  - {host: relay.internal, tls: none, ca_file: /etc/ca.pem}\n"
      "timeout: 0s\n"
      "headers:\n"
      "  Subject: overridden\n"
      "  'X-Bad Name': x\n"
      "  X-Evil: \"a\\r\\nBcc: evil@example.com\"\n"
      "html: '{{#alerts}}'\n");
  EXPECT_EQ(l.notifier, nullptr);
  EXPECT_THAT(
      l.errors,
      ::testing::ElementsAre(
          "alerting.yaml:1:5: to: 'not an address' has no @domain",
          "alerting.yaml:2:7: from: 'Vigil <vigil@example.org' is not an address like Name "
          "<user@example.org>",
          "alerting.yaml:5:10: tls: expected starttls, implicit or none, got 'ssl'",
          "alerting.yaml:6:11: port: 70000 is out of range [1, 65535]",
          "alerting.yaml:7:15: username: needs password_file or password_env",
          "alerting.yaml:8:12: host: expected a host name or IP address (the port goes in `port`)",
          "alerting.yaml:8:45: password: secrets are not written inline; use password_file: PATH "
          "or password_env: VARIABLE",
          "alerting.yaml:8:54: unknown key 'colour'",
          "alerting.yaml:9:48: ca_file: has no effect with tls: none",
          "alerting.yaml:10:10: timeout: must be at least 1s",
          "alerting.yaml:12:3: headers: header Subject is set by Vigil and cannot be replaced",
          "alerting.yaml:13:3: headers: header name 'X-Bad Name' may only have printable ASCII "
          "characters other than ':'",
          "alerting.yaml:14:3: headers: the value of header X-Evil has a control character (CR, "
          "LF, ...)",
          "alerting.yaml:15:7: html: template error at line 1, column 1: Unclosed section "
          "\"alerts\""));
}

TEST(EmailConfig, RelaysMustBeAList) {
  Loaded l = Load("to: a@example.org\nfrom: b@example.org\nrelays: {host: smtp.example.org}\n");
  EXPECT_EQ(l.notifier, nullptr);
  EXPECT_THAT(l.errors, ::testing::ElementsAre(
                            "alerting.yaml:3:9: relays: expected a list of SMTP relays ({host, "
                            "port, tls, ...})"));
}

TEST(EmailNotifier, BuildMessageIsStableForRetries) {
  Loaded l = Load("to: a@example.org\nfrom: b@example.org\nrelays: [{host: smtp.example.org}]\n");
  auto* email = dynamic_cast<EmailNotifier*>(l.notifier.get());
  ASSERT_NE(email, nullptr);
  absl::Time now = absl::FromUnixSeconds(1795341600);
  absl::StatusOr<std::string> a = email->BuildMessage(emailtest::TwoFiring("abc"), now);
  absl::StatusOr<std::string> b = email->BuildMessage(emailtest::TwoFiring("abc"), now);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_THAT(*a, HasSubstr("Message-ID: <abc@example.org>\r\n"));
}

}  // namespace
}  // namespace vigil::alerting
