#include "agent/checks/rabbitmq/management_api.h"

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace vigil::agent::rabbitmq {

const char kQueueColumns[] =
    "name,vhost,messages,messages_ready,messages_unacknowledged,consumers,"
    "message_stats.publish_details.rate,message_stats.deliver_get_details.rate";
const char kNodeColumns[] =
    "name,running,mem_used,mem_limit,mem_alarm,fd_used,fd_total,disk_free,disk_free_limit,"
    "disk_free_alarm";

namespace {

using Json = nlohmann::json;

absl::Status Invalid(absl::string_view source, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", message));
}

const char* TypeName(const Json& j) { return j.type_name(); }

// Parses a whole document; nlohmann throws on a syntax error, which is converted here.
absl::StatusOr<Json> ParseDocument(absl::string_view text, absl::string_view source) {
  if (absl::StripAsciiWhitespace(text).empty()) return Invalid(source, "empty response body");
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ..."
    absl::string_view what = e.what();
    if (size_t bracket = what.find("] "); bracket != absl::string_view::npos) {
      what.remove_prefix(bracket + 2);
    }
    return Invalid(source,
                   absl::StrCat("invalid JSON (byte ", e.byte, " of ", text.size(), "): ", what));
  }
}

// Reads the optional fields of one object; records the first type mismatch.
class ObjectReader {
 public:
  ObjectReader(const Json& object, std::string where) : object_(object), where_(std::move(where)) {}

  const Json* Find(const char* key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::optional<std::string> String(const char* key) {
    const Json* v = Find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) {
      Mismatch(key, "a string", *v);
      return std::nullopt;
    }
    return v->get<std::string>();
  }

  std::optional<double> Number(const char* key) { return NumberAt(Find(key), key); }

  // A number at a dotted path of nested objects ("message_stats.publish_details.rate").
  std::optional<double> NumberAtPath(std::initializer_list<const char*> path) {
    const Json* v = &object_;
    std::string at;
    for (const char* key : path) {
      if (!v->is_object()) {
        Mismatch(at, "an object", *v);
        return std::nullopt;
      }
      at = at.empty() ? key : absl::StrCat(at, ".", key);
      auto it = v->find(key);
      if (it == v->end() || it->is_null()) return std::nullopt;
      v = &*it;
    }
    return NumberAt(v, at);
  }

  std::optional<bool> Bool(const char* key) {
    const Json* v = Find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) {
      Mismatch(key, "true or false", *v);
      return std::nullopt;
    }
    return v->get<bool>();
  }

  void Mismatch(absl::string_view key, const char* expected, const Json& got) {
    if (error_.empty()) {
      error_ =
          absl::StrCat(where_, ": '", key, "' is not ", expected, " (got ", TypeName(got), ")");
    }
  }

  void Missing(const char* key) {
    if (error_.empty()) error_ = absl::StrCat(where_, ": no '", key, "'");
  }

  const std::string& error() const { return error_; }
  void set_where(std::string where) { where_ = std::move(where); }

 private:
  std::optional<double> NumberAt(const Json* v, absl::string_view name) {
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) {
      Mismatch(name, "a number", *v);
      return std::nullopt;
    }
    return v->get<double>();
  }

  const Json& object_;
  std::string where_;
  std::string error_;
};

// Checks that the document is an array of objects and calls `each(object, reader)`.
template <typename T, typename F>
absl::StatusOr<std::vector<T>> ParseArray(absl::string_view text, absl::string_view source,
                                          const char* what, const char* what_plural, F each) {
  absl::StatusOr<Json> doc = ParseDocument(text, source);
  if (!doc.ok()) return doc.status();
  if (!doc->is_array()) {
    return Invalid(
        source, absl::StrCat("expected a JSON array of ", what_plural, ", got ", TypeName(*doc)));
  }
  std::vector<T> out;
  out.reserve(doc->size());
  for (size_t i = 0; i < doc->size(); ++i) {
    const Json& item = (*doc)[i];
    std::string where = absl::StrCat(what, " #", i + 1);
    if (!item.is_object()) {
      return Invalid(source, absl::StrCat(where, ": expected an object, got ", TypeName(item)));
    }
    ObjectReader r(item, where);
    T value = each(r);
    if (!r.error().empty()) return Invalid(source, r.error());
    out.push_back(std::move(value));
  }
  return out;
}

void Add(std::vector<Sample>& out, const char* metric, const Labels& labels,
         const std::optional<double>& value) {
  if (value) out.push_back(Sample{metric, labels, *value});
}

void AddBool(std::vector<Sample>& out, const char* metric, const Labels& labels,
             const std::optional<bool>& value) {
  if (value) out.push_back(Sample{metric, labels, *value ? 1.0 : 0.0});
}

}  // namespace

absl::StatusOr<std::vector<QueueStats>> ParseQueues(absl::string_view json,
                                                    absl::string_view source) {
  return ParseArray<QueueStats>(json, source, "queue", "queues", [](ObjectReader& r) {
    QueueStats q;
    std::optional<std::string> name = r.String("name");
    std::optional<std::string> vhost = r.String("vhost");
    if (!name) r.Missing("name");
    if (!vhost) r.Missing("vhost");
    q.name = name.value_or("");
    q.vhost = vhost.value_or("");
    if (name && vhost) r.set_where(absl::StrCat("queue '", q.name, "' in vhost '", q.vhost, "'"));
    q.messages = r.Number("messages");
    q.messages_ready = r.Number("messages_ready");
    q.messages_unacknowledged = r.Number("messages_unacknowledged");
    q.consumers = r.Number("consumers");
    q.publish_rate = r.NumberAtPath({"message_stats", "publish_details", "rate"});
    q.deliver_rate = r.NumberAtPath({"message_stats", "deliver_get_details", "rate"});
    return q;
  });
}

absl::StatusOr<std::vector<NodeStats>> ParseNodes(absl::string_view json,
                                                  absl::string_view source) {
  return ParseArray<NodeStats>(json, source, "node", "nodes", [](ObjectReader& r) {
    NodeStats n;
    std::optional<std::string> name = r.String("name");
    if (!name) r.Missing("name");
    n.name = name.value_or("");
    if (name) r.set_where(absl::StrCat("node '", n.name, "'"));
    std::optional<bool> running = r.Bool("running");
    if (!running) r.Missing("running");
    n.running = running.value_or(false);
    n.mem_used_bytes = r.Number("mem_used");
    n.mem_limit_bytes = r.Number("mem_limit");
    n.mem_alarm = r.Bool("mem_alarm");
    n.fd_used = r.Number("fd_used");
    n.fd_total = r.Number("fd_total");
    n.disk_free_bytes = r.Number("disk_free");
    n.disk_free_limit_bytes = r.Number("disk_free_limit");
    n.disk_free_alarm = r.Bool("disk_free_alarm");
    return n;
  });
}

std::string ErrorReason(absl::string_view body) {
  Json doc = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_object()) {
    auto reason = doc.find("reason");
    if (reason != doc.end() && reason->is_string()) return reason->get<std::string>();
    auto error = doc.find("error");
    if (error != doc.end() && error->is_string()) return error->get<std::string>();
  }
  constexpr size_t kMax = 200;
  std::string start(absl::StripAsciiWhitespace(body.substr(0, kMax)));
  for (char& c : start) {
    if (!absl::ascii_isprint(static_cast<unsigned char>(c))) c = ' ';
  }
  return body.size() > kMax ? start + "..." : start;
}

std::string EncodePathSegment(absl::string_view segment) {
  std::string out;
  for (char c : segment) {
    unsigned char u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", u);
    }
  }
  return out;
}

void AppendQueueSamples(const std::vector<QueueStats>& queues, std::vector<Sample>& out) {
  for (const QueueStats& q : queues) {
    const Labels labels = {{"queue", q.name}, {"vhost", q.vhost}};
    Add(out, "rabbitmq.queue.messages", labels, q.messages);
    Add(out, "rabbitmq.queue.messages_ready", labels, q.messages_ready);
    Add(out, "rabbitmq.queue.messages_unacknowledged", labels, q.messages_unacknowledged);
    Add(out, "rabbitmq.queue.consumers", labels, q.consumers);
    Add(out, "rabbitmq.queue.publish_per_second", labels, q.publish_rate);
    Add(out, "rabbitmq.queue.deliver_per_second", labels, q.deliver_rate);
  }
}

void AppendNodeSamples(const std::vector<NodeStats>& nodes, std::vector<Sample>& out) {
  for (const NodeStats& n : nodes) {
    const Labels labels = {{"node", n.name}};
    out.push_back(Sample{"rabbitmq.node.running", labels, n.running ? 1.0 : 0.0});
    Add(out, "rabbitmq.node.mem_used_bytes", labels, n.mem_used_bytes);
    Add(out, "rabbitmq.node.mem_limit_bytes", labels, n.mem_limit_bytes);
    AddBool(out, "rabbitmq.node.mem_alarm", labels, n.mem_alarm);
    Add(out, "rabbitmq.node.fd_used", labels, n.fd_used);
    Add(out, "rabbitmq.node.fd_total", labels, n.fd_total);
    Add(out, "rabbitmq.node.disk_free_bytes", labels, n.disk_free_bytes);
    Add(out, "rabbitmq.node.disk_free_limit_bytes", labels, n.disk_free_limit_bytes);
    AddBool(out, "rabbitmq.node.disk_free_alarm", labels, n.disk_free_alarm);
  }
}

}  // namespace vigil::agent::rabbitmq
