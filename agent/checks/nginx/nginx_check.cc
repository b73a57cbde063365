#include "agent/checks/nginx/nginx_check.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/checks/nginx/access_log_stats.h"
#include "common/http_client.h"
#include "common/log.h"

namespace vigil::agent {
namespace {

// Connect at most this long even when the check's timeout is longer: a local nginx answers
// the handshake at once or not at all.
constexpr absl::Duration kMaxConnectTimeout = absl::Seconds(5);

void Add(std::vector<Sample>& out, std::string metric, double value) {
  out.push_back(Sample{std::move(metric), {}, value});
}

// Emits (cur - prev) / seconds, or nothing when the counter went down (nginx restarted).
void AddRate(std::vector<Sample>& out, std::string metric, uint64_t prev, uint64_t cur,
             double seconds) {
  if (cur < prev) return;
  Add(out, std::move(metric), static_cast<double>(cur - prev) / seconds);
}

}  // namespace

absl::Status NginxCheck::Init(ConfigMap& config) {
  std::string access_log = config.String("access_log", kDefaultAccessLog);
  if (access_log.empty()) {
    config.Error("access_log", "must not be empty");
  } else {
    std::string dir = config.errors() != nullptr ? DirName(config.errors()->file()) : "";
    access_log_ = ResolvePath(dir, access_log);
  }

  std::string format_text = config.String("log_format", "combined");
  if (format_text == "combined") format_text = nginx::kCombinedLogFormat;
  absl::StatusOr<nginx::AccessLogFormat> format = nginx::AccessLogFormat::Compile(format_text);
  if (format.ok()) {
    format_ = std::move(*format);
  } else {
    config.Error("log_format", format.status().message());
  }

  max_read_bytes_ = config.Bytes("max_read_bytes", kDefaultMaxReadBytes);
  if (max_read_bytes_ < kMinMaxReadBytes) {
    config.Error("max_read_bytes",
                 absl::StrCat("must be at least 64KiB, got ", max_read_bytes_, " bytes"));
  }

  per_vhost_ = config.Bool("per_vhost", false);
  if (per_vhost_ && format_ && !format_->has_host()) {
    config.Error("per_vhost", "needs $host in log_format");
  }

  status_url_ = config.String("status_url", "");
  if (!status_url_.empty()) {
    size_t scheme_end = status_url_.find("://");
    bool http =
        absl::StartsWith(status_url_, "http://") || absl::StartsWith(status_url_, "https://");
    std::string authority =
        scheme_end == std::string::npos
            ? ""
            : status_url_.substr(scheme_end + 3,
                                 status_url_.find('/', scheme_end + 3) - (scheme_end + 3));
    if (!http) {
      config.Error("status_url", "must be an http:// or https:// URL");
    } else if (authority.find('@') != std::string::npos) {
      // The URL appears in messages; credentials belong in username / password_file.
      status_url_.clear();
      config.Error("status_url",
                   "must not contain credentials; use username and password_file or "
                   "password_env");
    }
  }
  username_ = config.String("username", "");
  password_ = ReadSecretRef(config, "password");
  if ((!username_.empty() || !password_.empty()) && !config.Has("status_url")) {
    config.Error(username_.empty() ? "password_file" : "username",
                 "is for status_url, which is not set");
  }
  if (username_.empty() && !password_.empty()) {
    config.Error("username", "is required with password_file or password_env");
  }

  // The stub_status request must fit in the check's run.
  timeout_ = context().timeout;

  tailer_ = std::make_unique<nginx::LogTailer>(access_log_, max_read_bytes_);
  return absl::OkStatus();
}

absl::StatusOr<nginx::StubStatus> NginxCheck::FetchStubStatus() const {
  HttpRequest request;
  request.url = status_url_;
  request.timeout = timeout_;
  request.connect_timeout = std::min(timeout_, kMaxConnectTimeout);
  request.max_body_bytes = 64 << 10;
  if (!username_.empty()) {
    request.username = username_;
    if (!password_.empty()) {
      absl::StatusOr<std::string> password = password_.Read();
      if (!password.ok()) return password.status();
      request.password = std::move(*password);
    }
  }
  absl::StatusOr<HttpResponse> response = HttpFetch(request);
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("stub_status ", status_url_, " answered HTTP ", response->status));
  }
  return nginx::ParseStubStatus(response->body, status_url_);
}

void NginxCheck::CollectStubStatus(absl::Time now, const nginx::StubStatus& status,
                                   std::vector<Sample>& out) {
  Add(out, "nginx.connections.active", static_cast<double>(status.active));
  Add(out, "nginx.connections.reading", static_cast<double>(status.reading));
  Add(out, "nginx.connections.writing", static_cast<double>(status.writing));
  Add(out, "nginx.connections.waiting", static_cast<double>(status.waiting));
  if (prev_status_ && now > prev_status_->first) {
    const nginx::StubStatus& a = prev_status_->second;
    double seconds = absl::ToDoubleSeconds(now - prev_status_->first);
    AddRate(out, "nginx.connections.accepted_per_second", a.accepts, status.accepts, seconds);
    AddRate(out, "nginx.connections.handled_per_second", a.handled, status.handled, seconds);
    AddRate(out, "nginx.requests_per_second", a.requests, status.requests, seconds);
  }
  prev_status_ = std::make_pair(now, status);
}

absl::StatusOr<std::vector<Sample>> NginxCheck::Collect(absl::Time now) {
  if (!format_ || tailer_ == nullptr) {
    return absl::FailedPreconditionError("nginx check used without a successful Init");
  }
  std::vector<Sample> out;
  // stub_status first: when nginx does not answer, the log is left unread for the next
  // collection instead of being counted into samples that an error would discard.
  if (!status_url_.empty()) {
    absl::StatusOr<nginx::StubStatus> status = FetchStubStatus();
    if (!status.ok()) return status.status();
    CollectStubStatus(now, *status, out);
  }

  nginx::AccessLogStats stats(per_vhost_);
  absl::Status first_malformed;
  absl::StatusOr<nginx::LogTailer::ReadResult> read = tailer_->Read([&](absl::string_view line) {
    absl::StatusOr<nginx::AccessLogRecord> record = format_->Parse(line);
    if (record.ok()) {
      stats.Add(*record);
      return;
    }
    stats.AddMalformed(1);
    if (first_malformed.ok()) first_malformed = record.status();
  });
  if (!read.ok()) return read.status();
  if (read->oversized_lines > 0) {
    stats.AddMalformed(read->oversized_lines);
    if (first_malformed.ok()) {
      first_malformed = absl::InvalidArgumentError("line longer than the 64KiB limit");
    }
  }
  if (read->rotated) VIGIL_LOG(Info) << "nginx check: " << access_log_ << " was rotated (renamed)";
  if (read->truncated) VIGIL_LOG(Info) << "nginx check: " << access_log_ << " was truncated";

  bool has_malformed = stats.malformed() > 0;
  if (has_malformed && !had_malformed_) {
    VIGIL_LOG(Warning) << "nginx check: " << stats.malformed() << " line(s) of " << access_log_
                       << " do not match log_format and were skipped; first: "
                       << first_malformed.message();
  } else if (!has_malformed && had_malformed_) {
    VIGIL_LOG(Info) << "nginx check: lines of " << access_log_ << " match log_format again";
  }
  had_malformed_ = has_malformed;

  stats.AppendSamples(&out);
  Add(out, "nginx.log.backlog_bytes", static_cast<double>(read->backlog_bytes));
  return out;
}

}  // namespace vigil::agent
