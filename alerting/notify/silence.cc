#include "alerting/notify/silence.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "alerting/notify/matchers.h"

namespace vigil::alerting {

const char* Silence::StateAt(int64_t now_ms) const {
  if (now_ms < starts_at_ms) return "pending";
  if (now_ms < ends_at_ms) return "active";
  return "expired";
}

absl::Status ParseSilenceMatchers(Silence* silence) {
  silence->parsed.clear();
  for (const std::string& text : silence->matchers) {
    absl::StatusOr<LabelMatcher> m = ParseAlertMatcher(text);
    if (!m.ok()) return m.status();
    silence->parsed.push_back(*std::move(m));
  }
  return absl::OkStatus();
}

absl::StatusOr<Silence> MakeSilence(const SilenceRequest& request, int64_t now_ms) {
  Silence s;
  s.matchers = request.matchers;
  if (s.matchers.empty()) {
    return absl::InvalidArgumentError("a silence needs at least one matcher");
  }
  if (absl::Status st = ParseSilenceMatchers(&s); !st.ok()) return st;
  bool matches_empty = true;
  for (const LabelMatcher& m : s.parsed) matches_empty = matches_empty && MatchesLabels(m, {});
  if (matches_empty) {
    return absl::InvalidArgumentError(
        "the matchers would silence every alert (they all match an empty label set); add one "
        "that requires a label, e.g. alertname=\"db-cpu-high\"");
  }
  if (request.created_by.empty()) {
    return absl::InvalidArgumentError("created_by is required (who creates the silence)");
  }
  if (request.comment.empty()) {
    return absl::InvalidArgumentError("comment is required (why the silence exists)");
  }
  s.starts_at_ms = request.starts_at_ms == 0 ? now_ms : request.starts_at_ms;
  s.ends_at_ms = request.ends_at_ms;
  if (s.ends_at_ms <= s.starts_at_ms) {
    return absl::InvalidArgumentError("the silence must end after it starts");
  }
  if (s.ends_at_ms <= now_ms) return absl::InvalidArgumentError("the silence ends in the past");
  s.created_by = request.created_by;
  s.comment = request.comment;
  s.updated_ms = now_ms;
  return s;
}

std::string NewSilenceId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrFormat("%016x%016x", rng(), rng());
}

}  // namespace vigil::alerting
