#include "alerting/notifiers/email/mime.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::alerting {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// 2026-11-22T10:00:00Z, a Sunday.
const absl::Time kDate = absl::FromUnixSeconds(1795341600);

EmailMessage SampleMessage() {
  EmailMessage m;
  m.from = *ParseEmailAddress("Vigil <vigil@example.org>");
  m.to = {*ParseEmailAddress("oncall@example.org"), *ParseEmailAddress("dba@example.net")};
  m.subject = "[ALARM:2] db-cpu-high (env=prod severity=critical)";
  m.text = "2 alarm(s) firing:\n\n[ALARM] db-cpu-high\n  Value: 91 (threshold > 70)\n";
  m.html = "<p>2 firing</p>\n<table><tr><td>91</td></tr></table>\n";
  m.id = "4f2a9c01d3e5b7a8";
  m.thread_id = "4f2a9c01d3e5b7a8";
  m.date = kDate;
  return m;
}

// The header section (unfolded, one entry per header) of a message.
std::vector<std::string> Headers(const std::string& message) {
  std::string head = message.substr(0, message.find("\r\n\r\n"));
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      out.back() += std::string(line);  // unfolding removes the CRLF only
    } else {
      out.emplace_back(line);
    }
  }
  return out;
}

std::string Header(const std::string& message, absl::string_view name) {
  for (const std::string& h : Headers(message)) {
    if (absl::StartsWithIgnoreCase(h, absl::StrCat(name, ": "))) return h.substr(name.size() + 2);
  }
  return "<absent>";
}

// Decodes "=?UTF-8?B?...?=" words separated by whitespace (what a mail client shows).
std::string DecodeEncodedWords(absl::string_view value) {
  std::string out;
  for (absl::string_view word : absl::StrSplit(value, ' ', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::ConsumePrefix(&word, "=?UTF-8?B?")) << word;
    EXPECT_TRUE(absl::ConsumeSuffix(&word, "?=")) << word;
    std::string decoded;
    EXPECT_TRUE(absl::Base64Unescape(word, &decoded));
    out += decoded;
  }
  return out;
}

std::string DecodeQuotedPrintable(absl::string_view qp) {
  std::string out;
  for (size_t i = 0; i < qp.size(); ++i) {
    if (qp[i] != '=') {
      out.push_back(qp[i]);
    } else if (qp.substr(i + 1, 2) == "\r\n") {
      i += 2;  // soft line break
    } else {
      out += absl::HexStringToBytes(qp.substr(i + 1, 2));
      i += 2;
    }
  }
  return out;
}

void ExpectWellFormedLines(const std::string& message) {
  size_t start = 0;
  while (start < message.size()) {
    size_t end = message.find("\r\n", start);
    ASSERT_NE(end, std::string::npos) << "the message must end with CRLF";
    absl::string_view line(message.data() + start, end - start);
    EXPECT_LE(line.size(), 78u) << line;
    EXPECT_EQ(line.find('\n'), absl::string_view::npos) << "bare LF in " << line;
    EXPECT_EQ(line.find('\r'), absl::string_view::npos) << "bare CR in " << line;
    start = end + 2;
  }
}

TEST(ParseEmailAddress, AcceptsAddressesWithAndWithoutNames) {
  absl::StatusOr<EmailAddress> a = ParseEmailAddress("oncall@example.org");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->address, "oncall@example.org");
  EXPECT_EQ(a->display_name, "");
  EXPECT_EQ(a->domain(), "example.org");
  a = ParseEmailAddress(" Vigil Alerts <vigil+alerts@mail.example.org> ");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->display_name, "Vigil Alerts");
  EXPECT_EQ(a->address, "vigil+alerts@mail.example.org");
  a = ParseEmailAddress("\"Ops, \\\"night\\\" shift\" <ops@[192.0.2.1]>");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->display_name, "Ops, \"night\" shift");
  EXPECT_EQ(a->domain(), "[192.0.2.1]");
  a = ParseEmailAddress("Überwachung <vigil@example.org>");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->display_name, "Überwachung");
}

TEST(ParseEmailAddress, RejectsMalformedAddresses) {
  for (const char* bad :
       {"", "oncall", "oncall@", "@example.org", "a b@example.org", "a@example.org, b@example.org",
        "Name <a@example.org", "Name a@x.org>", "<a@example.org> trailing", "a@exa_mple.org",
        "a..b@example.org", ".a@example.org", "a@-example.org", "a@example..org",
        "jörg@example.org", "a@example.org\r\nBcc: evil@example.com",
        "Evil\r\nBcc: x@example.com <a@example.org>", "<<a@example.org>>"}) {
    absl::StatusOr<EmailAddress> a = ParseEmailAddress(bad);
    EXPECT_FALSE(a.ok()) << bad;
    if (!a.ok()) {
      EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(ValidateCustomHeader, AcceptsOrdinaryHeadersRejectsFixedOnesAndLineBreaks) {
  EXPECT_TRUE(ValidateCustomHeader("X-Team", "databases").ok());
  EXPECT_TRUE(ValidateCustomHeader("Reply-To", "dba@example.org").ok());
  EXPECT_TRUE(ValidateCustomHeader("X-Note", "grüße\tok").ok());
  for (const char* reserved :
       {"Subject", "subject", "FROM", "To", "Cc", "Bcc", "Message-ID", "In-Reply-To", "References",
        "Date", "MIME-Version", "Content-Type", "Auto-Submitted"}) {
    absl::Status s = ValidateCustomHeader(reserved, "x");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << reserved;
    EXPECT_THAT(std::string(s.message()), HasSubstr("cannot be replaced")) << reserved;
  }
  EXPECT_FALSE(ValidateCustomHeader("X-A", "x\r\nBcc: evil@example.com").ok());
  EXPECT_FALSE(ValidateCustomHeader("X-A", "x\nBcc: evil@example.com").ok());
  EXPECT_FALSE(ValidateCustomHeader("X-A\r\nBcc", "x").ok());
  EXPECT_FALSE(ValidateCustomHeader("X A", "x").ok());
  EXPECT_FALSE(ValidateCustomHeader("X:A", "x").ok());
  EXPECT_FALSE(ValidateCustomHeader("", "x").ok());
  EXPECT_FALSE(ValidateCustomHeader("X-A", "\xff\xfe").ok());
}

TEST(MessageId, IsTheIdAtTheSenderDomain) {
  EXPECT_EQ(MessageId("4f2a9c01d3e5b7a8", "example.org"), "<4f2a9c01d3e5b7a8@example.org>");
  EXPECT_EQ(MessageId("a b<c>@d.e", "example.org"), "<a-b-c--d-e@example.org>");
  EXPECT_EQ(MessageId("", ""), "<vigil@vigil.invalid>");
}

TEST(Rfc5322Date, FormatsUtc) {
  EXPECT_EQ(Rfc5322Date(kDate), "Sun, 22 Nov 2026 10:00:00 +0000");
  EXPECT_EQ(Rfc5322Date(absl::FromUnixSeconds(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
}

TEST(BuildMimeMessage, HasTheHeadersOfAnAlertEmail) {
  std::string m = BuildMimeMessage(SampleMessage());
  std::vector<std::string> headers = Headers(m);
  ASSERT_GE(headers.size(), 9u);
  EXPECT_EQ(headers[0], "From: Vigil <vigil@example.org>");
  EXPECT_EQ(headers[1], "To: oncall@example.org, dba@example.net");
  EXPECT_EQ(headers[2], "Subject: [ALARM:2] db-cpu-high (env=prod severity=critical)");
  EXPECT_EQ(headers[3], "Date: Sun, 22 Nov 2026 10:00:00 +0000");
  EXPECT_EQ(headers[4], "Message-ID: <4f2a9c01d3e5b7a8@example.org>");
  EXPECT_EQ(Header(m, "MIME-Version"), "1.0");
  EXPECT_EQ(Header(m, "Auto-Submitted"), "auto-generated");
  // The first email of an incident starts the thread.
  EXPECT_EQ(Header(m, "In-Reply-To"), "<absent>");
  EXPECT_EQ(Header(m, "References"), "<absent>");
  ExpectWellFormedLines(m);
}

TEST(BuildMimeMessage, FollowUpsReferToTheIncidentsFirstEmail) {
  EmailMessage msg = SampleMessage();
  msg.id = "9b8c7d6e5f403122";  // the OK email of the incident started by 4f2a...
  std::string m = BuildMimeMessage(msg);
  EXPECT_EQ(Header(m, "Message-ID"), "<9b8c7d6e5f403122@example.org>");
  EXPECT_EQ(Header(m, "In-Reply-To"), "<4f2a9c01d3e5b7a8@example.org>");
  EXPECT_EQ(Header(m, "References"), "<4f2a9c01d3e5b7a8@example.org>");
  msg.thread_id.clear();
  m = BuildMimeMessage(msg);
  EXPECT_EQ(Header(m, "In-Reply-To"), "<absent>");
}

TEST(BuildMimeMessage, IsMultipartAlternativeTextThenHtml) {
  EmailMessage msg = SampleMessage();
  std::string m = BuildMimeMessage(msg);
  std::string content_type = Header(m, "Content-Type");
  ASSERT_THAT(content_type, StartsWith("multipart/alternative; boundary=\""));
  std::string boundary = content_type.substr(content_type.find('"') + 1);
  boundary.pop_back();
  std::vector<std::string> parts = absl::StrSplit(m, absl::StrCat("\r\n--", boundary));
  ASSERT_EQ(parts.size(), 4u) << m;  // preamble, text, html, "--" epilogue
  EXPECT_EQ(parts[3], "--\r\n");
  auto part_body = [](const std::string& part) {
    size_t blank = part.find("\r\n\r\n");
    return part.substr(blank + 4);
  };
  EXPECT_THAT(parts[1], StartsWith("\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                                   "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
  EXPECT_THAT(parts[2], StartsWith("\r\nContent-Type: text/html; charset=UTF-8\r\n"
                                   "Content-Transfer-Encoding: quoted-printable\r\n\r\n"));
  std::string text = DecodeQuotedPrintable(part_body(parts[1]));
  std::string html = DecodeQuotedPrintable(part_body(parts[2]));
  EXPECT_EQ(text, absl::StrReplaceAll(msg.text, {{"\n", "\r\n"}}));
  EXPECT_EQ(html, absl::StrReplaceAll(msg.html, {{"\n", "\r\n"}}));
  ExpectWellFormedLines(m);
}

TEST(BuildMimeMessage, WithoutHtmlIsPlainText) {
  EmailMessage msg = SampleMessage();
  msg.html.clear();
  std::string m = BuildMimeMessage(msg);
  EXPECT_EQ(Header(m, "Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(Header(m, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_THAT(m, Not(HasSubstr("multipart")));
  EXPECT_THAT(DecodeQuotedPrintable(m.substr(m.find("\r\n\r\n") + 4)),
              HasSubstr("Value: 91 (threshold > 70)"));
}

TEST(BuildMimeMessage, NonAsciiSubjectAndNamesAreEncodedWords) {
  EmailMessage msg = SampleMessage();
  msg.subject = "[ALARM:1] Festplatte voll auf größter Maschine — 99 % (Zone Zürich) " +
                std::string(40, 'x') + " 日本語のラベル";
  msg.from = *ParseEmailAddress("Überwachung <vigil@example.org>");
  std::string m = BuildMimeMessage(msg);
  std::string subject = Header(m, "Subject");
  EXPECT_THAT(subject, StartsWith("=?UTF-8?B?"));
  EXPECT_EQ(DecodeEncodedWords(subject), msg.subject);
  std::string from = Header(m, "From");
  EXPECT_EQ(DecodeEncodedWords(from.substr(0, from.find(" <"))), "Überwachung");
  EXPECT_THAT(from, HasSubstr(" <vigil@example.org>"));
  for (absl::string_view word : absl::StrSplit(subject, ' ')) EXPECT_LE(word.size(), 75u);
  ExpectWellFormedLines(m);
}

TEST(BuildMimeMessage, LongAsciiSubjectIsFoldedAtSpaces) {
  EmailMessage msg = SampleMessage();
  msg.subject =
      "[ALARM:10] web-5xx-percentage (env=prod role=web severity=warning "
      "region=eu-west-1 datacenter=fra-2 cluster=web-blue team=platform)";
  std::string m = BuildMimeMessage(msg);
  EXPECT_THAT(m, HasSubstr("\r\n "));
  EXPECT_EQ(Header(m, "Subject"), msg.subject);
  ExpectWellFormedLines(m);
}

TEST(BuildMimeMessage, ValuesCannotAddHeaders) {
  EmailMessage msg = SampleMessage();
  msg.subject = "[ALARM:1] x (host=a\r\nBcc: evil@example.com\nX-Injected: 1\r\n\r\nbody)";
  msg.headers = {{"X-Team", "databases"}, {"X-Evil", "a\r\nBcc: evil@example.com"}};
  std::string m = BuildMimeMessage(msg);
  for (const std::string& h : Headers(m)) {
    EXPECT_THAT(h, Not(StartsWith("Bcc:")));
    EXPECT_THAT(h, Not(StartsWith("X-Injected:")));
    EXPECT_THAT(h, Not(StartsWith("X-Evil:")));  // invalid custom headers are dropped
  }
  EXPECT_EQ(Header(m, "Subject"), "[ALARM:1] x (host=a Bcc: evil@example.com X-Injected: 1 body)");
  EXPECT_EQ(Header(m, "X-Team"), "databases");
  ExpectWellFormedLines(m);
}

TEST(BuildMimeMessage, InvalidUtf8IsReplaced) {
  EmailMessage msg = SampleMessage();
  msg.subject = "bad \xC3 byte";
  msg.text = "bad \xFF\xFE byte\n";
  std::string m = BuildMimeMessage(msg);
  EXPECT_EQ(DecodeEncodedWords(Header(m, "Subject")), "bad \xEF\xBF\xBD byte");
  EXPECT_THAT(m, HasSubstr("bad =EF=BF=BD=EF=BF=BD byte"));
}

TEST(EncodeQuotedPrintable, RoundTripsAndKeepsLinesShort) {
  std::string text = "plain line\n" + std::string(200, 'a') + "\n" +
                     "trailing space \nequals = sign\n.leading dot\nFrom the start\n" +
                     "tab\tinside\ttrailing tab\t\nüñí \xE2\x80\x94 日本\n" +
                     std::string(100, '=') + "\nno newline at end";
  std::string qp = EncodeQuotedPrintable(text);
  for (absl::string_view line : absl::StrSplit(qp, "\r\n")) {
    EXPECT_LE(line.size(), 76u) << line;
    EXPECT_FALSE(absl::EndsWith(line, " ")) << line;
    EXPECT_FALSE(absl::EndsWith(line, "\t")) << line;
    EXPECT_FALSE(absl::StartsWith(line, ".")) << line;
    EXPECT_FALSE(absl::StartsWith(line, "From ")) << line;
    EXPECT_EQ(line.find('\n'), absl::string_view::npos);
  }
  EXPECT_EQ(DecodeQuotedPrintable(qp), absl::StrReplaceAll(text, {{"\n", "\r\n"}}));
  EXPECT_THAT(qp, HasSubstr("trailing space=20\r\n"));
  EXPECT_THAT(qp, HasSubstr("equals =3D sign"));
  EXPECT_EQ(EncodeQuotedPrintable("a\r\nb\r\n"), "a\r\nb\r\n");
  EXPECT_EQ(EncodeQuotedPrintable(""), "");
}

}  // namespace
}  // namespace vigil::alerting
