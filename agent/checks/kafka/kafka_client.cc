#include "agent/checks/kafka/kafka_client.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace vigil::agent::kafka {
namespace {

constexpr char kPasswordProperty[] = "sasl.password";

int ToMillis(absl::Duration d) {
  int64_t ms = absl::ToInt64Milliseconds(d);
  return static_cast<int>(std::clamp<int64_t>(ms, 1, INT_MAX));
}

// Owns a topic partition list.
struct PartitionList {
  explicit PartitionList(int size) : list(rd_kafka_topic_partition_list_new(size)) {}
  ~PartitionList() {
    if (list != nullptr) rd_kafka_topic_partition_list_destroy(list);
  }
  PartitionList(PartitionList&& other) noexcept : list(std::exchange(other.list, nullptr)) {}
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  rd_kafka_topic_partition_list_t* list;
};

PartitionList ToList(const std::set<TopicPartition>& partitions, int64_t offset) {
  PartitionList out(static_cast<int>(partitions.size()));
  for (const TopicPartition& tp : partitions) {
    rd_kafka_topic_partition_list_add(out.list, tp.topic.c_str(), tp.partition)->offset = offset;
  }
  return out;
}

// Sets every property on `conf`. On error, *config_key is the check's key (or the librdkafka
// property) at fault; the message never carries the password's value.
absl::Status Apply(const std::vector<ClientProperty>& properties, rd_kafka_conf_t* conf,
                   std::string* config_key) {
  char err[512];
  for (const ClientProperty& p : properties) {
    if (rd_kafka_conf_set(conf, p.name.c_str(), p.value.c_str(), err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
      *config_key = p.config_key.empty() ? p.name : p.config_key;
      return absl::InvalidArgumentError(
          p.name == kPasswordProperty ? "the password is rejected by librdkafka" : err);
    }
  }
  return absl::OkStatus();
}

absl::Status FromError(rd_kafka_resp_err_t err, absl::string_view what, std::string detail) {
  std::string message = absl::StrCat(what, ": ", rd_kafka_err2str(err), detail);
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE) {
    return absl::DeadlineExceededError(message);
  }
  return absl::UnavailableError(message);
}

}  // namespace

std::vector<ClientProperty> ClientProperties(const ClientSettings& settings,
                                             const std::string& password) {
  const std::string timeout_ms = std::to_string(ToMillis(settings.timeout));
  std::vector<ClientProperty> out = {
      {"bootstrap.servers", absl::StrJoin(settings.bootstrap_servers, ","), "bootstrap_servers"},
      {"client.id", "vigil-agent", ""},
      // No group.id: this handle can neither join a group nor commit for one.
      {"enable.auto.commit", "false", ""},
      {"enable.auto.offset.store", "false", ""},
      // ListOffsets LATEST then returns the high watermark, not the last stable offset.
      {"isolation.level", "read_uncommitted", ""},
      {"allow.auto.create.topics", "false", ""},
      // Nothing is fetched; 0 also keeps librdkafka from warning about short socket timeouts.
      {"fetch.wait.max.ms", "0", ""},
      {"socket.timeout.ms", timeout_ms, ""},
      // librdkafka's minimum is 1000 ms.
      {"socket.connection.setup.timeout.ms",
       std::to_string(std::max(1000, ToMillis(settings.timeout))), ""},
      {"api.version.request.timeout.ms", timeout_ms, ""},
      // A broker that comes back is found within a second (librdkafka's default waits up to 10).
      {"reconnect.backoff.max.ms", "1000", ""},
      {"log.connection.close", "false", ""},
      {"security.protocol", settings.security_protocol, "security_protocol"},
  };
  if (UsesSasl(settings.security_protocol)) {
    out.push_back({"sasl.mechanisms", settings.sasl_mechanism, "sasl_mechanism"});
    out.push_back({"sasl.username", settings.username, "username"});
    out.push_back({kPasswordProperty, password, "password_file"});
  }
  if (UsesTls(settings.security_protocol) && !settings.ssl_ca_location.empty()) {
    out.push_back({"ssl.ca.location", settings.ssl_ca_location, "ssl_ca_location"});
  }
  return out;
}

absl::Status ValidateClientProperties(const std::vector<ClientProperty>& properties,
                                      std::string* config_key) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  absl::Status status = Apply(properties, conf, config_key);
  rd_kafka_conf_destroy(conf);
  return status;
}

std::string Redact(absl::string_view text, absl::string_view secret) {
  if (secret.empty()) return std::string(text);
  return absl::StrReplaceAll(text, {{secret, "***"}});
}

absl::StatusOr<std::unique_ptr<KafkaClient>> KafkaClient::Create(
    const std::vector<ClientProperty>& properties, std::string secret, std::string log_label) {
  std::unique_ptr<KafkaClient> client(new KafkaClient(std::move(secret), std::move(log_label)));
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::string key;
  absl::Status applied = Apply(properties, conf, &key);
  if (!applied.ok()) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat(key, ": ", applied.message()));
  }
  rd_kafka_conf_set_opaque(conf, client.get());
  rd_kafka_conf_set_log_cb(conf, &KafkaClient::OnLog);
  rd_kafka_conf_set_error_cb(conf, &KafkaClient::OnError);
  char err[512];
  // On success rd_kafka_new takes ownership of conf; on failure it is still ours.
  client->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (client->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create the Kafka client: ", Redact(err, client->secret_)));
  }
  return client;
}

KafkaClient::~KafkaClient() {
  if (rk_ != nullptr) {
    // No consumer close: the handle has no group and no assignment to give back.
    rd_kafka_destroy_flags(rk_, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  }
}

void KafkaClient::OnLog(const rd_kafka_s* rk, int level, const char* facility, const char* line) {
  const auto* self = static_cast<const KafkaClient*>(rd_kafka_opaque(rk));
  std::string text = Redact(line, self != nullptr ? self->secret_ : "");
  const std::string& self_label = self != nullptr ? self->log_label_ : "kafka check";
  // A configuration warning is worth seeing once; connection errors repeat at every reconnect
  // while a broker is down, and the scheduler already logs the check's failure once.
  if (level <= 4 && std::string_view(facility) == "CONFWARN") {
    VIGIL_LOG(Warning) << self_label << ": librdkafka " << facility << ": " << text;
  } else {
    VIGIL_LOG(Debug) << self_label << ": librdkafka " << facility << ": " << text;
  }
}

void KafkaClient::OnError(rd_kafka_s* /*rk*/, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaClient*>(opaque);
  // "N/N brokers are down" says less than the connection error that preceded it.
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !self->last_error_.empty()) return;
  self->last_error_ = Redact(reason, self->secret_);
}

void KafkaClient::DrainEvents() {
  while (rd_kafka_poll(rk_, 0) > 0) {
  }
}

std::string KafkaClient::LastErrorSuffix() {
  DrainEvents();
  if (last_error_.empty()) return "";
  return absl::StrCat(" (last broker error: ", last_error_, ")");
}

absl::StatusOr<ClusterMetadata> KafkaClient::FetchMetadata(absl::Duration timeout) {
  DrainEvents();
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk_, /*all_topics=*/1, nullptr, &md, ToMillis(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return FromError(err, "cannot fetch cluster metadata", LastErrorSuffix());
  }
  last_error_.clear();
  ClusterMetadata out;
  out.brokers = md->broker_cnt;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    std::vector<int32_t>& ids = out.topics[t.topic];
    for (int j = 0; j < t.partition_cnt; ++j) ids.push_back(t.partitions[j].id);
  }
  rd_kafka_metadata_destroy(md);
  return out;
}

std::vector<absl::StatusOr<std::map<TopicPartition, int64_t>>> KafkaClient::CommittedOffsets(
    const std::vector<std::string>& groups, const std::set<TopicPartition>& partitions,
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<absl::StatusOr<std::map<TopicPartition, int64_t>>> results(
      groups.size(), absl::DeadlineExceededError("no answer from the group coordinator in time"));
  if (partitions.empty()) {
    for (auto& r : results) r = std::map<TopicPartition, int64_t>{};
    return results;
  }
  DrainEvents();
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
  PartitionList list = ToList(partitions, RD_KAFKA_OFFSET_INVALID);
  char err[512];
  for (size_t i = 0; i < groups.size(); ++i) {
    rd_kafka_ListConsumerGroupOffsets_t* request =
        rd_kafka_ListConsumerGroupOffsets_new(groups[i].c_str(), list.list);
    rd_kafka_AdminOptions_t* options =
        rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_AdminOptions_set_request_timeout(options, ToMillis(timeout), err, sizeof(err));
    rd_kafka_AdminOptions_set_opaque(options, reinterpret_cast<void*>(static_cast<intptr_t>(i)));
    rd_kafka_ListConsumerGroupOffsets(rk_, &request, 1, options, queue);
    rd_kafka_ListConsumerGroupOffsets_destroy(request);
    rd_kafka_AdminOptions_destroy(options);
  }
  for (size_t answered = 0; answered < groups.size();) {
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, ToMillis(deadline - absl::Now()));
    if (event == nullptr) break;  // deadline: the unanswered groups keep their timeout error
    if (rd_kafka_event_type(event) != RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT) {
      rd_kafka_event_destroy(event);
      continue;
    }
    ++answered;
    size_t index = static_cast<size_t>(reinterpret_cast<intptr_t>(rd_kafka_event_opaque(event)));
    if (index >= groups.size()) {
      rd_kafka_event_destroy(event);
      continue;
    }
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      results[index] = absl::UnavailableError(absl::StrCat(
          "cannot read committed offsets: ", Redact(rd_kafka_event_error_string(event), secret_)));
      rd_kafka_event_destroy(event);
      continue;
    }
    size_t count = 0;
    const rd_kafka_group_result_t** group_results = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(event), &count);
    std::map<TopicPartition, int64_t> offsets;
    absl::Status status = absl::OkStatus();
    if (count != 1) {
      status = absl::InternalError(absl::StrCat("expected one group result, got ", count));
    } else if (const rd_kafka_error_t* e = rd_kafka_group_result_error(group_results[0])) {
      status = absl::UnavailableError(
          absl::StrCat("cannot read committed offsets: ", rd_kafka_error_string(e)));
    } else if (const rd_kafka_topic_partition_list_t* parts =
                   rd_kafka_group_result_partitions(group_results[0])) {
      for (int j = 0; j < parts->cnt && status.ok(); ++j) {
        const rd_kafka_topic_partition_t& p = parts->elems[j];
        if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          status = absl::UnavailableError(absl::StrCat("cannot read the committed offset of ",
                                                       p.topic, "[", p.partition,
                                                       "]: ", rd_kafka_err2str(p.err)));
        } else if (p.offset >= 0) {
          offsets[TopicPartition{p.topic, p.partition}] = p.offset;
        }
      }
    }
    if (status.ok()) {
      results[index] = std::move(offsets);
    } else {
      results[index] = status;
    }
    rd_kafka_event_destroy(event);
  }
  // Answers still in flight are dropped with the queue.
  rd_kafka_queue_destroy(queue);
  return results;
}

int KafkaClient::ListOffsetsOnce(const std::set<TopicPartition>& partitions, bool latest,
                                 absl::Duration timeout, PartitionOffsetsResult& out) {
  // A ListOffsets "timestamp" of END (-1) asks for the latest offset, BEGINNING (-2) for the
  // earliest; librdkafka sends one request per partition leader, in parallel.
  PartitionList list = ToList(partitions, latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING);
  rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk_, list.list, ToMillis(timeout));
  for (int i = 0; i < list.list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list.list->elems[i];
    TopicPartition tp{p.topic, p.partition};
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      out.errors[tp] = rd_kafka_err2str(p.err);
    } else if (p.offset < 0) {
      // Still the END/BEGINNING marker: no answer for this partition.
      out.errors[tp] = err != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(err) : "no answer";
    } else {
      out.offsets[tp] = p.offset;
      out.errors.erase(tp);
    }
  }
  return err;
}

absl::StatusOr<PartitionOffsetsResult> KafkaClient::QueryWatermarks(
    const std::set<TopicPartition>& partitions, bool latest, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  PartitionOffsetsResult out;
  if (partitions.empty()) return out;
  DrainEvents();
  rd_kafka_resp_err_t err =
      static_cast<rd_kafka_resp_err_t>(ListOffsetsOnce(partitions, latest, timeout, out));
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return out;

  // One leader's error (an ACL on one topic, a partition without a leader) fails the whole
  // call, and librdkafka then returns no offset at all. Asking again topic by topic keeps the
  // lag of the topics that can be read.
  std::map<std::string, std::set<TopicPartition>> by_topic;
  for (const TopicPartition& tp : partitions) by_topic[tp.topic].insert(tp);
  if (by_topic.size() > 1 && err != RD_KAFKA_RESP_ERR__TIMED_OUT) {
    for (const auto& [topic, topic_partitions] : by_topic) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;  // the rest keep the first round's error
      ListOffsetsOnce(topic_partitions, latest, left, out);
    }
  }
  if (out.offsets.empty()) {
    return FromError(err, absl::StrCat("cannot read ", latest ? "high" : "low", " watermarks"),
                     LastErrorSuffix());
  }
  return out;
}

}  // namespace vigil::agent::kafka
