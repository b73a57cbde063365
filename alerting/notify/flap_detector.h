#ifndef VIGIL_ALERTING_NOTIFY_FLAP_DETECTOR_H_
#define VIGIL_ALERTING_NOTIFY_FLAP_DETECTOR_H_

#include <cstdint>
#include <deque>

#include "alerting/notify/config.h"

namespace vigil::alerting {

// The recent transitions of one alarm: it is flapping once it has had more than
// max_transitions within `window`, and stays so until it has had no transition for `window`.
// Not thread-safe; owned by the dispatcher thread.
class FlapDetector {
 public:
  // Records a transition; true when it starts a flapping episode.
  bool Record(int64_t at_ms, const FlappingConfig& config);
  bool flapping() const { return flapping_; }
  // When a flapping episode ends: `window` after the last transition.
  int64_t QuietAtMs(const FlappingConfig& config) const;
  // Ends the episode (at QuietAtMs) and forgets the history.
  void EndEpisode();
  // True when nothing of the history matters any more at `now_ms` (not flapping, no transition
  // within the window), so the alarm's record may be dropped.
  bool Idle(int64_t now_ms, const FlappingConfig& config) const;

 private:
  std::deque<int64_t> times_;  // ascending; only those within the window of the newest
  bool flapping_ = false;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_FLAP_DETECTOR_H_
