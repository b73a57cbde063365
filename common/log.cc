#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vigil {
namespace {

LogSeverity InitialSeverity() {
  const char* env = std::getenv("VIGIL_LOG_LEVEL");
  if (env == nullptr) return LogSeverity::kInfo;
  if (std::strcmp(env, "debug") == 0) return LogSeverity::kDebug;
  if (std::strcmp(env, "warning") == 0) return LogSeverity::kWarning;
  if (std::strcmp(env, "error") == 0) return LogSeverity::kError;
  return LogSeverity::kInfo;
}

std::atomic<int>& MinSeverity() {
  static std::atomic<int> v{static_cast<int>(InitialSeverity())};
  return v;
}

const char* Name(LogSeverity s) {
  switch (s) {
    case LogSeverity::kDebug:
      return "DEBUG";
    case LogSeverity::kInfo:
      return "INFO";
    case LogSeverity::kWarning:
      return "WARN";
    case LogSeverity::kError:
      return "ERROR";
  }
  return "?";
}

}  // namespace

void SetMinLogSeverity(LogSeverity s) { MinSeverity().store(static_cast<int>(s)); }
LogSeverity MinLogSeverity() { return static_cast<LogSeverity>(MinSeverity().load()); }

LogMessage::LogMessage(LogSeverity severity, const char* file, int line) : severity_(severity) {
  const char* base = std::strstr(file, "/vigil/");
  // Show the path from the project root when the build embeds absolute paths.
  for (const char* dir : {"/agent/", "/collector/", "/common/", "/vigilctl/", "/alerting/",
                          "/tests/"}) {
    const char* p = std::strstr(file, dir);
    if (p != nullptr) {
      base = p + 1;
      break;
    }
  }
  stream_ << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()) << ' '
          << Name(severity) << ' ' << (base != nullptr ? base : file) << ':' << line << "] ";
}

LogMessage::~LogMessage() {
  stream_ << '\n';
  const std::string s = stream_.str();
  ssize_t ignored = ::write(STDERR_FILENO, s.data(), s.size());
  (void)ignored;
  (void)severity_;
}

}  // namespace vigil
