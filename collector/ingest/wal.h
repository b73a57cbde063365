#ifndef VIGIL_COLLECTOR_INGEST_WAL_H_
#define VIGIL_COLLECTOR_INGEST_WAL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/record_log.h"
#include "vigil/v1/storage.pb.h"

namespace vigil::collector {

// The collector's write-ahead log of accepted batches. A batch is acknowledged to its agent
// only after its record is on disk (fdatasync), so an acknowledged datapoint survives a crash;
// on start the log is replayed into the store and the agents' stream positions.
// Thread-safe: Append may be called from several ingest workers.
class WriteAheadLog {
 public:
  static absl::StatusOr<std::unique_ptr<WriteAheadLog>> Open(const std::string& dir);

  // Calls fn for every record in append order. Call once, before the first Append.
  absl::Status Replay(const std::function<void(const v1::WalRecord&)>& fn);

  // Appends the records and syncs them to disk (one fdatasync for the group).
  absl::Status Append(const std::vector<v1::WalRecord>& records);

  // Deletes segments holding only records appended before cutoff_ms.
  absl::Status DropAppendedBefore(int64_t cutoff_ms);

  uint64_t TotalBytes() const;

 private:
  explicit WriteAheadLog(std::unique_ptr<RecordLog> log) : log_(std::move(log)) {}
  void NoteAppend(int64_t appended_at_ms, uint64_t index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::unique_ptr<RecordLog> log_ ABSL_GUARDED_BY(mu_);
  // First record index appended in each wall-clock minute: what DropAppendedBefore needs
  // without keeping an entry per record.
  std::map<int64_t, uint64_t> first_index_by_minute_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_INGEST_WAL_H_
