#ifndef VIGIL_AGENT_SPOOL_SPOOL_H_
#define VIGIL_AGENT_SPOOL_SPOOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/record_log.h"
#include "vigil/v1/ingest.pb.h"

// The agent's durable queue of batches awaiting acknowledgement by the collector. Every batch
// is written (and synced) here before it is sent; the sender reads batches after the last one
// it sent and acknowledges them as the collector's Acks arrive.
//
// On disk, `directory` holds a RecordLog (one SpooledBatch per record, `*.seg`) and a file
// `acked` with the highest acknowledged sequence, replaced atomically. The mapping between
// sequence and record index is read from the records themselves: Open scans the log once,
// parsing each batch, and keeps {index, sequence, points} of every unacknowledged batch in
// memory (24 bytes per pending batch). So gaps left by corruption need no bookkeeping, and
// the next sequence is max(last batch on disk, acked) + 1 even if segments were lost.
//
// When the spool would grow past max_bytes, whole segments are dropped oldest first, even
// unacknowledged ones (counted in dropped_batches()/dropped_points(), one warning per event).
//
// The replay buffer: acknowledged batches stay on disk while their newest point is younger than
// retain_acked (and room allows: they are the first to go when space is needed), so that a
// collector replica that takes over from a dead one can ask for recent data it never saw
// (ReadRetained). Their index is kept in memory (32 bytes per batch).
//
// Thread-safe: all methods take one internal mutex (a scheduler thread appends while a sender
// thread reads and acknowledges). Disk I/O happens under that mutex.

namespace vigil {

struct SpoolOptions {
  std::string directory;
  // Upper bound on the bytes of segment files. Must be at least 2 * segment_bytes.
  uint64_t max_bytes = 256 << 20;
  uint64_t segment_bytes = 1 << 20;
  // How long acknowledged batches stay available for replay (by their newest point); 0: they
  // are deleted as soon as they are acknowledged.
  absl::Duration retain_acked = absl::Hours(1);
  // The clock that ages retained batches (tests set it).
  std::function<int64_t()> now_ms;
};

class Spool {
 public:
  using Options = SpoolOptions;

  // Opens or creates the spool in options.directory and recovers its state.
  static absl::StatusOr<std::unique_ptr<Spool>> Open(Options options);

  // Assigns batch.sequence = LastSequence() + 1, writes and syncs the batch, and returns the
  // sequence. Drops the oldest segments first if needed to stay within max_bytes.
  // InvalidArgument if the batch alone cannot fit in max_bytes; I/O errors as RecordLog's
  // (ResourceExhausted when the disk is full), after which the sequence is not used.
  absl::StatusOr<uint64_t> Append(vigil::v1::SpooledBatch batch);

  // Up to max_batches unacknowledged batches with sequence > `sequence`, in order.
  absl::StatusOr<std::vector<vigil::v1::SpooledBatch>> ReadAfter(uint64_t sequence,
                                                                 size_t max_batches);

  // Acknowledged batches still retained with a sequence in (after_sequence, max_sequence] and a
  // point at or after `from_ms`, in order, each with only those points: the replay a
  // taking-over collector asks for. Up to max_batches; page with after_sequence.
  absl::StatusOr<std::vector<vigil::v1::SpooledBatch>> ReadRetained(int64_t from_ms,
                                                                    uint64_t after_sequence,
                                                                    uint64_t max_sequence,
                                                                    size_t max_batches);

  // Everything <= `sequence` is done: persists it in `acked` and deletes segments that hold
  // only acknowledged batches. Acknowledging an already acknowledged sequence is a no-op. A
  // sequence beyond LastSequence() (the collector holds more than this spool, e.g. after the
  // spool directory was lost) acknowledges everything and makes numbering continue after it.
  absl::Status Ack(uint64_t sequence);

  // Oldest unacknowledged sequence still held, or LastSequence() + 1 if none.
  uint64_t FirstSequence() const;
  // Highest sequence assigned so far (or acknowledged, if higher); 0 for a new spool.
  uint64_t LastSequence() const;
  uint64_t AckedSequence() const;
  uint64_t PendingBatches() const;
  // Acknowledged batches kept for replay.
  uint64_t RetainedBatches() const;
  uint64_t TotalBytes() const;
  // Unacknowledged batches (and their points) deleted to stay within max_bytes, since Open.
  uint64_t dropped_batches() const;
  uint64_t dropped_points() const;

 private:
  struct Pending {
    uint64_t index;     // record index in the log
    uint64_t sequence;  // batch.sequence
    uint64_t points;    // batch.points_size()
    int64_t newest_ms;  // newest point's timestamp
  };

  Spool(Options options, std::unique_ptr<RecordLog> log, uint64_t acked);

  absl::Status RecoverPending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops oldest segments until `incoming` more bytes fit within max_bytes.
  absl::Status MakeRoom(uint64_t incoming) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteAckedFile(uint64_t sequence) const;
  // Forgets retained batches older than retain_acked and deletes the segments nothing needs.
  absl::Status DropUnneeded() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t NowMs() const;

  // Constant after construction.
  const Options options_;

  mutable absl::Mutex mu_;
  std::unique_ptr<RecordLog> log_ ABSL_GUARDED_BY(mu_);
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);  // ordered by index and by sequence
  // Acknowledged batches kept for replay; ordered, all before pending_.
  std::deque<Pending> retained_ ABSL_GUARDED_BY(mu_);
  uint64_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_batches_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_points_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vigil

#endif  // VIGIL_AGENT_SPOOL_SPOOL_H_
