#include "alerting/notifiers/webhook/webhook_receiver.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace vigil::alerting::testing {
namespace {

constexpr char kPython[] = "/usr/bin/python3";

}  // namespace

std::string ReceivedRequest::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

absl::StatusOr<std::vector<ReceivedRequest>> ParseReceivedRequests(const std::string& text) {
  std::vector<ReceivedRequest> out;
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  // The last element follows the last newline: empty, or a line still being written.
  lines.pop_back();
  int number = 0;
  for (absl::string_view line : lines) {
    ++number;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("received requests, line ", number, ": not a JSON object"));
    }
    ReceivedRequest r;
    auto text_field = [&](const char* key, std::string* value) {
      auto it = j.find(key);
      if (it == j.end() || !it->is_string()) return false;
      *value = it->get<std::string>();
      return true;
    };
    auto status = j.find("status_returned");
    auto time = j.find("time");
    auto headers = j.find("headers");
    if (!text_field("method", &r.method) || !text_field("path", &r.path) ||
        !text_field("body", &r.body) || status == j.end() || !status->is_number_integer() ||
        time == j.end() || !time->is_number() || headers == j.end() || !headers->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("received requests, line ", number,
                       ": expected method, path, body, status_returned, time and headers"));
    }
    r.status_returned = status->get<int>();
    r.time = time->get<double>();
    for (const auto& [name, value] : headers->items()) {
      if (!value.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("received requests, line ", number, ": header ", name, " not a string"));
      }
      r.headers[name] = value.get<std::string>();
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<WebhookReceiver>> WebhookReceiver::Start(
    WebhookReceiverOptions options) {
  const std::string script = VIGIL_WEBHOOK_RECEIVER_SCRIPT;
  if (::access(kPython, X_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        kPython, " is missing: install Debian's python3 (bash scripts/install-deps.sh)"));
  }
  if (::access(script.c_str(), R_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(script, " is missing"));
  }
  std::unique_ptr<WebhookReceiver> receiver(new WebhookReceiver());
  receiver->out_path_ = receiver->dir_.Join("requests.jsonl");
  std::string last_error;
  // FreePort() is free when chosen; another process may still take it before the bind.
  for (int attempt = 0; attempt < 3; ++attempt) {
    receiver->port_ = vigil::testing::FreePort();
    std::vector<std::string> argv = {kPython,      script,
                                     "--port",     absl::StrCat(receiver->port_),
                                     "--out",      receiver->out_path_,
                                     "--statuses", absl::StrJoin(options.statuses, ",")};
    if (options.retry_after_seconds) {
      argv.insert(argv.end(), {"--retry-after", absl::StrCat(*options.retry_after_seconds)});
    }
    if (options.delay > absl::ZeroDuration()) {
      argv.insert(argv.end(), {"--delay", absl::StrCat(absl::ToDoubleSeconds(options.delay))});
    }
    if (options.response_body) argv.insert(argv.end(), {"--response-body", *options.response_body});
    const std::string stdout_path = receiver->dir_.Join(absl::StrCat("stdout.", attempt));
    const std::string stderr_path = receiver->dir_.Join(absl::StrCat("stderr.", attempt));
    auto process = std::make_unique<vigil::testing::Process>(argv, stdout_path, stderr_path);
    bool ready = vigil::testing::WaitFor(
        [&] { return absl::StrContains(process->Stdout(), "ready") || !process->running(); },
        absl::Seconds(20));
    if (ready && process->running()) {
      receiver->process_ = std::move(process);
      return receiver;
    }
    last_error = ready ? process->Stderr() : "did not print ready within 20 s";
    process->Stop(SIGKILL);
  }
  return absl::UnavailableError(
      absl::StrCat("webhook receiver (", script, ") failed to start: ", last_error));
}

std::string WebhookReceiver::Url(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", port_, path);
}

std::vector<ReceivedRequest> WebhookReceiver::Requests() const {
  absl::StatusOr<std::vector<ReceivedRequest>> requests =
      ParseReceivedRequests(vigil::testing::ReadFile(out_path_));
  if (!requests.ok()) {
    // The receiver writes each line with json.dumps: a bad line is a bug in this helper.
    std::fprintf(stderr, "%s: %s\n", out_path_.c_str(),
                 std::string(requests.status().message()).c_str());
    std::abort();
  }
  return *std::move(requests);
}

bool WebhookReceiver::WaitForRequests(size_t n, absl::Duration timeout) const {
  return vigil::testing::WaitFor([&] { return Requests().size() >= n; }, timeout);
}

std::string WebhookReceiver::Stderr() const {
  return process_ ? process_->Stderr() : std::string();
}

void WebhookReceiver::Stop() {
  if (process_ && process_->running()) process_->Stop(SIGTERM, absl::Seconds(10));
}

}  // namespace vigil::alerting::testing
