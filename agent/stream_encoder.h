#ifndef VIGIL_AGENT_STREAM_ENCODER_H_
#define VIGIL_AGENT_STREAM_ENCODER_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "vigil/v1/ingest.pb.h"

namespace vigil::agent {

// Turns self-contained spooled batches into the stream encoding: each series is defined once
// per stream (id + metric + labels) and later points name only its id. One encoder per stream;
// not thread-safe.
class StreamEncoder {
 public:
  v1::Batch Encode(const v1::SpooledBatch& spooled);
  size_t dictionary_size() const { return ids_.size(); }

 private:
  absl::flat_hash_map<std::string, uint32_t> ids_;  // metric and labels, NUL-separated -> id
  uint32_t next_id_ = 1;
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_STREAM_ENCODER_H_
