#ifndef VIGIL_COMMON_RECORD_LOG_H_
#define VIGIL_COMMON_RECORD_LOG_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// A durable, append-only log of opaque byte records kept in one directory and split into
// segment files named `<index of the segment's first record, 20 digits>.seg`. Each record is
// framed as [u32 LE payload length][u32 LE zlib crc32 of the payload][payload]; indices are
// 0-based, strictly increasing and survive reopening. Old records go away only by whole
// segments (DropSegmentsBefore / DropOldestSegment).
//
// Recovery at Open: a torn or corrupt tail of the last segment is truncated back to the last
// whole record (corrupt_tail_bytes()); a corrupt record in an older segment hides the rest of
// that segment (skipped_corrupt_bytes()). Both are logged as warnings naming file and offset.
// Indices of records lost that way are simply absent (readers see a gap), never reused.
//
// Thread contract: not thread-safe. REQUIRES external synchronization for every call,
// including the const ones; `fn` passed to ReadFrom must not call back into the log.

namespace vigil {

struct RecordLogOptions {
  // Before an append would take the active segment past this size, a new segment is started
  // (a record larger than this gets a segment of its own).
  uint64_t segment_bytes = 4 << 20;
  // fdatasync after every append; otherwise data reaches the disk on Sync() and on rotation.
  bool sync_on_append = false;
};

class RecordLog {
 public:
  using Options = RecordLogOptions;

  static constexpr size_t kFrameHeaderBytes = 8;
  // Larger lengths in a frame header are treated as corruption.
  static constexpr uint32_t kMaxRecordBytes = 64 << 20;

  // Creates `dir` (mode 0700, with parents) if needed and recovers the segments in it.
  // Files in `dir` that are not segments are ignored, so callers may keep their own there.
  static absl::StatusOr<std::unique_ptr<RecordLog>> Open(const std::string& dir,
                                                         const Options& options);

  ~RecordLog();
  RecordLog(const RecordLog&) = delete;
  RecordLog& operator=(const RecordLog&) = delete;

  // Appends one record and returns its index. `payload` must be 1..kMaxRecordBytes bytes
  // (an all-zero frame is what a torn tail often looks like, so empty records are not
  // allowed). On failure (ResourceExhausted for ENOSPC/EDQUOT/EFBIG, naming the file) nothing
  // of the record stays in the log and the log remains usable.
  absl::StatusOr<uint64_t> Append(absl::string_view payload);

  // fdatasync of the active segment: every record appended so far is on disk.
  absl::Status Sync();

  // Calls fn(index, payload) for each held record with index >= `index`, in order, until fn
  // returns false. `payload` is valid only during the call. A record that no longer matches
  // its checksum (the file changed after Open) stops the read with DataLoss.
  absl::Status ReadFrom(
      uint64_t index,
      const std::function<bool(uint64_t index, absl::string_view payload)>& fn) const;

  // Deletes the oldest segments all of whose records have indices < `index`. Never deletes
  // the active (newest) segment.
  absl::Status DropSegmentsBefore(uint64_t index);

  // Deletes the oldest segment and returns how many records it held. If only the active
  // segment is left and it holds records, a new empty segment is started first, so this
  // always makes room unless the log is empty (then it returns 0).
  absl::StatusOr<uint64_t> DropOldestSegment();

  // Index of the oldest record held (== NextIndex() when empty).
  uint64_t FirstIndex() const { return segments_.front().first_index; }
  // Index the next Append will return.
  uint64_t NextIndex() const { return segments_.back().first_index + segments_.back().records; }
  // Bytes of all segment files on disk.
  uint64_t TotalBytes() const { return total_bytes_; }
  size_t SegmentCount() const { return segments_.size(); }
  const std::string& directory() const { return dir_; }

  // Bytes cut off the last segment at Open because they did not form whole, valid records.
  uint64_t corrupt_tail_bytes() const { return corrupt_tail_bytes_; }
  // Bytes of older segments ignored at Open from their first corrupt record on.
  uint64_t skipped_corrupt_bytes() const { return skipped_corrupt_bytes_; }

 private:
  struct Segment {
    uint64_t first_index = 0;
    uint64_t records = 0;      // whole, valid records
    uint64_t valid_bytes = 0;  // bytes those records occupy from the start of the file
    uint64_t file_bytes = 0;   // size on disk; > valid_bytes only for a corrupt older segment
    std::string path;
  };

  RecordLog(std::string dir, Options options);

  // Reads `segment`'s file, counts its valid records and handles a corrupt rest as described
  // above. For the last segment, `fd` is the open read-write descriptor used to truncate.
  absl::Status Recover(Segment& segment, int fd, bool is_last);
  // Creates the segment file starting at `first_index` and makes it the active segment.
  absl::Status StartSegment(uint64_t first_index);
  absl::Status RemoveOldestSegment();

  // Constant after construction.
  const std::string dir_;
  const Options options_;

  // Ordered by first_index; never empty after Open. back() is the active segment, which is
  // open for writing as active_fd_.
  std::deque<Segment> segments_;
  int active_fd_ = -1;
  // A failed append left bytes after the last record that could not be truncated yet.
  bool active_tail_dirty_ = false;
  uint64_t total_bytes_ = 0;
  uint64_t corrupt_tail_bytes_ = 0;
  uint64_t skipped_corrupt_bytes_ = 0;
};

}  // namespace vigil

#endif  // VIGIL_COMMON_RECORD_LOG_H_
