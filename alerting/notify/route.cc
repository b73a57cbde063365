#include "alerting/notify/route.h"

#include <algorithm>

#include "alerting/notify/matchers.h"

namespace vigil::alerting {

std::vector<const Route*> MatchRoutes(const Route& root, const Labels& labels) {
  std::vector<const Route*> all;
  if (!MatchesAll(root.matchers, labels)) return all;
  for (const Route& child : root.routes) {
    std::vector<const Route*> matched = MatchRoutes(child, labels);
    all.insert(all.end(), matched.begin(), matched.end());
    if (!matched.empty() && !child.continue_matching) break;
  }
  if (all.empty()) all.push_back(&root);
  return all;
}

Labels GroupLabels(const Route& route, const Labels& labels) {
  if (route.group_by_all) return labels;
  Labels out;
  for (const std::string& name : route.group_by) {
    auto it = std::lower_bound(labels.begin(), labels.end(), name,
                               [](const std::pair<std::string, std::string>& l,
                                  const std::string& n) { return l.first < n; });
    if (it != labels.end() && it->first == name) out.push_back(*it);
  }
  return out;
}

}  // namespace vigil::alerting
