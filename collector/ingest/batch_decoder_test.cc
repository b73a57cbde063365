#include "collector/ingest/batch_decoder.h"

#include "agent/stream_encoder.h"
#include "gtest/gtest.h"

namespace vigil::collector {
namespace {

v1::SpooledBatch Spooled(uint64_t seq, int64_t ts, std::vector<std::string> hosts) {
  v1::SpooledBatch b;
  b.set_sequence(seq);
  uint32_t id = 0;
  for (const std::string& h : hosts) {
    v1::SeriesDefinition* d = b.add_series();
    d->set_id(++id);
    d->set_metric("system.load.1");
    v1::Label* l = d->add_labels();
    l->set_name("host");
    l->set_value(h);
    v1::Point* p = b.add_points();
    p->set_series_id(id);
    p->set_timestamp_ms(ts);
    p->set_value(id * 1.5);
  }
  return b;
}

constexpr int64_t kNow = 1'800'000'000'000;

TEST(SeriesEncoding, SteadyStreamSendsLabelsOnce) {
  agent::StreamEncoder encoder;
  v1::Batch first = encoder.Encode(Spooled(1, kNow, {"a", "b"}));
  v1::Batch second = encoder.Encode(Spooled(2, kNow + 1000, {"a", "b"}));
  v1::Batch third = encoder.Encode(Spooled(3, kNow + 2000, {"b", "c"}));
  EXPECT_EQ(first.series_size(), 2);
  EXPECT_EQ(second.series_size(), 0);  // nothing new: ids only
  EXPECT_EQ(second.points_size(), 2);
  ASSERT_EQ(third.series_size(), 1);  // only "c" is new
  EXPECT_EQ(third.series(0).labels(0).value(), "c");
  EXPECT_LT(second.ByteSizeLong(), first.ByteSizeLong() / 2);
}

TEST(SeriesEncoding, DecoderResolvesWhatTheEncoderWrote) {
  agent::StreamEncoder encoder;
  BatchDecoder decoder(IngestLimits{});
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    v1::Batch wire = encoder.Encode(Spooled(seq, kNow + seq * 1000, {"a", "b"}));
    DecodedBatch out;
    ASSERT_TRUE(decoder.Decode(wire, kNow + 5000, &out).ok());
    EXPECT_EQ(out.sequence, seq);
    ASSERT_EQ(out.series.size(), 2u);
    EXPECT_EQ(out.series[0].key.ToString(), "system.load.1{host=\"a\"}");
    EXPECT_EQ(out.series[1].key.ToString(), "system.load.1{host=\"b\"}");
    EXPECT_EQ(out.series[1].points[0].value, 3.0);
    EXPECT_EQ(out.series[1].points[0].timestamp_ms, kNow + static_cast<int64_t>(seq) * 1000);
  }
  EXPECT_EQ(decoder.dictionary_size(), 2u);
}

TEST(BatchDecoder, UndefinedSeriesIdEndsTheStream) {
  BatchDecoder decoder(IngestLimits{});
  v1::Batch b;
  b.set_sequence(1);
  v1::Point* p = b.add_points();
  p->set_series_id(9);
  p->set_timestamp_ms(kNow);
  DecodedBatch out;
  absl::Status s = decoder.Decode(b, kNow, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "point refers to undefined series id 9");
}

TEST(BatchDecoder, SequenceMustIncreaseOnAStream) {
  BatchDecoder decoder(IngestLimits{});
  DecodedBatch out;
  v1::Batch b;
  b.set_sequence(5);
  ASSERT_TRUE(decoder.Decode(b, kNow, &out).ok());
  absl::Status s = decoder.Decode(b, kNow, &out);
  EXPECT_EQ(s.message(), "batch sequence 5 does not increase (previous 5)");
}

TEST(BatchDecoder, BadSeriesDefinitionsRejectTheirPointsByReason) {
  IngestLimits limits;
  limits.max_labels_per_series = 1;
  limits.max_label_value_length = 4;
  BatchDecoder decoder(limits);
  v1::Batch b;
  b.set_sequence(1);
  auto def = [&](uint32_t id, std::string metric,
                 std::vector<std::pair<std::string, std::string>> labels) {
    v1::SeriesDefinition* d = b.add_series();
    d->set_id(id);
    d->set_metric(metric);
    for (auto& [k, v] : labels) {
      v1::Label* l = d->add_labels();
      l->set_name(k);
      l->set_value(v);
    }
    v1::Point* p = b.add_points();
    p->set_series_id(id);
    p->set_timestamp_ms(kNow);
    p->set_value(1);
  };
  def(1, "Bad.Metric", {});
  def(2, "ok.metric", {{"a", "1"}, {"b", "2"}});
  def(3, "ok.metric", {{"a", "toolong"}});
  def(4, "ok.metric", {{"Bad", "1"}});
  def(5, "ok.metric", {{"a", "fine"}});
  DecodedBatch out;
  ASSERT_TRUE(decoder.Decode(b, kNow, &out).ok());
  EXPECT_EQ(out.point_count, 1u);
  EXPECT_EQ(out.rejections.count["invalid_metric_name"], 1u);
  EXPECT_EQ(out.rejections.count["too_many_labels"], 1u);
  EXPECT_EQ(out.rejections.count["label_value_too_long"], 1u);
  EXPECT_EQ(out.rejections.count["invalid_label_name"], 1u);
  EXPECT_EQ(out.rejections.Total(), 4u);
}

}  // namespace
}  // namespace vigil::collector
