#include "collector/collector.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "collector/state/open_state_store.h"
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

absl::StatusOr<std::unique_ptr<Collector>> Collector::Start(CollectorConfig config,
                                                            std::function<void(int)> on_exit) {
  std::unique_ptr<Collector> c(new Collector(std::move(config)));
  c->on_exit_ = std::move(on_exit);
  const CollectorConfig& cfg = c->config_;
  if (absl::Status s = MakeDir(cfg.state_dir); !s.ok()) return s;
  if (cfg.auth.tokens.empty()) {
    VIGIL_LOG(Warning) << "no agent tokens configured (auth.tokens): every agent will be refused";
  }
  c->metrics_ = std::make_unique<IngestMetrics>(c->registry_);
  SeriesStore::Options so;
  so.retention = cfg.retention;
  c->store_ = std::make_unique<SeriesStore>(so);
  absl::StatusOr<std::unique_ptr<StateStore>> state = OpenStateStore(cfg.state, cfg.state_dir);
  if (!state.ok()) return state.status();
  c->state_ = *std::move(state);

  Collector* self = c.get();
  if (!cfg.state.ha.enabled) {
    if (absl::Status s = c->Serve(0); !s.ok()) return s;
  } else {
    // A standby until it holds the lease: probes answer, /readyz says not ready, no gRPC.
    if (absl::Status s = c->StartHttp(false); !s.ok()) return s;
    LeaderElector::Options eo;
    eo.holder = cfg.state.ha.replica_name;
    eo.lease_duration = cfg.state.ha.lease_duration;
    eo.renew_interval = cfg.state.ha.renew_interval;
    c->elector_ = std::make_unique<LeaderElector>(eo, &c->state_->lease(), c->registry_);
    std::printf(
        "vigil-collector %s standby: http=http://127.0.0.1:%d replica=%s (waiting for "
        "the leader lease)\n",
        VIGIL_VERSION, c->http_port(), eo.holder.c_str());
    std::fflush(stdout);
    c->election_ = std::thread([self] { self->Elect(); });
  }
  c->maintenance_ = std::thread([self] { self->Maintain(); });
  return c;
}

void Collector::Elect() {
  absl::StatusOr<int64_t> epoch = elector_->AwaitLeadership(&stop_);
  if (!epoch.ok()) return;  // stopping
  // From here on, every write of this replica is refused once a newer leader exists.
  state_->SetFencingEpoch(*epoch);
  // Agents reconnect with backoff and replay what this replica has not seen; evaluation waits
  // for them so that periods that closed during the failover are judged on their data.
  if (absl::Status s = Serve(absl::ToInt64Milliseconds(config_.state.ha.lease_duration)); !s.ok()) {
    VIGIL_LOG(Error) << "cannot start as the leader: " << s;
    if (on_exit_) on_exit_(1);
    return;
  }
  elector_->StartRenewing([this](const absl::Status&) {
    // Fencing already keeps this replica from writing; stop it so that it restarts as a
    // standby rather than serving agents it can no longer store for.
    if (on_exit_) on_exit_(1);
  });
}

absl::Status Collector::Serve(int64_t hold_ms) {
  const CollectorConfig& cfg = config_;
  AlertDelivery::Options ao;
  ao.config_file = cfg.alerting.config_file;
  ao.config_file_required = cfg.alerting.config_file_required;
  ao.store = &state_->notifications();
  if (absl::StatusOr<SchemaStatus> where = state_->Status(); where.ok()) {
    ao.store_location = where->location;
  }
  ao.default_external_url = cfg.alerting.external_url.empty() ? DefaultExternalUrl(cfg.listen.http)
                                                              : cfg.alerting.external_url;
  ao.now_ms = NowMs;
  absl::StatusOr<std::unique_ptr<AlertDelivery>> delivery = AlertDelivery::Start(ao, registry_);
  if (!delivery.ok()) return delivery.status();
  delivery_ = std::move(*delivery);

  if (!cfg.rules.directory.empty()) {
    Evaluator::Options eo;
    eo.dispatcher = delivery_->dispatcher();
    eo.rules_dir = cfg.rules.directory;
    eo.store = &state_->alarms();
    eo.evaluation_interval = cfg.rules.evaluation_interval;
    eo.now_ms = NowMs;
    eo.hold = true;  // until the write-ahead log is read (and replays are in, on a takeover)
    absl::StatusOr<std::unique_ptr<Evaluator>> evaluator = Evaluator::Start(eo, registry_);
    if (!evaluator.ok()) return evaluator.status();
    evaluator_ = std::move(*evaluator);
  }

  IngestPipeline::Options po;
  po.workers = cfg.ingest.workers;
  po.queue_capacity = static_cast<uint32_t>(cfg.limits.queue_capacity);
  po.max_series_per_agent = static_cast<uint32_t>(cfg.limits.max_series_per_agent);
  po.wal_dir = cfg.state_dir + "/wal";
  po.now_ms = NowMs;
  if (evaluator_) {
    po.sink = evaluator_.get();
    if (cfg.state.ha.enabled) {
      po.replay_horizon_ms = [e = evaluator_.get()] { return e->ReplayHorizonMs(); };
    }
  }
  absl::StatusOr<std::unique_ptr<IngestPipeline>> pipeline =
      IngestPipeline::Start(po, store_.get(), metrics_.get());
  if (!pipeline.ok()) return pipeline.status();
  pipeline_ = std::move(*pipeline);
  absl::StatusOr<std::vector<StreamPosition>> positions = state_->streams().LoadPositions();
  if (!positions.ok()) return positions.status();
  std::vector<std::pair<std::string, uint64_t>> seeds;
  for (const StreamPosition& p : *positions) seeds.emplace_back(p.agent_id, p.last_sequence);
  pipeline_->SeedPositions(seeds);
  if (evaluator_) evaluator_->Release(NowMs() + hold_ms);

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
  service_ = std::make_unique<IngestService>(io, pipeline_.get(), metrics_.get());

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = Credentials(cfg.tls);
  if (!creds.ok()) return creds.status();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(cfg.listen.grpc, *creds, &port);
  builder.RegisterService(service_.get());
  // Our own size check gives a clear message and a counter; gRPC's limit is a backstop.
  builder.SetMaxReceiveMessageSize(static_cast<int>(cfg.limits.max_message_bytes + (1 << 20)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  grpc_ = builder.BuildAndStart();
  if (grpc_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", cfg.listen.grpc));
  }
  {
    absl::MutexLock lock(&mu_);
    grpc_port_ = port;
  }
  if (absl::Status s = StartHttp(true); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    serving_ = true;
  }
  // One line for people and for test harnesses (which parse the ports when 0 was asked for).
  std::printf("vigil-collector %s ready: grpc=127.0.0.1:%d http=http://127.0.0.1:%d state=%s\n",
              VIGIL_VERSION, port, http_port(), cfg.state_dir.c_str());
  std::fflush(stdout);
  return absl::OkStatus();
}

absl::Status Collector::StartHttp(bool serving) {
  HttpServer::Options ho;
  ho.listen = config_.listen.http;
  ApiContext ctx;
  ctx.store = store_.get();
  ctx.registry = &registry_;
  ctx.version = VIGIL_VERSION;
  ctx.now_ms = NowMs;
  ctx.ready = [serving] { return serving; };
  if (serving) {
    ctx.alarms = evaluator_.get();
    ctx.alerting = delivery_.get();
  }
  if (!config_.auth.api_token_file.empty()) {
    absl::StatusOr<std::string> token = ReadSecretFile(config_.auth.api_token_file);
    if (!token.ok()) return token.status();
    ctx.api_token_sha256 = Sha256Hex(*token);
  }
  // The standby's server goes first: the same address serves the full API from now on.
  {
    absl::MutexLock lock(&mu_);
    http_.reset();
  }
  absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(ho, ctx);
  if (!http.ok()) return http.status();
  absl::MutexLock lock(&mu_);
  http_ = std::move(*http);
  return absl::OkStatus();
}

int Collector::grpc_port() const {
  absl::MutexLock lock(&mu_);
  return grpc_port_;
}

int Collector::http_port() const {
  absl::MutexLock lock(&mu_);
  return http_ ? http_->port() : 0;
}

void Collector::Maintain() {
  for (int tick = 0;; ++tick) {
    bool serving;
    {
      absl::MutexLock lock(&mu_);
      serving = serving_;
    }
    const int64_t now = NowMs();
    if (serving) {
      // Stream positions, so that the next leader's Welcome tells agents what it holds.
      std::vector<std::pair<std::string, uint64_t>> changed = pipeline_->TakeChangedPositions();
      if (!changed.empty()) {
        std::vector<StreamPosition> positions;
        for (auto& [agent, sequence] : changed) positions.push_back({agent, sequence, now});
        if (absl::Status s = state_->streams().SavePositions(positions); !s.ok()) {
          VIGIL_LOG(Warning) << "cannot save " << positions.size() << " stream positions: " << s;
        }
      }
    }
    if (serving && tick % 5 == 0) {
      store_->Evict(now);
      // A WAL record appended before now - retention - skew holds only expired points.
      pipeline_->TruncateLog(
          now - absl::ToInt64Milliseconds(config_.retention + config_.limits.max_future_skew));
      StoreStats st = store_->Stats();
      metrics_->store_series.Set(static_cast<double>(st.series));
      metrics_->store_points.Set(static_cast<double>(st.points));
      metrics_->store_bytes.Set(static_cast<double>(st.bytes));
      metrics_->wal_bytes.Set(static_cast<double>(pipeline_->WalBytes()));
    }
    if (stop_.WaitForNotificationWithTimeout(absl::Seconds(1))) return;
  }
}

Collector::~Collector() { Stop(absl::ZeroDuration()); }

Collector::ReloadOutcome Collector::Reload() {
  ReloadOutcome out;
  {
    absl::MutexLock lock(&mu_);
    if (!serving_) return out;  // a standby loads everything when it takes over
  }
  out.rules = evaluator_ ? evaluator_->Reload() : absl::OkStatus();
  out.alerting = delivery_->Reload();
  return out;
}

void Collector::Stop(absl::Duration grace) {
  if (stopped_) return;
  stopped_ = true;
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (election_.joinable()) election_.join();  // a takeover in progress finishes first
  if (maintenance_.joinable()) maintenance_.join();
  // Agent streams never end by themselves: ended here, the shutdown does not wait out `grace`,
  // and the agents reconnect (to the next leader, on a handover) at once.
  if (service_) service_->EndStreams(absl::UnavailableError("collector is stopping"));
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  if (pipeline_) {
    pipeline_->Stop();
    std::vector<std::pair<std::string, uint64_t>> changed = pipeline_->TakeChangedPositions();
    std::vector<StreamPosition> positions;
    for (auto& [agent, sequence] : changed) positions.push_back({agent, sequence, NowMs()});
    if (!positions.empty()) (void)state_->streams().SavePositions(positions);
  }
  if (evaluator_) evaluator_->Stop();
  // After the evaluator: no transition arrives any more.
  if (delivery_) delivery_->Stop();
  {
    absl::MutexLock lock(&mu_);
    http_.reset();
  }
  // Last: a standby takes over at once, and this replica has nothing left to write.
  if (elector_) elector_->Stop();
}

}  // namespace vigil::collector
