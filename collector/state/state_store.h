#ifndef VIGIL_COLLECTOR_STATE_STATE_STORE_H_
#define VIGIL_COLLECTOR_STATE_STATE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "alerting/notify/notification_store.h"
#include "alerting/state/alarm_store.h"

// Where everything the collector must not lose lives: alarm states with the periods they
// need and the transition history (AlarmStore), the notification outbox, delivery records,
// notification log and silences (NotificationStore), the agents' stream positions, and the
// leader lease of a replicated deployment. Two implementations behave the same (one typed test
// suite runs against both): embedded SQLite in the state directory (the default; no server)
// and PostgreSQL (Kubernetes, several replicas).
//
// Maintenance windows are configuration (alerting.yaml, in git), not state.

namespace vigil::collector {

// How far an agent's stream has been stored: the handshake's "last sequence I have".
struct StreamPosition {
  std::string agent_id;
  uint64_t last_sequence = 0;
  int64_t updated_ms = 0;
};

// The agents' stream positions. Thread-safe.
class StreamPositionStore {
 public:
  virtual ~StreamPositionStore() = default;
  // Inserts or raises the positions, in one transaction; a position never goes down (a lower
  // last_sequence than the stored one leaves the stored one).
  virtual absl::Status SavePositions(const std::vector<StreamPosition>& positions) = 0;
  // Every stored position, ordered by agent id.
  virtual absl::StatusOr<std::vector<StreamPosition>> LoadPositions() = 0;
};

// Who holds the lease now.
struct LeaseInfo {
  std::string holder;  // empty: never held
  int64_t epoch = 0;   // raised by one at every change of holder; 0: never held
  int64_t expires_ms = 0;
};

// Leadership among the replicas that share a store: one holder at a time, with an epoch that
// rises at each change of holder. Expiry is judged by the store's clock (the database server's
// for PostgreSQL), so replicas' clocks do not matter. Thread-safe.
class LeaderLease {
 public:
  virtual ~LeaderLease() = default;
  // Takes the lease for `holder` when it is free or has expired (a new epoch), or renews it
  // when `holder` already holds it (same epoch); for `ttl` from now. Returns the epoch held, or
  // nullopt when another holder's lease is still live.
  virtual absl::StatusOr<std::optional<int64_t>> Acquire(const std::string& holder,
                                                         absl::Duration ttl) = 0;
  // Gives the lease up (expires it now) if `holder` holds it with `epoch`, so a standby takes
  // over at once after a clean stop; no-op otherwise.
  virtual absl::Status Release(const std::string& holder, int64_t epoch) = 0;
  virtual absl::StatusOr<LeaseInfo> Current() = 0;
};

// Schema version as stored, for `vigilctl state status`.
struct SchemaStatus {
  std::string backend;  // "sqlite" or "postgres"
  std::string location; // the file, or host:port/dbname (never a password)
  int version = 0;      // applied migrations
  int latest = 0;       // the newest this binary knows
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // The facets. Valid as long as the store.
  virtual alerting::AlarmStore& alarms() = 0;
  virtual alerting::NotificationStore& notifications() = 0;
  virtual StreamPositionStore& streams() = 0;
  virtual LeaderLease& lease() = 0;

  // Fencing. After SetFencingEpoch(e) with e > 0, every write of every facet (lease excepted)
  // checks, in its own transaction, that the lease's current epoch is still e, and fails with
  // FailedPrecondition ("fenced: lease epoch is now N, this replica holds E") otherwise,
  // writing nothing; an outbox claim likewise. 0 (the default) writes unconditionally: a single
  // collector.
  virtual void SetFencingEpoch(int64_t epoch) = 0;

  virtual absl::StatusOr<SchemaStatus> Status() = 0;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_STATE_STATE_STORE_H_
