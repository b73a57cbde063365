#ifndef VIGIL_COLLECTOR_INGEST_LIMITS_H_
#define VIGIL_COLLECTOR_INGEST_LIMITS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace vigil::collector {

// Ingest validation limits; see docs/protocol.md for what happens when each is exceeded.
struct IngestLimits {
  uint64_t max_message_bytes = 4 << 20;
  uint32_t max_labels_per_series = 32;
  uint32_t max_label_name_length = 128;
  uint32_t max_label_value_length = 1024;
  uint32_t max_series_per_agent = 10000;
  absl::Duration max_future_skew = absl::Minutes(5);
  absl::Duration max_past_age = absl::Hours(6);
  uint32_t queue_capacity = 4096;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_INGEST_LIMITS_H_
