#ifndef VIGIL_AGENT_CHECKS_NGINX_LOG_TAILER_H_
#define VIGIL_AGENT_CHECKS_NGINX_LOG_TAILER_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vigil::agent::nginx {

// Follows a log file that a server appends to, across rotation, reading only complete lines.
//
// - The first Read() positions at the end of the file when it exists then (history is not
//   replayed); a file that appears later (or a new file after rotation) is read from its start.
// - Rotation by rename (logrotate's default, then `nginx -s reopen`): when the path names a
//   new inode, the rest of the old file is read first, then the new file from offset 0. The
//   old file stays open for one more Read() in case a worker writes to it before reopening.
// - Rotation by copytruncate: when the file is shorter than the read offset, or the bytes just
//   before the offset changed (truncated and already refilled), reading restarts at 0.
// - While the path is missing but the old file is still open (between the rename and the
//   reopen), one Read() continues on the old file; from the second such Read() on, Read()
//   fails with NotFound (and leaves the old file's unread lines for later).
// - At most `max_read_bytes` (plus one chunk) are consumed per Read(); the rest is carried over.
// - A line longer than `max_line_bytes` is skipped and counted in ReadResult::oversized_lines.
//
// Not thread-safe: one thread (the check's collecting thread) calls Read().
class LogTailer {
 public:
  struct ReadResult {
    uint64_t bytes = 0;            // bytes consumed by this Read()
    uint64_t lines = 0;            // lines passed to the callback
    uint64_t oversized_lines = 0;  // lines skipped for length (not passed to the callback)
    uint64_t backlog_bytes = 0;    // bytes left unread in the files after this Read()
    bool rotated = false;          // switched to a new file after a rename
    bool truncated = false;        // restarted at 0 after a truncation
  };

  LogTailer(std::string path, uint64_t max_read_bytes, size_t max_line_bytes = 64 * 1024);
  ~LogTailer();
  LogTailer(const LogTailer&) = delete;
  LogTailer& operator=(const LogTailer&) = delete;

  // Calls `on_line` with each complete line (without the newline) appended since the last
  // call. Errors: NotFound when the file is missing (see above), PermissionDenied and others
  // from open/read, each naming the path.
  absl::StatusOr<ReadResult> Read(absl::FunctionRef<void(absl::string_view)> on_line);

  const std::string& path() const { return path_; }

 private:
  struct OpenFile {
    int fd = -1;
    dev_t dev = 0;
    ino_t ino = 0;
    uint64_t offset = 0;           // start of the first byte not consumed
    std::string fingerprint;       // the bytes just before `offset` when it was last set
    bool skip_to_newline = false;  // inside a line being skipped
    bool count_skipped = false;    // ...because it is too long (else: a partial first line)
  };

  // Opens `path_`; at_end positions after the last complete line.
  absl::StatusOr<OpenFile> Open(bool at_end);
  // Consumes complete lines from `file` until EOF or the budget is spent. With `final`, a
  // last line without a newline is passed on too (the file will not grow any more).
  absl::Status Drain(OpenFile& file, bool final, uint64_t& budget, ReadResult& result,
                     absl::FunctionRef<void(absl::string_view)> on_line);
  // Restarts `file` at 0 when it was truncated since the last Read().
  absl::Status DetectTruncation(OpenFile& file, ReadResult& result);
  void SetFingerprint(OpenFile& file);
  uint64_t Unread(const OpenFile& file) const;
  static void Close(OpenFile& file);

  // Constant after construction.
  const std::string path_;
  const uint64_t max_read_bytes_;
  const size_t max_line_bytes_;

  // State between Read() calls.
  bool first_read_ = true;
  int missing_reads_ = 0;  // consecutive Read() calls that found the path missing
  std::optional<OpenFile> current_;
  std::optional<OpenFile> rotated_;  // the previous file after a rename, read once more
  std::vector<char> buffer_;
};

}  // namespace vigil::agent::nginx

#endif  // VIGIL_AGENT_CHECKS_NGINX_LOG_TAILER_H_
