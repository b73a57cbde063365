#include "agent/stream_encoder.h"

#include <vector>

namespace vigil::agent {

v1::Batch StreamEncoder::Encode(const v1::SpooledBatch& spooled) {
  v1::Batch batch;
  batch.set_sequence(spooled.sequence());
  absl::flat_hash_map<uint32_t, uint32_t> local_to_stream;
  for (const v1::SeriesDefinition& def : spooled.series()) {
    std::string key = def.metric();
    for (const v1::Label& l : def.labels()) {
      key.push_back('\0');
      key += l.name();
      key.push_back('\0');
      key += l.value();
    }
    auto [it, inserted] = ids_.try_emplace(std::move(key), next_id_);
    if (inserted) {
      ++next_id_;
      v1::SeriesDefinition* out = batch.add_series();
      *out = def;
      out->set_id(it->second);
    }
    local_to_stream[def.id()] = it->second;
  }
  for (const v1::Point& p : spooled.points()) {
    auto it = local_to_stream.find(p.series_id());
    if (it == local_to_stream.end()) continue;  // a spool record is written by us; cannot happen
    v1::Point* out = batch.add_points();
    *out = p;
    out->set_series_id(it->second);
  }
  return batch;
}

}  // namespace vigil::agent
