#include "agent/checks/redis/redis_info.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vigil::agent::redis {
namespace {

// At most this much of an offending line is quoted in an error.
constexpr size_t kQuoteChars = 60;

std::string Quote(absl::string_view s) {
  if (s.size() <= kQuoteChars) return absl::StrCat("'", s, "'");
  return absl::StrCat("'", s.substr(0, kQuoteChars), "...'");
}

absl::Status Invalid(absl::string_view source, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", message));
}

// Reads the fields of one INFO reply, recording the first problem.
class FieldReader {
 public:
  FieldReader(const InfoReply& info, absl::string_view source) : info_(info), source_(source) {}

  const std::string* Find(const char* name) const {
    auto it = info_.fields.find(name);
    return it == info_.fields.end() ? nullptr : &it->second;
  }

  template <typename T>
  T Required(const char* name) {
    const std::string* v = Find(name);
    if (v == nullptr) {
      Fail(absl::StrCat("INFO has no field '", name, "' (incomplete reply?)"));
      return T{};
    }
    return Parse<T>(name, *v);
  }

  template <typename T>
  std::optional<T> Optional(const char* name) {
    const std::string* v = Find(name);
    if (v == nullptr) return std::nullopt;
    return Parse<T>(name, *v);
  }

  template <typename T>
  T Parse(absl::string_view name, absl::string_view value) {
    T out{};
    bool ok;
    if constexpr (std::is_same_v<T, double>) {
      ok = absl::SimpleAtod(value, &out);
    } else {
      ok = absl::SimpleAtoi(value, &out);
    }
    if (!ok) Fail(absl::StrCat("INFO field '", name, "': expected a number, got ", Quote(value)));
    return out;
  }

  void Fail(std::string message) {
    if (status_.ok()) status_ = Invalid(source_, message);
  }

  const absl::Status& status() const { return status_; }

 private:
  const InfoReply& info_;
  absl::string_view source_;
  absl::Status status_;
};

// "k1=v1,k2=v2" (the values of slaveN and dbN fields).
std::map<std::string, std::string> ParseAttributes(absl::string_view value) {
  std::map<std::string, std::string> out;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    out.emplace(std::string(kv.first), std::string(kv.second));
  }
  return out;
}

// Digits only after `prefix` ("slave12" for prefix "slave").
bool IsNumbered(absl::string_view name, absl::string_view prefix) {
  if (!absl::StartsWith(name, prefix) || name.size() == prefix.size()) return false;
  for (char c : name.substr(prefix.size())) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

void Add(std::vector<Sample>& out, std::string metric, Labels labels, double value) {
  out.push_back(Sample{std::move(metric), std::move(labels), value});
}

}  // namespace

absl::StatusOr<InfoReply> ParseInfo(absl::string_view text, absl::string_view source) {
  if (text.empty()) return Invalid(source, "empty INFO reply");
  if (text.back() != '\n') {
    return Invalid(source, "INFO reply is truncated (the last line has no line end)");
  }
  InfoReply out;
  int line_no = 0;
  absl::string_view rest = text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    absl::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line[0] == '#') {
      out.sections.emplace_back(absl::StripAsciiWhitespace(line.substr(1)));
      continue;
    }
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return Invalid(source, absl::StrCat("INFO line ", line_no, ": expected 'name:value', got ",
                                          Quote(line)));
    }
    std::string name(line.substr(0, colon));
    if (!out.fields.emplace(name, std::string(line.substr(colon + 1))).second) {
      return Invalid(source,
                     absl::StrCat("INFO line ", line_no, ": field '", name, "' appears twice"));
    }
  }
  if (out.fields.empty()) return Invalid(source, "INFO reply has no fields");
  return out;
}

absl::StatusOr<RedisStats> ExtractStats(const InfoReply& info, absl::string_view source) {
  FieldReader r(info, source);
  RedisStats s;
  if (const std::string* run_id = r.Find("run_id")) s.run_id = *run_id;
  s.uptime_seconds = r.Required<int64_t>("uptime_in_seconds");
  s.server_time_usec = r.Optional<int64_t>("server_time_usec");

  s.cpu_seconds = r.Required<double>("used_cpu_sys") + r.Required<double>("used_cpu_user");
  s.connected_clients = r.Required<int64_t>("connected_clients");
  s.blocked_clients = r.Optional<int64_t>("blocked_clients").value_or(0);
  s.used_memory_bytes = r.Required<int64_t>("used_memory");
  s.used_memory_rss_bytes = r.Optional<int64_t>("used_memory_rss").value_or(0);
  s.maxmemory_bytes = r.Optional<int64_t>("maxmemory").value_or(0);
  s.fragmentation_ratio = r.Optional<double>("mem_fragmentation_ratio").value_or(0);

  s.total_commands_processed = r.Required<uint64_t>("total_commands_processed");
  s.total_connections_received = r.Optional<uint64_t>("total_connections_received").value_or(0);
  s.rejected_connections = r.Optional<uint64_t>("rejected_connections").value_or(0);
  s.net_input_bytes = r.Optional<uint64_t>("total_net_input_bytes").value_or(0);
  s.net_output_bytes = r.Optional<uint64_t>("total_net_output_bytes").value_or(0);
  s.expired_keys = r.Required<uint64_t>("expired_keys");
  s.evicted_keys = r.Required<uint64_t>("evicted_keys");
  s.keyspace_hits = r.Required<uint64_t>("keyspace_hits");
  s.keyspace_misses = r.Required<uint64_t>("keyspace_misses");

  const std::string* role = r.Find("role");
  if (role == nullptr) {
    r.Fail("INFO has no field 'role' (incomplete reply?)");
  } else if (*role == "master") {
    s.is_master = true;
  } else if (*role == "slave" || *role == "replica") {
    s.is_master = false;
  } else {
    r.Fail(absl::StrCat("INFO field 'role': expected master or slave, got ", Quote(*role)));
  }
  s.connected_replicas = r.Required<int64_t>("connected_slaves");
  s.master_repl_offset = r.Optional<int64_t>("master_repl_offset").value_or(0);

  if (!s.is_master) {
    const std::string* link = r.Find("master_link_status");
    if (link == nullptr) {
      r.Fail("INFO of a replica has no field 'master_link_status' (incomplete reply?)");
    } else {
      s.master_link_up = *link == "up";
    }
    std::optional<int64_t> io = r.Optional<int64_t>("master_last_io_seconds_ago");
    if (io && *io >= 0) s.master_last_io_seconds = io;
    std::optional<int64_t> down = r.Optional<int64_t>("master_link_down_since_seconds");
    if (down && *down >= 0) s.master_link_down_seconds = down;
    std::optional<int64_t> sync = r.Optional<int64_t>("master_sync_in_progress");
    if (sync) s.master_sync_in_progress = *sync != 0;
  }

  for (const auto& [name, value] : info.fields) {
    if (IsNumbered(name, "slave")) {
      std::map<std::string, std::string> a = ParseAttributes(value);
      auto ip = a.find("ip"), port = a.find("port"), offset = a.find("offset");
      if (ip == a.end() || port == a.end() || offset == a.end()) {
        r.Fail(absl::StrCat("INFO field '", name, "': expected ip=,port=,offset=, got ",
                            Quote(value)));
        continue;
      }
      ReplicaLink link;
      link.address = absl::StrContains(ip->second, ':')
                         ? absl::StrCat("[", ip->second, "]:", port->second)
                         : absl::StrCat(ip->second, ":", port->second);
      if (auto st = a.find("state"); st != a.end()) link.state = st->second;
      link.offset = r.Parse<int64_t>(name + ".offset", offset->second);
      if (auto lag = a.find("lag"); lag != a.end()) {
        link.last_ack_seconds = r.Parse<int64_t>(name + ".lag", lag->second);
      }
      s.replicas.push_back(std::move(link));
    } else if (IsNumbered(name, "db")) {
      std::map<std::string, std::string> a = ParseAttributes(value);
      auto keys = a.find("keys");
      if (keys == a.end()) {
        r.Fail(absl::StrCat("INFO field '", name, "': expected keys=..., got ", Quote(value)));
        continue;
      }
      KeyspaceDb db;
      db.keys = r.Parse<int64_t>(name + ".keys", keys->second);
      if (auto ex = a.find("expires"); ex != a.end()) {
        db.expires = r.Parse<int64_t>(name + ".expires", ex->second);
      }
      s.databases.emplace(name, db);
    }
  }
  if (!r.status().ok()) return r.status();
  return s;
}

std::vector<Sample> StatsToSamples(const Snapshot& cur_snap, const Snapshot* prev_snap) {
  const RedisStats& cur = cur_snap.stats;
  std::vector<Sample> out;
  Add(out, "redis.uptime_seconds", {}, static_cast<double>(cur.uptime_seconds));
  Add(out, "redis.clients.connected", {}, static_cast<double>(cur.connected_clients));
  Add(out, "redis.clients.blocked", {}, static_cast<double>(cur.blocked_clients));
  Add(out, "redis.memory.used_bytes", {}, static_cast<double>(cur.used_memory_bytes));
  Add(out, "redis.memory.rss_bytes", {}, static_cast<double>(cur.used_memory_rss_bytes));
  Add(out, "redis.memory.fragmentation_ratio", {}, cur.fragmentation_ratio);
  if (cur.maxmemory_bytes > 0) {
    Add(out, "redis.memory.max_bytes", {}, static_cast<double>(cur.maxmemory_bytes));
  }
  for (const auto& [db, k] : cur.databases) {
    Add(out, "redis.keyspace.keys", {{"db", db}}, static_cast<double>(k.keys));
    Add(out, "redis.keyspace.expires", {{"db", db}}, static_cast<double>(k.expires));
  }

  Add(out, "redis.replication.is_master", {}, cur.is_master ? 1 : 0);
  Add(out, "redis.replication.connected_replicas", {}, static_cast<double>(cur.connected_replicas));
  for (const ReplicaLink& r : cur.replicas) {
    Labels labels = {{"replica", r.address}};
    // A replica's acknowledged offset never passes the master's; if a reply raced, report 0.
    int64_t lag = cur.master_repl_offset - r.offset;
    Add(out, "redis.replication.lag_bytes", labels, static_cast<double>(lag > 0 ? lag : 0));
    Add(out, "redis.replication.replica_last_ack_seconds", labels,
        static_cast<double>(r.last_ack_seconds));
  }
  if (cur.master_link_up) {
    Add(out, "redis.replication.master_link_up", {}, *cur.master_link_up ? 1 : 0);
  }
  if (cur.master_last_io_seconds) {
    Add(out, "redis.replication.master_last_io_seconds", {},
        static_cast<double>(*cur.master_last_io_seconds));
  }
  if (cur.master_link_down_seconds) {
    Add(out, "redis.replication.master_link_down_seconds", {},
        static_cast<double>(*cur.master_link_down_seconds));
  }
  if (cur.master_sync_in_progress) {
    Add(out, "redis.replication.sync_in_progress", {}, *cur.master_sync_in_progress ? 1 : 0);
  }

  // Rates need the previous snapshot of the same server run.
  if (prev_snap == nullptr) return out;
  const RedisStats& prev = prev_snap->stats;
  if (cur.run_id != prev.run_id || cur.uptime_seconds < prev.uptime_seconds) return out;
  double seconds = absl::ToDoubleSeconds(cur_snap.taken - prev_snap->taken);
  if (cur.server_time_usec && prev.server_time_usec) {
    seconds = static_cast<double>(*cur.server_time_usec - *prev.server_time_usec) / 1e6;
  }
  if (seconds <= 0) return out;

  if (cur.cpu_seconds >= prev.cpu_seconds) {
    Add(out, "redis.cpu_pct", {}, 100.0 * (cur.cpu_seconds - prev.cpu_seconds) / seconds);
  }
  auto rate = [&](const char* metric, uint64_t a, uint64_t b) {
    if (b >= a) Add(out, metric, {}, static_cast<double>(b - a) / seconds);
  };
  rate("redis.ops_per_second", prev.total_commands_processed, cur.total_commands_processed);
  rate("redis.keys.expired_per_second", prev.expired_keys, cur.expired_keys);
  rate("redis.keys.evicted_per_second", prev.evicted_keys, cur.evicted_keys);
  rate("redis.connections.received_per_second", prev.total_connections_received,
       cur.total_connections_received);
  rate("redis.connections.rejected_per_second", prev.rejected_connections,
       cur.rejected_connections);
  rate("redis.net.input_bytes_per_second", prev.net_input_bytes, cur.net_input_bytes);
  rate("redis.net.output_bytes_per_second", prev.net_output_bytes, cur.net_output_bytes);
  if (cur.keyspace_hits >= prev.keyspace_hits && cur.keyspace_misses >= prev.keyspace_misses) {
    double hits = static_cast<double>(cur.keyspace_hits - prev.keyspace_hits);
    double misses = static_cast<double>(cur.keyspace_misses - prev.keyspace_misses);
    if (hits + misses > 0) Add(out, "redis.keyspace.hit_ratio", {}, hits / (hits + misses));
  }
  return out;
}

}  // namespace vigil::agent::redis
