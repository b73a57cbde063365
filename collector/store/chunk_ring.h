#ifndef VIGIL_COLLECTOR_STORE_CHUNK_RING_H_
#define VIGIL_COLLECTOR_STORE_CHUNK_RING_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

namespace vigil::collector::internal {

// A fixed-capacity block of one series' points: millisecond offsets from `base_ms` as uint32
// beside the values, in parallel arrays (12 bytes per point). Points are in increasing time
// order; a point whose offset would not fit in uint32 (about 49.7 days) starts a new chunk.
struct Chunk {
  static constexpr uint32_t kCapacity = 128;

  int64_t base_ms = 0;  // timestamp of the first point
  uint32_t size = 0;
  uint32_t offsets[kCapacity];
  double values[kCapacity];

  bool full() const { return size == kCapacity; }
  int64_t timestamp(uint32_t i) const { return base_ms + offsets[i]; }
  int64_t newest_ms() const { return timestamp(size - 1); }
  // True if `t_ms` (not older than base_ms) can be stored as a uint32 offset.
  bool CanHold(int64_t t_ms) const {
    return t_ms - base_ms <= static_cast<int64_t>(std::numeric_limits<uint32_t>::max());
  }
};

// First-in first-out ring of owned chunks, oldest first: appends at the back and frees at the
// front without moving the other chunks. Capacity is a power of two and only grows. Not
// thread-safe: the owner synchronises.
class ChunkRing {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Slots held by the ring itself (pointers), for memory accounting.
  size_t capacity() const { return slots_.size(); }

  Chunk& at(size_t i) const { return *slots_[(head_ + i) & (slots_.size() - 1)]; }
  Chunk& front() const { return at(0); }
  Chunk& back() const { return at(size_ - 1); }

  // Appends an empty chunk and returns it.
  Chunk& PushBack() {
    if (size_ == slots_.size()) Grow();
    // Plain `new` leaves the point arrays uninitialised: they are written before being read.
    auto& slot = slots_[(head_ + size_) & (slots_.size() - 1)];
    slot.reset(new Chunk);
    ++size_;
    return *slot;
  }

  void PopFront() {
    if (size_ == 0) std::abort();  // caller bug: nothing to pop
    slots_[head_].reset();
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }

 private:
  void Grow() {
    std::vector<std::unique_ptr<Chunk>> bigger(slots_.empty() ? 2 : slots_.size() * 2);
    for (size_t i = 0; i < size_; ++i) {
      bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    }
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<std::unique_ptr<Chunk>> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace vigil::collector::internal

#endif  // VIGIL_COLLECTOR_STORE_CHUNK_RING_H_
