#ifndef VIGIL_COLLECTOR_INGEST_BATCH_DECODER_H_
#define VIGIL_COLLECTOR_INGEST_BATCH_DECODER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "collector/ingest/limits.h"
#include "collector/store/series_store.h"
#include "common/series_key.h"
#include "vigil/v1/ingest.pb.h"

namespace vigil::collector {

// Per-reason counts of rejected points; reasons are stable identifiers used as counter labels.
struct Rejections {
  std::map<std::string, uint32_t> count;
  std::map<std::string, std::string> example;  // first rejected point per reason

  void Add(const std::string& reason, const std::string& example_text, uint32_t n = 1);
  uint32_t Total() const;
  void MergeFrom(const Rejections& other);
};

// A batch with its series resolved to keys and its valid points grouped per series.
struct DecodedBatch {
  struct SeriesPoints {
    SeriesKey key;
    std::vector<DataPoint> points;
  };
  uint64_t sequence = 0;
  bool replay = false;  // resent from the agent's replay buffer (v1::Batch.replay)
  std::vector<SeriesPoints> series;
  uint32_t point_count = 0;
  Rejections rejections;
};

// Resolves the per-stream series dictionary and validates points (see docs/protocol.md).
// One decoder per stream; not thread-safe (a stream's reads are sequential).
//
// A structural error (a point naming an undefined series id, a series id defined twice, a
// sequence that does not increase, a replay batch after a new one) is returned as
// INVALID_ARGUMENT and ends the stream. A bad
// point or a bad series definition only rejects the affected points, counted by reason.
class BatchDecoder {
 public:
  explicit BatchDecoder(const IngestLimits& limits) : limits_(limits) {}

  absl::Status Decode(const v1::Batch& batch, int64_t now_ms, DecodedBatch* out);

  size_t dictionary_size() const { return dictionary_.size(); }

 private:
  struct Entry {
    SeriesKey key;
    std::string invalid_reason;  // empty when the definition is valid
    std::string invalid_detail;
  };
  void Define(const v1::SeriesDefinition& def, Entry* entry) const;

  IngestLimits limits_;
  absl::flat_hash_map<uint32_t, Entry> dictionary_;
  uint64_t last_sequence_ = 0;
  uint64_t last_replay_sequence_ = 0;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_INGEST_BATCH_DECODER_H_
