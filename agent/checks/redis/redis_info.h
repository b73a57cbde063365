#ifndef VIGIL_AGENT_CHECKS_REDIS_REDIS_INFO_H_
#define VIGIL_AGENT_CHECKS_REDIS_REDIS_INFO_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/check.h"

// Pure functions over the text of a Redis `INFO` reply: parsing it, extracting the values the
// `redis` check reports, and turning two consecutive snapshots into samples. They never do I/O
// and are thread-safe. Errors are InvalidArgument naming `source` (the server's address) and,
// for syntax, the line, e.g. "redis 127.0.0.1:6379: INFO line 7: expected 'name:value'".

namespace vigil::agent::redis {

// The fields of an INFO reply. Redis field names are unique across sections, so the sections
// are only remembered by name.
struct InfoReply {
  std::map<std::string, std::string> fields;
  std::vector<std::string> sections;  // "Server", "Clients", ... in reply order
};

// Parses the bulk string of `INFO` (lines end in "\r\n"; "# Section" headers; blank lines
// between sections). A reply whose last line has no line end is reported as truncated.
absl::StatusOr<InfoReply> ParseInfo(absl::string_view text, absl::string_view source);

// A connected replica as the master lists it (`slave0:ip=...,port=...,offset=...,lag=...`).
struct ReplicaLink {
  std::string address;           // ip:port ([ip]:port for IPv6)
  std::string state;             // online, wait_bgsave, send_bulk, ...
  int64_t offset = 0;            // replication offset the replica acknowledged
  int64_t last_ack_seconds = 0;  // `lag`: seconds since the replica's last acknowledgement
};

// One database of the Keyspace section (`db0:keys=1,expires=0,avg_ttl=0`).
struct KeyspaceDb {
  int64_t keys = 0;
  int64_t expires = 0;
};

// The values of one INFO reply the check reports.
struct RedisStats {
  std::string run_id;  // changes when the server restarts (counters start again)
  int64_t uptime_seconds = 0;
  std::optional<int64_t> server_time_usec;  // Redis >= 6.2: the server's clock at INFO time

  double cpu_seconds = 0;  // used_cpu_sys + used_cpu_user of the server process
  int64_t connected_clients = 0;
  int64_t blocked_clients = 0;
  int64_t used_memory_bytes = 0;
  int64_t used_memory_rss_bytes = 0;
  int64_t maxmemory_bytes = 0;  // 0: no limit
  double fragmentation_ratio = 0;

  // Counters since the server started.
  uint64_t total_commands_processed = 0;
  uint64_t total_connections_received = 0;
  uint64_t rejected_connections = 0;
  uint64_t net_input_bytes = 0;
  uint64_t net_output_bytes = 0;
  uint64_t expired_keys = 0;
  uint64_t evicted_keys = 0;
  uint64_t keyspace_hits = 0;
  uint64_t keyspace_misses = 0;

  // Replication.
  bool is_master = true;  // role:master (false for role:slave)
  int64_t connected_replicas = 0;
  int64_t master_repl_offset = 0;
  std::vector<ReplicaLink> replicas;  // on a master
  // On a replica only:
  std::optional<bool> master_link_up;               // master_link_status is "up"
  std::optional<int64_t> master_last_io_seconds;    // absent while the link is down (-1)
  std::optional<int64_t> master_link_down_seconds;  // absent while up or never connected
  std::optional<bool> master_sync_in_progress;

  std::map<std::string, KeyspaceDb> databases;  // "db0" -> keys
};

// Extracts the values above. A missing or non-numeric required field is an error naming it
// (a reply cut at a line boundary shows up here as a missing field).
absl::StatusOr<RedisStats> ExtractStats(const InfoReply& info, absl::string_view source);

// A snapshot: the stats and when the check took them (the agent's clock).
struct Snapshot {
  RedisStats stats;
  absl::Time taken;
};

// The samples for `cur`. Rates (CPU %, per-second counters, hit ratio) are computed against
// `prev` when it is the same server run (same run_id, uptime not lower); the interval is the
// server's own clock (server_time_usec) when both snapshots have it, otherwise `taken`. A
// counter that went down gives no rate.
std::vector<Sample> StatsToSamples(const Snapshot& cur, const Snapshot* prev);

}  // namespace vigil::agent::redis

#endif  // VIGIL_AGENT_CHECKS_REDIS_REDIS_INFO_H_
