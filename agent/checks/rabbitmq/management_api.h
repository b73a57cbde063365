#ifndef VIGIL_AGENT_CHECKS_RABBITMQ_MANAGEMENT_API_H_
#define VIGIL_AGENT_CHECKS_RABBITMQ_MANAGEMENT_API_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/check.h"

// Pure functions over the JSON of RabbitMQ's management HTTP API (`/api/queues`, `/api/nodes`):
// parsing, and turning the result into samples. No I/O; thread-safe. Errors are
// InvalidArgument naming `source` (the URL without credentials) and the place in the
// document, e.g. "GET http://127.0.0.1:15672/api/queues: queue #3: 'messages' is not a number".

namespace vigil::agent::rabbitmq {

// The columns the check asks for (`?columns=`), so that a broker with many queues sends only
// these; a server that ignores the parameter sends full objects, which parse the same.
extern const char kQueueColumns[];
extern const char kNodeColumns[];

// One queue. Counts are absent for a queue the broker has not yet emitted statistics for
// (just declared); rates are absent until messages were published or delivered.
struct QueueStats {
  std::string vhost;
  std::string name;
  std::optional<double> messages;
  std::optional<double> messages_ready;
  std::optional<double> messages_unacknowledged;
  std::optional<double> consumers;
  std::optional<double> publish_rate;  // message_stats.publish_details.rate, messages/s
  std::optional<double> deliver_rate;  // message_stats.deliver_get_details.rate, messages/s
};

// One cluster node. A node that is down has only `name` and `running: false`.
struct NodeStats {
  std::string name;
  bool running = false;
  std::optional<double> mem_used_bytes;
  std::optional<double> mem_limit_bytes;
  std::optional<bool> mem_alarm;
  std::optional<double> fd_used;
  std::optional<double> fd_total;
  std::optional<double> disk_free_bytes;
  std::optional<double> disk_free_limit_bytes;
  std::optional<bool> disk_free_alarm;
};

// `[ {"name":..., "vhost":..., "messages":..., ...}, ... ]`.
absl::StatusOr<std::vector<QueueStats>> ParseQueues(absl::string_view json,
                                                    absl::string_view source);
// `[ {"name":..., "running":true, "mem_used":..., ...}, ... ]`.
absl::StatusOr<std::vector<NodeStats>> ParseNodes(absl::string_view json, absl::string_view source);

// The `reason` of an error body (`{"error":"not_authorized","reason":"Login failed"}`), or
// the start of the body when it is not such a document.
std::string ErrorReason(absl::string_view body);

// Percent-encodes a vhost name as one URL path segment ("/" -> "%2F").
std::string EncodePathSegment(absl::string_view segment);

// Samples with labels `vhost` and `queue`, and with label `node`.
void AppendQueueSamples(const std::vector<QueueStats>& queues, std::vector<Sample>& out);
void AppendNodeSamples(const std::vector<NodeStats>& nodes, std::vector<Sample>& out);

}  // namespace vigil::agent::rabbitmq

#endif  // VIGIL_AGENT_CHECKS_RABBITMQ_MANAGEMENT_API_H_
