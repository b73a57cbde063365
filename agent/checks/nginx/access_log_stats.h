#ifndef VIGIL_AGENT_CHECKS_NGINX_ACCESS_LOG_STATS_H_
#define VIGIL_AGENT_CHECKS_NGINX_ACCESS_LOG_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "agent/check.h"
#include "agent/checks/nginx/access_log_format.h"

namespace vigil::agent::nginx {

// Exact distribution of durations with millisecond resolution (what nginx logs): one counter
// per distinct value, so memory follows the spread of latencies, not the number of requests.
class LatencyHistogram {
 public:
  void Add(uint64_t millis);
  uint64_t count() const { return count_; }
  uint64_t max_millis() const { return max_; }
  double average_millis() const;
  // Nearest-rank percentile: the smallest value with at least ceil(p * count) values at or
  // below it. `p` in (0, 1]; 0 when empty.
  uint64_t PercentileMillis(double p) const;

 private:
  absl::flat_hash_map<uint64_t, uint64_t> counts_;  // millis -> occurrences
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

// What the access log lines read in one collection interval add up to, turned into the
// check's `nginx.*` samples. Not thread-safe: owned by the collecting thread.
class AccessLogStats {
 public:
  // More distinct $host values than this in one interval are counted under vhost "other", so
  // requests with made-up Host headers cannot create unbounded series.
  static constexpr size_t kMaxVhosts = 100;

  explicit AccessLogStats(bool per_vhost) : per_vhost_(per_vhost) {}

  void Add(const AccessLogRecord& record);
  void AddMalformed(uint64_t lines) { malformed_ += lines; }

  uint64_t requests() const { return requests_; }
  uint64_t malformed() const { return malformed_; }

  // Appends nginx.requests, nginx.responses{status_class} (all five classes, zeros included),
  // nginx.responses_5xx{code} (codes seen), the latency summaries when there was at least one
  // value, nginx.requests_by_method{method}, nginx.requests_by_vhost{vhost} (when per_vhost)
  // and nginx.log.malformed_lines.
  void AppendSamples(std::vector<Sample>* out) const;

 private:
  bool per_vhost_;
  uint64_t requests_ = 0;
  uint64_t malformed_ = 0;
  uint64_t by_class_[5] = {0, 0, 0, 0, 0};  // 1xx..5xx
  absl::flat_hash_map<int, uint64_t> by_5xx_code_;
  absl::flat_hash_map<std::string, uint64_t> by_method_;
  absl::flat_hash_map<std::string, uint64_t> by_vhost_;
  LatencyHistogram request_time_;
  LatencyHistogram upstream_time_;
};

// A standard method name as is, anything else (garbage sent by scanners) as "other".
absl::string_view MethodLabel(absl::string_view method);

}  // namespace vigil::agent::nginx

#endif  // VIGIL_AGENT_CHECKS_NGINX_ACCESS_LOG_STATS_H_
