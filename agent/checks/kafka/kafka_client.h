#ifndef VIGIL_AGENT_CHECKS_KAFKA_KAFKA_CLIENT_H_
#define VIGIL_AGENT_CHECKS_KAFKA_KAFKA_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/checks/kafka/consumer_lag.h"

// librdkafka's rd_kafka_t, opaque here so that only kafka_client.cc includes librdkafka.
struct rd_kafka_s;

namespace vigil::agent::kafka {

// Connection settings of the check, as configured (see KafkaCheck for the keys).
struct ClientSettings {
  std::vector<std::string> bootstrap_servers;
  std::string security_protocol = "plaintext";  // plaintext, ssl, sasl_plaintext, sasl_ssl
  std::string sasl_mechanism = "PLAIN";         // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
  std::string username;                         // SASL only
  std::string ssl_ca_location;                  // ssl and sasl_ssl; empty: system CAs
  absl::Duration timeout = absl::Seconds(10);
};

inline bool UsesSasl(absl::string_view security_protocol) {
  return security_protocol == "sasl_plaintext" || security_protocol == "sasl_ssl";
}
inline bool UsesTls(absl::string_view security_protocol) {
  return security_protocol == "ssl" || security_protocol == "sasl_ssl";
}

// One librdkafka configuration property, with the config key of the check it comes from (for
// error positions; empty for fixed properties).
struct ClientProperty {
  std::string name;
  std::string value;
  std::string config_key;
};

// The librdkafka configuration for `settings`. `password` is used only with SASL. The client
// never joins a group and never commits: it has no group.id, and auto-commit is off.
std::vector<ClientProperty> ClientProperties(const ClientSettings& settings,
                                             const std::string& password);

// Returns librdkafka's reason for the first property it rejects (e.g. a mechanism this build
// lacks) as InvalidArgument and sets *config_key to the check's key at fault, without creating
// a client (no threads, no sockets). The value of sasl.password is never part of the message.
absl::Status ValidateClientProperties(const std::vector<ClientProperty>& properties,
                                      std::string* config_key);

// `text` with every occurrence of `secret` replaced by "***" (nothing when `secret` is empty).
std::string Redact(absl::string_view text, absl::string_view secret);

// Cluster metadata: brokers and the partitions of every topic without a topic-level error.
struct ClusterMetadata {
  int brokers = 0;
  TopicPartitions topics;
};

// Offsets of one ListOffsets query; partitions that failed are absent from `offsets`.
struct PartitionOffsetsResult {
  std::map<TopicPartition, int64_t> offsets;
  std::map<TopicPartition, std::string> errors;
};

// A long-lived librdkafka consumer handle used only for metadata and offset queries: it has no
// group.id, subscribes to nothing and commits nothing. Every method blocks for at most its
// `timeout`. Creating the handle starts librdkafka's threads, so the check keeps it between
// collections; librdkafka reconnects by itself after a broker comes back.
//
// Threading: the methods are called from one thread at a time (the check's collecting
// thread). librdkafka's own threads call the log callback, which only reads state that is
// constant after Create(), and log lines never carry the SASL password.
class KafkaClient {
 public:
  // Creates the handle. `secret` (the SASL password, may be empty) is removed from every line
  // librdkafka logs or reports; `log_label` starts the lines it logs. Fails on a property
  // librdkafka rejects.
  static absl::StatusOr<std::unique_ptr<KafkaClient>> Create(
      const std::vector<ClientProperty>& properties, std::string secret, std::string log_label);
  ~KafkaClient();
  KafkaClient(const KafkaClient&) = delete;
  KafkaClient& operator=(const KafkaClient&) = delete;

  // Brokers and all topics' partitions. Fails (UNAVAILABLE or DEADLINE_EXCEEDED) when no
  // broker answers within `timeout`; the message carries librdkafka's latest connection error.
  absl::StatusOr<ClusterMetadata> FetchMetadata(absl::Duration timeout);

  // Committed offsets of each of `groups` on `partitions` (OffsetFetch through the group
  // coordinator, all groups in parallel). Result i is for groups[i] and holds only partitions
  // the group has committed on; a group-level or partition-level error makes it an error.
  std::vector<absl::StatusOr<std::map<TopicPartition, int64_t>>> CommittedOffsets(
      const std::vector<std::string>& groups, const std::set<TopicPartition>& partitions,
      absl::Duration timeout);

  // High (`latest` true) or low watermarks of `partitions` (ListOffsets to each leader, read
  // uncommitted, so high is the high watermark rather than the last stable offset). Fails as
  // a whole when no partition's offset could be read within `timeout`.
  absl::StatusOr<PartitionOffsetsResult> QueryWatermarks(const std::set<TopicPartition>& partitions,
                                                         bool latest, absl::Duration timeout);

 private:
  KafkaClient(std::string secret, std::string log_label)
      : secret_(std::move(secret)), log_label_(std::move(log_label)) {}

  static void OnLog(const rd_kafka_s* rk, int level, const char* facility, const char* line);
  static void OnError(rd_kafka_s* rk, int err, const char* reason, void* opaque);
  // One ListOffsets round (rd_kafka_offsets_for_times) for `partitions`: records each one's
  // offset or error in `out` and returns librdkafka's error for the call (rd_kafka_resp_err_t).
  int ListOffsetsOnce(const std::set<TopicPartition>& partitions, bool latest,
                      absl::Duration timeout, PartitionOffsetsResult& out);
  // Runs the error callbacks librdkafka queued since the last call (on this thread).
  void DrainEvents();
  // " (last broker error: ...)" or "".
  std::string LastErrorSuffix();

  // Constant after construction; read by OnLog on librdkafka's threads.
  const std::string secret_;
  const std::string log_label_;
  rd_kafka_s* rk_ = nullptr;
  std::string last_error_;  // written by OnError inside DrainEvents, on the calling thread
};

}  // namespace vigil::agent::kafka

#endif  // VIGIL_AGENT_CHECKS_KAFKA_KAFKA_CLIENT_H_
