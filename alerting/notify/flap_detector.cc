#include "alerting/notify/flap_detector.h"

#include "absl/time/time.h"

namespace vigil::alerting {

bool FlapDetector::Record(int64_t at_ms, const FlappingConfig& config) {
  const int64_t window = absl::ToInt64Milliseconds(config.window);
  times_.push_back(at_ms);
  while (!times_.empty() && times_.front() <= at_ms - window) times_.pop_front();
  if (flapping_ || config.max_transitions <= 0) return false;
  if (static_cast<int>(times_.size()) > config.max_transitions) {
    flapping_ = true;
    return true;
  }
  return false;
}

int64_t FlapDetector::QuietAtMs(const FlappingConfig& config) const {
  return (times_.empty() ? 0 : times_.back()) + absl::ToInt64Milliseconds(config.window);
}

void FlapDetector::EndEpisode() {
  flapping_ = false;
  times_.clear();
}

bool FlapDetector::Idle(int64_t now_ms, const FlappingConfig& config) const {
  return !flapping_ && (times_.empty() || QuietAtMs(config) <= now_ms);
}

}  // namespace vigil::alerting
