#ifndef VIGIL_AGENT_CHECKS_KAFKA_KAFKA_CHECK_H_
#define VIGIL_AGENT_CHECKS_KAFKA_KAFKA_CHECK_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "agent/checks/kafka/kafka_client.h"
#include "common/config_reader.h"
#include "common/secret.h"

namespace vigil::agent {

// The `kafka` check: consumer lag of configured consumer groups, read through librdkafka
// (metadata, OffsetFetch via the admin API, ListOffsets). It only reads: it never joins a
// group and never commits. Metric names and meanings are listed in docs/metrics.md.
//
// Config keys:
//   bootstrap_servers  required: host:port list (a comma-separated string is accepted too)
//   consumer_groups    required: the group ids to report, a non-empty list
//   topics             topics to report for every group (default: each topic on which the
//                      group has a committed offset; names starting with "__" only if listed)
//   security_protocol  plaintext (default), ssl, sasl_plaintext or sasl_ssl
//   sasl_mechanism     PLAIN (default), SCRAM-SHA-256 or SCRAM-SHA-512 (sasl_* only)
//   username           SASL user (required with sasl_*)
//   password_file / password_env  SASL password (required with sasl_*; read at each
//                      collection, a changed password makes a new client)
//   ssl_ca_location    PEM CA bundle to verify the brokers (ssl, sasl_ssl; default: the
//                      system's CAs)
// The common `timeout` key (default min(interval, 10s)) bounds each whole collection.
//
// A partition without a committed offset of the group counts high minus low watermark as
// its lag (the backlog a consumer starting from the earliest offset has), and has no
// kafka.consumer.committed_offset sample.
//
// Threading: Init() once, then Collect() from one thread at a time (see Check). The
// librdkafka client is created by the first Collect() and kept, with the logged problems,
// in members used only by that thread.
class KafkaCheck : public Check {
 public:
  KafkaCheck();
  ~KafkaCheck() override;

  absl::Status Init(ConfigMap& config) override;
  // Fails when no broker answers a metadata request within the timeout, or when the offsets
  // of no configured group can be read. A group, topic or partition that cannot be read is
  // left out of the samples and logged once per change.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

 private:
  // Collect() without the cluster's name in its errors; every call ends by `deadline`.
  absl::StatusOr<std::vector<Sample>> CollectSamples(absl::Time deadline);
  // Creates the client on first use, or anew when the SASL password changed.
  absl::Status EnsureClient();
  // Logs each problem when it appears or changes, and its disappearance once.
  void NoteProblems(std::map<std::string, std::string> problems);

  // Set by Init(), read-only afterwards.
  kafka::ClientSettings settings_;
  SecretRef password_;
  std::vector<std::string> groups_;
  std::vector<std::string> topics_;
  std::string log_label_ = "kafka check";  // "kafka check '<name>'" when the entry has a name

  // State between Collect() calls (the collecting thread only).
  std::unique_ptr<kafka::KafkaClient> client_;
  std::string client_password_sha256_;
  std::map<std::string, std::string> problems_;  // what -> message, as last logged
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_KAFKA_KAFKA_CHECK_H_
