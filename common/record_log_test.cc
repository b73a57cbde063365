#include "common/record_log.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ScratchDir = ::vigil::testing::TempDir;

RecordLog::Options SmallSegments(uint64_t segment_bytes) {
  RecordLog::Options options;
  options.segment_bytes = segment_bytes;
  return options;
}

std::unique_ptr<RecordLog> OpenOrDie(const std::string& dir, const RecordLog::Options& options) {
  absl::StatusOr<std::unique_ptr<RecordLog>> log = RecordLog::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : nullptr;
}

std::string Payload(uint64_t i) { return absl::StrFormat("record-%04d", i); }  // 11 bytes

// Every (index, payload) from `from` on.
std::vector<std::pair<uint64_t, std::string>> ReadAll(const RecordLog& log, uint64_t from = 0) {
  std::vector<std::pair<uint64_t, std::string>> out;
  absl::Status status = log.ReadFrom(from, [&](uint64_t index, absl::string_view payload) {
    out.emplace_back(index, std::string(payload));
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

std::vector<std::string> SegmentNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

uint64_t BytesOnDisk(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) total += entry.file_size();
  return total;
}

void AppendBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x01));
}

constexpr uint64_t kFrame = RecordLog::kFrameHeaderBytes + 11;  // one Payload() record

TEST(RecordLog, ReadsBackEveryRecordInOrderAcrossSegments) {
  ScratchDir dir;
  auto log = OpenOrDie(dir.path(), SmallSegments(3 * kFrame));  // three records per segment
  for (uint64_t i = 0; i < 10; ++i) {
    absl::StatusOr<uint64_t> index = log->Append(Payload(i));
    ASSERT_TRUE(index.ok()) << index.status();
    EXPECT_EQ(*index, i);
  }
  EXPECT_EQ(log->SegmentCount(), 4u);
  EXPECT_THAT(SegmentNames(dir.path()),
              ElementsAre("00000000000000000000.seg", "00000000000000000003.seg",
                          "00000000000000000006.seg", "00000000000000000009.seg"));
  auto records = ReadAll(*log);
  ASSERT_EQ(records.size(), 10u);
  for (uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(records[i].first, i);
    EXPECT_EQ(records[i].second, Payload(i));
  }
  EXPECT_EQ(log->TotalBytes(), 10 * kFrame);
  EXPECT_EQ(BytesOnDisk(dir.path()), 10 * kFrame);
}

TEST(RecordLog, ReadFromStartsAtIndexAndStopsWhenToldTo) {
  ScratchDir dir;
  auto log = OpenOrDie(dir.path(), SmallSegments(3 * kFrame));
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(log->Append(Payload(i)).ok());
  std::vector<uint64_t> seen;
  ASSERT_TRUE(log->ReadFrom(4,
                            [&](uint64_t index, absl::string_view) {
                              seen.push_back(index);
                              return seen.size() < 3;
                            })
                  .ok());
  EXPECT_THAT(seen, ElementsAre(4, 5, 6));
  EXPECT_TRUE(ReadAll(*log, 10).empty());
}

TEST(RecordLog, ReopenKeepsRecordsAndContinuesIndices) {
  ScratchDir dir;
  {
    auto log = OpenOrDie(dir.path(), SmallSegments(3 * kFrame));
    for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(Payload(i)).ok());
    ASSERT_TRUE(log->Sync().ok());
  }
  auto log = OpenOrDie(dir.path(), SmallSegments(3 * kFrame));
  EXPECT_EQ(log->FirstIndex(), 0u);
  EXPECT_EQ(log->NextIndex(), 5u);
  EXPECT_EQ(log->TotalBytes(), 5 * kFrame);
  absl::StatusOr<uint64_t> index = log->Append(Payload(5));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(*index, 5u);
  auto records = ReadAll(*log);
  ASSERT_EQ(records.size(), 6u);
  EXPECT_EQ(records[5].second, Payload(5));
  EXPECT_EQ(log->corrupt_tail_bytes(), 0u);
}

TEST(RecordLog, OpenCreatesMissingDirectoryWithOwnerOnlyMode) {
  ScratchDir dir;
  const std::string nested = dir.path() + "/a/b/log";
  auto log = OpenOrDie(nested, RecordLog::Options());
  struct stat st;
  ASSERT_EQ(::stat(nested.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(log->NextIndex(), 0u);
  EXPECT_EQ(log->FirstIndex(), 0u);
}

TEST(RecordLog, TornTailIsTruncatedAtLastWholeRecord) {
  ScratchDir dir;
  {
    auto log = OpenOrDie(dir.path(), RecordLog::Options());
    for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(Payload(i)).ok());
  }
  const std::string segment = dir.path() + "/00000000000000000000.seg";
  // A header promising 11 bytes followed by only 4 of them: a write cut short by a crash.
  AppendBytes(segment, std::string("\x0b\x00\x00\x00\x12\x34\x56\x78"
                                   "reco",
                                   12));

  auto log = OpenOrDie(dir.path(), RecordLog::Options());
  EXPECT_EQ(log->corrupt_tail_bytes(), 12u);
  EXPECT_EQ(log->NextIndex(), 3u);
  EXPECT_EQ(std::filesystem::file_size(segment), 3 * kFrame);
  absl::StatusOr<uint64_t> index = log->Append(Payload(3));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(*index, 3u);
  log.reset();

  log = OpenOrDie(dir.path(), RecordLog::Options());
  EXPECT_EQ(log->corrupt_tail_bytes(), 0u);
  auto records = ReadAll(*log);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[3].second, Payload(3));
}

TEST(RecordLog, ZeroFilledTailIsTreatedAsTorn) {
  ScratchDir dir;
  {
    auto log = OpenOrDie(dir.path(), RecordLog::Options());
    ASSERT_TRUE(log->Append(Payload(0)).ok());
  }
  AppendBytes(dir.path() + "/00000000000000000000.seg", std::string(4096, '\0'));
  auto log = OpenOrDie(dir.path(), RecordLog::Options());
  EXPECT_EQ(log->corrupt_tail_bytes(), 4096u);
  EXPECT_EQ(log->NextIndex(), 1u);
}

TEST(RecordLog, BitFlipInLastSegmentDropsThatRecordAndAllAfterIt) {
  ScratchDir dir;
  {
    auto log = OpenOrDie(dir.path(), RecordLog::Options());
    for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(Payload(i)).ok());
  }
  // A payload byte of record 1.
  FlipByte(dir.path() + "/00000000000000000000.seg", kFrame + RecordLog::kFrameHeaderBytes + 3);
  auto log = OpenOrDie(dir.path(), RecordLog::Options());
  EXPECT_EQ(log->corrupt_tail_bytes(), 2 * kFrame);
  auto records = ReadAll(*log);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].second, Payload(0));
  EXPECT_EQ(log->NextIndex(), 1u);
}

TEST(RecordLog, BitFlipInOlderSegmentSkipsRestOfThatSegmentOnly) {
  ScratchDir dir;
  {
    auto log = OpenOrDie(dir.path(), SmallSegments(3 * kFrame));
    for (uint64_t i = 0; i < 9; ++i) ASSERT_TRUE(log->Append(Payload(i)).ok());
  }
  // Record 4 is the middle record of the second segment; flip a byte of its length.
  FlipByte(dir.path() + "/00000000000000000003.seg", kFrame + 1);
  auto log = OpenOrDie(dir.path(), SmallSegments(3 * kFrame));
  EXPECT_EQ(log->skipped_corrupt_bytes(), 2 * kFrame);
  EXPECT_EQ(log->corrupt_tail_bytes(), 0u);
  std::vector<uint64_t> indices;
  for (const auto& [index, payload] : ReadAll(*log)) {
    EXPECT_EQ(payload, Payload(index));
    indices.push_back(index);
  }
  EXPECT_THAT(indices, ElementsAre(0, 1, 2, 3, 6, 7, 8));
  EXPECT_EQ(log->NextIndex(), 9u);
  EXPECT_EQ(log->TotalBytes(), 9 * kFrame);
}

TEST(RecordLog, ChecksumMismatchAfterOpenIsReportedAsDataLoss) {
  ScratchDir dir;
  auto log = OpenOrDie(dir.path(), RecordLog::Options());
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(log->Append(Payload(i)).ok());
  FlipByte(dir.path() + "/00000000000000000000.seg", kFrame + RecordLog::kFrameHeaderBytes);
  absl::Status status = log->ReadFrom(0, [](uint64_t, absl::string_view) { return true; });
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("00000000000000000000.seg"));
  EXPECT_THAT(status.message(), HasSubstr("record 1"));
}

TEST(RecordLog, DropSegmentsBeforeDeletesOnlyWholeOlderSegments) {
  ScratchDir dir;
  auto log = OpenOrDie(dir.path(), SmallSegments(3 * kFrame));
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(log->Append(Payload(i)).ok());
  // Segments: [0,3) [3,6) [6,8). Index 5 is inside the second, so only the first goes.
  ASSERT_TRUE(log->DropSegmentsBefore(5).ok());
  EXPECT_EQ(log->FirstIndex(), 3u);
  EXPECT_THAT(SegmentNames(dir.path()),
              ElementsAre("00000000000000000003.seg", "00000000000000000006.seg"));
  EXPECT_EQ(ReadAll(*log).front().first, 3u);
  EXPECT_EQ(log->TotalBytes(), 5 * kFrame);
  EXPECT_EQ(BytesOnDisk(dir.path()), 5 * kFrame);

  // Even when every record is older, the active segment stays.
  ASSERT_TRUE(log->DropSegmentsBefore(100).ok());
  EXPECT_THAT(SegmentNames(dir.path()), ElementsAre("00000000000000000006.seg"));
  EXPECT_EQ(log->NextIndex(), 8u);
  EXPECT_EQ(log->TotalBytes(), 2 * kFrame);
}

TEST(RecordLog, DropOldestSegmentReturnsItsRecordCount) {
  ScratchDir dir;
  auto log = OpenOrDie(dir.path(), SmallSegments(3 * kFrame));
  for (uint64_t i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(Payload(i)).ok());
  absl::StatusOr<uint64_t> dropped = log->DropOldestSegment();
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(*dropped, 3u);
  EXPECT_EQ(log->FirstIndex(), 3u);
  EXPECT_EQ(log->TotalBytes(), 2 * kFrame);
}

TEST(RecordLog, DropOldestSegmentEmptiesActiveSegmentWithoutReusingIndices) {
  ScratchDir dir;
  {
    auto log = OpenOrDie(dir.path(), SmallSegments(3 * kFrame));
    for (uint64_t i = 0; i < 2; ++i) ASSERT_TRUE(log->Append(Payload(i)).ok());
    absl::StatusOr<uint64_t> dropped = log->DropOldestSegment();
    ASSERT_TRUE(dropped.ok()) << dropped.status();
    EXPECT_EQ(*dropped, 2u);
    EXPECT_EQ(log->TotalBytes(), 0u);
    EXPECT_EQ(log->FirstIndex(), 2u);
    dropped = log->DropOldestSegment();
    ASSERT_TRUE(dropped.ok());
    EXPECT_EQ(*dropped, 0u);
  }
  auto log = OpenOrDie(dir.path(), SmallSegments(3 * kFrame));
  absl::StatusOr<uint64_t> index = log->Append(Payload(2));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(*index, 2u);
}

TEST(RecordLog, EmptyRecordIsRejected) {
  ScratchDir dir;
  auto log = OpenOrDie(dir.path(), RecordLog::Options());
  EXPECT_EQ(log->Append("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->NextIndex(), 0u);
}

// Mounts a tmpfs of `size` on `dir` in a private mount namespace of this process (the host
// never sees it). Returns false if this process may not do so.
bool MountTinyTmpfs(const std::string& dir, const std::string& size) {
  if (::unshare(CLONE_NEWNS) != 0) {
    // Unprivileged: become root of a new user namespace (needs a single-threaded process).
    const uid_t uid = ::getuid();
    const gid_t gid = ::getgid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return false;
    std::ofstream("/proc/self/setgroups") << "deny";
    std::ofstream("/proc/self/uid_map") << "0 " << uid << " 1";
    std::ofstream("/proc/self/gid_map") << "0 " << gid << " 1";
  }
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  return ::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("mode=0700,size=" + size).c_str()) == 0;
}

TEST(RecordLog, FullDiskFailsAppendWithResourceExhaustedAndKeepsLogUsable) {
  ScratchDir scratch;
  const std::string mount_point = scratch.path() + "/tmpfs";
  ASSERT_EQ(::mkdir(mount_point.c_str(), 0700), 0);
  if (!MountTinyTmpfs(mount_point, "64k")) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root or user namespaces)";
  }
  const std::string dir = mount_point + "/log";
  // Four 3008-byte frames per segment use three of the 16 pages and leave part of the last
  // one free, so the append that fills the disk is cut short inside a frame.
  const std::string record(3000, 'x');
  const RecordLog::Options options = SmallSegments(12 * 1024);
  uint64_t written = 0;
  {
    auto log = OpenOrDie(dir, options);
    absl::Status failure;
    while (written < 1000) {
      absl::StatusOr<uint64_t> index = log->Append(record);
      if (!index.ok()) {
        failure = index.status();
        break;
      }
      ++written;
    }
    EXPECT_EQ(failure.code(), absl::StatusCode::kResourceExhausted) << failure;
    EXPECT_THAT(failure.message(), HasSubstr(".seg"));
    EXPECT_GE(written, 16u);
    EXPECT_EQ(log->NextIndex(), written);
    EXPECT_EQ(log->TotalBytes(), written * (record.size() + RecordLog::kFrameHeaderBytes));
    EXPECT_EQ(BytesOnDisk(dir), log->TotalBytes());

    // Freeing space makes the same log object accept records again.
    ASSERT_TRUE(log->DropSegmentsBefore(16).ok());
    absl::StatusOr<uint64_t> index = log->Append(record);
    ASSERT_TRUE(index.ok()) << index.status();
    EXPECT_EQ(*index, written);
    ++written;
  }
  auto log = OpenOrDie(dir, options);
  EXPECT_EQ(log->corrupt_tail_bytes(), 0u);
  EXPECT_EQ(log->skipped_corrupt_bytes(), 0u);
  EXPECT_EQ(log->NextIndex(), written);
  auto records = ReadAll(*log);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().first, written - 1);
  for (const auto& [index, payload] : records) EXPECT_EQ(payload, record) << index;
  log.reset();
  ::umount2(mount_point.c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace vigil
