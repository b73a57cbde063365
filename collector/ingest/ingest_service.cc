#include "collector/ingest/ingest_service.h"

#include <deque>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/secret.h"

namespace vigil::collector {
namespace {

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

std::string CodeLabel(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return "unauthenticated";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "invalid_argument";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "resource_exhausted";
    case grpc::StatusCode::UNAVAILABLE:
      return "unavailable";
    default:
      return absl::StrCat("code_", static_cast<int>(code));
  }
}

absl::Status ValidateId(absl::string_view what, absl::string_view id) {
  if (id.empty() || id.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat("hello: ", what, " must be 1..128 bytes"));
  }
  for (char c : id) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
          c == ':')) {
      return absl::InvalidArgumentError(
          absl::StrCat("hello: ", what, " '", id, "' may contain only [A-Za-z0-9._:-]"));
    }
  }
  return absl::OkStatus();
}

class IngestStream;

// The write side of one stream, shared with the pipeline (which may outlive the reactor).
// Serializes writes (one outstanding at a time) and decides when Finish is called.
class StreamWriter : public StreamSink {
 public:
  explicit StreamWriter(grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* reactor)
      : reactor_(reactor) {}

  void Send(v1::CollectorMessage message) override {
    const v1::CollectorMessage* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finish_requested_) return;
      pending_.push_back(std::move(message));
      if (write_in_flight_) return;
      write_in_flight_ = true;
      start = &pending_.front();  // deque references stay valid across push_back
    }
    reactor_->StartWrite(start);
  }

  void Abort(const absl::Status& status) override { RequestFinish(ToGrpc(status)); }

  // Finish after the queued writes; the first request wins.
  void RequestFinish(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finish_requested_) return;
      finish_requested_ = true;
      status_ = status;
      if (write_in_flight_) return;  // OnWriteDone finishes
      finished_ = true;
    }
    reactor_->Finish(status);
  }

  void OnWriteDone(bool ok) {
    const v1::CollectorMessage* next = nullptr;
    bool finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      pending_.pop_front();
      if (!ok) {
        // The client is gone: nothing more can be written.
        pending_.clear();
        if (!finish_requested_) {
          finish_requested_ = true;
          status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream broken");
        }
      }
      if (!pending_.empty()) {
        next = &pending_.front();
      } else {
        write_in_flight_ = false;
        if (finish_requested_ && !finished_) {
          finished_ = true;
          finish = true;
          status = status_;
        }
      }
    }
    if (next != nullptr) reactor_->StartWrite(next);
    if (finish) reactor_->Finish(status);
  }

  // Called by the reactor with the read side's decision; StartRead happens under the lock so
  // that it can never follow a Finish (reads are only started from reactions, never inline).
  template <typename F>
  bool StartReadUnlessFinishing(F start_read) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_) return false;
    start_read();
    return true;
  }

 private:
  grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* const reactor_;
  absl::Mutex mu_;
  std::deque<v1::CollectorMessage> pending_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

// One agent stream. Owns itself: deleted in OnDone.
class IngestStream : public grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage> {
 public:
  IngestStream(IngestService* service, grpc::CallbackServerContext* context)
      : service_(service),
        peer_(context->peer()),
        decoder_(service->options().limits),
        writer_(std::make_shared<StreamWriter>(this)) {
    if (!service_->Authenticate(*context)) {
      VIGIL_LOG(Warning) << "refused agent stream from " << peer_ << ": missing or unknown token";
      Fail(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing or unknown agent token (authorization: Bearer <token>)"));
      return;
    }
    counted_ = true;
    service_->metrics()->connected_streams.Increment();
    service_->AddStream(this, writer_);
    writer_->StartReadUnlessFinishing([this] { StartRead(&in_); });
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the agent closed its side, or the call was cancelled
      writer_->RequestFinish(grpc::Status::OK);
      return;
    }
    absl::Status s = Handle();
    if (!s.ok()) {
      VIGIL_LOG(Warning) << "ending stream of agent '" << agent_id_ << "' from " << peer_ << ": "
                         << s;
      Fail(ToGrpc(s));
      return;
    }
    writer_->StartReadUnlessFinishing([this] { StartRead(&in_); });
  }

  void OnWriteDone(bool ok) override { writer_->OnWriteDone(ok); }

  void OnDone() override {
    if (counted_) {
      service_->RemoveStream(this);
      service_->metrics()->connected_streams.Decrement();
    }
    if (!agent_id_.empty()) VIGIL_LOG(Info) << "agent '" << agent_id_ << "' disconnected";
    delete this;
  }

 private:
  void Fail(const grpc::Status& status) {
    service_->metrics()->RejectStream(CodeLabel(status.error_code()));
    writer_->RequestFinish(status);
  }

  absl::Status Handle() {
    const IngestLimits& limits = service_->options().limits;
    const size_t size = in_.ByteSizeLong();
    if (size > limits.max_message_bytes) {
      service_->metrics()->RejectPoints("message_too_large", in_.batch().points_size());
      return absl::InvalidArgumentError(absl::StrCat(
          "message of ", size, " bytes exceeds the limit of ", limits.max_message_bytes, " bytes"));
    }
    switch (in_.kind_case()) {
      case v1::AgentMessage::kHello:
        return HandleHello(in_.hello());
      case v1::AgentMessage::kBatch:
        return HandleBatch(in_.batch());
      default:
        return absl::InvalidArgumentError("empty message: expected hello or batch");
    }
  }

  absl::Status HandleHello(const v1::Hello& hello) {
    if (!agent_id_.empty()) return absl::InvalidArgumentError("hello sent twice on one stream");
    if (absl::Status s = ValidateId("agent_id", hello.agent_id()); !s.ok()) return s;
    agent_id_ = hello.agent_id();
    VIGIL_LOG(Info) << "agent '" << agent_id_ << "' (" << hello.hostname() << ", version "
                    << hello.version() << ") connected from " << peer_;
    IngestItem item;
    item.agent_id = agent_id_;
    item.sink = writer_;
    item.is_hello = true;
    item.first_sequence = hello.first_sequence();
    const IngestLimits& limits = service_->options().limits;
    for (const v1::Label& l : hello.host_labels()) {
      // Host labels become agent.up's labels: only well-formed ones are kept.
      if (IsValidLabelName(l.name()) && l.name() != "agent" &&
          l.name().size() <= limits.max_label_name_length &&
          l.value().size() <= limits.max_label_value_length &&
          item.host_labels.size() < limits.max_labels_per_series) {
        item.host_labels.emplace_back(l.name(), l.value());
      }
    }
    SeriesKey sorted{"", std::move(item.host_labels)};
    sorted.Normalize();
    item.host_labels = std::move(sorted.labels);
    service_->pipeline()->Submit(std::move(item));  // a hello is always admitted
    return absl::OkStatus();
  }

  absl::Status HandleBatch(const v1::Batch& batch) {
    if (agent_id_.empty()) return absl::InvalidArgumentError("first message must be a hello");
    IngestItem item;
    item.agent_id = agent_id_;
    item.sink = writer_;
    if (absl::Status s = decoder_.Decode(batch, service_->options().now_ms(), &item.batch);
        !s.ok()) {
      return s;
    }
    if (!service_->pipeline()->Submit(std::move(item))) {
      return absl::ResourceExhaustedError("ingest queue is full; retry with backoff");
    }
    return absl::OkStatus();
  }

  IngestService* const service_;
  const std::string peer_;
  BatchDecoder decoder_;  // used only from OnReadDone, which is never concurrent with itself
  std::shared_ptr<StreamWriter> writer_;
  v1::AgentMessage in_;
  std::string agent_id_;
  bool counted_ = false;
};

}  // namespace

IngestService::IngestService(Options options, IngestPipeline* pipeline, IngestMetrics* metrics)
    : options_(std::move(options)), pipeline_(pipeline), metrics_(metrics) {}

bool IngestService::Authenticate(const grpc::CallbackServerContext& context) const {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return false;
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) return false;
  const std::string hash = Sha256Hex(absl::StripAsciiWhitespace(value));
  bool found = false;
  for (const std::string& known : options_.token_sha256) found |= ConstantTimeEquals(hash, known);
  return found;
}

void IngestService::AddStream(const void* id, std::weak_ptr<StreamSink> sink) {
  absl::MutexLock lock(&mu_);
  streams_[id] = std::move(sink);
}

void IngestService::RemoveStream(const void* id) {
  absl::MutexLock lock(&mu_);
  streams_.erase(id);
}

void IngestService::EndStreams(const absl::Status& status) {
  std::vector<std::shared_ptr<StreamSink>> open;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, sink] : streams_) {
      if (std::shared_ptr<StreamSink> s = sink.lock()) open.push_back(std::move(s));
    }
  }
  // Outside the lock: a finish can complete inline and remove its stream.
  for (const std::shared_ptr<StreamSink>& s : open) s->Abort(status);
}

grpc::ServerBidiReactor<v1::AgentMessage, v1::CollectorMessage>* IngestService::Stream(
    grpc::CallbackServerContext* context) {
  return new IngestStream(this, context);
}

}  // namespace vigil::collector
