#include "collector/http/api.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "collector/store/downsample.h"
#include "common/config_reader.h"
#include "common/secret.h"
#include "common/selector.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace vigil::collector {
namespace {

// Keys in insertion order, so replies read {"status":..,"data":..} as documented.
using json = nlohmann::ordered_json;

constexpr char kJsonType[] = "application/json";
constexpr char kTextType[] = "text/plain; charset=utf-8";
constexpr char kMetricsType[] = "text/plain; version=0.0.4";
constexpr int64_t kDefaultRangeMs = 60 * 60 * 1000;

constexpr absl::string_view kEndpoints[] = {"/healthz",
                                            "/readyz",
                                            "/metrics",
                                            "/api/v1/status",
                                            "/api/v1/series",
                                            "/api/v1/query",
                                            "/api/v1/alarms",
                                            "/api/v1/alarms/history",
                                            "/api/v1/rules",
                                            "/api/v1/silences",
                                            "/api/v1/alerting/status",
                                            "/-/reload"};
// /api/v1/silences/<id>: one label for every id, so the label set stays bounded.
constexpr absl::string_view kSilencePrefix = "/api/v1/silences/";
constexpr absl::string_view kSilenceHandler = "/api/v1/silences/{id}";
constexpr char kNoAlerting[] = "this collector delivers no notifications";

// Label values come from agents and need not be valid UTF-8: replace bad bytes, never throw.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

HttpResponse Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = kTextType;
  r.body = std::move(body);
  return r;
}

HttpResponse Success(json data) {
  HttpResponse r;
  r.content_type = kJsonType;
  r.body = Dump(json{{"status", "success"}, {"data", std::move(data)}});
  r.body += '\n';
  return r;
}

HttpResponse Error(int status, absl::string_view message) {
  HttpResponse r;
  r.status = status;
  r.content_type = kJsonType;
  r.body = Dump(json{{"status", "error"}, {"error", std::string(message)}});
  r.body += '\n';
  return r;
}

json SeriesJson(const SeriesKey& key) {
  json labels = json::object();
  for (const auto& [name, value] : key.labels) labels[name] = value;
  return json{{"metric", key.metric}, {"labels", std::move(labels)}, {"series", key.ToString()}};
}

// Union of the series every selector matches, sorted and without duplicates.
absl::StatusOr<std::vector<SeriesKey>> SelectAll(const SeriesStore& store,
                                                 const std::vector<std::string>& selectors,
                                                 absl::string_view param) {
  std::vector<SeriesKey> keys;
  for (const std::string& text : selectors) {
    absl::StatusOr<SeriesSelector> selector = ParseSelector(text);
    if (!selector.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(param, ": bad selector '", text, "': ", selector.status().message()));
    }
    std::vector<SeriesKey> matched = store.Select(*selector);
    keys.insert(keys.end(), std::make_move_iterator(matched.begin()),
                std::make_move_iterator(matched.end()));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::string MissingSelector(absl::string_view param) {
  return absl::StrCat("missing parameter '", param,
                      "': give a series selector such as system.load.1{host=\"web-1\"}");
}

}  // namespace

QueryParams ParseQueryString(absl::string_view query) {
  auto decode = [](absl::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out += ' ';
      } else if (s[i] == '%' && i + 2 < s.size() &&
                 absl::ascii_isxdigit(static_cast<unsigned char>(s[i + 1])) &&
                 absl::ascii_isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        auto hex = [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c))
                     ? c - '0'
                     : absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10;
        };
        out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  };
  QueryParams params;
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    params.emplace_back(decode(kv.first), decode(kv.second));
  }
  return params;
}

absl::StatusOr<int64_t> ParseTimeParam(absl::string_view text, int64_t now_ms) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad time '", text, "'", why,
        ": expected epoch milliseconds, RFC3339 (2026-11-22T10:00:00Z), now, or a duration "
        "before now (-15m)"));
  };
  if (s.empty()) return bad("");
  if (s == "now") return now_ms;
  absl::string_view ago = s;
  if (absl::ConsumePrefix(&ago, "now-") || absl::ConsumePrefix(&ago, "-")) {
    absl::StatusOr<absl::Duration> d = ParseDuration(ago);
    if (!d.ok()) return bad(absl::StrCat(" (", d.status().message(), ")"));
    return absl::ToUnixMillis(absl::FromUnixMillis(now_ms) - *d);
  }
  if (std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    int64_t ms = 0;
    if (!absl::SimpleAtoi(s, &ms)) return bad(" (out of range)");
    return ms;
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(s), &t, &err)) return bad("");
  return absl::ToUnixMillis(t);
}

HttpApi::HttpApi(ApiContext context, ApiLimits limits)
    : context_(std::move(context)), limits_(limits) {}

std::string HttpApi::HandlerLabel(absl::string_view path) {
  for (absl::string_view e : kEndpoints) {
    if (path == e) return std::string(e);
  }
  absl::string_view id = path;
  if (absl::ConsumePrefix(&id, kSilencePrefix) && !id.empty() && !absl::StrContains(id, '/')) {
    return std::string(kSilenceHandler);
  }
  return "other";
}

std::vector<absl::string_view> HttpApi::Handlers() {
  std::vector<absl::string_view> handlers(std::begin(kEndpoints), std::end(kEndpoints));
  handlers.push_back(kSilenceHandler);
  handlers.push_back("other");
  return handlers;
}

int64_t HttpApi::NowMs() const {
  return context_.now_ms ? context_.now_ms() : absl::ToUnixMillis(absl::Now());
}

HttpResponse HttpApi::Serve(const HttpRequest& request) const {
  const std::string handler = HandlerLabel(request.path);
  if (handler == "other") {
    return Error(404, absl::StrCat("no such endpoint: ", request.path));
  }
  if (request.path == "/-/reload") {
    if (request.method == "POST") return Reload(request);
    HttpResponse r = Error(405, "method " + request.method + " not allowed on /-/reload; use POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (handler == "/api/v1/silences") return Silences(request);
  if (handler == kSilenceHandler) {
    return SilenceById(request, request.path.substr(kSilencePrefix.size()));
  }
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = Error(405, absl::StrCat("method ", request.method, " not allowed on ",
                                             request.path, "; use GET"));
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (request.path == "/api/v1/alerting/status") return AlertingStatus();
  if (request.path == "/healthz") return Text(200, "ok\n");
  if (request.path == "/readyz") return Ready();
  if (request.path == "/metrics") return Metrics();
  if (request.path == "/api/v1/status") return Status();
  if (request.path == "/api/v1/series") return Series(request.params);
  if (request.path == "/api/v1/query") return Query(request.params);
  if (context_.alarms == nullptr) return Error(404, "this collector evaluates no rules");
  if (request.path == "/api/v1/alarms") return AlarmList(request.params);
  if (request.path == "/api/v1/alarms/history") return AlarmHistory(request.params);
  return Success(context_.alarms->Rules());
}

namespace {
// The single value of a query parameter, or `def` when absent.
std::string Param(const QueryParams& params, const std::string& name, std::string def = "") {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return def;
}
}  // namespace

HttpResponse HttpApi::AlarmList(const QueryParams& params) const {
  std::string state = Param(params, "state");
  if (!state.empty() && state != "ALARM" && state != "OK" && state != "INSUFFICIENT_DATA") {
    return Error(400, "state must be ALARM, OK or INSUFFICIENT_DATA, got '" + state + "'");
  }
  return Success(context_.alarms->Alarms(state));
}

HttpResponse HttpApi::AlarmHistory(const QueryParams& params) const {
  int64_t limit = 100;
  std::string text = Param(params, "limit", "100");
  if (!absl::SimpleAtoi(text, &limit) || limit < 1 || limit > 10000) {
    return Error(400, "limit must be a number from 1 to 10000, got '" + text + "'");
  }
  absl::StatusOr<json> h = context_.alarms->History(Param(params, "rule"), limit);
  if (!h.ok())
    return Error(h.status().code() == absl::StatusCode::kNotFound ? 404 : 500,
                 std::string(h.status().message()));
  return Success(*h);
}

std::optional<HttpResponse> HttpApi::Unauthorized(const HttpRequest& request,
                                                  absl::string_view what) const {
  if (context_.api_token_sha256.empty()) {
    return Error(403, absl::StrCat(what, " is disabled: no auth.api_token_file is configured"));
  }
  absl::string_view auth = request.authorization;
  if (!absl::ConsumePrefix(&auth, "Bearer ") ||
      !ConstantTimeEquals(Sha256Hex(absl::StripAsciiWhitespace(auth)), context_.api_token_sha256)) {
    HttpResponse r = Error(401, "missing or wrong API token (Authorization: Bearer <token>)");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  return std::nullopt;
}

HttpResponse HttpApi::Reload(const HttpRequest& request) const {
  if (std::optional<HttpResponse> denied = Unauthorized(request, "reload")) return *denied;
  if (context_.alarms == nullptr && context_.alerting == nullptr) {
    return Error(404, "this collector evaluates no rules and delivers no notifications");
  }
  // Both are reloaded whatever the other's outcome; each keeps its last good state on error.
  std::vector<std::string> errors;
  json data = json::object();
  if (context_.alarms != nullptr) {
    absl::Status s = context_.alarms->Reload();
    if (!s.ok()) errors.push_back(std::string(s.message()));
    data = context_.alarms->Rules();
  }
  if (context_.alerting != nullptr) {
    absl::Status s = context_.alerting->Reload();
    if (!s.ok()) {
      errors.push_back(absl::StrCat("alerting config rejected (the previous one keeps running):\n",
                                    s.message()));
    }
    json status = context_.alerting->Status();
    data["alerting"] = {{"success", s.ok()},
                        {"error", std::string(s.message())},
                        {"config_file", status.value("config_file", json())}};
  }
  if (errors.empty()) return Success(std::move(data));
  HttpResponse r;
  r.status = 400;
  r.content_type = kJsonType;
  r.body = Dump(
      json{{"status", "error"}, {"error", absl::StrJoin(errors, "\n")}, {"data", std::move(data)}});
  r.body += '\n';
  return r;
}

namespace {

json SilenceJson(const alerting::Silence& s, int64_t now_ms) {
  auto rfc3339 = [](int64_t ms) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
  };
  return json{{"id", s.id},
              {"state", s.StateAt(now_ms)},
              {"matchers", s.matchers},
              {"starts_at", rfc3339(s.starts_at_ms)},
              {"ends_at", rfc3339(s.ends_at_ms)},
              {"starts_at_ms", s.starts_at_ms},
              {"ends_at_ms", s.ends_at_ms},
              {"created_by", s.created_by},
              {"comment", s.comment},
              {"updated_at", rfc3339(s.updated_ms)}};
}

int StateRank(absl::string_view state) {
  if (state == "active") return 0;
  if (state == "pending") return 1;
  return 2;
}

HttpResponse MethodNotAllowed(const HttpRequest& request, absl::string_view allow) {
  HttpResponse r = Error(405, absl::StrCat("method ", request.method, " not allowed on ",
                                           request.path, "; use ", allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

}  // namespace

HttpResponse HttpApi::Silences(const HttpRequest& request) const {
  if (request.method == "POST") {
    if (std::optional<HttpResponse> denied = Unauthorized(request, "creating silences")) {
      return *denied;
    }
    if (context_.alerting == nullptr) return Error(404, kNoAlerting);
    const int64_t now = NowMs();
    absl::StatusOr<alerting::SilenceRequest> parsed = ParseSilenceRequest(request.body, now);
    if (!parsed.ok()) return Error(400, parsed.status().message());
    absl::StatusOr<alerting::Silence> added = context_.alerting->AddSilence(*parsed);
    if (!added.ok()) {
      return Error(absl::IsInvalidArgument(added.status()) ? 400 : 500, added.status().message());
    }
    return Success(SilenceJson(*added, NowMs()));
  }
  if (request.method != "GET" && request.method != "HEAD") {
    return MethodNotAllowed(request, "GET, HEAD, POST");
  }
  std::string state;
  for (const auto& [name, value] : request.params) {
    if (name != "state") return Error(400, absl::StrCat("unknown parameter '", name, "'"));
    if (value != "active" && value != "pending" && value != "expired") {
      return Error(400, "state must be active, pending or expired, got '" + value + "'");
    }
    state = value;
  }
  if (context_.alerting == nullptr) return Error(404, kNoAlerting);
  const int64_t now = NowMs();
  std::vector<alerting::Silence> silences = context_.alerting->Silences();
  std::sort(silences.begin(), silences.end(),
            [now](const alerting::Silence& a, const alerting::Silence& b) {
              return std::make_tuple(StateRank(a.StateAt(now)), a.starts_at_ms, a.id) <
                     std::make_tuple(StateRank(b.StateAt(now)), b.starts_at_ms, b.id);
            });
  json data = json::array();
  for (const alerting::Silence& s : silences) {
    if (!state.empty() && state != s.StateAt(now)) continue;
    data.push_back(SilenceJson(s, now));
  }
  return Success(std::move(data));
}

HttpResponse HttpApi::SilenceById(const HttpRequest& request, const std::string& id) const {
  const bool expire = request.method == "DELETE";
  if (!expire && request.method != "GET" && request.method != "HEAD") {
    return MethodNotAllowed(request, "GET, HEAD, DELETE");
  }
  if (expire) {
    if (std::optional<HttpResponse> denied = Unauthorized(request, "expiring silences")) {
      return *denied;
    }
  }
  if (context_.alerting == nullptr) return Error(404, kNoAlerting);
  if (expire) {
    absl::Status s = context_.alerting->ExpireSilence(id);
    if (absl::IsNotFound(s)) return Error(404, absl::StrCat("no silence with id '", id, "'"));
    if (absl::IsFailedPrecondition(s)) return Error(409, s.message());
    if (!s.ok()) return Error(500, s.message());
  }
  const int64_t now = NowMs();
  for (const alerting::Silence& s : context_.alerting->Silences()) {
    if (s.id == id) return Success(SilenceJson(s, now));
  }
  return Error(404, absl::StrCat("no silence with id '", id, "'"));
}

HttpResponse HttpApi::AlertingStatus() const {
  if (context_.alerting == nullptr) return Error(404, kNoAlerting);
  return Success(context_.alerting->Status());
}

absl::StatusOr<alerting::SilenceRequest> ParseSilenceRequest(absl::string_view body,
                                                             int64_t now_ms) {
  nlohmann::json j;
  if (absl::StripAsciiWhitespace(body).empty()) {
    return absl::InvalidArgumentError(
        "the request body must be a JSON object with matchers, ends_at or duration, created_by "
        "and comment");
  }
  // nlohmann::json reports where parsing failed only through its exception.
  try {
    j = nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::parse_error& e) {
    absl::string_view what = e.what();
    if (size_t pos = what.find("] "); pos != absl::string_view::npos) what.remove_prefix(pos + 2);
    return absl::InvalidArgumentError(absl::StrCat("the request body is not valid JSON: ", what));
  }
  if (!j.is_object()) return absl::InvalidArgumentError("the request body must be a JSON object");
  alerting::SilenceRequest request;
  std::optional<int64_t> ends_at;
  std::optional<absl::Duration> duration;
  auto time_field = [&](const std::string& key,
                        const nlohmann::json& v) -> absl::StatusOr<int64_t> {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_string()) {
      absl::StatusOr<int64_t> t = ParseTimeParam(v.get<std::string>(), now_ms);
      if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat(key, ": ", t.status().message()));
      return *t;
    }
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": expected an RFC3339 time such as \"2026-11-22T12:00:00Z\" or epoch milliseconds"));
  };
  auto string_field = [](const std::string& key,
                         const nlohmann::json& v) -> absl::StatusOr<std::string> {
    if (!v.is_string()) return absl::InvalidArgumentError(absl::StrCat(key, ": expected a string"));
    return v.get<std::string>();
  };
  for (const auto& [key, v] : j.items()) {
    if (key == "matchers") {
      if (!v.is_array()) {
        return absl::InvalidArgumentError(
            "matchers: expected a list of matchers such as [\"host=\\\"web1\\\"\"]");
      }
      for (const nlohmann::json& m : v) {
        if (!m.is_string()) {
          return absl::InvalidArgumentError("matchers: every matcher must be a string");
        }
        request.matchers.push_back(m.get<std::string>());
      }
    } else if (key == "starts_at") {
      absl::StatusOr<int64_t> t = time_field(key, v);
      if (!t.ok()) return t.status();
      request.starts_at_ms = *t;
    } else if (key == "ends_at") {
      absl::StatusOr<int64_t> t = time_field(key, v);
      if (!t.ok()) return t.status();
      ends_at = *t;
    } else if (key == "duration") {
      if (!v.is_string()) {
        return absl::InvalidArgumentError("duration: expected a duration string such as \"2h\"");
      }
      absl::StatusOr<absl::Duration> d = ParseDuration(v.get<std::string>());
      if (!d.ok())
        return absl::InvalidArgumentError(absl::StrCat("duration: ", d.status().message()));
      if (*d <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError("duration: must be greater than 0");
      }
      duration = *d;
    } else if (key == "created_by" || key == "comment") {
      absl::StatusOr<std::string> text = string_field(key, v);
      if (!text.ok()) return text.status();
      (key == "created_by" ? request.created_by : request.comment) = *text;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown key '", key,
                       "' (expected matchers, starts_at, ends_at, duration, created_by, comment)"));
    }
  }
  if (ends_at.has_value() == duration.has_value()) {
    return absl::InvalidArgumentError(
        ends_at ? "give either ends_at or duration, not both"
                : "give ends_at (an RFC3339 time) or duration (such as \"2h\")");
  }
  if (ends_at) {
    request.ends_at_ms = *ends_at;
  } else {
    // The start is fixed here, so "2h" lasts exactly 2 h (the dispatcher reads its own clock,
    // a moment later, for a silence without a start).
    if (request.starts_at_ms == 0) request.starts_at_ms = now_ms;
    request.ends_at_ms = request.starts_at_ms + absl::ToInt64Milliseconds(*duration);
  }
  return request;
}

HttpResponse HttpApi::Ready() const {
  bool ready = !context_.ready || context_.ready();
  return ready ? Text(200, "ready\n") : Text(503, "not ready\n");
}

HttpResponse HttpApi::Metrics() const {
  HttpResponse r;
  r.content_type = kMetricsType;
  if (context_.registry != nullptr) {
    r.body = prometheus::TextSerializer().Serialize(context_.registry->Collect());
  }
  return r;
}

HttpResponse HttpApi::Status() const {
  StoreStats stats = context_.store->Stats();
  bool ready = !context_.ready || context_.ready();
  return Success(json{{"version", context_.version},
                      {"ready", ready},
                      {"series", stats.series},
                      {"points", stats.points},
                      {"bytes", stats.bytes}});
}

HttpResponse HttpApi::Series(const QueryParams& params) const {
  std::vector<std::string> selectors;
  for (const auto& [name, value] : params) {
    if (name != "match") return Error(400, absl::StrCat("unknown parameter '", name, "'"));
    selectors.push_back(value);
  }
  if (selectors.empty()) return Error(400, MissingSelector("match"));
  absl::StatusOr<std::vector<SeriesKey>> keys = SelectAll(*context_.store, selectors, "match");
  if (!keys.ok()) return Error(400, keys.status().message());
  if (keys->size() > limits_.max_series) {
    return Error(400,
                 absl::StrCat("match selects ", keys->size(), " series, more than the limit of ",
                              limits_.max_series, "; use a narrower selector"));
  }
  json data = json::array();
  for (const SeriesKey& key : *keys) data.push_back(SeriesJson(key));
  return Success(std::move(data));
}

HttpResponse HttpApi::Query(const QueryParams& params) const {
  std::vector<std::string> selectors;
  std::optional<std::string> from_text, to_text, step_text, stat_text;
  for (const auto& [name, value] : params) {
    std::optional<std::string>* slot = nullptr;
    if (name == "series") {
      selectors.push_back(value);
      continue;
    }
    if (name == "from") slot = &from_text;
    if (name == "to") slot = &to_text;
    if (name == "step") slot = &step_text;
    if (name == "stat") slot = &stat_text;
    if (slot == nullptr) return Error(400, absl::StrCat("unknown parameter '", name, "'"));
    if (slot->has_value()) return Error(400, absl::StrCat(name, ": given more than once"));
    *slot = value;
  }
  if (selectors.empty()) return Error(400, MissingSelector("series"));

  const int64_t now = NowMs();
  int64_t from = now - kDefaultRangeMs;
  int64_t to = now;
  if (from_text) {
    absl::StatusOr<int64_t> t = ParseTimeParam(*from_text, now);
    if (!t.ok()) return Error(400, absl::StrCat("from: ", t.status().message()));
    from = *t;
  }
  if (to_text) {
    absl::StatusOr<int64_t> t = ParseTimeParam(*to_text, now);
    if (!t.ok()) return Error(400, absl::StrCat("to: ", t.status().message()));
    to = *t;
  }
  if (from > to) {
    return Error(400, absl::StrCat("from (", from, ") is after to (", to, ")"));
  }
  int64_t step_ms = 0;
  if (step_text) {
    absl::StatusOr<absl::Duration> d = ParseDuration(*step_text);
    if (!d.ok()) return Error(400, absl::StrCat("step: ", d.status().message()));
    step_ms = absl::ToInt64Milliseconds(*d);
    if (step_ms < 1)
      return Error(400, absl::StrCat("step: must be at least 1ms, got '", *step_text, "'"));
  }
  Statistic stat = Statistic::kAvg;
  if (stat_text) {
    absl::StatusOr<Statistic> s = ParseStatistic(*stat_text);
    if (!s.ok()) return Error(400, absl::StrCat("stat: ", s.status().message()));
    if (!step_text) return Error(400, "stat: only applies with step (e.g. step=1m&stat=max)");
    stat = *s;
  }

  absl::StatusOr<std::vector<SeriesKey>> keys = SelectAll(*context_.store, selectors, "series");
  if (!keys.ok()) return Error(400, keys.status().message());
  if (keys->size() > limits_.max_series) {
    return Error(400,
                 absl::StrCat("series selects ", keys->size(), " series, more than the limit of ",
                              limits_.max_series, "; use a narrower selector"));
  }
  json data = json::array();
  size_t total_points = 0;
  for (const SeriesKey& key : *keys) {
    std::vector<DataPoint> points = context_.store->Read(key, from, to);
    if (step_ms > 0) points = Downsample(points, step_ms, stat);
    total_points += points.size();
    if (total_points > limits_.max_points) {
      return Error(400, absl::StrCat("query returns more than the limit of ", limits_.max_points,
                                     " points; use a shorter range, a narrower selector or a "
                                     "larger step"));
    }
    json values = json::array();
    for (const DataPoint& p : points) {
      values.push_back(
          json::array({p.timestamp_ms, std::isfinite(p.value) ? json(p.value) : json(nullptr)}));
    }
    json entry = SeriesJson(key);
    entry["points"] = std::move(values);
    data.push_back(std::move(entry));
  }
  return Success(std::move(data));
}

}  // namespace vigil::collector
