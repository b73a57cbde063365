#include "agent/spool/spool.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ScratchDir = ::vigil::testing::TempDir;

// A batch of `points` points of one series; values encode `tag` so contents can be checked.
vigil::v1::SpooledBatch MakeBatch(int points, double tag = 0) {
  vigil::v1::SpooledBatch batch;
  auto* series = batch.add_series();
  series->set_id(1);
  series->set_metric("system.cpu.utilization");
  auto* label = series->add_labels();
  label->set_name("cpu");
  label->set_value("total");
  for (int i = 0; i < points; ++i) {
    auto* point = batch.add_points();
    point->set_series_id(1);
    point->set_timestamp_ms(1'790'000'000'000 + i * 10'000);
    point->set_value(tag + i);
  }
  return batch;
}

Spool::Options OptionsFor(const std::string& dir, uint64_t segment_bytes = 1 << 20,
                          uint64_t max_bytes = 256 << 20) {
  Spool::Options options;
  options.directory = dir;
  options.segment_bytes = segment_bytes;
  options.max_bytes = max_bytes;
  options.retain_acked = absl::ZeroDuration();  // replay retention has tests of its own
  return options;
}

std::unique_ptr<Spool> OpenOrDie(const Spool::Options& options) {
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(options);
  EXPECT_TRUE(spool.ok()) << spool.status();
  return spool.ok() ? *std::move(spool) : nullptr;
}

std::vector<uint64_t> Sequences(const std::vector<vigil::v1::SpooledBatch>& batches) {
  std::vector<uint64_t> out;
  for (const auto& batch : batches) out.push_back(batch.sequence());
  return out;
}

std::vector<uint64_t> ReadSequencesAfter(Spool& spool, uint64_t sequence, size_t max = 1000) {
  absl::StatusOr<std::vector<vigil::v1::SpooledBatch>> batches = spool.ReadAfter(sequence, max);
  EXPECT_TRUE(batches.ok()) << batches.status();
  return batches.ok() ? Sequences(*batches) : std::vector<uint64_t>{};
}

size_t SegmentFiles(const std::string& dir) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".seg") ++n;
  }
  return n;
}

// Bytes one batch of MakeBatch(points) occupies in the log (sequence below 128).
uint64_t FrameBytes(int points) {
  vigil::v1::SpooledBatch batch = MakeBatch(points);
  batch.set_sequence(1);
  return RecordLog::kFrameHeaderBytes + batch.ByteSizeLong();
}

TEST(Spool, AssignsSequencesFromOneIgnoringCallerValue) {
  ScratchDir dir;
  auto spool = OpenOrDie(OptionsFor(dir.path()));
  EXPECT_EQ(spool->LastSequence(), 0u);
  EXPECT_EQ(spool->FirstSequence(), 1u);
  vigil::v1::SpooledBatch batch = MakeBatch(2);
  batch.set_sequence(99);
  for (uint64_t expected = 1; expected <= 3; ++expected) {
    absl::StatusOr<uint64_t> sequence = spool->Append(batch);
    ASSERT_TRUE(sequence.ok()) << sequence.status();
    EXPECT_EQ(*sequence, expected);
  }
  EXPECT_EQ(spool->LastSequence(), 3u);
  EXPECT_EQ(spool->FirstSequence(), 1u);
  EXPECT_EQ(spool->PendingBatches(), 3u);
  EXPECT_EQ(spool->AckedSequence(), 0u);
}

TEST(Spool, ReadAfterReturnsLaterBatchesInOrderWithTheirContents) {
  ScratchDir dir;
  auto spool = OpenOrDie(OptionsFor(dir.path()));
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(spool->Append(MakeBatch(i, 100.0 * i)).ok());

  absl::StatusOr<std::vector<vigil::v1::SpooledBatch>> batches = spool->ReadAfter(2, 10);
  ASSERT_TRUE(batches.ok()) << batches.status();
  EXPECT_THAT(Sequences(*batches), ElementsAre(3, 4, 5));
  EXPECT_EQ((*batches)[0].points_size(), 3);
  EXPECT_EQ((*batches)[0].points(2).value(), 302.0);
  EXPECT_EQ((*batches)[0].series(0).metric(), "system.cpu.utilization");

  EXPECT_THAT(ReadSequencesAfter(*spool, 0, 2), ElementsAre(1, 2));
  EXPECT_TRUE(ReadSequencesAfter(*spool, 5).empty());
}

TEST(Spool, ReadAfterSkipsAcknowledgedBatches) {
  ScratchDir dir;
  auto spool = OpenOrDie(OptionsFor(dir.path()));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(spool->Append(MakeBatch(1)).ok());
  ASSERT_TRUE(spool->Ack(3).ok());
  EXPECT_THAT(ReadSequencesAfter(*spool, 0), ElementsAre(4, 5));
  EXPECT_EQ(spool->AckedSequence(), 3u);
  EXPECT_EQ(spool->FirstSequence(), 4u);
  EXPECT_EQ(spool->PendingBatches(), 2u);
}

TEST(Spool, AckDeletesSegmentsHoldingOnlyAcknowledgedBatches) {
  ScratchDir dir;
  const uint64_t frame = FrameBytes(4);
  auto spool = OpenOrDie(OptionsFor(dir.path(), 2 * frame, 100 * frame));  // 2 per segment
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(spool->Append(MakeBatch(4)).ok());
  EXPECT_EQ(SegmentFiles(dir.path()), 4u);  // {1,2} {3,4} {5,6} {7}
  EXPECT_EQ(spool->TotalBytes(), 7 * frame);

  ASSERT_TRUE(spool->Ack(5).ok());  // {5,6} still holds 6
  EXPECT_EQ(SegmentFiles(dir.path()), 2u);
  EXPECT_EQ(spool->TotalBytes(), 3 * frame);
  EXPECT_THAT(ReadSequencesAfter(*spool, 0), ElementsAre(6, 7));

  ASSERT_TRUE(spool->Ack(7).ok());  // the active segment {7} stays
  EXPECT_EQ(SegmentFiles(dir.path()), 1u);
  EXPECT_EQ(spool->PendingBatches(), 0u);
  EXPECT_EQ(spool->FirstSequence(), 8u);
}

TEST(Spool, AckIsPersistedAcrossReopen) {
  ScratchDir dir;
  {
    auto spool = OpenOrDie(OptionsFor(dir.path()));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(spool->Append(MakeBatch(1)).ok());
    ASSERT_TRUE(spool->Ack(3).ok());
    ASSERT_TRUE(spool->Ack(2).ok());  // a stale ack changes nothing
  }
  std::ifstream acked(dir.path() + "/acked");
  std::string text((std::istreambuf_iterator<char>(acked)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "3\n");

  auto spool = OpenOrDie(OptionsFor(dir.path()));
  EXPECT_EQ(spool->AckedSequence(), 3u);
  EXPECT_EQ(spool->PendingBatches(), 2u);
  EXPECT_EQ(spool->FirstSequence(), 4u);
  EXPECT_THAT(ReadSequencesAfter(*spool, 0), ElementsAre(4, 5));
  absl::StatusOr<uint64_t> next = spool->Append(MakeBatch(1));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 6u);
}

TEST(Spool, RestartKeepsEveryPendingBatch) {
  ScratchDir dir;
  const uint64_t frame = FrameBytes(3);
  const Spool::Options options = OptionsFor(dir.path(), 3 * frame, 100 * frame);
  {
    auto spool = OpenOrDie(options);
    for (int i = 1; i <= 10; ++i) ASSERT_TRUE(spool->Append(MakeBatch(3, 10.0 * i)).ok());
  }
  auto spool = OpenOrDie(options);
  EXPECT_EQ(spool->PendingBatches(), 10u);
  EXPECT_EQ(spool->LastSequence(), 10u);
  EXPECT_EQ(spool->FirstSequence(), 1u);
  absl::StatusOr<std::vector<vigil::v1::SpooledBatch>> batches = spool->ReadAfter(0, 100);
  ASSERT_TRUE(batches.ok()) << batches.status();
  ASSERT_EQ(batches->size(), 10u);
  for (int i = 1; i <= 10; ++i) {
    const auto& batch = (*batches)[i - 1];
    EXPECT_EQ(batch.sequence(), static_cast<uint64_t>(i));
    ASSERT_EQ(batch.points_size(), 3);
    EXPECT_EQ(batch.points(0).value(), 10.0 * i);
  }
}

TEST(Spool, NumberingContinuesAfterAcknowledgedSegmentsAreGone) {
  ScratchDir dir;
  {
    auto spool = OpenOrDie(OptionsFor(dir.path()));
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(spool->Append(MakeBatch(1)).ok());
    ASSERT_TRUE(spool->Ack(3).ok());
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".seg") std::filesystem::remove(entry.path());
  }
  auto spool = OpenOrDie(OptionsFor(dir.path()));
  EXPECT_EQ(spool->LastSequence(), 3u);
  EXPECT_EQ(spool->FirstSequence(), 4u);
  absl::StatusOr<uint64_t> next = spool->Append(MakeBatch(1));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 4u);
}

TEST(Spool, AckBeyondLastSequenceMakesNumberingContinueAfterIt) {
  ScratchDir dir;
  auto spool = OpenOrDie(OptionsFor(dir.path()));
  ASSERT_TRUE(spool->Append(MakeBatch(1)).ok());
  ASSERT_TRUE(spool->Ack(500).ok());
  EXPECT_EQ(spool->PendingBatches(), 0u);
  absl::StatusOr<uint64_t> next = spool->Append(MakeBatch(1));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 501u);
}

TEST(Spool, MaxBytesDropsOldestSegmentFirstWithExactCounters) {
  ScratchDir dir;
  const uint64_t frame = FrameBytes(7);
  // Three batches per segment, two segments in all.
  auto spool = OpenOrDie(OptionsFor(dir.path(), 3 * frame, 6 * frame));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(spool->Append(MakeBatch(7)).ok());
  EXPECT_EQ(spool->dropped_batches(), 0u);
  EXPECT_EQ(spool->TotalBytes(), 6 * frame);

  ::testing::internal::CaptureStderr();
  absl::StatusOr<uint64_t> seventh = spool->Append(MakeBatch(7));
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(seventh.ok()) << seventh.status();
  EXPECT_EQ(*seventh, 7u);
  EXPECT_EQ(spool->dropped_batches(), 3u);
  EXPECT_EQ(spool->dropped_points(), 21u);
  EXPECT_THAT(log, HasSubstr("dropped 3 unacknowledged batches, sequences 1..3 (21 points)"));
  EXPECT_EQ(spool->FirstSequence(), 4u);
  EXPECT_EQ(spool->PendingBatches(), 4u);
  EXPECT_EQ(spool->TotalBytes(), 4 * frame);
  EXPECT_THAT(ReadSequencesAfter(*spool, 0), ElementsAre(4, 5, 6, 7));
}

TEST(Spool, MaxBytesCountsOnlyUnacknowledgedBatchesAsDropped) {
  ScratchDir dir;
  const uint64_t frame = FrameBytes(7);
  auto spool = OpenOrDie(OptionsFor(dir.path(), 3 * frame, 6 * frame));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(spool->Append(MakeBatch(7)).ok());
  ASSERT_TRUE(spool->Ack(2).ok());  // batch 3 keeps the first segment
  ASSERT_TRUE(spool->Append(MakeBatch(7)).ok());
  EXPECT_EQ(spool->dropped_batches(), 1u);
  EXPECT_EQ(spool->dropped_points(), 7u);
  EXPECT_THAT(ReadSequencesAfter(*spool, 0), ElementsAre(4, 5, 6, 7));
}

TEST(Spool, BatchLargerThanMaxBytesIsRejectedWithoutDroppingAnything) {
  ScratchDir dir;
  const uint64_t frame = FrameBytes(1);
  auto spool = OpenOrDie(OptionsFor(dir.path(), 2 * frame, 4 * frame));
  ASSERT_TRUE(spool->Append(MakeBatch(1)).ok());
  absl::StatusOr<uint64_t> huge = spool->Append(MakeBatch(1000));
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spool->PendingBatches(), 1u);
  EXPECT_EQ(spool->dropped_batches(), 0u);
  absl::StatusOr<uint64_t> next = spool->Append(MakeBatch(1));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 2u);
}

TEST(Spool, OpenRejectsMaxBytesBelowTwoSegments) {
  ScratchDir dir;
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(OptionsFor(dir.path(), 1000, 1999));
  EXPECT_EQ(spool.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Spool, ConcurrentAppendAndAckReadEverySequenceExactlyOnce) {
  ScratchDir dir;
  constexpr uint64_t kBatches = 2000;
  // Small segments so that acknowledgements delete files while the writer rotates.
  auto spool = OpenOrDie(OptionsFor(dir.path(), 8 * FrameBytes(2), 1 << 20));
  std::atomic<bool> writer_failed{false};
  std::thread writer([&] {
    for (uint64_t i = 1; i <= kBatches; ++i) {
      absl::StatusOr<uint64_t> sequence = spool->Append(MakeBatch(2, static_cast<double>(i)));
      if (!sequence.ok() || *sequence != i) {
        writer_failed = true;
        return;
      }
    }
  });

  std::vector<int> times_read(kBatches + 1, 0);
  uint64_t last_read = 0;
  bool in_order = true;
  absl::Status reader_error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (last_read < kBatches && !writer_failed && std::chrono::steady_clock::now() < deadline) {
    absl::StatusOr<std::vector<vigil::v1::SpooledBatch>> batches = spool->ReadAfter(last_read, 64);
    if (!batches.ok()) {
      reader_error = batches.status();
      break;
    }
    if (batches->empty()) {
      std::this_thread::yield();
      continue;
    }
    for (const auto& batch : *batches) {
      in_order = in_order && batch.sequence() == last_read + 1 &&
                 batch.points(0).value() == static_cast<double>(batch.sequence());
      if (batch.sequence() <= kBatches) ++times_read[batch.sequence()];
      last_read = batch.sequence();
    }
    reader_error = spool->Ack(last_read);
    if (!reader_error.ok()) break;
  }
  writer.join();

  EXPECT_TRUE(reader_error.ok()) << reader_error;
  EXPECT_FALSE(writer_failed);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(last_read, kBatches);
  EXPECT_EQ(std::count(times_read.begin() + 1, times_read.end(), 1), static_cast<long>(kBatches));
  EXPECT_EQ(spool->AckedSequence(), kBatches);
  EXPECT_EQ(spool->PendingBatches(), 0u);
  EXPECT_EQ(spool->dropped_batches(), 0u);
  EXPECT_EQ(SegmentFiles(dir.path()), 1u);
}

// The replay buffer: acknowledged batches stay readable by time while their newest point is
// within retain_acked; older ones and their segments go.
TEST(Spool, RetainsAcknowledgedBatchesForReplay) {
  ScratchDir dir;
  const int64_t base = 1'790'000'000'000;  // MakeBatch's first timestamp
  int64_t now = base + 60'000;
  vigil::v1::SpooledBatch sized = MakeBatch(4, 100);
  sized.set_sequence(1);
  const uint64_t frame = RecordLog::kFrameHeaderBytes + sized.ByteSizeLong();
  Spool::Options options = OptionsFor(dir.path(), 2 * frame, 100 * frame);
  options.retain_acked = absl::Hours(1);
  options.now_ms = [&now] { return now; };
  auto spool = OpenOrDie(options);
  // Tags 100, 110, ...: every value is non-zero, so every batch has the same size.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(spool->Append(MakeBatch(4, 100 + 10.0 * i)).ok());
  ASSERT_TRUE(spool->Ack(4).ok());
  EXPECT_EQ(spool->PendingBatches(), 1u);
  EXPECT_EQ(spool->RetainedBatches(), 4u);
  EXPECT_EQ(SegmentFiles(dir.path()), 3u);  // nothing deleted: {1,2} {3,4} {5}

  // Points at base+20s and base+30s of each acknowledged batch, none of the pending one.
  absl::StatusOr<std::vector<vigil::v1::SpooledBatch>> replay =
      spool->ReadRetained(base + 20'000, 0, /*max_sequence=*/4, 100);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_THAT(Sequences(*replay), ElementsAre(1, 2, 3, 4));
  for (const auto& b : *replay) {
    ASSERT_EQ(b.points_size(), 2);
    EXPECT_EQ(b.points(0).timestamp_ms(), base + 20'000);
    EXPECT_EQ(b.points(0).value(), 100 + 10.0 * (b.sequence() - 1) + 2);
    ASSERT_EQ(b.series_size(), 1);
    EXPECT_EQ(b.series(0).metric(), "system.cpu.utilization");
    EXPECT_EQ(b.points(0).series_id(), b.series(0).id());
  }
  replay = spool->ReadRetained(base, 0, /*max_sequence=*/2, 100);
  ASSERT_TRUE(replay.ok());
  EXPECT_THAT(Sequences(*replay), ElementsAre(1, 2));
  replay = spool->ReadRetained(base, /*after_sequence=*/1, 4, /*max_batches=*/2);  // paging
  ASSERT_TRUE(replay.ok());
  EXPECT_THAT(Sequences(*replay), ElementsAre(2, 3));
  replay = spool->ReadRetained(base + 40'000, 0, 4, 100);  // after every point
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->empty());

  // Reopening keeps the replay buffer.
  spool.reset();
  spool = OpenOrDie(options);
  EXPECT_EQ(spool->RetainedBatches(), 4u);
  EXPECT_EQ(spool->PendingBatches(), 1u);

  // An hour after the newest point, the acknowledged batches and their segments go.
  now = base + 30'000 + 3'600'001;
  ASSERT_TRUE(spool->Ack(5).ok());
  EXPECT_EQ(spool->RetainedBatches(), 0u);
  EXPECT_EQ(SegmentFiles(dir.path()), 1u);  // the active segment
}

// Room for new batches is made from the replay buffer first: dropping retained batches loses
// nothing that was not acknowledged.
TEST(Spool, FullSpoolDropsRetainedBatchesBeforePendingOnes) {
  ScratchDir dir;
  int64_t now = 1'790'000'000'000;
  const uint64_t frame = FrameBytes(4);
  Spool::Options options = OptionsFor(dir.path(), 2 * frame, 6 * frame);
  options.retain_acked = absl::Hours(1);
  options.now_ms = [&now] { return now; };
  auto spool = OpenOrDie(options);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(spool->Append(MakeBatch(4)).ok());
  ASSERT_TRUE(spool->Ack(4).ok());
  EXPECT_EQ(spool->RetainedBatches(), 4u);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(spool->Append(MakeBatch(4)).ok());
  EXPECT_EQ(spool->dropped_batches(), 0u);
  EXPECT_EQ(spool->PendingBatches(), 4u);
  EXPECT_LE(spool->RetainedBatches(), 2u);
  EXPECT_LE(spool->TotalBytes(), 6 * frame);
}

}  // namespace
}  // namespace vigil
