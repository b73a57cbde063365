#include "collector/alarms/evaluator.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "alerting/notify/alert_labels.h"
#include "alerting/rules/loader.h"
#include "common/log.h"

namespace vigil::collector {
namespace {

using alerting::AlarmState;
using nlohmann::json;

std::string Rfc3339(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

json LabelsJson(const Labels& labels) {
  json j = json::object();
  for (const auto& [k, v] : labels) j[k] = v;
  return j;
}

// Whether alert delivery notifies anyone of this transition: the receivers a rule's *_actions
// list for the new state, or, through the routing tree, a change into or out of ALARM.
bool WouldNotify(const alerting::Rule& rule, const alerting::Transition& t) {
  if (!rule.alarm_actions.empty() || !rule.ok_actions.empty() ||
      !rule.insufficient_data_actions.empty()) {
    switch (t.to) {
      case AlarmState::kAlarm:
        return !rule.alarm_actions.empty();
      case AlarmState::kOk:
        return !rule.ok_actions.empty();
      case AlarmState::kInsufficientData:
        return !rule.insufficient_data_actions.empty();
    }
  }
  return t.to == AlarmState::kAlarm || t.from == AlarmState::kAlarm;
}

// Transitions kept per rule in the history (the API and `vigilctl` show the newest).
constexpr size_t kKeepTransitionsPerRule = 10000;

std::shared_ptr<const alerting::RuleSet> EmptyRuleSet() {
  return std::make_shared<alerting::RuleSet>();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Evaluator>> Evaluator::Start(Options options,
                                                            prometheus::Registry& registry) {
  if (options.store == nullptr) return absl::InvalidArgumentError("evaluator: no alarm store");
  std::unique_ptr<Evaluator> e(new Evaluator(std::move(options), registry));
  absl::StatusOr<std::vector<alerting::AlarmRecord>> restored = e->state_->LoadAlarms();
  if (!restored.ok()) return restored.status();
  e->engine_ = std::make_unique<alerting::AlarmEngine>(EmptyRuleSet(),
                                                       alerting::AlarmEngineOptions{}, *restored);
  // The first load happens like any reload; with errors the collector still ingests, evaluates
  // nothing, and says why (vigil_rules_last_reload_success 0).
  const int64_t now = e->options_.now_ms();
  std::vector<alerting::AlarmRecord> records = std::move(*restored);
  absl::StatusOr<std::shared_ptr<const alerting::RuleSet>> rules =
      alerting::LoadRuleSet({e->options_.rules_dir});
  if (rules.ok()) {
    // Restore against the real rule set so unchanged rules keep their state.
    e->engine_ =
        std::make_unique<alerting::AlarmEngine>(*rules, alerting::AlarmEngineOptions{}, records);
  }
  {
    absl::MutexLock lock(&e->mu_);
    e->last_reload_ = rules.ok() ? absl::OkStatus() : rules.status();
  }
  if (!rules.ok()) {
    VIGIL_LOG(Error) << "rules in " << e->options_.rules_dir << " not loaded:\n"
                     << rules.status().message();
  }
  e->reload_success_.Set(rules.ok() ? 1 : 0);
  e->reload_time_.Set(static_cast<double>(now) / 1000);
  e->Publish();
  // Alarms already in ALARM become firing alerts again before any transition; the dispatcher's
  // notification log keeps them from being notified twice.
  if (e->options_.dispatcher != nullptr) {
    e->options_.dispatcher->Restore(e->engine_->Alarms(), e->engine_->rules());
  }
  if (!e->options_.hold) e->Release(0);
  e->snapshot_writer_ = std::thread([self = e.get()] { self->WriteSnapshots(); });
  e->thread_ = std::thread([self = e.get()] { self->Run(); });
  e->watcher_ = std::thread([self = e.get()] { self->Watch(); });
  return e;
}

Evaluator::Evaluator(Options options, prometheus::Registry& r)
    : options_(std::move(options)),
      state_(options_.store),
      reload_success_(prometheus::BuildGauge()
                          .Name("vigil_rules_last_reload_success")
                          .Help("1 when the last rule reload succeeded, 0 when it was rejected")
                          .Register(r)
                          .Add({})),
      reload_time_(prometheus::BuildGauge()
                       .Name("vigil_rules_last_reload_timestamp_seconds")
                       .Help("When the rules were last (re)loaded, successfully or not")
                       .Register(r)
                       .Add({})),
      rules_loaded_(prometheus::BuildGauge()
                        .Name("vigil_rules_loaded")
                        .Help("Rules in the running rule set")
                        .Register(r)
                        .Add({})),
      alarms_by_state_(prometheus::BuildGauge()
                           .Name("vigil_alarms")
                           .Help("Alarm instances by state")
                           .Register(r)),
      transitions_(prometheus::BuildCounter()
                       .Name("vigil_alarm_transitions_total")
                       .Help("Alarm state transitions recorded")
                       .Register(r)
                       .Add({})),
      dropped_(prometheus::BuildCounter()
                   .Name("vigil_rule_evaluation_dropped_datapoints_total")
                   .Help("Datapoints not evaluated because the evaluation queue was full")
                   .Register(r)
                   .Add({})),
      revision_info_(prometheus::BuildGauge()
                         .Name("vigil_rules_revision_info")
                         .Help("The running rule set's revision (hash of the rule files)")
                         .Register(r)) {}

Evaluator::~Evaluator() { Stop(); }

void Evaluator::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (watcher_.joinable()) watcher_.join();
  {
    absl::MutexLock lock(&snapshot_mu_);
    snapshot_stop_ = true;
  }
  if (snapshot_writer_.joinable()) snapshot_writer_.join();
}

void Evaluator::WriteSnapshots() {
  std::set<std::pair<std::string, std::string>> saved;
  absl::Time last_prune = absl::InfinitePast();
  for (;;) {
    std::vector<alerting::AlarmRecord> snapshot;
    bool stop;
    {
      absl::MutexLock lock(&snapshot_mu_);
      auto ready = +[](Evaluator* e) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return e->snapshot_stop_ || e->pending_snapshot_.has_value();
      };
      snapshot_mu_.Await(absl::Condition(ready, this));
      stop = snapshot_stop_;
      if (!pending_snapshot_) return;
      snapshot = std::move(*pending_snapshot_);
      pending_snapshot_.reset();
    }
    std::set<std::pair<std::string, std::string>> current;
    for (const auto& r : snapshot) current.emplace(r.rule, r.instance);
    std::vector<std::pair<std::string, std::string>> gone;
    for (const auto& k : saved) {
      if (current.count(k) == 0) gone.push_back(k);
    }
    absl::Status s = state_->SaveAlarms(snapshot);
    if (s.ok() && !gone.empty()) s = state_->DeleteAlarms(gone);
    if (!s.ok()) {
      VIGIL_LOG(Error) << "cannot save alarm states: " << s;
    } else {
      saved = std::move(current);
    }
    // The history is bounded: the newest transitions of every rule are kept.
    if (const absl::Time now = absl::Now(); now - last_prune >= absl::Minutes(10)) {
      last_prune = now;
      if (absl::Status p = state_->PruneTransitions(kKeepTransitionsPerRule); !p.ok()) {
        VIGIL_LOG(Warning) << "cannot prune the alarm history: " << p;
      }
    }
    if (stop) return;  // the final snapshot is written
  }
}

void Evaluator::Offer(const std::string& /*agent_id*/, const SeriesKey& key,
                      absl::Span<const DataPoint> points) {
  absl::MutexLock lock(&mu_);
  if (metrics_ == nullptr || !metrics_->contains(key.metric)) return;
  for (const DataPoint& p : points) {
    if (queue_.size() >= options_.queue_capacity) {
      dropped_.Increment();
      continue;
    }
    queue_.push_back({key, p.timestamp_ms, p.value});
  }
}

void Evaluator::Release(int64_t evaluate_from_ms) {
  absl::MutexLock lock(&mu_);
  evaluate_from_ms_ = evaluate_from_ms;
}

int64_t Evaluator::ReplayHorizonMs() const {
  absl::MutexLock lock(&mu_);
  return replay_horizon_ms_;
}

void Evaluator::Run() {
  int64_t last_save = 0;
  int64_t last_publish = 0;
  const int64_t interval_ms = absl::ToInt64Milliseconds(options_.evaluation_interval);
  absl::Duration wait = options_.evaluation_interval;
  for (;;) {
    std::deque<Point> points;
    bool reload = false;
    {
      absl::MutexLock lock(&mu_);
      auto wake = +[](Evaluator* e) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        // A backlog is taken in batches: the points that arrived before a period became due
        // must be observed before it is closed, and a second's worth at 1M points/s would take
        // hundreds of milliseconds.
        return e->stopping_ || e->reload_requested_ || e->queue_.size() >= kDrainBatch;
      };
      mu_.AwaitWithTimeout(absl::Condition(wake, this), wait);
      if (stopping_) {
        absl::MutexLock snapshot_lock(&snapshot_mu_);
        pending_snapshot_ = engine_->Snapshot();
        break;
      }
      points.swap(queue_);
      reload = reload_requested_;
      reload_requested_ = false;
    }
    const int64_t now = options_.now_ms();
    for (const Point& p : points) engine_->Observe(p.key, p.ts, p.value);
    if (reload) {
      absl::Status s = DoReload(now);
      absl::MutexLock lock(&mu_);
      last_reload_ = s;
      ++reload_generation_;
    }
    bool held;
    {
      absl::MutexLock lock(&mu_);
      held = !evaluate_from_ms_.has_value() || now < *evaluate_from_ms_;
    }
    if (held) {
      wait = std::min(options_.evaluation_interval, absl::Milliseconds(200));
      continue;
    }
    std::vector<alerting::Transition> transitions = engine_->AdvanceTo(now);
    Record(transitions);
    // Listing every instance (Snapshot, Publish) takes tens of milliseconds at 100k instances:
    // done at once after a change, otherwise on a timer, but not just before a period becomes
    // due, so that it never delays a decision.
    const std::optional<int64_t> next_due = engine_->NextDueMs();
    const bool changed = !transitions.empty() || reload;
    const bool quiet = !next_due.has_value() || *next_due - now > kQuietBeforeDueMs;
    if (changed || (quiet && now - last_save >= 10000)) {
      // Every instance's state and recent periods, written off this thread (newest wins).
      std::vector<alerting::AlarmRecord> snapshot = engine_->Snapshot();
      absl::MutexLock lock(&snapshot_mu_);
      pending_snapshot_ = std::move(snapshot);
      last_save = now;
    }
    if (changed || (quiet && now - last_publish >= interval_ms)) {
      Publish();
      last_publish = now;
    }
    // Wake at the next due period close (at most one evaluation_interval from now), so a
    // transition is decided when its period closes plus the delay, not at the next tick.
    wait = options_.evaluation_interval;
    if (std::optional<int64_t> due = engine_->NextDueMs()) {
      wait = std::min(wait, absl::Milliseconds(std::max<int64_t>(0, *due - options_.now_ms())));
    }
  }
}

absl::Status Evaluator::DoReload(int64_t now) {
  absl::StatusOr<std::shared_ptr<const alerting::RuleSet>> rules =
      alerting::LoadRuleSet({options_.rules_dir});
  reload_time_.Set(static_cast<double>(now) / 1000);
  if (!rules.ok()) {
    reload_success_.Set(0);
    VIGIL_LOG(Error) << "rule reload rejected; the previous rules keep running:\n"
                     << rules.status().message();
    return rules.status();
  }
  Record(engine_->Reload(*rules, now));
  reload_success_.Set(1);
  VIGIL_LOG(Info) << "rules reloaded: " << (*rules)->rules.size() << " rules, revision "
                  << (*rules)->revision;
  return absl::OkStatus();
}

void Evaluator::Record(const std::vector<alerting::Transition>& transitions) {
  if (transitions.empty()) return;
  alerting::Dispatcher* dispatcher = options_.dispatcher;
  const alerting::RuleSet& rules = engine_->rules();
  const int64_t now = options_.now_ms();
  std::vector<alerting::TransitionRecord> records;
  for (const alerting::Transition& t : transitions) {
    std::string reason = t.reason;
    // Silenced alarms still change state and are recorded; the history says why nothing is sent.
    if (dispatcher != nullptr) {
      const alerting::Rule* rule = rules.Find(t.rule);
      if (rule != nullptr && WouldNotify(*rule, t)) {
        std::string muted = dispatcher->MuteReason(alerting::AlertLabels(*rule, t.labels), now);
        if (!muted.empty()) absl::StrAppend(&reason, " (notifications held back: ", muted, ")");
      }
    }
    VIGIL_LOG(Info) << "alarm " << t.rule << (t.instance == "{}" ? "" : t.instance) << ": "
                    << alerting::StateName(t.from) << " -> " << alerting::StateName(t.to) << ": "
                    << reason;
    records.push_back({0, t.rule, t.instance, t.at_ms, t.from, t.to, std::move(reason)});
  }
  transitions_.Increment(static_cast<double>(transitions.size()));
  if (absl::Status s = state_->AppendTransitions(records); !s.ok()) {
    VIGIL_LOG(Error) << "cannot record " << records.size() << " alarm transitions: " << s;
  }
  if (dispatcher != nullptr) dispatcher->OnTransitions(transitions, rules);
}

void Evaluator::Publish() {
  const alerting::RuleSet& rs = engine_->rules();
  auto metrics = std::make_shared<absl::flat_hash_set<std::string>>();
  json rules = json::array();
  for (const alerting::Rule& r : rs.rules) {
    for (const alerting::MetricQuery& q : r.queries) metrics->insert(q.metric);
    rules.push_back(
        {{"name", r.name},
         {"kind", r.kind == alerting::Rule::Kind::kComposite ? "composite" : "threshold"},
         {"description", r.description},
         {"severity", r.severity},
         {"file", r.pos.file},
         {"line", r.pos.line}});
  }
  std::vector<alerting::AlarmView> views = engine_->Alarms();
  int counts[3] = {0, 0, 0};
  for (const auto& v : views) ++counts[static_cast<int>(v.state)];
  for (AlarmState s : {AlarmState::kInsufficientData, AlarmState::kOk, AlarmState::kAlarm}) {
    alarms_by_state_.Add({{"state", std::string(alerting::StateName(s))}})
        .Set(counts[static_cast<int>(s)]);
  }
  rules_loaded_.Set(static_cast<double>(rs.rules.size()));
  int64_t horizon = 0;
  for (const alerting::Rule& r : rs.rules) {
    if (r.kind != alerting::Rule::Kind::kThreshold) continue;
    horizon = std::max(horizon, absl::ToInt64Milliseconds(r.period * (r.evaluation_periods + 1) +
                                                          r.evaluation_delay + absl::Minutes(1)));
  }
  horizon = std::min<int64_t>(horizon, 3'600'000);
  if (revision_gauge_ == nullptr || rs.revision != published_revision_) {
    if (revision_gauge_ != nullptr) revision_info_.Remove(revision_gauge_);
    revision_gauge_ = &revision_info_.Add({{"revision", rs.revision}});
    revision_gauge_->Set(1);
    published_revision_ = rs.revision;
  }
  absl::MutexLock lock(&mu_);
  replay_horizon_ms_ = horizon;
  metrics_ = std::move(metrics);
  views_ = std::move(views);
  rules_json_ = {{"revision", rs.revision},
                 {"files", rs.files},
                 {"directory", options_.rules_dir},
                 {"last_reload",
                  {{"success", last_reload_.ok()}, {"error", std::string(last_reload_.message())}}},
                 {"rules", std::move(rules)}};
}

json Evaluator::Alarms(const std::string& state_filter) const {
  absl::MutexLock lock(&mu_);
  json out = json::array();
  for (const alerting::AlarmView& v : views_) {
    const std::string state(alerting::StateName(v.state));
    if (!state_filter.empty() && state != state_filter) continue;
    json a = {{"rule", v.rule},
              {"instance", v.instance},
              {"labels", LabelsJson(v.labels)},
              {"state", state},
              {"since", v.state_since_ms > 0 ? json(Rfc3339(v.state_since_ms)) : json(nullptr)},
              {"since_ms", v.state_since_ms},
              {"reason", v.reason}};
    a["value"] = v.last_value ? json(*v.last_value) : json(nullptr);
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<json> Evaluator::History(const std::string& rule, size_t limit) const {
  absl::StatusOr<std::vector<alerting::TransitionRecord>> h = state_->History(rule, limit);
  if (!h.ok()) return h.status();
  if (h->empty() && !rule.empty()) {
    absl::MutexLock lock(&mu_);
    bool known = false;
    for (const auto& r : rules_json_["rules"]) known |= r["name"] == rule;
    if (!known) return absl::NotFoundError("no rule named '" + rule + "'");
  }
  json out = json::array();
  for (const alerting::TransitionRecord& t : *h) {
    out.push_back({{"rule", t.rule},
                   {"instance", t.instance},
                   {"at", Rfc3339(t.at_ms)},
                   {"at_ms", t.at_ms},
                   {"from", alerting::StateName(t.from)},
                   {"to", alerting::StateName(t.to)},
                   {"reason", t.reason}});
  }
  return out;
}

json Evaluator::Rules() const {
  absl::MutexLock lock(&mu_);
  return rules_json_;
}

absl::Status Evaluator::Reload() {
  absl::MutexLock lock(&mu_);
  const uint64_t generation = reload_generation_;
  reload_requested_ = true;
  auto done = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return reload_generation_ > generation || stopping_;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30))) {
    return absl::DeadlineExceededError("rule reload did not finish within 30s");
  }
  return last_reload_;
}

void Evaluator::Watch() {
  // Watches the rules directory itself: an edit, a new or removed file, and the atomic
  // symlink swap Kubernetes does for mounted ConfigMaps (..data renamed into place) all show
  // up as events on the directory.
  int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0 || inotify_add_watch(fd, options_.rules_dir.c_str(),
                                  IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_TO |
                                      IN_MOVED_FROM | IN_ATTRIB) < 0) {
    VIGIL_LOG(Warning) << "cannot watch " << options_.rules_dir
                       << " for changes; reload with SIGHUP or POST /-/reload";
    if (fd >= 0) close(fd);
    return;
  }
  char buf[4096];
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    // Let a burst of events (an editor's save, a ConfigMap update) settle, then reload once.
    absl::SleepFor(absl::Milliseconds(200));
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    absl::MutexLock lock(&mu_);
    reload_requested_ = true;
  }
  close(fd);
}

}  // namespace vigil::collector
