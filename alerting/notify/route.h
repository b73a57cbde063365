#ifndef VIGIL_ALERTING_NOTIFY_ROUTE_H_
#define VIGIL_ALERTING_NOTIFY_ROUTE_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/selector.h"
#include "common/series_key.h"

// Alertmanager's routing tree. Immutable once loaded (part of AlertingConfig); any thread.

namespace vigil::alerting {

struct Route {
  // Every field is resolved at load time: a child that does not set receiver, group_by or a
  // timer has its parent's value here.
  std::string receiver;
  std::vector<std::string> group_by;  // sorted label names
  bool group_by_all = false;          // `group_by: ['...']`: every label of the alert
  absl::Duration group_wait = absl::Seconds(30);
  absl::Duration group_interval = absl::Minutes(5);
  absl::Duration repeat_interval = absl::Hours(4);
  std::vector<LabelMatcher> matchers;
  bool continue_matching = false;  // `continue:` keep looking at the next siblings
  std::vector<Route> routes;

  // Unique in the tree, as Alertmanager writes it: `{}` for the root, the parent's key plus
  // `/{matchers}` for a child (and `/<index>` when siblings would share a key). Part of every
  // group key, so it is stable while the tree is unchanged.
  std::string key;
};

// The routes an alert with `labels` goes to (Alertmanager's Route.Match): nothing when `root`
// does not match; else, depth first, each matching child's routes, stopping after the first
// matching child unless it has `continue`; the route itself when no child matched.
std::vector<const Route*> MatchRoutes(const Route& root, const Labels& labels);

// The values of the route's group_by labels in `labels` (all labels for `...`); labels the
// alert does not have are left out.
Labels GroupLabels(const Route& route, const Labels& labels);

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_ROUTE_H_
