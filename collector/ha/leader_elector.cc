#include "collector/ha/leader_elector.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace vigil::collector {

LeaderElector::LeaderElector(Options options, LeaderLease* lease, prometheus::Registry& registry)
    : options_(std::move(options)),
      lease_(lease),
      is_leader_(prometheus::BuildGauge()
                     .Name("vigil_ha_leader")
                     .Help("1 while this replica holds the leader lease (evaluates rules and "
                           "sends notifications), 0 while it waits as a standby")
                     .Register(registry)
                     .Add({})),
      epoch_gauge_(prometheus::BuildGauge()
                       .Name("vigil_ha_lease_epoch")
                       .Help("The lease epoch this replica holds (0: none); rises at every change "
                             "of leader")
                       .Register(registry)
                       .Add({})) {}

LeaderElector::~LeaderElector() { Stop(); }

absl::StatusOr<int64_t> LeaderElector::AwaitLeadership(absl::Notification* stop) {
  std::string last_error;
  bool said_waiting = false;
  for (;;) {
    absl::StatusOr<std::optional<int64_t>> got =
        lease_->Acquire(options_.holder, options_.lease_duration);
    const absl::Time asked = absl::Now();
    if (got.ok() && got->has_value()) {
      absl::MutexLock lock(&mu_);
      epoch_ = **got;
      held_ = true;
      last_renewed_ = asked;
      is_leader_.Set(1);
      epoch_gauge_.Set(static_cast<double>(epoch_));
      VIGIL_LOG(Info) << "replica " << options_.holder << " is the leader (lease epoch " << epoch_
                      << ")";
      return epoch_;
    }
    if (!got.ok()) {
      if (std::string e = got.status().ToString(); e != last_error) {
        VIGIL_LOG(Warning) << "cannot reach the leader lease: " << e << "; retrying every "
                           << absl::FormatDuration(options_.renew_interval);
        last_error = e;
      }
    } else if (!said_waiting) {
      absl::StatusOr<LeaseInfo> current = lease_->Current();
      VIGIL_LOG(Info) << "replica " << options_.holder << " is a standby: "
                      << (current.ok() ? absl::StrCat("the lease is held by ", current->holder,
                                                      " (epoch ", current->epoch, ")")
                                       : std::string("the lease is held by another replica"));
      said_waiting = true;
    }
    if (stop->WaitForNotificationWithTimeout(options_.renew_interval)) {
      return absl::CancelledError("stopped while waiting for the leader lease");
    }
  }
}

void LeaderElector::StartRenewing(std::function<void(const absl::Status&)> on_lost) {
  on_lost_ = std::move(on_lost);
  renewer_ = std::thread([this] { Renew(); });
}

void LeaderElector::Renew() {
  for (;;) {
    absl::Time deadline;
    {
      absl::MutexLock lock(&mu_);
      deadline = last_renewed_ + options_.lease_duration - options_.renew_interval;
    }
    const absl::Duration wait = std::min(options_.renew_interval, deadline - absl::Now());
    if (stop_renewing_.WaitForNotificationWithTimeout(std::max(wait, absl::ZeroDuration()))) {
      return;
    }
    const absl::Time asked = absl::Now();
    absl::Status lost;
    if (asked >= deadline) {
      lost = absl::DeadlineExceededError(
          absl::StrCat("the lease was not renewed within ",
                       absl::FormatDuration(options_.lease_duration - options_.renew_interval)));
    } else {
      absl::StatusOr<std::optional<int64_t>> got =
          lease_->Acquire(options_.holder, options_.lease_duration);
      absl::MutexLock lock(&mu_);
      if (got.ok() && got->has_value() && **got == epoch_) {
        last_renewed_ = asked;
        continue;
      }
      if (got.ok()) {
        lost =
            absl::AbortedError(got->has_value() ? absl::StrCat("the lease came back with epoch ",
                                                               **got, " instead of ", epoch_)
                                                : std::string("another replica holds the lease"));
      } else {
        VIGIL_LOG(Warning) << "cannot renew the leader lease: " << got.status();
        continue;  // retried until the deadline
      }
    }
    {
      absl::MutexLock lock(&mu_);
      held_ = false;
    }
    is_leader_.Set(0);
    VIGIL_LOG(Error) << "replica " << options_.holder << " lost the leadership: " << lost;
    if (on_lost_) on_lost_(lost);
    return;
  }
}

void LeaderElector::Stop() {
  if (!stop_renewing_.HasBeenNotified()) stop_renewing_.Notify();
  if (renewer_.joinable()) renewer_.join();
  int64_t epoch;
  {
    absl::MutexLock lock(&mu_);
    if (!held_) return;
    held_ = false;
    epoch = epoch_;
  }
  is_leader_.Set(0);
  if (absl::Status s = lease_->Release(options_.holder, epoch); !s.ok()) {
    VIGIL_LOG(Warning) << "cannot release the leader lease (it expires by itself): " << s;
  } else {
    VIGIL_LOG(Info) << "released the leader lease (epoch " << epoch << ")";
  }
}

int64_t LeaderElector::epoch() const {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

}  // namespace vigil::collector
