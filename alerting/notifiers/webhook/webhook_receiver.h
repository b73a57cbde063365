#ifndef VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_RECEIVER_H_
#define VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_RECEIVER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/testing/process.h"

// Test-only: a real HTTP webhook receiver on loopback (testdata/webhook_receiver.py run by
// /usr/bin/python3) that records every request and answers scripted statuses. Linked by the
// webhook notifier's tests and by end-to-end tests through vigil_webhook_receiver_testing.

namespace vigil::alerting::testing {

// One request as the receiver recorded it.
struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  int status_returned = 0;
  double time = 0;  // unix seconds when it arrived

  // The header's value, or "" when it was not sent. `name` in lowercase.
  std::string Header(const std::string& name) const;
};

struct WebhookReceiverOptions {
  // The status of the 1st, 2nd, ... request; the last one repeats.
  std::vector<int> statuses = {200};
  std::optional<int> retry_after_seconds;       // Retry-After: N on every answer
  absl::Duration delay = absl::ZeroDuration();  // wait before answering (a hung receiver)
  std::optional<std::string> response_body;     // default: "webhook_receiver: request N answered S"
};

// Owns the receiver process (killed on destruction) and its temporary directory.
// Not thread-safe: use from the test thread (the process serves requests concurrently).
class WebhookReceiver {
 public:
  // Starts the receiver on a free loopback port and waits until it listens. Fails with a clear
  // message when /usr/bin/python3 or the script is missing, or it does not start in time.
  static absl::StatusOr<std::unique_ptr<WebhookReceiver>> Start(
      WebhookReceiverOptions options = {});

  int port() const { return port_; }
  // http://127.0.0.1:<port><path>
  std::string Url(const std::string& path = "/hook") const;

  // Every request recorded so far, in arrival order.
  std::vector<ReceivedRequest> Requests() const;
  // Polls until at least `n` requests were recorded; false on timeout.
  bool WaitForRequests(size_t n, absl::Duration timeout = absl::Seconds(15)) const;
  // The receiver's stderr (empty unless it failed).
  std::string Stderr() const;
  // Stops the receiver (SIGTERM, then SIGKILL); later requests are refused.
  void Stop();

 private:
  WebhookReceiver() = default;

  vigil::testing::TempDir dir_;
  int port_ = 0;
  std::string out_path_;
  std::unique_ptr<vigil::testing::Process> process_;
};

// Parses the receiver's --out file (one JSON object per line); a malformed or truncated line is
// an error naming its line number.
absl::StatusOr<std::vector<ReceivedRequest>> ParseReceivedRequests(const std::string& text);

}  // namespace vigil::alerting::testing

#endif  // VIGIL_ALERTING_NOTIFIERS_WEBHOOK_WEBHOOK_RECEIVER_H_
