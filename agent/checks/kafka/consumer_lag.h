#ifndef VIGIL_AGENT_CHECKS_KAFKA_CONSUMER_LAG_H_
#define VIGIL_AGENT_CHECKS_KAFKA_CONSUMER_LAG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Pure computations of the `kafka` check: which topics to report for a consumer group, and
// the lag of its partitions from committed offsets and watermarks. No I/O, no librdkafka.

namespace vigil::agent::kafka {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;

  friend bool operator<(const TopicPartition& a, const TopicPartition& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  }
  friend bool operator==(const TopicPartition& a, const TopicPartition& b) {
    return a.topic == b.topic && a.partition == b.partition;
  }
};

// Partition ids of each topic, as the cluster metadata lists them.
using TopicPartitions = std::map<std::string, std::vector<int32_t>>;

// Lag of one partition: the high watermark minus the group's committed offset (the offset of
// the next message the group will read). A partition on which the group has never committed
// counts its whole retained backlog, high minus low watermark, which is what a consumer
// starting from the earliest offset has to read. Never negative: a committed offset beyond the
// high watermark (topic recreated, unclean leader election) reads 0.
int64_t PartitionLag(std::optional<int64_t> committed, int64_t low, int64_t high);

// Topics to report for one group: with a `filter` (the configured `topics`), those of them
// that exist in `cluster`; without one, every topic of `cluster` on which the group has at
// least one committed offset. Sorted by name.
std::vector<std::string> TopicsToReport(const std::vector<std::string>& filter,
                                        const TopicPartitions& cluster,
                                        const std::map<TopicPartition, int64_t>& committed);

struct PartitionLagReport {
  int32_t partition = 0;
  std::optional<int64_t> committed;  // empty: the group has not committed on this partition
  int64_t high_watermark = 0;
  int64_t lag = 0;
};

struct TopicLagReport {
  std::string topic;
  int64_t total_lag = 0;                       // sum of the partitions' lags
  std::vector<PartitionLagReport> partitions;  // by partition id
};

// Offsets of one collection, shared by every group.
struct Watermarks {
  std::map<TopicPartition, int64_t> high;
  std::map<TopicPartition, int64_t> low;  // needed only where a group has no commit
};

struct GroupLag {
  std::vector<TopicLagReport> topics;
  // Topics left out because a watermark they need is missing (the query failed for one of
  // their partitions): topic -> the first such partition. A partial sum would understate lag.
  std::map<std::string, int32_t> incomplete;
};

// The lag of one group on `topics` (from TopicsToReport), partition by partition. `committed`
// holds only the partitions the group has committed on.
GroupLag ComputeGroupLag(const std::vector<std::string>& topics, const TopicPartitions& cluster,
                         const std::map<TopicPartition, int64_t>& committed,
                         const Watermarks& watermarks);

// The partitions whose watermarks `groups` need: every partition of their topics needs the
// high watermark; those without a commit of some group also need the low watermark.
struct WatermarkRequest {
  std::set<TopicPartition> high;
  std::set<TopicPartition> low;
};
void AddWatermarkNeeds(const std::vector<std::string>& topics, const TopicPartitions& cluster,
                       const std::map<TopicPartition, int64_t>& committed,
                       WatermarkRequest& request);

// `bootstrap_servers` entries: each is `host:port` or several of them separated by commas
// ("k1:9092,k2:9092", as Kafka tools write it). Returns the flat list; the error names the
// entry at fault. IPv6 hosts go in brackets ([::1]:9092).
absl::StatusOr<std::vector<std::string>> ParseBootstrapServers(
    const std::vector<std::string>& entries);

}  // namespace vigil::agent::kafka

#endif  // VIGIL_AGENT_CHECKS_KAFKA_CONSUMER_LAG_H_
