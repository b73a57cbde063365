#include "common/record_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"

namespace vigil {
namespace {

constexpr absl::string_view kSegmentSuffix = ".seg";
constexpr size_t kIndexDigits = 20;

absl::Status ErrnoStatus(int err, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", std::strerror(err));
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EMFILE:
    case ENFILE:
      return absl::ResourceExhaustedError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    default:
      return absl::InternalError(message);
  }
}

uint32_t Crc32(absl::string_view data) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

void PutU32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t GetU32(const char* in) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string SegmentPath(const std::string& dir, uint64_t first_index) {
  return absl::StrFormat("%s/%020u%s", dir, first_index, kSegmentSuffix);
}

// "<20 digits>.seg" -> first index.
bool ParseSegmentName(absl::string_view name, uint64_t* first_index) {
  if (name.size() != kIndexDigits + kSegmentSuffix.size()) return false;
  if (name.substr(kIndexDigits) != kSegmentSuffix) return false;
  absl::string_view digits = name.substr(0, kIndexDigits);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    return false;
  }
  return absl::SimpleAtoi(digits, first_index);
}

absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("record log directory is empty");
  if (::mkdir(dir.c_str(), 0700) == 0) return absl::OkStatus();
  if (errno == EEXIST) {
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(dir, " exists and is not a directory"));
  }
  if (errno != ENOENT) return ErrnoStatus(errno, absl::StrCat("mkdir ", dir));
  size_t slash = dir.find_last_of('/');
  if (slash == std::string::npos || slash == 0) {
    return ErrnoStatus(ENOENT, absl::StrCat("mkdir ", dir));
  }
  absl::Status parent = MakeDirs(dir.substr(0, slash));
  if (!parent.ok()) return parent;
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return absl::OkStatus();
  return ErrnoStatus(errno, absl::StrCat("mkdir ", dir));
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open directory ", dir));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, absl::StrCat("fsync directory ", dir));
  return absl::OkStatus();
}

absl::Status PWriteAll(int fd, absl::string_view data, uint64_t offset, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("write ", path, " at offset ", offset));
    }
    if (n == 0) {
      return absl::InternalError(
          absl::StrCat("write ", path, " at offset ", offset, ": wrote nothing"));
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

// Reads exactly `size` bytes from the start of `fd`; DataLoss if the file is shorter.
absl::Status PReadAll(int fd, uint64_t size, const std::string& path, std::string* out) {
  out->resize(size);
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out->data() + done, size - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("read ", path, " at offset ", done));
    }
    if (n == 0) {
      return absl::DataLossError(
          absl::StrCat(path, " ends at offset ", done, ", expected ", size, " bytes of records"));
    }
    done += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

enum class FrameError { kNone, kPartial, kBadLength, kBadChecksum };

const char* Describe(FrameError e) {
  switch (e) {
    case FrameError::kNone:
      return "ok";
    case FrameError::kPartial:
      return "partial record";
    case FrameError::kBadLength:
      return "implausible record length";
    case FrameError::kBadChecksum:
      return "checksum mismatch";
  }
  return "?";
}

// Parses the frame at `data[offset]`. On success sets *payload and *next (offset of the
// following frame). The checksum is verified only when `verify` is set.
FrameError ParseFrame(absl::string_view data, uint64_t offset, bool verify,
                      absl::string_view* payload, uint64_t* next) {
  if (data.size() - offset < RecordLog::kFrameHeaderBytes) return FrameError::kPartial;
  const char* header = data.data() + offset;
  uint32_t length = GetU32(header);
  uint32_t crc = GetU32(header + 4);
  if (length == 0 || length > RecordLog::kMaxRecordBytes) return FrameError::kBadLength;
  if (data.size() - offset - RecordLog::kFrameHeaderBytes < length) return FrameError::kPartial;
  *payload = data.substr(offset + RecordLog::kFrameHeaderBytes, length);
  if (verify && Crc32(*payload) != crc) return FrameError::kBadChecksum;
  *next = offset + RecordLog::kFrameHeaderBytes + length;
  return FrameError::kNone;
}

}  // namespace

RecordLog::RecordLog(std::string dir, Options options) : dir_(std::move(dir)), options_(options) {}

RecordLog::~RecordLog() {
  if (active_fd_ >= 0) ::close(active_fd_);
}

absl::StatusOr<std::unique_ptr<RecordLog>> RecordLog::Open(const std::string& dir,
                                                           const Options& options) {
  if (options.segment_bytes == 0) {
    return absl::InvalidArgumentError("record log segment_bytes must be positive");
  }
  absl::Status made = MakeDirs(dir);
  if (!made.ok()) return made;

  std::vector<uint64_t> firsts;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, absl::StrCat("open directory ", dir));
  errno = 0;
  while (struct dirent* entry = ::readdir(d)) {
    uint64_t first = 0;
    if (ParseSegmentName(entry->d_name, &first)) firsts.push_back(first);
  }
  int read_errno = errno;
  ::closedir(d);
  if (read_errno != 0) return ErrnoStatus(read_errno, absl::StrCat("read directory ", dir));
  std::sort(firsts.begin(), firsts.end());

  std::unique_ptr<RecordLog> log(new RecordLog(dir, options));
  for (size_t i = 0; i < firsts.size(); ++i) {
    Segment segment;
    segment.first_index = firsts[i];
    segment.path = SegmentPath(dir, firsts[i]);
    bool is_last = i + 1 == firsts.size();
    int fd = ::open(segment.path.c_str(), (is_last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", segment.path));
    absl::Status recovered = log->Recover(segment, fd, is_last);
    if (is_last && recovered.ok()) {
      log->active_fd_ = fd;
    } else {
      ::close(fd);
    }
    if (!recovered.ok()) return recovered;
    if (!log->segments_.empty()) {
      const Segment& prev = log->segments_.back();
      if (prev.first_index + prev.records > segment.first_index) {
        return absl::DataLossError(absl::StrCat(prev.path, " holds ", prev.records,
                                                " records, overlapping ", segment.path));
      }
    }
    log->total_bytes_ += segment.file_bytes;
    log->segments_.push_back(std::move(segment));
  }
  if (log->segments_.empty()) {
    absl::Status started = log->StartSegment(0);
    if (!started.ok()) return started;
  }
  return log;
}

absl::Status RecordLog::Recover(Segment& segment, int fd, bool is_last) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, absl::StrCat("stat ", segment.path));
  std::string data;
  absl::Status read = PReadAll(fd, static_cast<uint64_t>(st.st_size), segment.path, &data);
  if (!read.ok()) return read;

  uint64_t offset = 0;
  FrameError error = FrameError::kNone;
  while (offset < data.size()) {
    absl::string_view payload;
    uint64_t next = 0;
    error = ParseFrame(data, offset, /*verify=*/true, &payload, &next);
    if (error != FrameError::kNone) break;
    ++segment.records;
    offset = next;
  }
  segment.valid_bytes = offset;
  segment.file_bytes = data.size();
  if (offset == data.size()) return absl::OkStatus();

  uint64_t bad = data.size() - offset;
  if (is_last) {
    if (::ftruncate(fd, static_cast<off_t>(offset)) != 0) {
      return ErrnoStatus(errno, absl::StrCat("truncate ", segment.path, " to ", offset));
    }
    if (::fdatasync(fd) != 0) return ErrnoStatus(errno, absl::StrCat("sync ", segment.path));
    segment.file_bytes = offset;
    corrupt_tail_bytes_ += bad;
    VIGIL_LOG(Warning) << "record log " << segment.path << ": " << Describe(error) << " at offset "
                       << offset << " (record " << segment.first_index + segment.records
                       << "); truncated " << bad << " bytes of torn tail";
  } else {
    skipped_corrupt_bytes_ += bad;
    VIGIL_LOG(Warning) << "record log " << segment.path << ": " << Describe(error) << " at offset "
                       << offset << " (record " << segment.first_index + segment.records
                       << "); skipping the remaining " << bad << " bytes of this segment";
  }
  return absl::OkStatus();
}

absl::Status RecordLog::StartSegment(uint64_t first_index) {
  if (active_fd_ >= 0 && ::fdatasync(active_fd_) != 0) {
    return ErrnoStatus(errno, absl::StrCat("sync ", segments_.back().path));
  }
  Segment segment;
  segment.first_index = first_index;
  segment.path = SegmentPath(dir_, first_index);
  int fd = ::open(segment.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, absl::StrCat("create ", segment.path));
  absl::Status synced = SyncDir(dir_);
  if (!synced.ok()) {
    ::close(fd);
    ::unlink(segment.path.c_str());
    return synced;
  }
  if (active_fd_ >= 0) ::close(active_fd_);
  active_fd_ = fd;
  active_tail_dirty_ = false;
  segments_.push_back(std::move(segment));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RecordLog::Append(absl::string_view payload) {
  if (payload.empty()) return absl::InvalidArgumentError("record log: empty record");
  if (payload.size() > kMaxRecordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("record log: record of ", payload.size(), " bytes exceeds ", kMaxRecordBytes));
  }
  if (active_tail_dirty_) {
    const Segment& active = segments_.back();
    if (::ftruncate(active_fd_, static_cast<off_t>(active.file_bytes)) != 0) {
      return ErrnoStatus(errno, absl::StrCat("truncate ", active.path, " to ", active.file_bytes));
    }
    active_tail_dirty_ = false;
  }
  const uint64_t frame_bytes = kFrameHeaderBytes + payload.size();
  if (segments_.back().records > 0 &&
      segments_.back().file_bytes + frame_bytes > options_.segment_bytes) {
    absl::Status started = StartSegment(NextIndex());
    if (!started.ok()) return started;
  }

  Segment& active = segments_.back();
  std::string frame(kFrameHeaderBytes, '\0');
  PutU32(frame.data(), static_cast<uint32_t>(payload.size()));
  PutU32(frame.data() + 4, Crc32(payload));
  frame.append(payload.data(), payload.size());

  absl::Status written = PWriteAll(active_fd_, frame, active.file_bytes, active.path);
  if (written.ok() && options_.sync_on_append && ::fdatasync(active_fd_) != 0) {
    written = ErrnoStatus(errno, absl::StrCat("sync ", active.path));
  }
  if (!written.ok()) {
    // Take back whatever part of the frame reached the file, so a reopen cannot see it.
    if (::ftruncate(active_fd_, static_cast<off_t>(active.file_bytes)) != 0) {
      active_tail_dirty_ = true;
    }
    return written;
  }
  const uint64_t index = active.first_index + active.records;
  ++active.records;
  active.file_bytes += frame_bytes;
  active.valid_bytes = active.file_bytes;
  total_bytes_ += frame_bytes;
  return index;
}

absl::Status RecordLog::Sync() {
  if (::fdatasync(active_fd_) != 0) {
    return ErrnoStatus(errno, absl::StrCat("sync ", segments_.back().path));
  }
  return absl::OkStatus();
}

absl::Status RecordLog::ReadFrom(uint64_t index,
                                 const std::function<bool(uint64_t, absl::string_view)>& fn) const {
  // First segment that may hold `index`: the last one starting at or before it.
  auto it =
      std::upper_bound(segments_.begin(), segments_.end(), index,
                       [](uint64_t i, const Segment& segment) { return i < segment.first_index; });
  if (it != segments_.begin()) --it;

  std::string data;
  for (; it != segments_.end(); ++it) {
    const Segment& segment = *it;
    if (segment.records == 0 || segment.first_index + segment.records <= index) continue;
    int fd = ::open(segment.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", segment.path));
    absl::Status read = PReadAll(fd, segment.valid_bytes, segment.path, &data);
    ::close(fd);
    if (!read.ok()) return read;

    uint64_t offset = 0;
    for (uint64_t i = 0; i < segment.records; ++i) {
      const uint64_t record_index = segment.first_index + i;
      absl::string_view payload;
      uint64_t next = 0;
      FrameError error = ParseFrame(data, offset, record_index >= index, &payload, &next);
      if (error != FrameError::kNone) {
        return absl::DataLossError(absl::StrCat("record log ", segment.path, ": ", Describe(error),
                                                " at offset ", offset, " (record ", record_index,
                                                ")"));
      }
      offset = next;
      if (record_index >= index && !fn(record_index, payload)) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status RecordLog::RemoveOldestSegment() {
  const Segment& oldest = segments_.front();
  if (::unlink(oldest.path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("delete ", oldest.path));
  }
  total_bytes_ -= oldest.file_bytes;
  segments_.pop_front();
  return absl::OkStatus();
}

absl::Status RecordLog::DropSegmentsBefore(uint64_t index) {
  while (segments_.size() > 1 &&
         segments_.front().first_index + segments_.front().records <= index) {
    absl::Status removed = RemoveOldestSegment();
    if (!removed.ok()) return removed;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RecordLog::DropOldestSegment() {
  if (segments_.size() == 1) {
    if (segments_.back().records == 0) return 0;
    absl::Status started = StartSegment(NextIndex());
    if (!started.ok()) return started;
  }
  const uint64_t records = segments_.front().records;
  absl::Status removed = RemoveOldestSegment();
  if (!removed.ok()) return removed;
  return records;
}

}  // namespace vigil
