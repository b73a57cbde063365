#include "collector/collector.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/secret.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace vigil::collector {
namespace {

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

absl::Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create state directory ", dir, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const TlsServerConfig& tls) {
  if (!tls.enabled) return grpc::InsecureServerCredentials();
  absl::StatusOr<std::string> cert = ReadSecretFile(tls.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadSecretFile(tls.key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(
      tls.client_ca_file.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                 : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_key_cert_pairs.push_back({*key + "\n", *cert + "\n"});
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadSecretFile(tls.client_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca + "\n";
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Collector>> Collector::Start(CollectorConfig config) {
  std::unique_ptr<Collector> c(new Collector(std::move(config)));
  const CollectorConfig& cfg = c->config_;
  if (absl::Status s = MakeDir(cfg.state_dir); !s.ok()) return s;
  if (cfg.auth.tokens.empty()) {
    VIGIL_LOG(Warning) << "no agent tokens configured (auth.tokens): every agent will be refused";
  }
  c->metrics_ = std::make_unique<IngestMetrics>(c->registry_);
  SeriesStore::Options so;
  so.retention = cfg.retention;
  c->store_ = std::make_unique<SeriesStore>(so);

  AlertDelivery::Options ao;
  ao.config_file = cfg.alerting.config_file;
  ao.config_file_required = cfg.alerting.config_file_required;
  ao.store_path = cfg.state_dir + "/notifications.db";
  ao.default_external_url = cfg.alerting.external_url.empty() ? DefaultExternalUrl(cfg.listen.http)
                                                              : cfg.alerting.external_url;
  ao.now_ms = NowMs;
  absl::StatusOr<std::unique_ptr<AlertDelivery>> delivery = AlertDelivery::Start(ao, c->registry_);
  if (!delivery.ok()) return delivery.status();
  c->delivery_ = std::move(*delivery);

  if (!cfg.rules.directory.empty()) {
    Evaluator::Options eo;
    eo.dispatcher = c->delivery_->dispatcher();
    eo.rules_dir = cfg.rules.directory;
    eo.state_db = cfg.state_dir + "/state.db";
    eo.evaluation_interval = cfg.rules.evaluation_interval;
    eo.now_ms = NowMs;
    absl::StatusOr<std::unique_ptr<Evaluator>> evaluator = Evaluator::Start(eo, c->registry_);
    if (!evaluator.ok()) return evaluator.status();
    c->evaluator_ = std::move(*evaluator);
  }

  IngestPipeline::Options po;
  po.workers = cfg.ingest.workers;
  po.queue_capacity = static_cast<uint32_t>(cfg.limits.queue_capacity);
  po.max_series_per_agent = static_cast<uint32_t>(cfg.limits.max_series_per_agent);
  po.wal_dir = cfg.state_dir + "/wal";
  po.now_ms = NowMs;
  if (c->evaluator_) {
    po.on_stored = [e = c->evaluator_.get()](const SeriesKey& key,
                                             absl::Span<const DataPoint> points) {
      e->Offer(key, points);
    };
  }
  absl::StatusOr<std::unique_ptr<IngestPipeline>> pipeline =
      IngestPipeline::Start(po, c->store_.get(), c->metrics_.get());
  if (!pipeline.ok()) return pipeline.status();
  c->pipeline_ = std::move(*pipeline);

  IngestService::Options io;
  io.limits.max_message_bytes = cfg.limits.max_message_bytes;
  io.limits.max_labels_per_series = cfg.limits.max_labels_per_series;
  io.limits.max_label_name_length = cfg.limits.max_label_name_length;
  io.limits.max_label_value_length = cfg.limits.max_label_value_length;
  io.limits.max_series_per_agent = cfg.limits.max_series_per_agent;
  io.limits.max_future_skew = cfg.limits.max_future_skew;
  io.limits.max_past_age = cfg.limits.max_past_age;
  io.limits.queue_capacity = cfg.limits.queue_capacity;
  for (const AgentToken& t : cfg.auth.tokens) io.token_sha256.push_back(t.sha256);
  io.now_ms = NowMs;
  c->service_ = std::make_unique<IngestService>(io, c->pipeline_.get(), c->metrics_.get());

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = Credentials(cfg.tls);
  if (!creds.ok()) return creds.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(cfg.listen.grpc, *creds, &c->grpc_port_);
  builder.RegisterService(c->service_.get());
  // Our own size check gives a clear message and a counter; gRPC's limit is a backstop.
  builder.SetMaxReceiveMessageSize(static_cast<int>(cfg.limits.max_message_bytes + (1 << 20)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  c->grpc_ = builder.BuildAndStart();
  if (c->grpc_ == nullptr || c->grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", cfg.listen.grpc));
  }

  HttpServer::Options ho;
  ho.listen = cfg.listen.http;
  ApiContext ctx;
  ctx.store = c->store_.get();
  ctx.registry = &c->registry_;
  ctx.version = VIGIL_VERSION;
  ctx.now_ms = NowMs;
  ctx.ready = [] { return true; };
  ctx.alarms = c->evaluator_.get();
  ctx.alerting = c->delivery_.get();
  if (!cfg.auth.api_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadSecretFile(cfg.auth.api_token_file);
    if (!token.ok()) return token.status();
    ctx.api_token_sha256 = Sha256Hex(*token);
  }
  absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(ho, ctx);
  if (!http.ok()) return http.status();
  c->http_ = std::move(*http);

  Collector* self = c.get();
  c->maintenance_ = std::thread([self] { self->Maintain(); });
  return c;
}

void Collector::Maintain() {
  for (;;) {
    const int64_t now = NowMs();
    store_->Evict(now);
    // A WAL record appended before now - retention - skew holds only expired points.
    pipeline_->TruncateLog(
        now - absl::ToInt64Milliseconds(config_.retention + config_.limits.max_future_skew));
    StoreStats st = store_->Stats();
    metrics_->store_series.Set(static_cast<double>(st.series));
    metrics_->store_points.Set(static_cast<double>(st.points));
    metrics_->store_bytes.Set(static_cast<double>(st.bytes));
    metrics_->wal_bytes.Set(static_cast<double>(pipeline_->WalBytes()));
    if (stop_maintenance_.WaitForNotificationWithTimeout(absl::Seconds(5))) return;
  }
}

Collector::~Collector() { Stop(absl::ZeroDuration()); }

Collector::ReloadOutcome Collector::Reload() {
  ReloadOutcome out;
  out.rules = evaluator_ ? evaluator_->Reload() : absl::OkStatus();
  out.alerting = delivery_->Reload();
  return out;
}

void Collector::Stop(absl::Duration grace) {
  if (stopped_) return;
  stopped_ = true;
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  if (pipeline_) pipeline_->Stop();
  if (evaluator_) evaluator_->Stop();
  // After the evaluator: no transition arrives any more.
  if (delivery_) delivery_->Stop();
  if (!stop_maintenance_.HasBeenNotified()) stop_maintenance_.Notify();
  if (maintenance_.joinable()) maintenance_.join();
  http_.reset();
}

}  // namespace vigil::collector
