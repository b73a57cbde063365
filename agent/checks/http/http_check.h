#ifndef VIGIL_AGENT_CHECKS_HTTP_HTTP_CHECK_H_
#define VIGIL_AGENT_CHECKS_HTTP_HTTP_CHECK_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/check.h"
#include "common/config_reader.h"
#include "common/http_client.h"
#include "common/secret.h"

namespace vigil::agent {

// Which statuses count as the expected answer: exact codes ("200") and classes ("2xx").
// Default (nothing configured): any 2xx or 3xx.
class ExpectedStatus {
 public:
  // Parses one entry, "200" or "2xx" (100..599); false when it is neither.
  bool Add(absl::string_view entry);
  bool Matches(long status) const;
  bool empty() const { return codes_.empty() && classes_.empty(); }

 private:
  std::vector<long> codes_;
  std::vector<long> classes_;  // 2 for "2xx"
};

// The `http` check: one HTTP(S) request per collection to a URL (a load balancer's health
// page, e.g. /health_check.php answering 500 when the database is unreachable). It reports its
// own `http.up`: 1 only when a response came with an expected status (and body substring), so
// Collect() succeeds whether or not the probe did; the reason of a failed probe is logged once
// per change of `http.up`.
//
// Config keys:
//   url                 required; http:// or https://, without user information
//   method              GET (default) or HEAD
//   expected_status     a code or list of codes and classes ("200", "2xx"); default 2xx and 3xx
//   body_contains       substring the body must contain (GET only)
//   headers             mapping of request header name to value
//   tls: {ca_file, insecure_skip_verify}   CA bundle (default: system CAs); skip verification
//   username            basic authentication user, with password_file or password_env
//   follow_redirects    default false (a 3xx is then the answer)
// The request gets 90% of the check's `timeout` (the key the scheduler also reads), so that a
// hung server is reported by the probe (http.up 0 with its reason) before the scheduler gives up.
//
// Threading: Init() once, then Collect() from one thread at a time (see Check); the last state
// for logging is kept in members touched only by Collect().
class HttpCheck : public Check {
 public:
  absl::Status Init(ConfigMap& config) override;
  // Fails only when the password cannot be read; every probe outcome is reported as samples.
  absl::StatusOr<std::vector<Sample>> Collect(absl::Time now) override;

  absl::Duration request_timeout() const { return request_.timeout; }

 private:
  // Set by Init(), read-only afterwards (the password is read at each Collect()).
  HttpRequest request_;
  ExpectedStatus expected_;
  std::string body_contains_;
  SecretRef password_;

  // State between Collect() calls (the collecting thread only).
  int last_up_ = -1;  // unknown before the first probe
};

}  // namespace vigil::agent

#endif  // VIGIL_AGENT_CHECKS_HTTP_HTTP_CHECK_H_
