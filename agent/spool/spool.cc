#include "agent/spool/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace vigil {
namespace {

constexpr char kAckedFile[] = "acked";
constexpr char kAckedTempFile[] = "acked.tmp";

// Status for the failed system call that set errno.
absl::Status IoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(message);
  if (err == EACCES || err == EPERM || err == EROFS) {
    return absl::PermissionDeniedError(message);
  }
  return absl::InternalError(message);
}

// The acknowledged sequence stored in `path`, 0 if the file does not exist. A file that
// cannot be parsed is reported and treated as 0: resending acknowledged batches is safe, the
// collector stores a replayed sequence once.
absl::StatusOr<uint64_t> ReadAckedFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    return IoError("open", path);
  }
  char buf[64];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  absl::Status error = n < 0 ? IoError("read", path) : absl::OkStatus();
  ::close(fd);
  if (!error.ok()) return error;
  uint64_t acked = 0;
  absl::string_view text(buf, static_cast<size_t>(n));
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &acked)) {
    VIGIL_LOG(Warning) << path << ": not a sequence number (\"" << absl::CEscape(text)
                       << "\"); treating every spooled batch as unacknowledged";
    return 0;
  }
  return acked;
}

int64_t NewestMs(const vigil::v1::SpooledBatch& batch) {
  int64_t newest = 0;
  for (const auto& p : batch.points()) newest = std::max(newest, p.timestamp_ms());
  return newest;
}

}  // namespace

Spool::Spool(Options options, std::unique_ptr<RecordLog> log, uint64_t acked)
    : options_(std::move(options)), log_(std::move(log)), acked_(acked), last_sequence_(acked) {}

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(Options options) {
  if (options.directory.empty()) return absl::InvalidArgumentError("spool directory is empty");
  if (options.segment_bytes == 0 || options.max_bytes < 2 * options.segment_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("spool ", options.directory, ": max_bytes (", options.max_bytes,
                     ") must be at least twice segment_bytes (", options.segment_bytes, ")"));
  }
  RecordLog::Options log_options;
  log_options.segment_bytes = options.segment_bytes;
  log_options.sync_on_append = true;
  absl::StatusOr<std::unique_ptr<RecordLog>> log = RecordLog::Open(options.directory, log_options);
  if (!log.ok()) return log.status();
  absl::StatusOr<uint64_t> acked = ReadAckedFile(absl::StrCat(options.directory, "/", kAckedFile));
  if (!acked.ok()) return acked.status();

  std::unique_ptr<Spool> spool(new Spool(std::move(options), *std::move(log), *acked));
  {
    absl::MutexLock lock(&spool->mu_);
    absl::Status recovered = spool->RecoverPending();
    if (!recovered.ok()) return recovered;
  }
  return spool;
}

absl::Status Spool::RecoverPending() {
  // Locals, because the thread-safety analysis does not see mu_ held inside the callback.
  const uint64_t acked = acked_;
  std::deque<Pending> pending;
  std::deque<Pending> retained;
  uint64_t unreadable = 0;
  uint64_t previous = 0;  // sequences on disk strictly increase
  absl::Status scanned = log_->ReadFrom(0, [&](uint64_t index, absl::string_view payload) {
    vigil::v1::SpooledBatch batch;
    if (!batch.ParseFromArray(payload.data(), static_cast<int>(payload.size())) ||
        batch.sequence() <= previous) {
      ++unreadable;
      return true;
    }
    previous = batch.sequence();
    Pending entry{index, batch.sequence(), static_cast<uint64_t>(batch.points_size()),
                  NewestMs(batch)};
    (batch.sequence() > acked ? pending : retained).push_back(entry);
    return true;
  });
  if (!scanned.ok()) return scanned;
  pending_ = std::move(pending);
  retained_ = std::move(retained);
  last_sequence_ = std::max(acked_, previous);
  if (unreadable > 0) {
    VIGIL_LOG(Warning) << "spool " << options_.directory << ": ignored " << unreadable
                       << " records that are not batches in sequence order";
  }
  return DropUnneeded();
}

int64_t Spool::NowMs() const {
  return options_.now_ms ? options_.now_ms() : absl::ToUnixMillis(absl::Now());
}

absl::Status Spool::DropUnneeded() {
  const int64_t horizon = NowMs() - absl::ToInt64Milliseconds(options_.retain_acked);
  while (!retained_.empty() &&
         (options_.retain_acked <= absl::ZeroDuration() || retained_.front().newest_ms < horizon)) {
    retained_.pop_front();
  }
  uint64_t keep_from = log_->NextIndex();
  if (!pending_.empty()) keep_from = pending_.front().index;
  if (!retained_.empty()) keep_from = retained_.front().index;
  return log_->DropSegmentsBefore(keep_from);
}

absl::StatusOr<uint64_t> Spool::Append(vigil::v1::SpooledBatch batch) {
  absl::MutexLock lock(&mu_);
  const uint64_t sequence = last_sequence_ + 1;
  batch.set_sequence(sequence);
  std::string payload;
  if (!batch.SerializeToString(&payload)) {
    return absl::InvalidArgumentError(
        absl::StrCat("spool: batch ", sequence, " cannot be serialized"));
  }
  const uint64_t frame_bytes = RecordLog::kFrameHeaderBytes + payload.size();
  if (frame_bytes > options_.max_bytes || payload.size() > RecordLog::kMaxRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("spool ", options_.directory, ": batch of ",
                                                   payload.size(), " bytes exceeds max_bytes ",
                                                   options_.max_bytes));
  }
  absl::Status room = MakeRoom(frame_bytes);
  if (!room.ok()) return room;
  absl::StatusOr<uint64_t> index = log_->Append(payload);
  if (!index.ok()) return index.status();
  pending_.push_back(
      Pending{*index, sequence, static_cast<uint64_t>(batch.points_size()), NewestMs(batch)});
  last_sequence_ = sequence;
  return sequence;
}

absl::Status Spool::MakeRoom(uint64_t incoming) {
  uint64_t batches = 0;
  uint64_t points = 0;
  uint64_t first_lost = 0;
  uint64_t last_lost = 0;
  absl::Status status;
  while (log_->TotalBytes() + incoming > options_.max_bytes) {
    const uint64_t before = log_->TotalBytes();
    absl::StatusOr<uint64_t> dropped = log_->DropOldestSegment();
    if (!dropped.ok()) {
      status = dropped.status();
      break;
    }
    const uint64_t first_kept = log_->FirstIndex();
    // Retained batches were acknowledged: losing them costs only replay depth.
    while (!retained_.empty() && retained_.front().index < first_kept) retained_.pop_front();
    while (!pending_.empty() && pending_.front().index < first_kept) {
      if (batches == 0) first_lost = pending_.front().sequence;
      last_lost = pending_.front().sequence;
      ++batches;
      points += pending_.front().points;
      pending_.pop_front();
    }
    if (log_->TotalBytes() >= before) {
      status = absl::InternalError(absl::StrCat("spool ", options_.directory,
                                                ": dropping the oldest segment freed nothing"));
      break;
    }
  }
  if (batches > 0) {
    dropped_batches_ += batches;
    dropped_points_ += points;
    VIGIL_LOG(Warning) << "spool " << options_.directory << " reached max_bytes "
                       << options_.max_bytes << ": dropped " << batches
                       << " unacknowledged batches, sequences " << first_lost << ".." << last_lost
                       << " (" << points << " points)";
  }
  return status;
}

absl::StatusOr<std::vector<vigil::v1::SpooledBatch>> Spool::ReadAfter(uint64_t sequence,
                                                                      size_t max_batches) {
  absl::MutexLock lock(&mu_);
  std::vector<vigil::v1::SpooledBatch> batches;
  auto it =
      std::upper_bound(pending_.begin(), pending_.end(), std::max(sequence, acked_),
                       [](uint64_t s, const Pending& pending) { return s < pending.sequence; });
  if (it == pending_.end() || max_batches == 0) return batches;

  absl::Status error;
  const auto end = pending_.end();
  absl::Status read = log_->ReadFrom(it->index, [&](uint64_t index, absl::string_view payload) {
    if (index < it->index) return true;  // a record that was not a valid batch at Open
    vigil::v1::SpooledBatch batch;
    if (index > it->index ||
        !batch.ParseFromArray(payload.data(), static_cast<int>(payload.size())) ||
        batch.sequence() != it->sequence) {
      error = absl::DataLossError(absl::StrCat("spool ", options_.directory, ": record ", it->index,
                                               " no longer holds batch ", it->sequence));
      return false;
    }
    batches.push_back(std::move(batch));
    ++it;
    return it != end && batches.size() < max_batches;
  });
  if (!read.ok()) return read;
  if (!error.ok()) return error;
  return batches;
}

absl::Status Spool::Ack(uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  if (sequence <= acked_) return absl::OkStatus();
  absl::Status written = WriteAckedFile(sequence);
  if (!written.ok()) return written;
  if (sequence > last_sequence_) {
    VIGIL_LOG(Warning) << "spool " << options_.directory << ": acknowledged sequence " << sequence
                       << " is beyond the last spooled " << last_sequence_
                       << "; numbering continues at " << sequence + 1;
    last_sequence_ = sequence;
  }
  acked_ = sequence;
  while (!pending_.empty() && pending_.front().sequence <= sequence) {
    retained_.push_back(pending_.front());
    pending_.pop_front();
  }
  return DropUnneeded();
}

absl::StatusOr<std::vector<vigil::v1::SpooledBatch>> Spool::ReadRetained(int64_t from_ms,
                                                                         uint64_t after_sequence,
                                                                         uint64_t max_sequence,
                                                                         size_t max_batches) {
  absl::MutexLock lock(&mu_);
  std::vector<vigil::v1::SpooledBatch> batches;
  absl::flat_hash_set<uint64_t> wanted;
  uint64_t first = 0;
  for (const Pending& r : retained_) {
    if (r.sequence > max_sequence || wanted.size() >= max_batches) break;
    if (r.sequence <= after_sequence || r.newest_ms < from_ms) continue;
    if (wanted.empty()) first = r.index;
    wanted.insert(r.index);
  }
  if (wanted.empty()) return batches;
  absl::Status read = log_->ReadFrom(first, [&](uint64_t index, absl::string_view payload) {
    if (!wanted.contains(index)) return true;
    vigil::v1::SpooledBatch batch;
    if (!batch.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return true;
    // Keep the series whose points remain, renumbered densely.
    vigil::v1::SpooledBatch out;
    out.set_sequence(batch.sequence());
    absl::flat_hash_map<uint32_t, uint32_t> ids;
    for (const auto& p : batch.points()) {
      if (p.timestamp_ms() < from_ms) continue;
      auto [it, added] = ids.try_emplace(p.series_id(), 0);
      if (added) {
        for (const auto& def : batch.series()) {
          if (def.id() != p.series_id()) continue;
          it->second = static_cast<uint32_t>(out.series_size()) + 1;
          *out.add_series() = def;
          out.mutable_series(out.series_size() - 1)->set_id(it->second);
          break;
        }
      }
      if (it->second == 0) continue;  // a point of an undefined series: skipped
      vigil::v1::Point* point = out.add_points();
      *point = p;
      point->set_series_id(it->second);
    }
    if (out.points_size() > 0) batches.push_back(std::move(out));
    wanted.erase(index);
    return !wanted.empty();
  });
  if (!read.ok()) return read;
  return batches;
}

absl::Status Spool::WriteAckedFile(uint64_t sequence) const {
  const std::string temp = absl::StrCat(options_.directory, "/", kAckedTempFile);
  const std::string path = absl::StrCat(options_.directory, "/", kAckedFile);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create", temp);
  const std::string text = absl::StrCat(sequence, "\n");
  absl::string_view rest = text;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status error = IoError("write", temp);
      ::close(fd);
      return error;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) {
    absl::Status error = IoError("sync", temp);
    ::close(fd);
    return error;
  }
  ::close(fd);
  // No fsync of the directory: if a crash loses the rename, the previous acknowledgement is
  // read back and the batches since are resent, which the collector stores once.
  if (::rename(temp.c_str(), path.c_str()) != 0) return IoError("rename to", path);
  return absl::OkStatus();
}

uint64_t Spool::FirstSequence() const {
  absl::MutexLock lock(&mu_);
  return pending_.empty() ? last_sequence_ + 1 : pending_.front().sequence;
}

uint64_t Spool::LastSequence() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

uint64_t Spool::AckedSequence() const {
  absl::MutexLock lock(&mu_);
  return acked_;
}

uint64_t Spool::PendingBatches() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

uint64_t Spool::RetainedBatches() const {
  absl::MutexLock lock(&mu_);
  return retained_.size();
}

uint64_t Spool::TotalBytes() const {
  absl::MutexLock lock(&mu_);
  return log_->TotalBytes();
}

uint64_t Spool::dropped_batches() const {
  absl::MutexLock lock(&mu_);
  return dropped_batches_;
}

uint64_t Spool::dropped_points() const {
  absl::MutexLock lock(&mu_);
  return dropped_points_;
}

}  // namespace vigil
