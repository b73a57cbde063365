#include "agent/checks/nginx/log_tailer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::nginx {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Appends as nginx does: O_APPEND, one write per call.
void Append(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
}

class LogTailerTest : public ::testing::Test {
 protected:
  // Reads once and returns the lines (or fails the test on an error).
  std::vector<std::string> ReadLines(LogTailer& tailer, LogTailer::ReadResult* result = nullptr) {
    std::vector<std::string> lines;
    absl::StatusOr<LogTailer::ReadResult> r =
        tailer.Read([&](absl::string_view line) { lines.emplace_back(line); });
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok() && result != nullptr) *result = *r;
    if (r.ok()) {
      EXPECT_EQ(r->lines, lines.size());
    }
    return lines;
  }

  testing::TempDir dir_;
  std::string log_ = dir_.Join("access.log");
};

TEST_F(LogTailerTest, FirstReadStartsAtTheEndOfAnExistingFile) {
  Append(log_, "old 1\nold 2\n");
  LogTailer tailer(log_, 1 << 20);
  LogTailer::ReadResult r;
  EXPECT_THAT(ReadLines(tailer, &r), IsEmpty());
  EXPECT_EQ(r.backlog_bytes, 0u);
  Append(log_, "new 1\nnew 2\n");
  EXPECT_THAT(ReadLines(tailer, &r), ElementsAre("new 1", "new 2"));
  EXPECT_EQ(r.bytes, 12u);
  EXPECT_THAT(ReadLines(tailer), IsEmpty());
}

TEST_F(LogTailerTest, PartialLineWaitsForItsNewline) {
  Append(log_, "");
  LogTailer tailer(log_, 1 << 20);
  ReadLines(tailer);
  Append(log_, "first\nhal");
  EXPECT_THAT(ReadLines(tailer), ElementsAre("first"));
  Append(log_, "f\n");
  EXPECT_THAT(ReadLines(tailer), ElementsAre("half"));
}

TEST_F(LogTailerTest, LineBeingWrittenAtStartIsHistory) {
  Append(log_, "old\nhalf of an old li");
  LogTailer tailer(log_, 1 << 20);
  LogTailer::ReadResult r;
  EXPECT_THAT(ReadLines(tailer), IsEmpty());
  Append(log_, "ne\nnew\n");
  EXPECT_THAT(ReadLines(tailer, &r), ElementsAre("new"));
  EXPECT_EQ(r.oversized_lines, 0u);
}

TEST_F(LogTailerTest, MissingFileIsNotFoundAndReadFromItsStartWhenItAppears) {
  LogTailer tailer(log_, 1 << 20);
  absl::StatusOr<LogTailer::ReadResult> r = tailer.Read([](absl::string_view) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "access log " + log_ + " does not exist");
  Append(log_, "a\nb\n");
  EXPECT_THAT(ReadLines(tailer), ElementsAre("a", "b"));
}

TEST_F(LogTailerTest, DirectoryIsNotALog) {
  LogTailer tailer(dir_.path(), 1 << 20);
  absl::StatusOr<LogTailer::ReadResult> r = tailer.Read([](absl::string_view) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("is not a regular file"));
}

TEST_F(LogTailerTest, RenameReadsTheRestOfTheOldFileThenTheNewOne) {
  Append(log_, "history\n");
  LogTailer tailer(log_, 1 << 20);
  ReadLines(tailer);
  Append(log_, "1\n2\n");
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  Append(log_, "3\n");            // nginx reopened: the new file
  Append(log_ + ".1", "late\n");  // a worker that had not reopened yet
  LogTailer::ReadResult r;
  EXPECT_THAT(ReadLines(tailer, &r), ElementsAre("1", "2", "late", "3"));
  EXPECT_TRUE(r.rotated);
  // The old file is read once more for what was written after the switch ...
  Append(log_ + ".1", "later\n");
  Append(log_, "4\n");
  EXPECT_THAT(ReadLines(tailer, &r), ElementsAre("later", "4"));
  EXPECT_FALSE(r.rotated);
  // ... and closed once it has nothing new.
  EXPECT_THAT(ReadLines(tailer), IsEmpty());
  Append(log_ + ".1", "after close\n");
  Append(log_, "5\n");
  EXPECT_THAT(ReadLines(tailer), ElementsAre("5"));
}

TEST_F(LogTailerTest, UnterminatedLastLineOfTheOldFileIsReadWhenItIsClosed) {
  Append(log_, "");
  LogTailer tailer(log_, 1 << 20);
  ReadLines(tailer);
  Append(log_, "1\ncut");
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  Append(log_, "2\n");
  EXPECT_THAT(ReadLines(tailer), ElementsAre("1", "2"));
  EXPECT_THAT(ReadLines(tailer), ElementsAre("cut"));
}

TEST_F(LogTailerTest, MissingPathAfterRenameIsToleratedOnceThenAnError) {
  Append(log_, "");
  LogTailer tailer(log_, 1 << 20);
  ReadLines(tailer);
  Append(log_, "1\n");
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  EXPECT_THAT(ReadLines(tailer), ElementsAre("1"));  // before nginx reopens
  Append(log_ + ".1", "2\n");
  absl::StatusOr<LogTailer::ReadResult> r = tailer.Read([](absl::string_view) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(log_ + " is missing"));
  // The reopen comes late: nothing written to the old file in between is lost.
  Append(log_, "3\n");
  EXPECT_THAT(ReadLines(tailer), ElementsAre("2", "3"));
}

TEST_F(LogTailerTest, CopytruncateToAShorterFileRestartsAtZero) {
  Append(log_, "history line\n");
  LogTailer tailer(log_, 1 << 20);
  ReadLines(tailer);
  Append(log_, "1\n2\n");
  EXPECT_THAT(ReadLines(tailer), ElementsAre("1", "2"));
  std::filesystem::copy_file(log_, log_ + ".1");
  ASSERT_EQ(::truncate(log_.c_str(), 0), 0);
  Append(log_, "3\n");
  LogTailer::ReadResult r;
  EXPECT_THAT(ReadLines(tailer, &r), ElementsAre("3"));
  EXPECT_TRUE(r.truncated);
  EXPECT_FALSE(r.rotated);
}

TEST_F(LogTailerTest, CopytruncateRefilledBeyondTheOffsetIsSeen) {
  Append(log_, "");
  LogTailer tailer(log_, 1 << 20);
  ReadLines(tailer);
  Append(log_, "GET /a 200\nGET /b 200\n");
  EXPECT_THAT(ReadLines(tailer), ElementsAre("GET /a 200", "GET /b 200"));
  ASSERT_EQ(::truncate(log_.c_str(), 0), 0);
  Append(log_, "GET /c 500\nGET /d 404\nGET /e 200\n");  // longer than before the truncation
  LogTailer::ReadResult r;
  EXPECT_THAT(ReadLines(tailer, &r), ElementsAre("GET /c 500", "GET /d 404", "GET /e 200"));
  EXPECT_TRUE(r.truncated);
}

TEST_F(LogTailerTest, ReadIsBoundedAndCarriesTheRestOver) {
  Append(log_, "");
  LogTailer tailer(log_, /*max_read_bytes=*/100, /*max_line_bytes=*/16);
  ReadLines(tailer);
  std::string text;
  for (int i = 0; i < 50; ++i) text += "line-" + std::to_string(100 + i) + "\n";  // 9 bytes
  Append(log_, text);
  LogTailer::ReadResult r;
  std::vector<std::string> first = ReadLines(tailer, &r);
  EXPECT_GE(first.size(), 11u);  // 100 bytes, plus at most one 17-byte chunk
  EXPECT_LE(first.size(), 13u);
  EXPECT_EQ(r.backlog_bytes, 450 - r.bytes);
  std::vector<std::string> all = first;
  for (int i = 0; i < 10 && all.size() < 50; ++i) {
    std::vector<std::string> more = ReadLines(tailer);
    all.insert(all.end(), more.begin(), more.end());
  }
  ASSERT_EQ(all.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(all[i], "line-" + std::to_string(100 + i));
}

TEST_F(LogTailerTest, OverlongLinesAreSkippedAndCounted) {
  Append(log_, "");
  LogTailer tailer(log_, 1 << 20, /*max_line_bytes=*/16);
  ReadLines(tailer);
  Append(log_, "short\n" + std::string(100, 'x') + "\n" + std::string(16, 'y') + "\nafter\n");
  LogTailer::ReadResult r;
  EXPECT_THAT(ReadLines(tailer, &r), ElementsAre("short", std::string(16, 'y'), "after"));
  EXPECT_EQ(r.oversized_lines, 1u);
}

TEST_F(LogTailerTest, OverlongLineStillBeingWrittenIsSkippedAcrossReads) {
  Append(log_, "");
  LogTailer tailer(log_, 1 << 20, /*max_line_bytes=*/16);
  ReadLines(tailer);
  Append(log_, std::string(40, 'x'));
  EXPECT_THAT(ReadLines(tailer), IsEmpty());
  Append(log_, std::string(40, 'x') + "\nok\n");
  LogTailer::ReadResult r;
  EXPECT_THAT(ReadLines(tailer, &r), ElementsAre("ok"));
  EXPECT_EQ(r.oversized_lines, 1u);
}

}  // namespace
}  // namespace vigil::agent::nginx
