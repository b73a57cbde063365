#ifndef VIGIL_TESTS_SMTP_SINK_H_
#define VIGIL_TESTS_SMTP_SINK_H_

#include <memory>
#include <string>
#include <vector>

#include "common/testing/process.h"

namespace vigil::testing {

// True when something accepts TCP connections on 127.0.0.1:port.
bool PortOpen(int port);

// A real SMTP relay for end-to-end tests: Debian's aiosmtpd storing every message into a
// Maildir under `dir` (which persists across restarts). Not thread-safe.
class SmtpSink {
 public:
  explicit SmtpSink(const TempDir& dir);

  // Starts aiosmtpd and waits until it listens (fails the test otherwise).
  void Start();
  void Stop();

  // Paths of the stored messages, sorted.
  std::vector<std::string> Messages() const;
  // The stored messages whose Subject contains "[ALARM:1] <text> ".
  std::vector<std::string> MessagesAbout(const std::string& text) const;
  // The Message-ID header of every stored message (one entry per message: a message delivered
  // twice appears twice).
  std::vector<std::string> MessageIds() const;

  int port() const { return port_; }

 private:
  const TempDir& dir_;
  int port_;
  std::string maildir_;
  std::unique_ptr<Process> process_;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_SMTP_SINK_H_
