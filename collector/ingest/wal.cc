#include "collector/ingest/wal.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace vigil::collector {

absl::StatusOr<std::unique_ptr<WriteAheadLog>> WriteAheadLog::Open(const std::string& dir) {
  RecordLog::Options options;
  options.segment_bytes = 16 << 20;
  absl::StatusOr<std::unique_ptr<RecordLog>> log = RecordLog::Open(dir, options);
  if (!log.ok()) return log.status();
  return std::unique_ptr<WriteAheadLog>(new WriteAheadLog(std::move(*log)));
}

void WriteAheadLog::NoteAppend(int64_t appended_at_ms, uint64_t index) {
  first_index_by_minute_.try_emplace(appended_at_ms / 60000, index);
}

absl::Status WriteAheadLog::Replay(const std::function<void(const v1::WalRecord&)>& fn) {
  absl::MutexLock lock(&mu_);
  uint64_t bad = 0;
  v1::WalRecord record;
  absl::Status s = log_->ReadFrom(log_->FirstIndex(), [&](uint64_t index, absl::string_view data) {
    if (!record.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      ++bad;
      return true;
    }
    NoteAppend(record.appended_at_ms(), index);
    fn(record);
    return true;
  });
  if (bad > 0) {
    VIGIL_LOG(Warning) << "write-ahead log: skipped " << bad << " unreadable records";
  }
  return s;
}

absl::Status WriteAheadLog::Append(const std::vector<v1::WalRecord>& records) {
  if (records.empty()) return absl::OkStatus();
  std::vector<std::string> encoded(records.size());
  for (size_t i = 0; i < records.size(); ++i) records[i].SerializeToString(&encoded[i]);
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < records.size(); ++i) {
    absl::StatusOr<uint64_t> index = log_->Append(encoded[i]);
    if (!index.ok()) return index.status();
    NoteAppend(records[i].appended_at_ms(), *index);
  }
  return log_->Sync();
}

absl::Status WriteAheadLog::DropAppendedBefore(int64_t cutoff_ms) {
  absl::MutexLock lock(&mu_);
  auto keep = first_index_by_minute_.lower_bound(cutoff_ms / 60000);
  if (keep == first_index_by_minute_.begin()) return absl::OkStatus();
  uint64_t first_kept = keep == first_index_by_minute_.end() ? log_->NextIndex() : keep->second;
  first_index_by_minute_.erase(first_index_by_minute_.begin(), keep);
  return log_->DropSegmentsBefore(first_kept);
}

uint64_t WriteAheadLog::TotalBytes() const {
  absl::MutexLock lock(&mu_);
  return log_->TotalBytes();
}

}  // namespace vigil::collector
