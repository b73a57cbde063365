#include "alerting/notify/config.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "alerting/notify/matchers.h"
#include "common/log.h"

namespace vigil::alerting {
namespace {

constexpr absl::Duration kPositive = absl::Milliseconds(1);

bool Present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

// A list of Alertmanager matchers; each problem at its own item.
std::vector<LabelMatcher> ReadMatchers(ConfigMap& m, absl::string_view key) {
  std::vector<LabelMatcher> out;
  YAML::Node n = m.Node(key);
  if (!Present(n)) return out;
  std::vector<YAML::Node> items;
  if (n.IsScalar()) {
    items.push_back(n);
  } else if (n.IsSequence()) {
    for (const auto& item : n) items.push_back(item);
  } else {
    m.errors()->Add(n.Mark(), absl::StrCat(key,
                                           ": expected a list of matchers such as "
                                           "'severity=\"critical\"'"));
    return out;
  }
  for (const YAML::Node& item : items) {
    if (!item.IsScalar()) {
      m.errors()->Add(item.Mark(), absl::StrCat(key, ": expected a matcher string"));
      continue;
    }
    absl::StatusOr<LabelMatcher> matcher = ParseAlertMatcher(item.Scalar());
    if (!matcher.ok()) {
      m.errors()->Add(item.Mark(), absl::StrCat(key, ": ", matcher.status().message()));
      continue;
    }
    out.push_back(*std::move(matcher));
  }
  return out;
}

// The items of a key that holds one mapping or a list of mappings.
std::vector<YAML::Node> MapOrListOfMaps(ConfigMap& m, absl::string_view key) {
  std::vector<YAML::Node> out;
  YAML::Node n = m.Node(key);
  if (!Present(n)) return out;
  if (n.IsMap()) {
    out.push_back(n);
  } else if (n.IsSequence()) {
    for (const auto& item : n) {
      if (!item.IsMap()) {
        m.errors()->Add(item.Mark(), absl::StrCat(key, ": expected a mapping"));
        continue;
      }
      out.push_back(item);
    }
  } else {
    m.errors()->Add(n.Mark(), absl::StrCat(key, ": expected a mapping or a list of mappings"));
  }
  return out;
}

std::vector<YAML::Node> ListOfMaps(ConfigMap& m, absl::string_view key) {
  std::vector<YAML::Node> out;
  YAML::Node n = m.Node(key);
  if (!Present(n)) return out;
  if (!n.IsSequence()) {
    m.errors()->Add(n.Mark(), absl::StrCat(key, ": expected a list of mappings"));
    return out;
  }
  for (const auto& item : n) {
    if (!item.IsMap()) {
      m.errors()->Add(item.Mark(), absl::StrCat(key, ": expected a mapping"));
      continue;
    }
    out.push_back(item);
  }
  return out;
}

// Label names of `group_by` / `equal`, each checked; "..." allowed when `allow_all`.
std::vector<std::string> ReadLabelNames(ConfigMap& m, absl::string_view key, bool allow_all,
                                        bool* all) {
  std::vector<std::string> out;
  YAML::Node n = m.Node(key);
  if (!Present(n)) return out;
  if (!n.IsSequence()) {
    m.errors()->Add(n.Mark(), absl::StrCat(key, ": expected a list of label names"));
    return out;
  }
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      m.errors()->Add(item.Mark(), absl::StrCat(key, ": expected a label name"));
      continue;
    }
    const std::string& name = item.Scalar();
    if (allow_all && name == "...") {
      if (n.size() != 1) {
        m.errors()->Add(item.Mark(),
                        absl::StrCat(key, ": '...' (all labels) must be the only entry"));
      }
      *all = true;
      continue;
    }
    if (!IsValidLabelName(name)) {
      m.errors()->Add(item.Mark(),
                      absl::StrCat(key, ": invalid label name '", name, "' ([a-z_][a-z0-9_]*)"));
      continue;
    }
    out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

class ConfigLoader {
 public:
  ConfigLoader(ConfigErrors* errors, const std::vector<IntegrationFactory>& integrations)
      : errors_(errors), integrations_(integrations) {}

  std::shared_ptr<AlertingConfig> Load(const YAML::Node& root_node) {
    auto config = std::make_shared<AlertingConfig>();
    ConfigMap root(root_node, errors_);
    config->external_url = root.String("external_url");
    if (!config->external_url.empty() && !absl::StartsWith(config->external_url, "http://") &&
        !absl::StartsWith(config->external_url, "https://")) {
      root.Error("external_url", "must start with http:// or https://");
    }
    {
      ConfigMap templates = root.Map("templates");
      config->templates = ReadEmailTemplates(templates, DefaultEmailTemplates());
      templates.Finish();
    }
    ReadReceivers(root, config.get());
    if (root.Has("route")) {
      ConfigMap route = root.Map("route");
      config->route = ReadRoute(route, nullptr, "{}", *config);
    }
    for (const YAML::Node& n : ListOfMaps(root, "inhibit_rules")) {
      ConfigMap m(n, errors_);
      InhibitRule rule;
      rule.source = ReadMatchers(m, "source_matchers");
      rule.target = ReadMatchers(m, "target_matchers");
      bool unused = false;
      rule.equal = ReadLabelNames(m, "equal", false, &unused);
      if (!m.Has("source_matchers")) m.Error("source_matchers", "required");
      if (!m.Has("target_matchers")) m.Error("target_matchers", "required");
      m.Finish();
      config->inhibit_rules.push_back(std::move(rule));
    }
    ReadMaintenanceWindows(root, config.get());
    {
      ConfigMap m = root.Map("flapping");
      config->flapping.max_transitions =
          static_cast<int>(m.Int("max_transitions", config->flapping.max_transitions, 0, 1000000));
      config->flapping.window = m.Duration("window", config->flapping.window, kPositive);
      m.Finish();
    }
    {
      ConfigMap m = root.Map("delivery");
      DeliveryConfig& d = config->delivery;
      d.max_age = m.Duration("max_age", d.max_age, kPositive);
      d.initial_backoff = m.Duration("initial_backoff", d.initial_backoff, kPositive);
      d.max_backoff = m.Duration("max_backoff", d.max_backoff, kPositive);
      d.workers = static_cast<int>(m.Int("workers", d.workers, 1, 64));
      if (d.max_backoff < d.initial_backoff) {
        m.Error("max_backoff", absl::StrCat("must be at least initial_backoff (",
                                            absl::FormatDuration(d.initial_backoff), ")"));
      }
      m.Finish();
    }
    root.Finish();
    return config;
  }

 private:
  void ReadReceivers(ConfigMap& root, AlertingConfig* config) {
    std::set<std::string> names;
    for (const YAML::Node& n : ListOfMaps(root, "receivers")) {
      ConfigMap m(n, errors_);
      Receiver receiver;
      receiver.name = m.String("name");
      if (receiver.name.empty()) {
        m.Error("name", "required: every receiver has a name");
      } else if (!names.insert(receiver.name).second) {
        m.Error("name", absl::StrCat("duplicate receiver name '", receiver.name, "'"));
      }
      for (const IntegrationFactory& factory : integrations_) {
        for (const YAML::Node& item : MapOrListOfMaps(m, factory.kind)) {
          ConfigMap im(item, errors_);
          Integration integration;
          integration.kind = factory.kind;
          integration.index = static_cast<int>(receiver.integrations.size());
          integration.send_resolved = im.Bool("send_resolved", true);
          const size_t before = errors_->messages().size();
          integration.notifier = factory.make(im, config->templates);
          im.Finish();
          if (integration.notifier == nullptr) {
            if (errors_->messages().size() == before) {
              errors_->Add(item.Mark(), absl::StrCat(factory.kind, ": cannot be configured"));
            }
            continue;
          }
          receiver.integrations.push_back(std::move(integration));
        }
      }
      m.Finish();
      config->receivers.push_back(std::move(receiver));
    }
  }

  void CheckReceiver(ConfigMap& m, const std::string& name, const AlertingConfig& config) {
    if (!name.empty() && config.FindReceiver(name) == nullptr) {
      m.Error("receiver", absl::StrCat("unknown receiver '", name, "' (not in receivers:)"));
    }
  }

  Route ReadRoute(ConfigMap& m, const Route* parent, const std::string& key,
                  const AlertingConfig& config) {
    Route route;
    if (parent != nullptr) {
      route.receiver = parent->receiver;
      route.group_by = parent->group_by;
      route.group_by_all = parent->group_by_all;
      route.group_wait = parent->group_wait;
      route.group_interval = parent->group_interval;
      route.repeat_interval = parent->repeat_interval;
    }
    route.key = key;
    if (m.Has("receiver")) {
      route.receiver = m.String("receiver");
      if (route.receiver.empty()) m.Error("receiver", "must not be empty");
      CheckReceiver(m, route.receiver, config);
    }
    if (parent == nullptr && route.receiver.empty()) {
      m.Error("receiver", "required: the root route must name a receiver");
    }
    if (m.Has("group_by")) {
      route.group_by_all = false;
      route.group_by = ReadLabelNames(m, "group_by", true, &route.group_by_all);
    }
    route.group_wait = m.Duration("group_wait", route.group_wait);
    route.group_interval = m.Duration("group_interval", route.group_interval, kPositive);
    route.repeat_interval = m.Duration("repeat_interval", route.repeat_interval, kPositive);
    route.matchers = ReadMatchers(m, "matchers");
    route.continue_matching = m.Bool("continue", false);
    if (parent == nullptr) {
      if (!route.matchers.empty()) {
        m.Error("matchers", "the root route matches every alert and takes no matchers");
      }
      if (route.continue_matching) m.Error("continue", "not allowed on the root route");
    }
    std::set<std::string> child_keys;
    int index = 0;
    for (const YAML::Node& n : ListOfMaps(m, "routes")) {
      ConfigMap child(n, errors_);
      // The child's key from its matchers, read again here without marking errors twice.
      std::vector<std::string> parts;
      const YAML::Node& const_n = n;  // const: a lookup must not add the key
      YAML::Node matchers = const_n["matchers"];
      if (matchers.IsSequence()) {
        for (const auto& item : matchers) {
          absl::StatusOr<LabelMatcher> lm = item.IsScalar()
                                                ? ParseAlertMatcher(item.Scalar())
                                                : absl::InvalidArgumentError("not a string");
          if (lm.ok()) parts.push_back(FormatMatcher(*lm));
        }
      } else if (matchers.IsScalar()) {
        absl::StatusOr<LabelMatcher> lm = ParseAlertMatcher(matchers.Scalar());
        if (lm.ok()) parts.push_back(FormatMatcher(*lm));
      }
      std::string child_key = absl::StrCat(key, "/{", absl::StrJoin(parts, ","), "}");
      if (!child_keys.insert(child_key).second) absl::StrAppend(&child_key, "/", index);
      route.routes.push_back(ReadRoute(child, &route, child_key, config));
      ++index;
    }
    m.Finish();
    return route;
  }

  void ReadMaintenanceWindows(ConfigMap& root, AlertingConfig* config) {
    std::set<std::string> names;
    for (const YAML::Node& n : ListOfMaps(root, "maintenance_windows")) {
      ConfigMap m(n, errors_);
      MaintenanceWindow w;
      w.name = m.String("name");
      if (w.name.empty()) {
        m.Error("name", "required: every maintenance window has a name");
      } else if (!names.insert(w.name).second) {
        m.Error("name", absl::StrCat("duplicate maintenance window name '", w.name, "'"));
      }
      w.matchers = ReadMatchers(m, "matchers");
      const bool has_weekly = m.Has("weekly");
      const bool has_range = m.Has("start") || m.Has("end");
      if (has_weekly == has_range) {
        errors_->Add(m.mark(),
                     absl::StrCat("maintenance window '", w.name,
                                  "': give either weekly: {...} or start: and end: (RFC 3339)"));
      }
      if (has_weekly) {
        ConfigMap weekly = m.Map("weekly");
        ReadWeekly(weekly, &w);
        weekly.Finish();
      } else if (has_range) {
        w.start = ReadTime(m, "start");
        w.end = ReadTime(m, "end");
        if (w.start != absl::InfinitePast() && w.end != absl::InfinitePast() && w.end <= w.start) {
          m.Error("end", "must be after start");
        }
      }
      m.Finish();
      config->maintenance_windows.push_back(std::move(w));
    }
  }

  absl::Time ReadTime(ConfigMap& m, absl::string_view key) {
    std::optional<std::string> text = m.OptionalString(key);
    if (!text) {
      m.Error(key, "required: an RFC 3339 time such as 2026-12-01T02:00:00Z");
      return absl::InfinitePast();
    }
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, *text, &t, &err)) {
      m.Error(key, absl::StrCat("bad time '", *text,
                                "': expected RFC 3339 such as 2026-12-01T02:00:00Z"));
      return absl::InfinitePast();
    }
    return t;
  }

  void ReadWeekly(ConfigMap& m, MaintenanceWindow* w) {
    w->weekly = true;
    YAML::Node days = m.Node("days");
    if (!Present(days)) {
      m.Error("days", "required: a list such as [mon, tue] or [mon-fri]");
    } else if (!days.IsSequence()) {
      errors_->Add(days.Mark(), "days: expected a list such as [mon, tue] or [mon-fri]");
    } else {
      for (const auto& item : days) {
        const std::string text = item.IsScalar() ? item.Scalar() : "";
        std::vector<std::string> range = absl::StrSplit(text, '-');
        int from = range.size() <= 2 ? ParseWeekday(range[0]) : -1;
        int to = range.size() == 2 ? ParseWeekday(range[1]) : from;
        if (from < 0 || to < 0) {
          errors_->Add(item.Mark(), absl::StrCat("days: unknown day '", text,
                                                 "' (mon, tue, ..., sun, or a range mon-fri)"));
          continue;
        }
        for (int d = from;; d = (d + 1) % 7) {
          w->days |= static_cast<uint8_t>(1u << d);
          if (d == to) break;
        }
      }
    }
    std::optional<std::string> start = m.OptionalString("start");
    int hh = -1, mm = -1;
    if (start) {
      std::vector<std::string> hm = absl::StrSplit(*start, ':');
      if (hm.size() != 2 || hm[0].empty() || hm[0].size() > 2 || hm[1].size() != 2 ||
          !absl::SimpleAtoi(hm[0], &hh) || !absl::SimpleAtoi(hm[1], &mm) || hh < 0 || hh > 23 ||
          mm < 0 || mm > 59) {
        m.Error("start", absl::StrCat("bad time of day '", *start, "': expected HH:MM"));
      } else {
        w->start_minute = hh * 60 + mm;
      }
    } else {
      m.Error("start", "required: the local time of day the window opens, HH:MM");
    }
    if (!m.Has("duration")) m.Error("duration", "required: how long the window lasts, e.g. 2h");
    w->duration = m.Duration("duration", absl::Hours(1), kPositive);
    if (w->duration > absl::Hours(24 * 7)) m.Error("duration", "must be at most 7d");
    w->time_zone_name = m.String("time_zone", "UTC");
    if (!absl::LoadTimeZone(w->time_zone_name, &w->time_zone)) {
      m.Error("time_zone", absl::StrCat("unknown time zone '", w->time_zone_name,
                                        "' (an IANA name such as Europe/Berlin)"));
    }
  }

  ConfigErrors* errors_;
  const std::vector<IntegrationFactory>& integrations_;
};

absl::StatusOr<std::shared_ptr<const AlertingConfig>> Build(
    const YAML::Node& node, const std::string& name,
    const std::vector<IntegrationFactory>& integrations) {
  ConfigErrors errors(name);
  std::shared_ptr<AlertingConfig> config = ConfigLoader(&errors, integrations).Load(node);
  if (!errors.empty()) return errors.ToStatus();
  config->path = name;
  return std::shared_ptr<const AlertingConfig>(std::move(config));
}

}  // namespace

const Receiver* AlertingConfig::FindReceiver(absl::string_view name) const {
  for (const Receiver& r : receivers) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const Integration* AlertingConfig::FindIntegration(absl::string_view receiver, int index) const {
  const Receiver* r = FindReceiver(receiver);
  if (r == nullptr || index < 0 || index >= static_cast<int>(r->integrations.size())) {
    return nullptr;
  }
  return &r->integrations[index];
}

absl::Duration AlertingConfig::RootGroupInterval() const {
  return route ? route->group_interval : Route().group_interval;
}

absl::Duration AlertingConfig::RootRepeatInterval() const {
  return route ? route->repeat_interval : Route().repeat_interval;
}

absl::StatusOr<std::shared_ptr<const AlertingConfig>> LoadAlertingConfig(
    const std::string& path, const std::vector<IntegrationFactory>& integrations) {
  absl::StatusOr<YAML::Node> node = LoadYamlFile(path);
  if (absl::IsNotFound(node.status())) {
    VIGIL_LOG(Warning) << "alerting config " << path
                       << " does not exist: no receivers, no notification is sent";
    return Build(YAML::Node(), path, integrations);
  }
  if (!node.ok()) return node.status();
  return Build(*node, path, integrations);
}

absl::StatusOr<std::shared_ptr<const AlertingConfig>> ParseAlertingConfig(
    const std::string& text, const std::string& name,
    const std::vector<IntegrationFactory>& integrations) {
  absl::StatusOr<YAML::Node> node = LoadYamlString(text, name);
  if (!node.ok()) return node.status();
  return Build(*node, name, integrations);
}

std::vector<std::string> CheckRuleActions(const RuleSet& rules, const AlertingConfig& config) {
  std::vector<std::string> problems;
  const std::string where = config.path.empty() ? "the alerting config" : config.path;
  for (const Rule& rule : rules.rules) {
    const std::pair<const char*, const std::vector<std::string>*> lists[] = {
        {"alarm_actions", &rule.alarm_actions},
        {"ok_actions", &rule.ok_actions},
        {"insufficient_data_actions", &rule.insufficient_data_actions}};
    for (const auto& [key, names] : lists) {
      for (const std::string& name : *names) {
        if (config.FindReceiver(name) != nullptr) continue;
        problems.push_back(absl::StrCat(rule.pos.file, ":", rule.pos.line, ":", rule.pos.column,
                                        ": rule '", rule.name, "': ", key, " names receiver '",
                                        name, "', which ", where, " does not define"));
      }
    }
  }
  return problems;
}

}  // namespace vigil::alerting
