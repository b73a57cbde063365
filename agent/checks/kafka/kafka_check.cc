#include "agent/checks/kafka/kafka_check.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/checks/kafka/consumer_lag.h"
#include "common/log.h"

namespace vigil::agent {
namespace {

using kafka::TopicPartition;

void Add(std::vector<Sample>& out, const char* metric, Labels labels, double value) {
  out.push_back(Sample{metric, std::move(labels), value});
}

// A list key; nullopt when the key is absent or StringList already reported a problem.
std::optional<std::vector<std::string>> ListKey(ConfigMap& config, const char* key) {
  if (!config.Has(key)) return std::nullopt;
  size_t errors_before = config.errors()->messages().size();
  std::vector<std::string> values = config.StringList(key);
  if (config.errors()->messages().size() != errors_before) return std::nullopt;
  return values;
}

// Group ids and topic names: non-empty and unique.
std::vector<std::string> NamesKey(ConfigMap& config, const char* key, bool required,
                                  const char* example) {
  if (!config.Has(key)) {
    if (required) config.Error(key, absl::StrCat("required, e.g. ", example));
    return {};
  }
  std::optional<std::vector<std::string>> values = ListKey(config, key);
  if (!values.has_value()) return {};
  if (values->empty()) {
    config.Error(key, absl::StrCat("must not be empty, e.g. ", example));
    return {};
  }
  std::set<std::string> seen;
  for (const std::string& v : *values) {
    if (v.empty()) {
      config.Error(key, "entries must not be empty");
      return {};
    }
    if (!seen.insert(v).second) {
      config.Error(key, absl::StrCat("'", v, "' is listed twice"));
      return {};
    }
  }
  return *values;
}

// `value` must be one of `allowed` (compared case-insensitively); returns the allowed spelling.
std::string OneOf(ConfigMap& config, const char* key, const std::string& value,
                  const std::vector<std::string>& allowed) {
  for (const std::string& a : allowed) {
    if (absl::EqualsIgnoreCase(value, a)) return a;
  }
  config.Error(key, absl::StrCat("'", value, "' is not one of ", absl::StrJoin(allowed, ", ")));
  return allowed.front();
}

// DeadlineExceeded when the collection's time is up, else the time left.
absl::StatusOr<absl::Duration> TimeLeft(absl::Time deadline, const char* before) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(absl::StrCat("timeout reached before ", before));
  }
  return left;
}

absl::Status WithPrefix(const absl::Status& status, absl::string_view prefix) {
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

}  // namespace

KafkaCheck::KafkaCheck() = default;
KafkaCheck::~KafkaCheck() = default;

absl::Status KafkaCheck::Init(ConfigMap& config) {
  // The scheduler owns and validates `name`; it only labels this check's log lines here.
  if (config.Has("name")) {
    YAML::Node name = config.Node("name");
    if (name.IsScalar() && !name.Scalar().empty()) {
      log_label_ = absl::StrCat("kafka check '", name.Scalar(), "'");
    }
  }
  if (!config.Has("bootstrap_servers")) {
    config.Error("bootstrap_servers", "required, e.g. [kafka1:9092, kafka2:9092]");
  } else if (std::optional<std::vector<std::string>> entries =
                 ListKey(config, "bootstrap_servers")) {
    absl::StatusOr<std::vector<std::string>> servers = kafka::ParseBootstrapServers(*entries);
    if (servers.ok()) {
      settings_.bootstrap_servers = *std::move(servers);
    } else {
      config.Error("bootstrap_servers", servers.status().message());
    }
  }
  groups_ = NamesKey(config, "consumer_groups", /*required=*/true, "[orders-service]");
  topics_ = NamesKey(config, "topics", /*required=*/false, "[orders]");

  settings_.security_protocol =
      OneOf(config, "security_protocol", config.String("security_protocol", "plaintext"),
            {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"});
  const bool sasl = kafka::UsesSasl(settings_.security_protocol);
  const bool tls = kafka::UsesTls(settings_.security_protocol);
  const char* const kSaslOnly = " is used only with security_protocol sasl_plaintext or sasl_ssl";
  if (config.Has("sasl_mechanism")) {
    settings_.sasl_mechanism = OneOf(config, "sasl_mechanism", config.String("sasl_mechanism"),
                                     {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"});
    if (!sasl) config.Error("sasl_mechanism", absl::StrCat("sasl_mechanism", kSaslOnly));
  }
  settings_.username = config.String("username");
  password_ = ReadSecretRef(config, "password");
  if (sasl) {
    if (settings_.username.empty()) {
      config.Error("username",
                   absl::StrCat("required with security_protocol ", settings_.security_protocol));
    }
    if (password_.empty()) {
      config.Error("password_file", absl::StrCat("password_file or password_env is required with "
                                                 "security_protocol ",
                                                 settings_.security_protocol));
    }
  } else {
    if (config.Has("username")) config.Error("username", absl::StrCat("username", kSaslOnly));
    if (!password_.empty()) {
      const char* key = password_.file.empty() ? "password_env" : "password_file";
      config.Error(key, absl::StrCat(key, kSaslOnly));
    }
  }
  if (config.Has("ssl_ca_location")) {
    std::string ca = config.String("ssl_ca_location");
    if (ca.empty()) {
      config.Error("ssl_ca_location", "must not be empty");
    } else if (!tls) {
      config.Error("ssl_ca_location",
                   "ssl_ca_location is used only with security_protocol ssl or sasl_ssl");
    } else {
      settings_.ssl_ca_location = ResolvePath(DirName(config.errors()->file()), ca);
    }
  }
  settings_.timeout = context().timeout;

  // What librdkafka itself would refuse (a mechanism this build lacks), with a placeholder
  // password: the real one is read at each collection.
  std::string key;
  absl::Status valid =
      kafka::ValidateClientProperties(kafka::ClientProperties(settings_, "placeholder"), &key);
  if (!valid.ok()) config.Error(key, valid.message());
  return absl::OkStatus();
}

absl::Status KafkaCheck::EnsureClient() {
  std::string password;
  if (kafka::UsesSasl(settings_.security_protocol)) {
    absl::StatusOr<std::string> secret = password_.Read();
    if (!secret.ok()) return WithPrefix(secret.status(), "SASL password: ");
    password = *std::move(secret);
  }
  std::string fingerprint = Sha256Hex(password);
  if (client_ != nullptr && fingerprint == client_password_sha256_) return absl::OkStatus();
  if (client_ != nullptr) {
    VIGIL_LOG(Info) << log_label_ << ": the SASL password changed; connecting again";
  }
  client_.reset();
  absl::StatusOr<std::unique_ptr<kafka::KafkaClient>> client = kafka::KafkaClient::Create(
      kafka::ClientProperties(settings_, password), password, log_label_);
  if (!client.ok()) return client.status();
  client_ = *std::move(client);
  client_password_sha256_ = std::move(fingerprint);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Sample>> KafkaCheck::Collect(absl::Time /*now*/) {
  absl::StatusOr<std::vector<Sample>> samples = CollectSamples(absl::Now() + settings_.timeout);
  if (samples.ok()) return samples;
  // The cluster and the time allowed, which the messages of librdkafka do not tell.
  return WithPrefix(samples.status(),
                    absl::StrCat("cluster ", absl::StrJoin(settings_.bootstrap_servers, ","),
                                 " (timeout ", absl::FormatDuration(settings_.timeout), "): "));
}

absl::StatusOr<std::vector<Sample>> KafkaCheck::CollectSamples(absl::Time deadline) {
  if (absl::Status s = EnsureClient(); !s.ok()) return s;

  absl::StatusOr<absl::Duration> left = TimeLeft(deadline, "fetching metadata");
  if (!left.ok()) return left.status();
  absl::StatusOr<kafka::ClusterMetadata> metadata = client_->FetchMetadata(*left);
  if (!metadata.ok()) return metadata.status();
  std::vector<Sample> out;
  Add(out, "kafka.brokers", {}, metadata->brokers);
  std::map<std::string, std::string> problems;

  // The partitions whose committed offsets are asked for: the configured topics, or all but
  // the internal ones (__consumer_offsets, __transaction_state, ...).
  kafka::TopicPartitions candidates;
  if (topics_.empty()) {
    for (const auto& [topic, ids] : metadata->topics) {
      if (!absl::StartsWith(topic, "__")) candidates[topic] = ids;
    }
  } else {
    for (const std::string& topic : topics_) {
      auto found = metadata->topics.find(topic);
      if (found != metadata->topics.end()) {
        candidates[topic] = found->second;
      } else {
        problems["topic " + topic] =
            absl::StrCat("topic '", topic, "' (from topics) is not in the cluster's metadata");
      }
    }
  }
  std::set<TopicPartition> asked;
  for (const auto& [topic, ids] : candidates) {
    for (int32_t id : ids) asked.insert(TopicPartition{topic, id});
  }

  left = TimeLeft(deadline, "reading committed offsets");
  if (!left.ok()) return left.status();
  std::vector<absl::StatusOr<std::map<TopicPartition, int64_t>>> committed =
      client_->CommittedOffsets(groups_, asked, *left);

  std::vector<std::vector<std::string>> group_topics(groups_.size());
  kafka::WatermarkRequest needed;
  std::vector<std::string> group_errors;
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (!committed[i].ok()) {
      std::string message =
          absl::StrCat("group '", groups_[i], "': ", committed[i].status().message());
      problems["group " + groups_[i]] = message;
      group_errors.push_back(std::move(message));
      continue;
    }
    group_topics[i] = kafka::TopicsToReport(topics_, candidates, *committed[i]);
    kafka::AddWatermarkNeeds(group_topics[i], candidates, *committed[i], needed);
  }
  if (group_errors.size() == groups_.size()) {
    return absl::UnavailableError(absl::StrJoin(group_errors, "; "));
  }

  kafka::Watermarks watermarks;
  for (bool latest : {true, false}) {
    left = TimeLeft(deadline, "reading watermarks");
    if (!left.ok()) return left.status();
    absl::StatusOr<kafka::PartitionOffsetsResult> result =
        client_->QueryWatermarks(latest ? needed.high : needed.low, latest, *left);
    if (!result.ok() && latest) return result.status();  // no lag at all could be computed
    if (!result.ok()) {
      // Only partitions without a commit need the low watermark: their topics are left out.
      problems["low watermarks"] = std::string(result.status().message());
      continue;
    }
    if (!result->errors.empty()) {
      const auto& [tp, error] = *result->errors.begin();
      problems[latest ? "high watermarks" : "low watermarks"] = absl::StrCat(
          "cannot read the ", latest ? "high" : "low", " watermark of ", result->errors.size(),
          " partition(s), e.g. ", tp.topic, "[", tp.partition, "]: ", error);
    }
    (latest ? watermarks.high : watermarks.low) = std::move(result->offsets);
  }

  for (const auto& [tp, offset] : watermarks.high) {
    Add(out, "kafka.partition.high_watermark",
        {{"partition", std::to_string(tp.partition)}, {"topic", tp.topic}},
        static_cast<double>(offset));
  }
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (!committed[i].ok()) continue;
    const std::string& group = groups_[i];
    kafka::GroupLag lag =
        kafka::ComputeGroupLag(group_topics[i], candidates, *committed[i], watermarks);
    for (const kafka::TopicLagReport& topic : lag.topics) {
      Add(out, "kafka.consumer.lag", {{"group", group}, {"topic", topic.topic}},
          static_cast<double>(topic.total_lag));
      for (const kafka::PartitionLagReport& p : topic.partitions) {
        Labels labels = {
            {"group", group}, {"partition", std::to_string(p.partition)}, {"topic", topic.topic}};
        Add(out, "kafka.consumer.partition_lag", labels, static_cast<double>(p.lag));
        if (p.committed.has_value()) {
          Add(out, "kafka.consumer.committed_offset", labels, static_cast<double>(*p.committed));
        }
      }
    }
    for (const auto& [topic, partition] : lag.incomplete) {
      problems[absl::StrCat("group ", group, " topic ", topic)] = absl::StrCat(
          "group '", group, "', topic '", topic, "': lag not reported, the watermark of partition ",
          partition, " is missing");
    }
  }
  NoteProblems(std::move(problems));
  return out;
}

void KafkaCheck::NoteProblems(std::map<std::string, std::string> problems) {
  for (const auto& [what, message] : problems) {
    auto before = problems_.find(what);
    if (before == problems_.end() || before->second != message) {
      VIGIL_LOG(Warning) << log_label_ << ": " << message;
    }
  }
  for (const auto& [what, message] : problems_) {
    if (problems.count(what) == 0) VIGIL_LOG(Info) << log_label_ << ": resolved: " << message;
  }
  problems_ = std::move(problems);
}

}  // namespace vigil::agent
