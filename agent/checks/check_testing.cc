#include "agent/checks/check_testing.h"

#include <algorithm>

#include "common/config_reader.h"

namespace vigil::agent {

std::vector<std::string> InitCheckForTest(Check& check, const std::string& yaml) {
  ConfigErrors errors("agent.yaml");
  absl::StatusOr<YAML::Node> node = LoadYamlString(yaml, "agent.yaml");
  if (!node.ok()) return {std::string(node.status().message())};
  ConfigMap config(*node, &errors);
  CheckContext context;
  context.name = config.String("name", "test");
  context.interval = config.Duration("interval", absl::Seconds(10));
  context.timeout = config.Duration("timeout", std::min(context.interval, absl::Seconds(10)));
  check.SetContext(context);
  absl::Status status = check.Init(config);
  if (!status.ok()) errors.AddFileError(status.message());
  config.Finish();
  return errors.messages();
}

std::optional<double> FindSample(const std::vector<Sample>& samples, const std::string& metric,
                                 const Labels& labels) {
  for (const Sample& s : samples) {
    if (s.metric == metric && s.labels == labels) return s.value;
  }
  return std::nullopt;
}

}  // namespace vigil::agent
