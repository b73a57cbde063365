#ifndef VIGIL_COMMON_LOG_H_
#define VIGIL_COMMON_LOG_H_

#include <sstream>

// Minimal leveled logging to stderr (Abseil 20220623 has no absl/log). One line per message:
//   2026-11-22T10:00:00.123Z INFO agent/sender.cc:42] connected to 127.0.0.1:4317
// Thread-safe: each message is written with a single write(2).
// Never log secrets: tokens and passwords are read from files and never formatted.

namespace vigil {

enum class LogSeverity { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below this severity are dropped. Default kInfo; VIGIL_LOG_LEVEL=debug lowers it.
void SetMinLogSeverity(LogSeverity s);
LogSeverity MinLogSeverity();

class LogMessage {
 public:
  LogMessage(LogSeverity severity, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  std::ostringstream stream_;
};

}  // namespace vigil

// A for statement rather than if/else, so that `if (x) VIGIL_LOG(Info) << ...;` has no
// dangling else.
#define VIGIL_LOG(sev)                                                                \
  for (bool vigil_log_once = ::vigil::LogSeverity::k##sev >= ::vigil::MinLogSeverity(); \
       vigil_log_once; vigil_log_once = false)                                        \
  ::vigil::LogMessage(::vigil::LogSeverity::k##sev, __FILE__, __LINE__).stream()

#endif  // VIGIL_COMMON_LOG_H_
