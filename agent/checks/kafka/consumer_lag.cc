#include "agent/checks/kafka/consumer_lag.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/config_reader.h"

namespace vigil::agent::kafka {

int64_t PartitionLag(std::optional<int64_t> committed, int64_t low, int64_t high) {
  int64_t start = committed.has_value() ? *committed : low;
  return high > start ? high - start : 0;
}

std::vector<std::string> TopicsToReport(const std::vector<std::string>& filter,
                                        const TopicPartitions& cluster,
                                        const std::map<TopicPartition, int64_t>& committed) {
  std::set<std::string> out;
  if (!filter.empty()) {
    for (const std::string& topic : filter) {
      if (cluster.count(topic) != 0) out.insert(topic);
    }
  } else {
    for (const auto& [tp, offset] : committed) {
      if (cluster.count(tp.topic) != 0) out.insert(tp.topic);
    }
  }
  return std::vector<std::string>(out.begin(), out.end());
}

GroupLag ComputeGroupLag(const std::vector<std::string>& topics, const TopicPartitions& cluster,
                         const std::map<TopicPartition, int64_t>& committed,
                         const Watermarks& watermarks) {
  GroupLag out;
  for (const std::string& topic : topics) {
    auto partitions = cluster.find(topic);
    if (partitions == cluster.end()) continue;
    std::vector<int32_t> ids = partitions->second;
    std::sort(ids.begin(), ids.end());
    TopicLagReport report;
    report.topic = topic;
    bool complete = true;
    for (int32_t id : ids) {
      TopicPartition tp{topic, id};
      std::optional<int64_t> committed_offset;
      if (auto c = committed.find(tp); c != committed.end()) committed_offset = c->second;
      auto high = watermarks.high.find(tp);
      auto low = watermarks.low.find(tp);
      // The low watermark matters only where the group has no commit.
      if (high == watermarks.high.end() ||
          (!committed_offset.has_value() && low == watermarks.low.end())) {
        out.incomplete[topic] = id;
        complete = false;
        break;
      }
      PartitionLagReport p;
      p.partition = id;
      p.committed = committed_offset;
      p.high_watermark = high->second;
      p.lag = PartitionLag(committed_offset, committed_offset.has_value() ? 0 : low->second,
                           high->second);
      report.total_lag += p.lag;
      report.partitions.push_back(p);
    }
    if (complete) out.topics.push_back(std::move(report));
  }
  return out;
}

void AddWatermarkNeeds(const std::vector<std::string>& topics, const TopicPartitions& cluster,
                       const std::map<TopicPartition, int64_t>& committed,
                       WatermarkRequest& request) {
  for (const std::string& topic : topics) {
    auto partitions = cluster.find(topic);
    if (partitions == cluster.end()) continue;
    for (int32_t id : partitions->second) {
      TopicPartition tp{topic, id};
      request.high.insert(tp);
      if (committed.count(tp) == 0) request.low.insert(tp);
    }
  }
}

absl::StatusOr<std::vector<std::string>> ParseBootstrapServers(
    const std::vector<std::string>& entries) {
  std::vector<std::string> out;
  for (const std::string& entry : entries) {
    for (absl::string_view part : absl::StrSplit(entry, ',')) {
      absl::string_view server = absl::StripAsciiWhitespace(part);
      if (server.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("empty server in '", entry, "' (expected host:port[,host:port...])"));
      }
      std::string problem = HostPortProblem(server, /*allow_port_zero=*/false);
      if (!problem.empty()) return absl::InvalidArgumentError(problem);
      out.emplace_back(server);
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("at least one host:port is required");
  }
  return out;
}

}  // namespace vigil::agent::kafka
