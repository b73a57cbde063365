#include "agent/checks/nginx/access_log_stats.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vigil::agent::nginx {
namespace {

void AddSample(std::vector<Sample>* out, std::string metric, Labels labels, double value) {
  out->push_back(Sample{std::move(metric), std::move(labels), value});
}

// avg, p50, p90, p99 and max of `h` in seconds, as <prefix>_<stat>_seconds.
void AddLatency(std::vector<Sample>* out, const std::string& prefix, const LatencyHistogram& h) {
  if (h.count() == 0) return;
  AddSample(out, prefix + "_avg_seconds", {}, h.average_millis() / 1000.0);
  AddSample(out, prefix + "_p50_seconds", {},
            static_cast<double>(h.PercentileMillis(0.50)) / 1000.0);
  AddSample(out, prefix + "_p90_seconds", {},
            static_cast<double>(h.PercentileMillis(0.90)) / 1000.0);
  AddSample(out, prefix + "_p99_seconds", {},
            static_cast<double>(h.PercentileMillis(0.99)) / 1000.0);
  AddSample(out, prefix + "_max_seconds", {}, static_cast<double>(h.max_millis()) / 1000.0);
}

}  // namespace

void LatencyHistogram::Add(uint64_t millis) {
  ++counts_[millis];
  ++count_;
  sum_ += millis;
  max_ = std::max(max_, millis);
}

double LatencyHistogram::average_millis() const {
  return count_ == 0 ? 0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

uint64_t LatencyHistogram::PercentileMillis(double p) const {
  if (count_ == 0) return 0;
  std::vector<std::pair<uint64_t, uint64_t>> values(counts_.begin(), counts_.end());
  std::sort(values.begin(), values.end());
  uint64_t rank = static_cast<uint64_t>(std::ceil(p * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (const auto& [millis, n] : values) {
    seen += n;
    if (seen >= rank) return millis;
  }
  return max_;
}

absl::string_view MethodLabel(absl::string_view method) {
  static constexpr absl::string_view kKnown[] = {
      "GET",   "HEAD",     "POST",      "PUT",   "DELETE", "PATCH", "OPTIONS", "CONNECT",
      "TRACE", "PROPFIND", "PROPPATCH", "MKCOL", "COPY",   "MOVE",  "LOCK",    "UNLOCK"};
  for (absl::string_view known : kKnown) {
    if (method == known) return known;
  }
  return "other";
}

void AccessLogStats::Add(const AccessLogRecord& record) {
  ++requests_;
  int cls = record.status / 100;
  if (cls >= 1 && cls <= 5) ++by_class_[cls - 1];
  if (cls == 5) ++by_5xx_code_[record.status];
  if (record.request_time_ms) request_time_.Add(*record.request_time_ms);
  if (record.upstream_time_ms) upstream_time_.Add(*record.upstream_time_ms);
  if (record.method) ++by_method_[MethodLabel(*record.method)];
  if (per_vhost_ && record.host) {
    auto it = by_vhost_.find(*record.host);
    if (it != by_vhost_.end()) {
      ++it->second;
    } else if (by_vhost_.size() < kMaxVhosts) {
      by_vhost_.emplace(std::string(*record.host), 1);
    } else {
      ++by_vhost_["other"];
    }
  }
}

void AccessLogStats::AppendSamples(std::vector<Sample>* out) const {
  AddSample(out, "nginx.requests", {}, static_cast<double>(requests_));
  for (int cls = 1; cls <= 5; ++cls) {
    AddSample(out, "nginx.responses", {{"status_class", absl::StrCat(cls, "xx")}},
              static_cast<double>(by_class_[cls - 1]));
  }
  for (const auto& [code, n] : by_5xx_code_) {
    AddSample(out, "nginx.responses_5xx", {{"code", absl::StrCat(code)}}, static_cast<double>(n));
  }
  AddLatency(out, "nginx.request_time", request_time_);
  AddLatency(out, "nginx.upstream_response_time", upstream_time_);
  for (const auto& [method, n] : by_method_) {
    AddSample(out, "nginx.requests_by_method", {{"method", method}}, static_cast<double>(n));
  }
  for (const auto& [vhost, n] : by_vhost_) {
    AddSample(out, "nginx.requests_by_vhost", {{"vhost", vhost}}, static_cast<double>(n));
  }
  AddSample(out, "nginx.log.malformed_lines", {}, static_cast<double>(malformed_));
}

}  // namespace vigil::agent::nginx
