#ifndef VIGIL_ALERTING_NOTIFY_NOTIFICATION_STORE_H_
#define VIGIL_ALERTING_NOTIFY_NOTIFICATION_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "alerting/notify/silence.h"

// Where the durable parts of alert delivery live: the outbox of notifications, the
// notification log (what each receiver integration was last told about each group) and the
// silences. Implementations: the collector's state stores (collector/state/: embedded SQLite,
// PostgreSQL). Thread-safe: the dispatcher thread, the delivery workers and API handlers call
// it concurrently.

namespace vigil::alerting {

// Identifies a notification log entry.
struct LogKey {
  std::string receiver;
  int integration = 0;
  std::string group_key;
};

// What one receiver integration was last notified of for one aggregation group. Kept while
// the group has firing alerts that were notified; deleted when the incident is over.
struct NotificationLogEntry {
  std::string receiver;
  int integration = 0;
  std::string group_key;
  // Sorted "<fingerprint>@<starts_at_ms>", with "~flapping" appended for a flapping alert.
  std::vector<std::string> firing;
  // Sorted "<fingerprint>@<ends_at_ms>" of the resolved alerts of the last notification.
  std::vector<std::string> resolved;
  int64_t last_notified_ms = 0;
  // The id of the incident's first firing notification: emails of the incident thread on it.
  std::string thread_id;

  LogKey key() const { return {receiver, integration, group_key}; }
};

// One notification to deliver to one receiver integration.
struct OutboxNotification {
  std::string id;  // Notification::id: the idempotency key
  std::string receiver;
  int integration = 0;  // Integration::index
  std::string kind;     // Integration::kind, to detect a config that changed under the row
  std::string payload;  // EncodeNotification()
  int64_t created_ms = 0;
  int attempts = 0;  // made so far
  int64_t next_attempt_ms = 0;
};

enum class OutboxState { kPending, kDelivered, kFailed };

// One delivery attempt, as recorded.
struct DeliveryAttempt {
  int attempt = 0;  // 1-based
  int64_t at_ms = 0;
  std::string result;  // "delivered", "retry", "failed", "expired"
  std::string detail;  // the notifier's; never a secret
};

// A row with its state and attempts, for operators and tests.
struct OutboxEntry {
  OutboxNotification notification;
  OutboxState state = OutboxState::kPending;
  int64_t finished_ms = 0;  // delivered or failed at; 0 while pending
  std::vector<DeliveryAttempt> attempts;
};

// What one flush of an aggregation group writes, all or nothing.
struct FlushBatch {
  std::vector<OutboxNotification> notifications;
  std::vector<NotificationLogEntry> log_upserts;
  std::vector<LogKey> log_deletes;

  bool empty() const { return notifications.empty() && log_upserts.empty() && log_deletes.empty(); }
};

class NotificationStore {
 public:
  virtual ~NotificationStore() = default;

  // Writes the notifications (pending, due at their next_attempt_ms) and the log changes in ONE
  // transaction, before anything is sent. A notification id already in the outbox is kept as
  // it is (the same content flushed twice is one notification).
  virtual absl::Status CommitFlush(const FlushBatch& batch) = 0;
  virtual absl::StatusOr<std::vector<NotificationLogEntry>> LoadLog() = 0;

  // Claims the pending notification due earliest by `now_ms` that no one holds, for this caller
  // until `lease_until_ms`; nullopt when none is due.
  virtual absl::StatusOr<std::optional<OutboxNotification>> ClaimDue(int64_t now_ms,
                                                                     int64_t lease_until_ms) = 0;
  // Frees every claim: at start, when no attempt of an earlier process can still be running.
  virtual absl::Status ReleaseClaims() = 0;
  // Records an attempt of a claimed notification and its new state in one transaction,
  // releasing the claim: kPending schedules the next attempt at next_attempt_ms; kDelivered and
  // kFailed are final (a delivered notification is never claimed again). NotFound when `id` is
  // not a pending notification.
  virtual absl::Status RecordAttempt(const std::string& id, const DeliveryAttempt& attempt,
                                     OutboxState state, int64_t next_attempt_ms) = 0;
  // When the earliest pending notification is due; nullopt when none is pending.
  virtual absl::StatusOr<std::optional<int64_t>> NextAttemptMs() = 0;
  virtual absl::StatusOr<int64_t> CountPending() = 0;
  // The newest `limit` notifications with their attempts, newest first.
  virtual absl::StatusOr<std::vector<OutboxEntry>> ListOutbox(size_t limit) = 0;

  // Inserts or replaces a silence (by id).
  virtual absl::Status SaveSilence(const Silence& silence) = 0;
  // Every stored silence, `parsed` filled in.
  virtual absl::StatusOr<std::vector<Silence>> LoadSilences() = 0;

  // Deletes delivered and failed notifications finished before `before_ms` (with their
  // attempts) and silences that ended before it.
  virtual absl::Status Prune(int64_t before_ms) = 0;
};

}  // namespace vigil::alerting

#endif  // VIGIL_ALERTING_NOTIFY_NOTIFICATION_STORE_H_
