#include "collector/alarms/alert_delivery.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace vigil::collector {
namespace {

using nlohmann::json;

std::string Rfc3339(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

bool FileExists(const std::string& path) {
  std::error_code ec;
  return !path.empty() && std::filesystem::exists(path, ec);
}

absl::Status MissingRequiredConfig(const std::string& path) {
  return absl::NotFoundError(
      absl::StrCat("alerting config ", path, " (alerting.config_file) does not exist"));
}

}  // namespace

std::string DefaultExternalUrl(const std::string& http_listen) {
  size_t colon = http_listen.rfind(':');
  std::string host = colon == std::string::npos ? http_listen : http_listen.substr(0, colon);
  std::string port = colon == std::string::npos ? "" : http_listen.substr(colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]") {
    char name[256] = {0};
    host = gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0' ? name : "localhost";
  }
  return absl::StrCat("http://", host, port);
}

AlertDelivery::AlertDelivery(Options options, prometheus::Registry& r)
    : options_(std::move(options)),
      store_(options_.store),
      reload_success_(prometheus::BuildGauge()
                          .Name("vigil_alerting_config_last_reload_success")
                          .Help("1 when the alerting config last (re)loaded successfully, 0 "
                                "when the last reload was rejected")
                          .Register(r)
                          .Add({})),
      reload_time_(prometheus::BuildGauge()
                       .Name("vigil_alerting_config_last_reload_timestamp_seconds")
                       .Help("When the alerting config was last (re)loaded, successfully or not")
                       .Register(r)
                       .Add({})) {}

absl::StatusOr<std::unique_ptr<AlertDelivery>> AlertDelivery::Start(
    Options options, prometheus::Registry& registry) {
  if (!options.now_ms) options.now_ms = [] { return absl::ToUnixMillis(absl::Now()); };
  if (options.config_file_required && !FileExists(options.config_file)) {
    return MissingRequiredConfig(options.config_file);
  }
  if (options.store == nullptr) return absl::InvalidArgumentError("alert delivery: no store");
  std::unique_ptr<AlertDelivery> d(new AlertDelivery(std::move(options), registry));

  alerting::DispatcherOptions o;
  o.config_path = d->options_.config_file;
  o.store = d->store_;
  o.now_ms = d->options_.now_ms;
  o.registry = &registry;
  o.default_external_url = d->options_.default_external_url;
  absl::StatusOr<std::unique_ptr<alerting::Dispatcher>> dispatcher =
      alerting::Dispatcher::Start(std::move(o));
  if (!dispatcher.ok()) {
    return absl::Status(dispatcher.status().code(), absl::StrCat("alerting config not loaded:\n",
                                                                 dispatcher.status().message()));
  }
  d->dispatcher_ = *std::move(dispatcher);
  const int64_t now = d->options_.now_ms();
  d->reload_success_.Set(1);
  d->reload_time_.Set(static_cast<double>(now) / 1000);
  {
    absl::MutexLock lock(&d->mu_);
    d->last_reload_ms_ = now;
  }

  const std::string& file = d->options_.config_file;
  if (file.empty()) {
    VIGIL_LOG(Warning) << "no alerting config (running on embedded defaults): no notification "
                          "is sent";
  } else if (!FileExists(file)) {
    VIGIL_LOG(Warning) << "no alerting config at " << file
                       << ": no notification is sent until it is created and the collector "
                          "reloaded (SIGHUP or POST /-/reload)";
  } else {
    std::shared_ptr<const alerting::AlertingConfig> config = d->dispatcher_->config();
    VIGIL_LOG(Info) << "alerting config " << file << ": " << config->receivers.size()
                    << " receivers, " << (config->route ? "a routing tree" : "no routing tree")
                    << "; outbox in " << d->options_.store_location;
  }
  return d;
}

AlertDelivery::~AlertDelivery() { Stop(); }

void AlertDelivery::Stop() {
  if (dispatcher_) dispatcher_->Stop();
}

std::vector<alerting::Silence> AlertDelivery::Silences() const {
  return dispatcher_->ListSilences();
}

absl::StatusOr<alerting::Silence> AlertDelivery::AddSilence(
    const alerting::SilenceRequest& request) {
  return dispatcher_->AddSilence(request);
}

absl::Status AlertDelivery::ExpireSilence(const std::string& id) {
  return dispatcher_->ExpireSilence(id);
}

absl::Status AlertDelivery::Reload() {
  absl::Status s = options_.config_file_required && !FileExists(options_.config_file)
                       ? MissingRequiredConfig(options_.config_file)
                       : dispatcher_->Reload();
  if (!s.ok() && absl::IsNotFound(s)) {
    VIGIL_LOG(Error) << "alerting config reload rejected; the previous config keeps running: "
                     << s.message();
  }
  const int64_t now = options_.now_ms();
  reload_success_.Set(s.ok() ? 1 : 0);
  reload_time_.Set(static_cast<double>(now) / 1000);
  absl::MutexLock lock(&mu_);
  last_reload_ = s;
  last_reload_ms_ = now;
  return s;
}

json AlertDelivery::Status() const {
  std::shared_ptr<const alerting::AlertingConfig> config = dispatcher_->config();
  const int64_t now = options_.now_ms();
  json receivers = json::array();
  for (const alerting::Receiver& r : config->receivers) {
    json kinds = json::array();
    for (const alerting::Integration& i : r.integrations) kinds.push_back(i.kind);
    receivers.push_back({{"name", r.name}, {"integrations", std::move(kinds)}});
  }
  json windows = json::array();
  for (const alerting::MaintenanceWindow& w : config->maintenance_windows)
    windows.push_back(w.name);
  int active = 0, pending = 0;
  for (const alerting::Silence& s : dispatcher_->ListSilences()) {
    const std::string state = s.StateAt(now);
    active += state == "active";
    pending += state == "pending";
  }
  absl::StatusOr<int64_t> outbox = store_->CountPending();
  json out = {
      {"config_file", options_.config_file.empty() ? json(nullptr) : json(options_.config_file)},
      {"config_loaded", FileExists(config->path)},
      {"external_url",
       config->external_url.empty() ? options_.default_external_url : config->external_url},
      {"receivers", std::move(receivers)},
      {"routing_tree", config->route.has_value()},
      {"inhibit_rules", config->inhibit_rules.size()},
      {"maintenance_windows", std::move(windows)},
      {"silences", {{"active", active}, {"pending", pending}}},
      {"outbox_pending", outbox.ok() ? json(*outbox) : json(nullptr)},
      {"store", options_.store_location}};
  absl::MutexLock lock(&mu_);
  out["last_reload"] = {{"success", last_reload_.ok()},
                        {"error", std::string(last_reload_.message())},
                        {"at", Rfc3339(last_reload_ms_)}};
  return out;
}

}  // namespace vigil::collector
