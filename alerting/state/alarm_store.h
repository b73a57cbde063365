#ifndef VIGIL_ALERTING_STATE_ALARM_STORE_H_
#define VIGIL_ALERTING_STATE_ALARM_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "alerting/rules/types.h"

namespace vigil::alerting {

// The persisted state of one alarm instance: enough to resume evaluation after a restart
// without re-firing or forgetting.
struct AlarmRecord {
  std::string rule;
  std::string instance;  // canonical instance labels, `{host="db1"}` ("{}" for a single one)
  AlarmState state = AlarmState::kInsufficientData;
  int64_t state_since_ms = 0;
  uint64_t rule_fingerprint = 0;
  int64_t last_data_ms = 0;
  std::string periods;  // the engine's serialized recent periods (opaque to the store)
};

struct TransitionRecord {
  int64_t id = 0;  // assigned by the store, increasing
  std::string rule;
  std::string instance;
  int64_t at_ms = 0;
  AlarmState from = AlarmState::kInsufficientData;
  AlarmState to = AlarmState::kInsufficientData;
  std::string reason;
};

// Where alarm states and transition history live. Implementations: the collector's state
// stores (collector/state/: embedded SQLite, PostgreSQL). Writes are batched by the caller (one
// call per evaluation round), never per datapoint. Each write is one transaction: on any error
// nothing of it is written; an empty rule name or a state outside the enum is InvalidArgument.
// Thread-safe.
class AlarmStore {
 public:
  virtual ~AlarmStore() = default;

  // Inserts or replaces the given instances (key: rule + instance).
  virtual absl::Status SaveAlarms(const std::vector<AlarmRecord>& alarms) = 0;
  // Removes instances (retired ones, or rules that no longer exist).
  virtual absl::Status DeleteAlarms(
      const std::vector<std::pair<std::string, std::string>>& rule_instance) = 0;
  // Every stored instance, ordered by rule, then instance.
  virtual absl::StatusOr<std::vector<AlarmRecord>> LoadAlarms() = 0;

  // Appends transitions in order; ids are assigned increasing.
  virtual absl::Status AppendTransitions(const std::vector<TransitionRecord>& transitions) = 0;
  // The most recent `limit` transitions of a rule (all rules when `rule` is empty), newest first.
  virtual absl::StatusOr<std::vector<TransitionRecord>> History(const std::string& rule,
                                                                size_t limit) = 0;
  // Bounds the history: keeps the newest `keep_per_rule` transitions of every rule and deletes
  // the older ones, in one transaction. Ids of the kept rows do not change, and ids are never
  // reused.
  virtual absl::Status PruneTransitions(size_t keep_per_rule) = 0;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_STATE_ALARM_STORE_H_
