#ifndef VIGIL_TESTS_STACK_H_
#define VIGIL_TESTS_STACK_H_

#include <memory>
#include <string>

#include "common/testing/process.h"
#include "nlohmann/json.hpp"

namespace vigil::testing {

// The real vigil-collector and vigil-agent binaries on loopback ports, with their configs and
// state in a temporary directory. The agent runs the system check every second.
class Stack {
 public:
  Stack();
  ~Stack();

  // Makes the collector evaluate the rules in `rules_dir` and accept `api_token` for
  // state-changing HTTP calls. Call before StartCollector.
  void EnableRules(const std::string& rules_dir, const std::string& api_token);
  // POST with an optional bearer token; returns the HTTP status and fills *body.
  long Post(const std::string& path, const std::string& token, std::string* body) const;

  void StartCollector();
  void StartAgent();
  void StopCollector(int sig);
  void StopAgent(int sig);

  // GET on the collector's HTTP API, parsed; fails the test on a non-200 answer.
  nlohmann::json Api(const std::string& path_and_query) const;
  // Points [[ts, value], ...] of one series of this stack's agent.
  nlohmann::json Points(const std::string& metric, const std::string& extra_query = "") const;
  // Points [[ts, value], ...] of `metric{host="<host>"}` from the last hour; empty if none.
  nlohmann::json HostPoints(const std::string& host, const std::string& metric) const;

  // Appends top-level keys (e.g. "tls: {enabled: true, ...}\n") to collector.yaml. Call before
  // StartCollector.
  void AppendCollectorConfig(const std::string& yaml);
  // Starts one more agent with agent_id and hostname `name`, its own spool and metrics port,
  // output in <name>.out / <name>.err, and `collector_extra` added inside its `collector:`
  // mapping (e.g. "tls: {enabled: true, ca_file: /x/ca.pem}"). The caller owns the process.
  std::unique_ptr<Process> StartNamedAgent(const std::string& name,
                                           const std::string& collector_extra = "");

  const std::string& token() const { return token_; }
  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  int agent_metrics_port() const { return agent_metrics_port_; }
  const TempDir& dir() const { return dir_; }
  Process* collector() { return collector_.get(); }
  Process* agent() { return agent_.get(); }
  static constexpr const char* kHost = "e2e-host";

 private:
  TempDir dir_;
  std::string token_;
  int grpc_port_, http_port_, agent_metrics_port_;
  std::unique_ptr<Process> collector_, agent_;
};

std::string UrlEncode(const std::string& s);

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_STACK_H_
