#include "tests/stack.h"

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/secret.h"
#include "gtest/gtest.h"

namespace vigil::testing {

Stack::Stack() : grpc_port_(FreePort()), http_port_(FreePort()), agent_metrics_port_(FreePort()) {
  token_ = *GenerateToken();
  WriteFile(dir_.Join("agent.token"), token_ + "\n");
  WriteFile(
      dir_.Join("collector.yaml"),
      absl::StrCat("listen: {grpc: 127.0.0.1:", grpc_port_, ", http: 127.0.0.1:", http_port_,
                   "}\nstate_dir: ", dir_.Join("state"),
                   "\nauth:\n  tokens:\n    - {name: e2e, sha256: ", Sha256Hex(token_), "}\n"));
  WriteFile(dir_.Join("agent.yaml"),
            absl::StrCat("agent_id: e2e-agent\nhostname: ", kHost,
                         "\ncollector: {address: 127.0.0.1:", grpc_port_,
                         ", token_file: ", dir_.Join("agent.token"),
                         ", connect_timeout: 2s}\nlabels: {role: [web], env: test}\n"
                         "interval: 1s\nspool: {directory: ",
                         dir_.Join("spool"), "}\nmetrics: {listen: 127.0.0.1:", agent_metrics_port_,
                         "}\nchecks:\n  - type: system\n"));
}

Stack::~Stack() {
  agent_.reset();
  collector_.reset();
}

void Stack::EnableRules(const std::string& rules_dir, const std::string& api_token) {
  WriteFile(dir_.Join("api.token"), api_token + "\n");
  std::string config = ReadFile(dir_.Join("collector.yaml"));
  config.insert(config.find("  tokens:"), "  api_token_file: " + dir_.Join("api.token") + "\n");
  config += "rules: {directory: " + rules_dir + ", evaluation_interval: 200ms}\n";
  WriteFile(dir_.Join("collector.yaml"), config);
}

long Stack::Post(const std::string& path, const std::string& token, std::string* body) const {
  return HttpPost(absl::StrCat("http://127.0.0.1:", http_port_, path), token, body);
}

void Stack::StartCollector() {
  // The output file is appended to across restarts: wait for one more "ready" line.
  auto ready_lines = [&] {
    std::string out = ReadFile(dir_.Join("collector.out"));
    size_t n = 0;
    for (size_t pos = out.find(" ready: "); pos != std::string::npos;
         pos = out.find(" ready: ", pos + 1)) {
      ++n;
    }
    return n;
  };
  const size_t before = ready_lines();
  collector_ = std::make_unique<Process>(
      std::vector<std::string>{VIGIL_BINARY_DIR "/collector/vigil-collector", "--config",
                               dir_.Join("collector.yaml")},
      dir_.Join("collector.out"), dir_.Join("collector.err"));
  ASSERT_TRUE(WaitFor([&] { return ready_lines() > before; }, absl::Seconds(20)))
      << collector_->Stderr();
}

void Stack::StartAgent() {
  agent_ = std::make_unique<Process>(std::vector<std::string>{VIGIL_BINARY_DIR "/agent/vigil-agent",
                                                              "--config", dir_.Join("agent.yaml")},
                                     dir_.Join("agent.out"), dir_.Join("agent.err"));
}

std::unique_ptr<Process> Stack::StartNamedAgent(const std::string& name,
                                                const std::string& collector_extra) {
  const std::string config = dir_.Join(name + ".yaml");
  WriteFile(config,
            absl::StrCat("agent_id: ", name, "\nhostname: ", name,
                         "\ncollector: {address: 127.0.0.1:", grpc_port_,
                         ", token_file: ", dir_.Join("agent.token"), ", connect_timeout: 2s",
                         collector_extra.empty() ? "" : ", ", collector_extra,
                         "}\nlabels: {role: [web], env: test}\n"
                         "interval: 1s\nspool: {directory: ",
                         dir_.Join(name + "-spool"), "}\nmetrics: {listen: 127.0.0.1:", FreePort(),
                         "}\nchecks:\n  - type: system\n"));
  return std::make_unique<Process>(
      std::vector<std::string>{VIGIL_BINARY_DIR "/agent/vigil-agent", "--config", config},
      dir_.Join(name + ".out"), dir_.Join(name + ".err"));
}

void Stack::AppendCollectorConfig(const std::string& yaml) {
  WriteFile(dir_.Join("collector.yaml"), ReadFile(dir_.Join("collector.yaml")) + yaml);
}

void Stack::StopCollector(int sig) { collector_->Stop(sig); }
void Stack::StopAgent(int sig) { agent_->Stop(sig); }

nlohmann::json Stack::Api(const std::string& path_and_query) const {
  long status = 0;
  std::string body =
      HttpGet(absl::StrCat("http://127.0.0.1:", http_port_, path_and_query), &status);
  EXPECT_EQ(status, 200) << path_and_query << ": " << body;
  if (status != 200) return nlohmann::json::object();
  return nlohmann::json::parse(body);
}

nlohmann::json Stack::Points(const std::string& metric, const std::string& extra_query) const {
  nlohmann::json r = Api(absl::StrCat(
      "/api/v1/query?from=-1h&series=", UrlEncode(absl::StrCat(metric, "{host=\"", kHost, "\"}")),
      extra_query));
  if (!r.contains("data") || r["data"].empty()) return nlohmann::json::array();
  return r["data"][0]["points"];
}

nlohmann::json Stack::HostPoints(const std::string& host, const std::string& metric) const {
  nlohmann::json r = Api(absl::StrCat("/api/v1/query?from=-1h&series=",
                                      UrlEncode(absl::StrCat(metric, "{host=\"", host, "\"}"))));
  if (!r.contains("data") || r["data"].empty()) return nlohmann::json::array();
  return r["data"][0]["points"];
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace vigil::testing
