#include "alerting/notifiers/email/mime.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"

namespace vigil::alerting {
namespace {

// RFC 5322 recommends lines of at most 78 characters (998 is the hard limit).
constexpr size_t kLineLimit = 78;
// RFC 2047: an encoded-word is at most 75 characters; "=?UTF-8?B?" and "?=" take 12.
constexpr size_t kEncodedWordOverhead = 12;
constexpr size_t kEncodedWordMax = 75;

constexpr const char* kReservedHeaders[] = {
    "from",           "to",           "cc",           "bcc",
    "subject",        "date",         "message-id",   "in-reply-to",
    "references",     "mime-version", "content-type", "content-transfer-encoding",
    "auto-submitted", "sender",       "return-path",  "x-auto-response-suppress",
};

bool IsAtext(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != absl::string_view::npos;
}

// The length of the UTF-8 sequence starting at text[i], or 0 when it is not valid there.
size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
      (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    return 0;
  }
  return n;
}

// A header value on one line: valid UTF-8, control characters (CR and LF among them) replaced
// by spaces, runs of spaces collapsed, no leading or trailing space.
std::string OneLine(absl::string_view value) {
  std::string valid = ValidUtf8(value);
  std::string out;
  for (char ch : valid) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool space = c < 0x20 || c == 0x7F || c == ' ';
    if (space) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(ch);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool IsPrintableAscii(absl::string_view s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7F) return false;
  }
  return true;
}

// Joins `words` after `prefix` with single spaces, folding (CRLF SP instead of the space) where a
// line would pass 78 columns. Ends with CRLF.
std::string Fold(absl::string_view prefix, const std::vector<std::string>& words) {
  std::string out(prefix);
  size_t line = prefix.size();
  bool first = true;
  for (const std::string& w : words) {
    if (first) {
      out += w;
      line += w.size();
      first = false;
    } else if (line + 1 + w.size() > kLineLimit) {
      absl::StrAppend(&out, "\r\n ", w);
      line = 1 + w.size();
    } else {
      absl::StrAppend(&out, " ", w);
      line += 1 + w.size();
    }
  }
  out += "\r\n";
  return out;
}

// `text` as "B" encoded-words, each at most 75 characters and never splitting a UTF-8 sequence;
// the first fits a line that already holds `first_line_used` characters.
std::vector<std::string> EncodedWords(absl::string_view text, size_t first_line_used) {
  std::vector<std::string> words;
  size_t max_bytes = (kEncodedWordMax - kEncodedWordOverhead) / 4 * 3;  // 45
  size_t first_room = first_line_used + 1 + kEncodedWordOverhead < kLineLimit
                          ? (kLineLimit - first_line_used - 1 - kEncodedWordOverhead) / 4 * 3
                          : 0;
  size_t limit = std::min(max_bytes, std::max<size_t>(first_room, 6));
  size_t i = 0;
  while (i < text.size()) {
    size_t end = i;
    while (end < text.size()) {
      size_t n = Utf8SequenceLength(text, end);
      if (n == 0) n = 1;  // not reached: the text is valid UTF-8
      if (end + n - i > limit) break;
      end += n;
    }
    if (end == i) end = i + 1;
    words.push_back(absl::StrCat("=?UTF-8?B?", absl::Base64Escape(text.substr(i, end - i)), "?="));
    i = end;
    limit = max_bytes;
  }
  return words;
}

// A display name as a phrase: atoms as they are, other ASCII as a quoted string, anything else
// as encoded-words. Returned as words (folding points between them).
std::vector<std::string> PhraseWords(absl::string_view name, size_t first_line_used) {
  if (!IsPrintableAscii(name)) return EncodedWords(name, first_line_used);
  bool atoms = !absl::StrContains(name, "=?");
  for (char c : name) atoms = atoms && (IsAtext(c) || c == ' ');
  if (atoms) return absl::StrSplit(name, ' ', absl::SkipEmpty());
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return {quoted};
}

std::string AddressHeader(absl::string_view name, const std::vector<EmailAddress>& addresses) {
  std::string prefix = absl::StrCat(name, ": ");
  std::vector<std::string> words;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const EmailAddress& a = addresses[i];
    std::string last = a.display_name.empty() ? a.address : absl::StrCat("<", a.address, ">");
    if (!a.display_name.empty()) {
      std::vector<std::string> phrase =
          PhraseWords(OneLine(a.display_name), words.empty() ? prefix.size() : 1);
      words.insert(words.end(), phrase.begin(), phrase.end());
    }
    if (i + 1 < addresses.size()) last += ",";
    words.push_back(std::move(last));
  }
  return Fold(prefix, words);
}

uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string AsciiLower(absl::string_view s) { return absl::AsciiStrToLower(s); }

bool ValidLocalPart(absl::string_view local) {
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      absl::StrContains(local, "..")) {
    return false;
  }
  for (char c : local) {
    if (!IsAtext(c) && c != '.') return false;
  }
  return true;
}

bool ValidDomain(absl::string_view domain) {
  if (domain.empty() || domain.size() > 253) return false;
  if (domain.front() == '[') {  // address literal: [192.0.2.1] or [IPv6:2001:db8::1]
    if (domain.back() != ']' || domain.size() < 3) return false;
    absl::string_view inner = domain.substr(1, domain.size() - 2);
    absl::ConsumePrefix(&inner, "IPv6:");
    for (char c : inner) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != '.' && c != ':') {
        return false;
      }
    }
    return !inner.empty();
  }
  for (absl::string_view label : absl::StrSplit(domain, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
  }
  return true;
}

}  // namespace

std::string EmailAddress::domain() const {
  size_t at = address.rfind('@');
  return at == std::string::npos ? "" : address.substr(at + 1);
}

absl::StatusOr<EmailAddress> ParseEmailAddress(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      return absl::InvalidArgumentError("an email address must not contain control characters");
    }
  }
  if (text.empty()) return absl::InvalidArgumentError("empty email address");
  EmailAddress out;
  absl::string_view addr = text;
  size_t lt = text.find('<');
  if (lt != absl::string_view::npos) {
    if (text.back() != '>' || text.find('<', lt + 1) != absl::string_view::npos ||
        text.find('>') != text.size() - 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' is not an address like Name <user@example.org>"));
    }
    addr = text.substr(lt + 1, text.size() - lt - 2);
    absl::string_view name = absl::StripAsciiWhitespace(text.substr(0, lt));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
      std::string unescaped;
      for (size_t i = 0; i < name.size(); ++i) {
        if (name[i] == '\\' && i + 1 < name.size()) ++i;
        unescaped.push_back(name[i]);
      }
      out.display_name = unescaped;
    } else {
      out.display_name = std::string(name);
    }
    if (out.display_name.size() > 200) {
      return absl::InvalidArgumentError("the display name is longer than 200 characters");
    }
    if (ValidUtf8(out.display_name) != out.display_name) {
      return absl::InvalidArgumentError("the display name is not valid UTF-8");
    }
  }
  size_t at = addr.rfind('@');
  if (at == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", addr, "' has no @domain"));
  }
  if (!ValidLocalPart(addr.substr(0, at))) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", addr, "': the part before @ is not a valid (ASCII) mailbox name"));
  }
  if (!ValidDomain(addr.substr(at + 1))) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", addr, "': '", addr.substr(at + 1), "' is not a valid domain"));
  }
  out.address = std::string(addr);
  return out;
}

bool IsReservedHeader(absl::string_view name) {
  std::string lower = AsciiLower(name);
  for (const char* reserved : kReservedHeaders) {
    if (lower == reserved) return true;
  }
  return false;
}

absl::Status ValidateCustomHeader(absl::string_view name, absl::string_view value) {
  if (name.empty() || name.size() > 76) {
    return absl::InvalidArgumentError("a header name has 1 to 76 characters");
  }
  for (char ch : name) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 32 || c >= 127 || c == ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("header name '", absl::CHexEscape(name),
                       "' may only have printable ASCII characters other than ':'"));
    }
  }
  if (IsReservedHeader(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("header ", name, " is set by Vigil and cannot be replaced"));
  }
  for (char ch : value) {
    unsigned char c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      return absl::InvalidArgumentError(
          absl::StrCat("the value of header ", name, " has a control character (CR, LF, ...)"));
    }
  }
  if (ValidUtf8(value) != value) {
    return absl::InvalidArgumentError(
        absl::StrCat("the value of header ", name, " is not valid UTF-8"));
  }
  return absl::OkStatus();
}

std::string ValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t n = Utf8SequenceLength(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  return out;
}

std::string MessageId(absl::string_view id, absl::string_view domain) {
  std::string local;
  for (char c : id) {
    bool keep = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                c == '+' || c == '=';
    local.push_back(keep ? c : '-');
  }
  if (local.empty()) local = "vigil";
  return absl::StrCat("<", local, "@", domain.empty() ? "vigil.invalid" : domain, ">");
}

std::string Rfc5322Date(absl::Time t) {
  static constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  absl::CivilSecond cs = absl::ToCivilSecond(t, absl::UTCTimeZone());
  int weekday = static_cast<int>(absl::GetWeekday(cs));  // absl: monday = 0
  return absl::StrFormat("%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[weekday], cs.day(),
                         kMonths[cs.month() - 1], cs.year(), cs.hour(), cs.minute(), cs.second());
}

std::string EncodeUnstructuredHeader(absl::string_view name, absl::string_view value) {
  std::string text = OneLine(value);
  std::string prefix = absl::StrCat(name, ": ");
  std::vector<std::string> words = absl::StrSplit(text, ' ', absl::SkipEmpty());
  bool plain = IsPrintableAscii(text) && !absl::StrContains(text, "=?");
  for (const std::string& w : words) {
    if (prefix.size() + w.size() > 900) plain = false;  // keep far below the 998 limit
  }
  if (plain) return Fold(prefix, words);
  return Fold(prefix, EncodedWords(text, prefix.size()));
}

std::string EncodeQuotedPrintable(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (size_t l = 0; l < lines.size(); ++l) {
    absl::string_view line = lines[l];
    absl::ConsumeSuffix(&line, "\r");
    if (l > 0) out += "\r\n";
    if (l + 1 == lines.size() && line.empty()) break;  // the text ended with a newline
    std::string current;
    for (size_t i = 0; i < line.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      bool last = i + 1 == line.size();
      // A physical line starting with '.' or "From " is encoded, so no relay or mailbox format
      // can mistake it for the end of data or an mbox separator.
      bool escape = c == '=' || c == '\r' || (c < 0x20 && c != '\t') || c >= 0x7F ||
                    ((c == ' ' || c == '\t') && last) || (current.empty() && c == '.') ||
                    (current.empty() && c == 'F' && absl::StartsWith(line.substr(i), "From "));
      std::string token = escape ? std::string{'=', kHex[c >> 4], kHex[c & 15]}
                                 : std::string(1, static_cast<char>(c));
      if (current.size() + token.size() > 75) {
        absl::StrAppend(&out, current, "=\r\n");
        current.clear();
        if (!escape && (c == '.' || (c == 'F' && absl::StartsWith(line.substr(i), "From ")))) {
          token = std::string{'=', kHex[c >> 4], kHex[c & 15]};
        }
      }
      current += token;
    }
    out += current;
  }
  return out;
}

std::string BuildMimeMessage(const EmailMessage& m) {
  std::string domain = m.from.domain();
  std::string out;
  out += AddressHeader("From", {m.from});
  out += AddressHeader("To", m.to);
  out += EncodeUnstructuredHeader("Subject", m.subject);
  absl::StrAppend(&out, "Date: ", Rfc5322Date(m.date), "\r\n");
  std::string message_id = MessageId(m.id, domain);
  absl::StrAppend(&out, "Message-ID: ", message_id, "\r\n");
  if (!m.thread_id.empty() && m.thread_id != m.id) {
    std::string thread = MessageId(m.thread_id, domain);
    absl::StrAppend(&out, "In-Reply-To: ", thread, "\r\n");
    absl::StrAppend(&out, "References: ", thread, "\r\n");
  }
  out += "MIME-Version: 1.0\r\n";
  out += "Auto-Submitted: auto-generated\r\n";
  out += "X-Auto-Response-Suppress: All\r\n";
  for (const auto& [name, value] : m.headers) {
    // Validated when the config was loaded; checked again so no caller can add a header line.
    if (!ValidateCustomHeader(name, value).ok()) continue;
    out += EncodeUnstructuredHeader(name, value);
  }
  const char* kPartHeaders =
      "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
  if (m.html.empty()) {
    absl::StrAppend(&out, "Content-Type: text/plain", kPartHeaders,
                    EncodeQuotedPrintable(ValidUtf8(m.text)), "\r\n");
    return out;
  }
  // Quoted-printable output never contains "=_", so this boundary cannot occur in a part.
  std::string boundary = absl::StrFormat("=_vigil_%016x", Fnv1a(message_id));
  absl::StrAppend(&out, "Content-Type: multipart/alternative;\r\n boundary=\"", boundary,
                  "\"\r\n\r\n");
  out += "This is a multi-part message in MIME format.\r\n";
  absl::StrAppend(&out, "\r\n--", boundary, "\r\nContent-Type: text/plain", kPartHeaders,
                  EncodeQuotedPrintable(ValidUtf8(m.text)));
  absl::StrAppend(&out, "\r\n--", boundary, "\r\nContent-Type: text/html", kPartHeaders,
                  EncodeQuotedPrintable(ValidUtf8(m.html)));
  absl::StrAppend(&out, "\r\n--", boundary, "--\r\n");
  return out;
}

}  // namespace vigil::alerting
