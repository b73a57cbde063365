#ifndef VIGIL_AGENT_CHECKS_NGINX_ACCESS_LOG_FORMAT_H_
#define VIGIL_AGENT_CHECKS_NGINX_ACCESS_LOG_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil::agent::nginx {

// nginx's predefined `combined` format, the default of the check's `log_format` key.
inline constexpr char kCombinedLogFormat[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\"";

// What the check reads from one access log line. Views point into the parsed line.
struct AccessLogRecord {
  int status = 0;                            // 100..999 as logged ($status)
  std::optional<uint64_t> request_time_ms;   // $request_time, when in the format
  std::optional<uint64_t> upstream_time_ms;  // sum over upstreams; nullopt for "-" or ""
  std::optional<absl::string_view> method;   // $request_method, or the first word of $request
  std::optional<absl::string_view> host;     // $host
};

// A compiled nginx `log_format` string: literal text and `$name` / `${name}` variables, as in
// nginx.conf (the format text itself, already concatenated, without the nginx quoting).
//
// A line is split by the format's literal text: an opaque variable (any other than the typed
// ones below) ends at the first occurrence of the literal that follows it in the format (a `"`
// preceded by an odd number of backslashes does not count, for escape=json), so a variable
// whose value may contain that literal must be enclosed in other text, as nginx's `combined`
// format quotes "$request". The typed variables take the longest value of their form:
//   $status                  three digits
//   $request_time            seconds with a fractional part ("0.004")
//   $upstream_response_time  "-", "" or a list of seconds/"-" joined by ", " or " : "
// Immutable after Compile(); Parse() is thread-safe.
class AccessLogFormat {
 public:
  // Fails with InvalidArgument naming the problem: an empty format, a `$` without a name, an
  // unterminated `${`, no $status, or two variables with no text between them (they could not
  // be told apart).
  static absl::StatusOr<AccessLogFormat> Compile(absl::string_view format);

  // Parses one line (without its newline). Errors are InvalidArgument with the 1-based column
  // and what was expected there; they never quote the line (it may hold secrets in URLs).
  absl::StatusOr<AccessLogRecord> Parse(absl::string_view line) const;

  bool has_request_time() const { return has_request_time_; }
  bool has_upstream_time() const { return has_upstream_time_; }
  bool has_method() const { return has_method_; }
  bool has_host() const { return has_host_; }

 private:
  enum class Kind {
    kOpaque,
    kStatus,
    kRequestTime,
    kUpstreamResponseTime,
    kRequestMethod,
    kRequest,
    kHost,
  };
  struct Field {
    Kind kind;
    std::string name;     // without the `$`, for messages
    std::string literal;  // text that follows the variable up to the next one (may be empty)
  };

  std::string prefix_;  // text before the first variable
  std::vector<Field> fields_;
  bool has_request_time_ = false;
  bool has_upstream_time_ = false;
  bool has_method_ = false;
  bool has_host_ = false;
  bool has_request_method_var_ = false;  // $request_method, preferred over $request's first word
};

// "0.004" -> 4 (milliseconds, rounded). nginx logs seconds with millisecond resolution.
// Returns the number of characters consumed (0 when `text` does not start with a number).
size_t ParseSecondsAsMillis(absl::string_view text, uint64_t* millis);

}  // namespace vigil::agent::nginx

#endif  // VIGIL_AGENT_CHECKS_NGINX_ACCESS_LOG_FORMAT_H_
