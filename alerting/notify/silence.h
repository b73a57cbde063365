#ifndef VIGIL_ALERTING_NOTIFY_SILENCE_H_
#define VIGIL_ALERTING_NOTIFY_SILENCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/selector.h"

// Silences: label matchers that hold back notifications for a time, created and expired through
// the API (vigilctl silence add|list|expire) and persisted in the NotificationStore. Plain
// values; any thread.

namespace vigil::alerting {

struct Silence {
  std::string id;                     // 32 hex digits, random
  std::vector<std::string> matchers;  // as written, Alertmanager syntax
  std::vector<LabelMatcher> parsed;   // the same, parsed (ParseSilenceMatchers)
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // exclusive; expiring a silence sets it to the time of expiry
  std::string created_by;
  std::string comment;
  int64_t updated_ms = 0;

  bool ActiveAt(int64_t now_ms) const { return starts_at_ms <= now_ms && now_ms < ends_at_ms; }
  // "pending" (not started), "active" or "expired".
  const char* StateAt(int64_t now_ms) const;
};

// What a caller asks for; AddSilence validates it.
struct SilenceRequest {
  std::vector<std::string> matchers;
  int64_t starts_at_ms = 0;  // 0: now
  int64_t ends_at_ms = 0;
  std::string created_by;
  std::string comment;
};

// Checks `request` at `now_ms` and builds the silence (without an id): InvalidArgument naming
// the problem when there is no matcher, a matcher does not parse, created_by or comment is
// empty, or the end is not after both the start and now.
absl::StatusOr<Silence> MakeSilence(const SilenceRequest& request, int64_t now_ms);

// Fills silence->parsed from silence->matchers (after loading from a store).
absl::Status ParseSilenceMatchers(Silence* silence);

// A new random silence id.
std::string NewSilenceId();

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_SILENCE_H_
