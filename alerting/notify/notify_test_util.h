#ifndef VIGIL_ALERTING_NOTIFY_NOTIFY_TEST_UTIL_H_
#define VIGIL_ALERTING_NOTIFY_NOTIFY_TEST_UTIL_H_

// Test-only: a notifier that records what it is asked to send and answers from a script, and
// the `record:` integration kind that creates one per name. Header-only, for notify_*_test.

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "alerting/notify/integrations.h"
#include "alerting/notify/notifier.h"

namespace vigil::alerting::testing {

// What one named integration was asked to send. Thread-safe (delivery workers call Next()).
class Recorder {
 public:
  // The next answers, in order; once used up every attempt is Delivered.
  void Script(std::vector<DeliveryResult> results) {
    absl::MutexLock lock(&mu_);
    script_.assign(results.begin(), results.end());
  }
  DeliveryResult Next(const Notification& n) {
    absl::MutexLock lock(&mu_);
    attempts_.push_back(n);
    if (script_.empty()) return DeliveryResult::Delivered("recorded");
    DeliveryResult r = script_.front();
    script_.pop_front();
    return r;
  }
  // Every attempt, retries included.
  std::vector<Notification> attempts() const {
    absl::MutexLock lock(&mu_);
    return attempts_;
  }
  // Notifications by distinct id, in the order first attempted.
  std::vector<Notification> distinct() const {
    absl::MutexLock lock(&mu_);
    std::vector<Notification> out;
    for (const Notification& n : attempts_) {
      bool seen = false;
      for (const Notification& o : out) seen = seen || o.id == n.id;
      if (!seen) out.push_back(n);
    }
    return out;
  }
  size_t count() const {
    absl::MutexLock lock(&mu_);
    return attempts_.size();
  }

 private:
  mutable absl::Mutex mu_;
  std::deque<DeliveryResult> script_ ABSL_GUARDED_BY(mu_);
  std::vector<Notification> attempts_ ABSL_GUARDED_BY(mu_);
};

class RecordingNotifier : public Notifier {
 public:
  explicit RecordingNotifier(std::shared_ptr<Recorder> recorder) : recorder_(std::move(recorder)) {}
  std::string kind() const override { return "record"; }
  DeliveryResult Send(const Notification& n) override { return recorder_->Next(n); }

 private:
  std::shared_ptr<Recorder> recorder_;
};

// Recorders by name; they outlive configs and dispatchers, so a test sees every send.
class Recorders {
 public:
  std::shared_ptr<Recorder> Get(const std::string& name) {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Recorder>& r = by_name_[name];
    if (r == nullptr) r = std::make_shared<Recorder>();
    return r;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Recorder>> by_name_ ABSL_GUARDED_BY(mu_);
};

// `record: {name: x}` (name required); the built-in kinds too, so configs may mix them.
inline std::vector<IntegrationFactory> TestIntegrations(std::shared_ptr<Recorders> recorders) {
  std::vector<IntegrationFactory> all = BuiltinIntegrations();
  all.push_back(
      {"record",
       [recorders](ConfigMap& config, const EmailTemplates&) -> std::unique_ptr<Notifier> {
         std::string name = config.String("name");
         if (name.empty()) {
           config.Error("name", "required");
           return nullptr;
         }
         return std::make_unique<RecordingNotifier>(recorders->Get(name));
       }});
  return all;
}

}  // namespace vigil::alerting::testing

#endif  // VIGIL_ALERTING_NOTIFY_NOTIFY_TEST_UTIL_H_
