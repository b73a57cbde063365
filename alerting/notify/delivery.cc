#include "alerting/notify/delivery.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "alerting/notify/notification_codec.h"
#include "common/log.h"

namespace vigil::alerting {
namespace {

// How long a claim holds a notification: far longer than any notifier's timeout. A claim left
// by a crashed process is released at the next start (ReleaseClaims).
constexpr int64_t kLeaseMs = 10 * 60 * 1000;
// With a real clock, workers look at the outbox at least this often (a row written by another
// process, a store that was unavailable).
constexpr int64_t kMaxIdleWaitMs = 5000;
// ...and at most this often when the due notification is held by another worker.
constexpr int64_t kMinIdleWaitMs = 50;

const char* ResultName(DeliveryResult::Kind kind) {
  switch (kind) {
    case DeliveryResult::Kind::kDelivered:
      return "delivered";
    case DeliveryResult::Kind::kRetry:
      return "retry";
    case DeliveryResult::Kind::kPermanent:
      return "failed";
  }
  return "failed";
}

}  // namespace

int64_t RetryDelayMs(int attempt, const DeliveryConfig& config,
                     std::optional<absl::Duration> retry_after, std::mt19937_64& rng) {
  const int64_t initial = std::max<int64_t>(1, absl::ToInt64Milliseconds(config.initial_backoff));
  const int64_t max = std::max(initial, absl::ToInt64Milliseconds(config.max_backoff));
  int64_t cap = initial;
  for (int i = 1; i < attempt && cap < max; ++i) cap *= 2;
  cap = std::min(cap, max);
  int64_t delay = std::uniform_int_distribution<int64_t>(0, cap)(rng);
  if (retry_after) delay = std::max(delay, absl::ToInt64Milliseconds(*retry_after));
  return delay;
}

DeliveryWorkers::DeliveryWorkers(Options options) : options_(std::move(options)) {
  {
    absl::MutexLock lock(&mu_);
    idle_seq_.assign(options_.workers, 0);
  }
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this, i] { Run(i); });
}

DeliveryWorkers::~DeliveryWorkers() { Stop(); }

void DeliveryWorkers::Wake() {
  absl::MutexLock lock(&mu_);
  ++wake_seq_;
}

void DeliveryWorkers::WaitIdle() {
  absl::MutexLock lock(&mu_);
  const uint64_t target = ++wake_seq_;
  auto idle = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stop_) return true;
    if (busy_ > 0) return false;
    for (uint64_t seq : idle_seq_) {
      if (seq < target) return false;
    }
    return true;
  };
  mu_.Await(absl::Condition(&idle));
}

void DeliveryWorkers::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void DeliveryWorkers::Run(int index) {
  std::mt19937_64 rng(options_.seed != 0 ? options_.seed + index : std::random_device{}());
  mu_.Lock();
  while (!stop_) {
    const uint64_t seq = wake_seq_;
    ++busy_;
    mu_.Unlock();
    const bool attempted = AttemptOne(rng);
    int64_t wait_ms = kMaxIdleWaitMs;
    if (!attempted && !options_.manual_clock) {
      absl::StatusOr<std::optional<int64_t>> next = options_.store->NextAttemptMs();
      if (next.ok() && next->has_value()) {
        wait_ms = std::clamp<int64_t>(**next - options_.now_ms(), kMinIdleWaitMs, kMaxIdleWaitMs);
      }
    }
    mu_.Lock();
    --busy_;
    if (attempted) continue;
    idle_seq_[index] = seq;
    auto woken = [this, seq]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || wake_seq_ != seq; };
    if (options_.manual_clock) {
      mu_.Await(absl::Condition(&woken));
    } else {
      mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(wait_ms));
    }
  }
  mu_.Unlock();
}

bool DeliveryWorkers::AttemptOne(std::mt19937_64& rng) {
  const int64_t now = options_.now_ms();
  absl::StatusOr<std::optional<OutboxNotification>> claimed =
      options_.store->ClaimDue(now, now + kLeaseMs);
  if (!claimed.ok()) {
    VIGIL_LOG(Error) << "cannot read the notification outbox: " << claimed.status();
    return false;
  }
  if (!claimed->has_value()) return false;
  const OutboxNotification& row = **claimed;
  const int attempt_number = row.attempts + 1;

  absl::StatusOr<Notification> notification = DecodeNotification(row.payload);
  std::shared_ptr<const AlertingConfig> config = options_.config();
  const Integration* integration = config->FindIntegration(row.receiver, row.integration);
  if (!notification.ok() || integration == nullptr || integration->kind != row.kind) {
    const std::string detail =
        !notification.ok()
            ? std::string(notification.status().message())
            : absl::StrCat("receiver '", row.receiver, "' has no ", row.kind, " integration #",
                           row.integration, " in the current alerting config");
    VIGIL_LOG(Error) << "notification " << row.id << " to " << row.receiver
                     << " failed permanently: " << detail;
    options_.metrics->Attempted(row.receiver, row.kind, "failed");
    Finish(row, {attempt_number, now, "failed", detail}, OutboxState::kFailed, now);
    return true;
  }

  const auto started = std::chrono::steady_clock::now();
  DeliveryResult result = integration->notifier->Send(*notification);
  const double send_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const int64_t done = options_.now_ms();
  const DeliveryConfig& delivery = config->delivery;
  const int64_t max_age_ms = absl::ToInt64Milliseconds(delivery.max_age);
  switch (result.kind) {
    case DeliveryResult::Kind::kDelivered:
      options_.metrics->Attempted(row.receiver, row.kind, "delivered");
      options_.metrics->Delivered(row.kind, static_cast<double>(done - row.created_ms) / 1000);
      VIGIL_LOG(Info) << "notification " << row.id << " delivered to " << row.receiver << " ("
                      << row.kind << ", attempt " << attempt_number << ", " << send_seconds << " s)"
                      << (result.detail.empty() ? "" : ": ") << result.detail;
      Finish(row, {attempt_number, done, "delivered", result.detail}, OutboxState::kDelivered,
             done);
      break;
    case DeliveryResult::Kind::kRetry: {
      if (done - row.created_ms >= max_age_ms) {
        options_.metrics->Attempted(row.receiver, row.kind, "expired");
        VIGIL_LOG(Error) << "notification " << row.id << " to " << row.receiver << " (" << row.kind
                         << ") failed: not delivered within max_age "
                         << absl::FormatDuration(delivery.max_age) << " after " << attempt_number
                         << " attempts; last error: " << result.detail;
        Finish(row, {attempt_number, done, "expired", result.detail}, OutboxState::kFailed, done);
        break;
      }
      options_.metrics->Attempted(row.receiver, row.kind, "retry");
      // The last retry happens at max_age at the latest; if it fails too, the row expires.
      const int64_t next =
          std::min(done + RetryDelayMs(attempt_number, delivery, result.retry_after, rng),
                   row.created_ms + max_age_ms);
      VIGIL_LOG(Warning) << "notification " << row.id << " to " << row.receiver << " (" << row.kind
                         << ") attempt " << attempt_number << " failed, retrying in "
                         << (next - done) << " ms: " << result.detail;
      Finish(row, {attempt_number, done, "retry", result.detail}, OutboxState::kPending, next);
      break;
    }
    case DeliveryResult::Kind::kPermanent:
      options_.metrics->Attempted(row.receiver, row.kind, "failed");
      VIGIL_LOG(Error) << "notification " << row.id << " to " << row.receiver << " (" << row.kind
                       << ") failed permanently: " << result.detail;
      Finish(row, {attempt_number, done, ResultName(result.kind), result.detail},
             OutboxState::kFailed, done);
      break;
  }
  return true;
}

void DeliveryWorkers::Finish(const OutboxNotification& row, const DeliveryAttempt& attempt,
                             OutboxState state, int64_t next_attempt_ms) {
  absl::Status s = options_.store->RecordAttempt(row.id, attempt, state, next_attempt_ms);
  if (!s.ok()) {
    // The claim stays until its lease ends; the notification is then attempted again (at
    // least once delivery: the receiver sees the same idempotency key).
    VIGIL_LOG(Error) << "cannot record the delivery attempt of notification " << row.id << ": "
                     << s;
  }
  UpdatePending();
}

void DeliveryWorkers::UpdatePending() {
  absl::StatusOr<int64_t> pending = options_.store->CountPending();
  if (pending.ok()) options_.metrics->SetPending(*pending);
}

}  // namespace vigil::alerting
