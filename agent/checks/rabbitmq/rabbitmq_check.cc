#include "agent/checks/rabbitmq/rabbitmq_check.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/checks/rabbitmq/management_api.h"
#include "common/http_client.h"
#include "common/log.h"

namespace vigil::agent {
namespace {}  // namespace

absl::Status RabbitmqCheck::Init(ConfigMap& config) {
  std::string url = config.String("url", base_url_);
  while (absl::EndsWith(url, "/")) url.pop_back();
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://") && !absl::ConsumePrefix(&rest, "https://")) {
    config.Error("url", absl::StrCat("must start with http:// or https://, got '", url, "'"));
  } else if (rest.substr(0, rest.find('/')).find('@') != absl::string_view::npos) {
    // Never echo the URL here: it holds a password.
    config.Error("url", "must not contain credentials; use username and password_file");
  } else if (rest.empty() || rest[0] == '/') {
    config.Error("url", absl::StrCat("has no host: '", url, "'"));
  } else if (rest.find_first_of("?#") != absl::string_view::npos) {
    config.Error("url", "must be the API's base URL, without a query or fragment");
  }
  base_url_ = url;

  username_ = config.String("username");
  if (username_.empty()) config.Error("username", "required: the management API user");
  password_ = ReadSecretRef(config, "password");
  if (password_.empty()) config.Error("password_file", "required: password_file or password_env");

  has_vhost_ = config.Has("vhost");
  vhost_ = config.String("vhost");
  if (has_vhost_ && vhost_.empty()) config.Error("vhost", "must not be empty");

  if (config.Has("queues")) {
    std::string pattern = config.String("queues");
    absl::StatusOr<LabelMatcher> m = MakeLabelMatcher("queue", LabelMatcher::Op::kRegex, pattern);
    if (m.ok()) {
      queue_filter_ = std::move(*m);
    } else {
      config.Error("queues",
                   absl::StrCat("not a valid regular expression: ", m.status().message()));
    }
  }
  max_queues_ = static_cast<int>(config.Int("max_queues", kDefaultMaxQueues, 1, 1'000'000));
  ca_file_ = config.String("ca_file");
  if (!ca_file_.empty() && config.errors() != nullptr) {
    ca_file_ = ResolvePath(DirName(config.errors()->file()), ca_file_);
  }
  insecure_skip_verify_ = config.Bool("insecure_skip_verify", false);
  // The check bounds its own I/O so that a run fits in its timeout.
  timeout_ = context().timeout;
  return absl::OkStatus();
}

absl::StatusOr<std::string> RabbitmqCheck::Get(const std::string& path, const std::string& query,
                                               absl::Time deadline) {
  const std::string what = absl::StrCat("rabbitmq: GET ", base_url_, path);
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(absl::StrCat(what, ": no time left within the timeout"));
  }
  absl::StatusOr<std::string> password = password_.Read();
  if (!password.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("rabbitmq: cannot read the password: ", password.status().message()));
  }
  HttpRequest request;
  request.url = absl::StrCat(base_url_, path, query);
  request.headers.emplace_back("Accept", "application/json");
  request.username = username_;
  request.password = std::move(*password);
  request.connect_timeout = left;
  request.timeout = left;
  request.ca_file = ca_file_;
  request.insecure_skip_verify = insecure_skip_verify_;
  absl::StatusOr<HttpResponse> response = HttpFetch(request);
  if (!response.ok()) {
    return absl::Status(response.status().code(),
                        absl::StrCat("rabbitmq: ", response.status().message()));
  }
  if (response->status == 200) return std::move(response->body);
  const std::string reason = rabbitmq::ErrorReason(response->body);
  if (response->status == 401) {
    return absl::PermissionDeniedError(absl::StrCat(
        what, ": HTTP 401 (", reason, "): check the username '", username_, "' and its password"));
  }
  if (response->status == 404 && has_vhost_) {
    return absl::NotFoundError(
        absl::StrCat(what, ": HTTP 404 (", reason, "): is there a vhost '", vhost_, "'?"));
  }
  if (response->status == 403 || response->status == 404) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": HTTP ", response->status, " (", reason, ")"));
  }
  return absl::UnavailableError(absl::StrCat(what, ": HTTP ", response->status, " (", reason, ")"));
}

absl::StatusOr<std::vector<Sample>> RabbitmqCheck::Collect(absl::Time) {
  const absl::Time deadline = absl::Now() + timeout_;

  const std::string nodes_path = "/api/nodes";
  absl::StatusOr<std::string> nodes_body =
      Get(nodes_path, absl::StrCat("?columns=", rabbitmq::kNodeColumns), deadline);
  if (!nodes_body.ok()) return nodes_body.status();
  absl::StatusOr<std::vector<rabbitmq::NodeStats>> nodes =
      rabbitmq::ParseNodes(*nodes_body, absl::StrCat("GET ", base_url_, nodes_path));
  if (!nodes.ok()) return nodes.status();

  const std::string queues_path =
      has_vhost_ ? absl::StrCat("/api/queues/", rabbitmq::EncodePathSegment(vhost_))
                 : std::string("/api/queues");
  absl::StatusOr<std::string> queues_body =
      Get(queues_path, absl::StrCat("?columns=", rabbitmq::kQueueColumns), deadline);
  if (!queues_body.ok()) return queues_body.status();
  absl::StatusOr<std::vector<rabbitmq::QueueStats>> queues =
      rabbitmq::ParseQueues(*queues_body, absl::StrCat("GET ", base_url_, queues_path));
  if (!queues.ok()) return queues.status();

  if (queue_filter_) {
    queues->erase(std::remove_if(queues->begin(), queues->end(),
                                 [&](const rabbitmq::QueueStats& q) {
                                   SeriesKey key{"", {{"queue", q.name}}};
                                   return !queue_filter_->Matches(key);
                                 }),
                  queues->end());
  }
  size_t dropped = 0;
  if (queues->size() > static_cast<size_t>(max_queues_)) {
    dropped = queues->size() - static_cast<size_t>(max_queues_);
    queues->resize(static_cast<size_t>(max_queues_));
  }
  if (dropped != last_dropped_queues_) {
    if (dropped > 0) {
      VIGIL_LOG(Warning) << "rabbitmq check: " << dropped << " queue(s) beyond max_queues ("
                         << max_queues_ << ") not reported; narrow them with `queues` or `vhost`";
    } else {
      VIGIL_LOG(Info) << "rabbitmq check: every matching queue is reported again";
    }
    last_dropped_queues_ = dropped;
  }

  std::vector<Sample> out;
  rabbitmq::AppendNodeSamples(*nodes, out);
  rabbitmq::AppendQueueSamples(*queues, out);
  return out;
}

}  // namespace vigil::agent
