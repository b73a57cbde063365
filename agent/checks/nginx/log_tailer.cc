#include "agent/checks/nginx/log_tailer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vigil::agent::nginx {
namespace {

// Enough to tell a refilled file from the one read so far (a log line usually differs in its
// time, client or request), small enough to compare on every Read().
constexpr size_t kFingerprintBytes = 64;

// pread(2) that retries on EINTR.
ssize_t PRead(int fd, char* buf, size_t size, uint64_t offset) {
  while (true) {
    ssize_t n = ::pread(fd, buf, size, static_cast<off_t>(offset));
    if (n >= 0 || errno != EINTR) return n;
  }
}

}  // namespace

LogTailer::LogTailer(std::string path, uint64_t max_read_bytes, size_t max_line_bytes)
    : path_(std::move(path)),
      max_read_bytes_(std::max<uint64_t>(max_read_bytes, 1)),
      max_line_bytes_(std::max<size_t>(max_line_bytes, 16)) {}

LogTailer::~LogTailer() {
  if (current_) Close(*current_);
  if (rotated_) Close(*rotated_);
}

void LogTailer::Close(OpenFile& file) {
  if (file.fd >= 0) ::close(file.fd);
  file.fd = -1;
}

absl::StatusOr<LogTailer::OpenFile> LogTailer::Open(bool at_end) {
  OpenFile file;
  file.fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (file.fd < 0) {
    int e = errno;
    return absl::ErrnoToStatus(e, absl::StrCat("cannot open access log ", path_));
  }
  struct stat st;
  if (::fstat(file.fd, &st) != 0) {
    int e = errno;
    Close(file);
    return absl::ErrnoToStatus(e, absl::StrCat("cannot stat access log ", path_));
  }
  file.dev = st.st_dev;
  file.ino = st.st_ino;
  if (at_end && st.st_size > 0) {
    file.offset = static_cast<uint64_t>(st.st_size);
    // A line being written as we start belongs to the history that is not replayed.
    char last = '\n';
    if (PRead(file.fd, &last, 1, file.offset - 1) == 1 && last != '\n') {
      file.skip_to_newline = true;
      file.count_skipped = false;
    }
  }
  SetFingerprint(file);
  return file;
}

void LogTailer::SetFingerprint(OpenFile& file) {
  size_t n = static_cast<size_t>(std::min<uint64_t>(file.offset, kFingerprintBytes));
  file.fingerprint.resize(n);
  if (n == 0) return;
  ssize_t got = PRead(file.fd, file.fingerprint.data(), n, file.offset - n);
  if (got != static_cast<ssize_t>(n)) file.fingerprint.clear();
}

uint64_t LogTailer::Unread(const OpenFile& file) const {
  struct stat st;
  if (::fstat(file.fd, &st) != 0) return 0;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  return size > file.offset ? size - file.offset : 0;
}

absl::Status LogTailer::DetectTruncation(OpenFile& file, ReadResult& result) {
  struct stat st;
  if (::fstat(file.fd, &st) != 0) {
    int e = errno;
    return absl::ErrnoToStatus(e, absl::StrCat("cannot stat access log ", path_));
  }
  bool truncated = static_cast<uint64_t>(st.st_size) < file.offset;
  if (!truncated && !file.fingerprint.empty()) {
    std::string now(file.fingerprint.size(), '\0');
    ssize_t n = PRead(file.fd, now.data(), now.size(), file.offset - now.size());
    truncated = n != static_cast<ssize_t>(now.size()) || now != file.fingerprint;
  }
  if (truncated) {
    file.offset = 0;
    file.fingerprint.clear();
    file.skip_to_newline = false;
    result.truncated = true;
  }
  return absl::OkStatus();
}

absl::Status LogTailer::Drain(OpenFile& file, bool final, uint64_t& budget, ReadResult& result,
                              absl::FunctionRef<void(absl::string_view)> on_line) {
  // One chunk always holds a whole line of max_line_bytes_ and its newline, read from the
  // line's start (a partial line at the end of a chunk is read again with the next one).
  const size_t chunk = max_line_bytes_ + 1;
  buffer_.resize(chunk);
  const uint64_t start_offset = file.offset;
  while (budget > 0) {
    ssize_t got = PRead(file.fd, buffer_.data(), chunk, file.offset);
    if (got < 0) {
      int e = errno;
      return absl::ErrnoToStatus(e, absl::StrCat("cannot read access log ", path_));
    }
    const size_t n = static_cast<size_t>(got);
    const bool at_eof = n < chunk;
    absl::string_view data(buffer_.data(), n);
    size_t used = 0;  // bytes of `data` consumed
    if (file.skip_to_newline) {
      size_t nl = data.find('\n');
      if (nl == absl::string_view::npos) {
        used = n;
      } else {
        used = nl + 1;
        file.skip_to_newline = false;
        if (file.count_skipped) ++result.oversized_lines;
      }
    }
    if (!file.skip_to_newline) {
      while (true) {
        size_t nl = data.find('\n', used);
        if (nl == absl::string_view::npos) break;
        on_line(data.substr(used, nl - used));
        ++result.lines;
        used = nl + 1;
      }
      if (at_eof && final && used < n) {
        // The file will not grow: its unterminated last line is all there is of it.
        on_line(data.substr(used));
        ++result.lines;
        used = n;
      } else if (!at_eof && used == 0) {
        // A whole chunk without a newline: skip the line up to its end.
        file.skip_to_newline = true;
        file.count_skipped = true;
        used = n;
      }
    }
    file.offset += used;
    result.bytes += used;
    budget -= std::min<uint64_t>(budget, used);
    if (at_eof) break;
  }
  if (file.offset != start_offset) SetFingerprint(file);
  return absl::OkStatus();
}

absl::StatusOr<LogTailer::ReadResult> LogTailer::Read(
    absl::FunctionRef<void(absl::string_view)> on_line) {
  ReadResult result;
  uint64_t budget = max_read_bytes_;
  const bool first = first_read_;
  first_read_ = false;

  // The previous file after a rename: a worker may still have written to it before it
  // reopened; once it has nothing new, it is closed.
  if (rotated_) {
    uint64_t before = result.bytes;
    absl::Status s = Drain(*rotated_, /*final=*/false, budget, result, on_line);
    if (s.ok() && result.bytes == before && budget > 0) {
      s = Drain(*rotated_, /*final=*/true, budget, result, on_line);
      Close(*rotated_);
      rotated_.reset();
    }
    if (!s.ok()) {
      Close(*rotated_);
      rotated_.reset();
      return s;
    }
  }

  struct stat st;
  bool exists = ::stat(path_.c_str(), &st) == 0;
  if (!exists && errno != ENOENT && errno != ENOTDIR) {
    int e = errno;
    return absl::ErrnoToStatus(e, absl::StrCat("cannot stat access log ", path_));
  }
  if (exists && !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("access log ", path_, " is not a regular file"));
  }

  if (!current_) {
    if (!exists) {
      return absl::NotFoundError(absl::StrCat("access log ", path_, " does not exist"));
    }
    absl::StatusOr<OpenFile> opened = Open(/*at_end=*/first);
    if (!opened.ok()) return opened.status();
    current_ = std::move(*opened);
  } else if (!exists) {
    if (++missing_reads_ > 1) {
      return absl::NotFoundError(
          absl::StrCat("access log ", path_,
                       " is missing (renamed or deleted, and no new file was opened by nginx)"));
    }
  } else if (st.st_dev != current_->dev || st.st_ino != current_->ino) {
    // Renamed away and replaced: first the rest of the old file, then the new one from 0.
    absl::Status s = Drain(*current_, /*final=*/false, budget, result, on_line);
    if (!s.ok()) return s;
    if (budget == 0 && Unread(*current_) > 0) {
      result.backlog_bytes = Unread(*current_) + static_cast<uint64_t>(st.st_size);
      return result;
    }
    absl::StatusOr<OpenFile> opened = Open(/*at_end=*/false);
    if (!opened.ok()) return opened.status();
    if (rotated_) {
      s = Drain(*rotated_, /*final=*/true, budget, result, on_line);
      Close(*rotated_);
    }
    rotated_ = std::move(current_);
    current_ = std::move(*opened);
    result.rotated = true;
    if (!s.ok()) return s;
  }
  if (exists) missing_reads_ = 0;

  absl::Status s = DetectTruncation(*current_, result);
  if (s.ok()) s = Drain(*current_, /*final=*/false, budget, result, on_line);
  if (!s.ok()) return s;
  result.backlog_bytes = Unread(*current_) + (rotated_ ? Unread(*rotated_) : 0);
  return result;
}

}  // namespace vigil::agent::nginx
