#include "collector/ingest/ingest_pipeline.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"

namespace vigil::collector {
namespace {

constexpr size_t kMaxGroup = 256;  // items per group commit

v1::WalRecord ToWalRecord(const std::string& agent_id, const DecodedBatch& batch,
                          const std::vector<bool>& keep, int64_t now_ms) {
  v1::WalRecord r;
  r.set_agent_id(agent_id);
  r.set_sequence(batch.sequence);
  r.set_appended_at_ms(now_ms);
  uint32_t id = 0;
  for (size_t i = 0; i < batch.series.size(); ++i) {
    if (!keep[i]) continue;
    const auto& s = batch.series[i];
    v1::SeriesDefinition* def = r.add_series();
    def->set_id(++id);
    def->set_metric(s.key.metric);
    for (const auto& [k, v] : s.key.labels) {
      v1::Label* l = def->add_labels();
      l->set_name(k);
      l->set_value(v);
    }
    for (const DataPoint& p : s.points) {
      v1::Point* point = r.add_points();
      point->set_series_id(id);
      point->set_timestamp_ms(p.timestamp_ms);
      point->set_value(p.value);
    }
  }
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<IngestPipeline>> IngestPipeline::Start(Options options,
                                                                      SeriesStore* store,
                                                                      IngestMetrics* metrics) {
  absl::StatusOr<std::unique_ptr<WriteAheadLog>> wal = WriteAheadLog::Open(options.wal_dir);
  if (!wal.ok()) return wal.status();
  std::unique_ptr<IngestPipeline> p(
      new IngestPipeline(std::move(options), store, metrics, std::move(*wal)));
  uint64_t records = 0;
  absl::Status s = p->wal_->Replay([&](const v1::WalRecord& r) {
    p->Recover(r);
    ++records;
  });
  if (!s.ok()) return s;
  VIGIL_LOG(Info) << "recovered " << records << " batches from the write-ahead log in "
                  << p->options_.wal_dir;
  for (auto& w : p->workers_) {
    Worker* worker = w.get();
    worker->thread = std::thread([self = p.get(), worker] { self->Run(worker); });
  }
  return p;
}

IngestPipeline::IngestPipeline(Options options, SeriesStore* store, IngestMetrics* metrics,
                               std::unique_ptr<WriteAheadLog> wal)
    : options_(std::move(options)), store_(store), metrics_(metrics), wal_(std::move(wal)) {
  const int n = std::max(1, options_.workers);
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
  per_worker_capacity_ = std::max<uint32_t>(1, options_.queue_capacity / n);
}

IngestPipeline::~IngestPipeline() { Stop(); }

IngestPipeline::Worker& IngestPipeline::WorkerFor(const std::string& agent_id) const {
  return *workers_[absl::Hash<std::string>()(agent_id) % workers_.size()];
}

bool IngestPipeline::Submit(IngestItem item) {
  Worker& w = WorkerFor(item.agent_id);
  {
    absl::MutexLock lock(&w.mu);
    if (w.stopping) return false;
    // A Hello is always admitted: it is small and lets a backed-off agent learn its position.
    if (!item.is_hello && w.queue.size() >= per_worker_capacity_) return false;
    w.queue.push_back(std::move(item));
  }
  metrics_->queue_depth.Increment();
  return true;
}

void IngestPipeline::Stop() {
  for (auto& w : workers_) {
    absl::MutexLock lock(&w->mu);
    w->stopping = true;
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void IngestPipeline::Run(Worker* w) {
  for (;;) {
    std::vector<IngestItem> items;
    {
      absl::MutexLock lock(&w->mu);
      w->mu.Await(absl::Condition(
          +[](Worker* w)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->stopping || !w->queue.empty(); },
          w));
      if (w->queue.empty()) return;  // stopping and drained
      while (!w->queue.empty() && items.size() < kMaxGroup) {
        items.push_back(std::move(w->queue.front()));
        w->queue.pop_front();
      }
    }
    metrics_->queue_depth.Decrement(static_cast<double>(items.size()));
    Process(w, items);
  }
}

void IngestPipeline::Process(Worker* w, std::vector<IngestItem>& items) {
  const int64_t now = options_.now_ms();
  struct Pending {
    IngestItem* item;
    AgentState* agent;
    bool duplicate = false;
    std::vector<bool> keep;  // per series: within the cardinality limit
  };
  std::vector<Pending> pending;
  std::vector<v1::WalRecord> records;
  // Highest sequence accepted so far in this group, per agent: positions are only committed
  // after the WAL write, but a replay within the same group is a duplicate too.
  absl::flat_hash_map<AgentState*, uint64_t> group_last;
  for (IngestItem& item : items) {
    AgentState* agent;
    {
      absl::MutexLock lock(&w->mu);
      agent = &w->agents[item.agent_id];
      if (item.is_hello) agent->host_labels = item.host_labels;
      if (item.is_hello && item.first_sequence > 0 &&
          item.first_sequence - 1 > agent->last_sequence) {
        // The agent's spool dropped batches it could not keep: they will never come.
        VIGIL_LOG(Warning) << "agent " << item.agent_id << " no longer holds batches "
                           << agent->last_sequence + 1 << ".." << item.first_sequence - 1
                           << " (its spool overflowed); they are lost";
        agent->last_sequence = item.first_sequence - 1;
      }
    }
    Pending p{&item, agent, false, {}};
    if (item.is_hello) {
      pending.push_back(std::move(p));
      continue;
    }
    if (item.batch.replay) {
      // Already acknowledged by an earlier collector: stored and evaluated below, not logged
      // (a collector that dies before the next snapshot asks again), not acknowledged.
      pending.push_back(std::move(p));
      continue;
    }
    uint64_t& last = group_last.try_emplace(agent, agent->last_sequence).first->second;
    if (item.batch.sequence <= last) {
      p.duplicate = true;
      pending.push_back(std::move(p));
      continue;
    }
    last = item.batch.sequence;
    p.keep.resize(item.batch.series.size(), true);
    for (size_t i = 0; i < item.batch.series.size(); ++i) {
      const auto& s = item.batch.series[i];
      if (agent->series.contains(s.key)) continue;
      if (agent->series.size() >= options_.max_series_per_agent) {
        p.keep[i] = false;
        item.batch.rejections.Add(
            "series_limit",
            absl::StrCat(s.key.ToString(), ": agent has ", agent->series.size(), " series (limit ",
                         options_.max_series_per_agent, ")"),
            static_cast<uint32_t>(s.points.size()));
        continue;
      }
      absl::MutexLock lock(&w->mu);
      agent->series.insert(s.key);
    }
    records.push_back(ToWalRecord(item.agent_id, item.batch, p.keep, now));
    pending.push_back(std::move(p));
  }

  absl::Status written = wal_->Append(records);
  if (!written.ok()) {
    metrics_->wal_sync_failures.Increment(static_cast<double>(records.size()));
    VIGIL_LOG(Error) << "write-ahead log append failed, " << records.size()
                     << " batches not acknowledged: " << written;
  }

  for (Pending& p : pending) {
    IngestItem& item = *p.item;
    v1::CollectorMessage msg;
    if (item.is_hello) {
      const int64_t horizon = options_.replay_horizon_ms ? options_.replay_horizon_ms() : 0;
      absl::MutexLock lock(&w->mu);
      msg.mutable_welcome()->set_last_sequence(p.agent->last_sequence);
      msg.mutable_welcome()->set_collector_version(VIGIL_VERSION);
      if (horizon > 0 && !p.agent->welcomed) {
        const int64_t from = std::max(now - horizon, p.agent->last_batch_ms + 1);
        msg.mutable_welcome()->set_replay_from_ms(from);
        p.agent->replay_open = true;
        VIGIL_LOG(Info) << "asking agent " << item.agent_id << " to replay its data since "
                        << absl::FormatTime(absl::FromUnixMillis(from), absl::UTCTimeZone());
      }
      p.agent->welcomed = true;
    } else if (item.batch.replay) {
      bool open;
      {
        absl::MutexLock lock(&w->mu);
        open = p.agent->replay_open;
      }
      if (!open) {  // not asked for, or new batches came already: its points may be stored
        metrics_->RejectPoints("replay_not_requested", item.batch.point_count);
        continue;
      }
      uint32_t stored = 0;
      for (const DecodedBatch::SeriesPoints& sp : item.batch.series) {
        AppendResult r = store_->Append(sp.key, sp.points, now);
        stored += r.appended;
        if (options_.sink) options_.sink->Offer(item.agent_id, sp.key, sp.points);
      }
      metrics_->replayed_points.Increment(stored);
      continue;  // no Ack: the agent does not wait for one
    } else if (p.duplicate) {
      metrics_->duplicate_batches.Increment();
      v1::Ack* ack = msg.mutable_ack();
      absl::MutexLock lock(&w->mu);
      ack->set_sequence(p.agent->last_sequence);
      ack->set_duplicate(true);
    } else if (!written.ok()) {
      item.sink->Abort(absl::UnavailableError(
          absl::StrCat("collector cannot write its log: ", written.message())));
      continue;
    } else {
      DecodedBatch& b = item.batch;
      uint32_t accepted = 0;
      for (size_t i = 0; i < b.series.size(); ++i) {
        if (!p.keep[i]) continue;
        AppendResult r = store_->Append(b.series[i].key, b.series[i].points, now);
        if (options_.sink) options_.sink->Offer(item.agent_id, b.series[i].key, b.series[i].points);
        accepted += r.appended + r.duplicates;
        if (r.out_of_order > 0) {
          b.rejections.Add(
              "out_of_order",
              absl::StrCat(b.series[i].key.ToString(), ": older than the newest stored point"),
              r.out_of_order);
        }
        if (r.too_old > 0) {
          b.rejections.Add("timestamp_too_old",
                           absl::StrCat(b.series[i].key.ToString(), ": older than retention"),
                           r.too_old);
        }
      }
      {
        absl::MutexLock lock(&w->mu);
        p.agent->last_sequence = std::max(p.agent->last_sequence, b.sequence);
        p.agent->last_batch_ms = now;
        p.agent->replay_open = false;
        p.agent->position_dirty = true;
      }
      // agent.up: the collector's own view of the stream, 1 per accepted batch. An agent that
      // stops sending leaves this series without data (rules treat that as down).
      SeriesKey up{"agent.up", p.agent->host_labels};
      up.labels.emplace_back("agent", item.agent_id);
      up.Normalize();
      const DataPoint one{now, 1.0};
      store_->Append(up, absl::MakeConstSpan(&one, 1), now);
      if (options_.sink) options_.sink->Offer(item.agent_id, up, absl::MakeConstSpan(&one, 1));
      metrics_->accepted_batches.Increment();
      metrics_->accepted_points.Increment(accepted);
      v1::Ack* ack = msg.mutable_ack();
      ack->set_sequence(p.agent->last_sequence);
      ack->set_accepted_points(accepted);
      ack->set_rejected_points(b.rejections.Total());
      for (const auto& [reason, n] : b.rejections.count) {
        metrics_->RejectPoints(reason, n);
        v1::Rejection* rej = ack->add_rejections();
        rej->set_reason(reason);
        rej->set_count(n);
        rej->set_example(b.rejections.example[reason]);
      }
    }
    item.sink->Send(std::move(msg));
  }
}

void IngestPipeline::Recover(const v1::WalRecord& r) {
  Worker& w = WorkerFor(r.agent_id());
  absl::MutexLock lock(&w.mu);
  AgentState& agent = w.agents[r.agent_id()];
  agent.last_sequence = std::max(agent.last_sequence, r.sequence());
  agent.last_batch_ms = std::max(agent.last_batch_ms, r.appended_at_ms());
  absl::flat_hash_map<uint32_t, DecodedBatch::SeriesPoints> series;
  for (const auto& def : r.series()) {
    SeriesKey key;
    key.metric = def.metric();
    for (const auto& l : def.labels()) key.labels.emplace_back(l.name(), l.value());
    agent.series.insert(key);
    series[def.id()].key = std::move(key);
  }
  for (const auto& p : r.points()) {
    auto it = series.find(p.series_id());
    if (it != series.end()) it->second.points.push_back({p.timestamp_ms(), p.value()});
  }
  const int64_t now = options_.now_ms();
  for (auto& [id, s] : series) {
    store_->Append(s.key, s.points, now);
    // The rule engine restarts from its last snapshot: points of periods it has judged since
    // are late and ignored, those of periods still open count.
    if (options_.sink) options_.sink->Offer(r.agent_id(), s.key, s.points);
  }
}

void IngestPipeline::SeedPositions(const std::vector<std::pair<std::string, uint64_t>>& positions) {
  for (const auto& [agent_id, sequence] : positions) {
    Worker& w = WorkerFor(agent_id);
    absl::MutexLock lock(&w.mu);
    AgentState& agent = w.agents[agent_id];
    agent.last_sequence = std::max(agent.last_sequence, sequence);
  }
}

std::vector<std::pair<std::string, uint64_t>> IngestPipeline::TakeChangedPositions() {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& w : workers_) {
    absl::MutexLock lock(&w->mu);
    for (auto& [id, a] : w->agents) {
      if (!a.position_dirty) continue;
      a.position_dirty = false;
      out.emplace_back(id, a.last_sequence);
    }
  }
  return out;
}

void IngestPipeline::TruncateLog(int64_t cutoff_ms) {
  absl::Status s = wal_->DropAppendedBefore(cutoff_ms);
  if (!s.ok()) VIGIL_LOG(Warning) << "write-ahead log truncation failed: " << s;
}

std::vector<AgentInfo> IngestPipeline::Agents() const {
  std::vector<AgentInfo> out;
  for (const auto& w : workers_) {
    absl::MutexLock lock(&w->mu);
    for (const auto& [id, a] : w->agents) {
      out.push_back({id, a.last_sequence, a.series.size(), a.last_batch_ms});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const AgentInfo& a, const AgentInfo& b) { return a.agent_id < b.agent_id; });
  return out;
}

size_t IngestPipeline::QueueDepth() const {
  size_t n = 0;
  for (const auto& w : workers_) {
    absl::MutexLock lock(&w->mu);
    n += w->queue.size();
  }
  return n;
}

}  // namespace vigil::collector
