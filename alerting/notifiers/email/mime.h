#ifndef VIGIL_ALERTING_NOTIFIERS_EMAIL_MIME_H_
#define VIGIL_ALERTING_NOTIFIERS_EMAIL_MIME_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// Building the RFC 5322 / MIME message of an alert email: pure functions, no I/O.
// Every header value is single-line by construction (CR, LF and other control characters in
// values become spaces), so a label or template cannot add a header.

namespace vigil::alerting {

// A mailbox: `alerts@example.org` or `Vigil Alerts <alerts@example.org>`.
struct EmailAddress {
  std::string display_name;  // UTF-8, may be empty
  std::string address;       // local@domain, ASCII (SMTPUTF8 addresses are not supported)

  // The part after '@'.
  std::string domain() const;
};

// Parses `addr@domain` or `Display Name <addr@domain>` (the name optionally in double quotes).
// InvalidArgument naming the problem for anything else, including CR/LF and lists.
absl::StatusOr<EmailAddress> ParseEmailAddress(absl::string_view text);

// Headers the message builder sets itself; a custom header may not be one of these.
bool IsReservedHeader(absl::string_view name);

// OK when `name: value` may be added to every message: the name is printable ASCII without ':'
// (at most 76 characters) and not reserved, and the value has no control characters.
absl::Status ValidateCustomHeader(absl::string_view name, absl::string_view value);

struct EmailMessage {
  EmailAddress from;
  std::vector<EmailAddress> to;
  std::string subject;  // UTF-8; encoded as RFC 2047 encoded-words when not plain ASCII
  std::string text;     // the text/plain part (UTF-8)
  std::string html;     // the text/html part (UTF-8); empty: a text/plain message only
  // The notification id: Message-ID is <id@domain of from>.
  std::string id;
  // The incident's first notification id: when set and different from `id`, In-Reply-To and
  // References point at <thread_id@domain of from>, so every email of one incident forms one
  // thread in the inbox.
  std::string thread_id;
  std::vector<std::pair<std::string, std::string>> headers;  // validated by ValidateCustomHeader
  absl::Time date;
};

// The whole message with CRLF line endings, lines at most 78 characters (a header word too
// long to fold stays on one line, far below the 998 limit): From, To,
// Subject, Date, Message-ID, [In-Reply-To, References], MIME-Version, Auto-Submitted,
// X-Auto-Response-Suppress, the custom headers, then a multipart/alternative body with a
// text/plain and a text/html part (UTF-8, quoted-printable).
std::string BuildMimeMessage(const EmailMessage& message);

// Pieces of the builder, exposed for tests.

// `<id@domain>` with characters that are not allowed in a message id replaced by '-'.
std::string MessageId(absl::string_view id, absl::string_view domain);
// "Sun, 22 Nov 2026 10:00:00 +0000".
std::string Rfc5322Date(absl::Time t);
// `Name: value` CRLF-terminated, folded at spaces to 78 columns where possible; a value that is
// not printable ASCII (or would need longer lines) becomes UTF-8 "B" encoded-words.
std::string EncodeUnstructuredHeader(absl::string_view name, absl::string_view value);
// Quoted-printable (RFC 2045) of UTF-8 text: CRLF line ends, lines at most 76 characters.
std::string EncodeQuotedPrintable(absl::string_view text);
// `text` with invalid UTF-8 sequences replaced by U+FFFD.
std::string ValidUtf8(absl::string_view text);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFIERS_EMAIL_MIME_H_
