#include "alerting/notifiers/email/email_notifier.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace vigil::alerting {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What the SMTP conversation looked like, from libcurl's debug callback: which command was
// sent last and what the relay answered. Only command verbs are kept (and the whole line of
// MAIL FROM and RCPT TO), so AUTH arguments, which carry credentials, are never stored.
struct Transcript {
  std::string last_verb;
  std::string last_command;
  std::string last_reply;
  // The first command other than RCPT TO that got a 4xx or 5xx reply, with the reply.
  std::string failed_command;
  std::string failed_reply;
  // Every RCPT TO that got a 4xx or 5xx reply: "RCPT TO:<a@b>: 550 ...".
  std::vector<std::string> rejected_recipients;
  bool all_recipients_permanent = true;  // every refused recipient got 5xx
};

int OnDebug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  auto* t = static_cast<Transcript*>(user);
  absl::string_view line = absl::StripTrailingAsciiWhitespace(absl::string_view(data, size));
  if (type == CURLINFO_HEADER_OUT) {
    std::string verb = absl::AsciiStrToUpper(line.substr(0, line.find(' ')));
    static constexpr const char* kVerbs[] = {"EHLO", "HELO", "STARTTLS", "AUTH", "MAIL",
                                             "RCPT", "DATA", "QUIT",     "RSET", "NOOP"};
    bool known = false;
    for (const char* v : kVerbs) known = known || verb == v;
    if (!known) return 0;  // an AUTH continuation (credentials): not recorded
    t->last_verb = verb;
    t->last_command = (verb == "MAIL" || verb == "RCPT") ? std::string(line) : verb;
  } else if (type == CURLINFO_HEADER_IN) {
    t->last_reply = std::string(line.substr(0, 300));
    bool final_line = line.size() >= 4 && line[3] == ' ';
    bool failure = final_line && (line[0] == '4' || line[0] == '5');
    if (!failure) return 0;
    if (t->last_verb == "RCPT") {
      t->rejected_recipients.push_back(absl::StrCat(t->last_command, ": ", t->last_reply));
      t->all_recipients_permanent = t->all_recipients_permanent && line[0] == '5';
    } else if (t->failed_reply.empty() && t->last_verb != "QUIT") {
      t->failed_command = t->last_verb.empty() ? "greeting" : t->last_command;
      t->failed_reply = t->last_reply;
    }
  }
  return 0;
}

struct Upload {
  const std::string* data;
  size_t offset = 0;
};

size_t OnRead(char* buffer, size_t size, size_t count, void* user) {
  auto* u = static_cast<Upload*>(user);
  size_t n = std::min(size * count, u->data->size() - u->offset);
  std::copy_n(u->data->data() + u->offset, n, buffer);
  u->offset += n;
  return n;
}

int ReplyCode(absl::string_view reply) {
  int code = 0;
  if (reply.size() < 3 || !absl::SimpleAtoi(reply.substr(0, 3), &code)) return 0;
  return code;
}

std::string LocalHostName() {
  char name[256] = {0};
  if (gethostname(name, sizeof name - 1) != 0) return "localhost";
  std::string s(name);
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
      return "localhost";
    }
  }
  return s.empty() ? "localhost" : s;
}

// A DNS name, an IPv4 address, or an IPv6 address (bare or in brackets).
bool ValidHostName(absl::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  bool bracketed = absl::ConsumePrefix(&host, "[");
  if (bracketed && !absl::ConsumeSuffix(&host, "]")) return false;
  if (bracketed || absl::StrContains(host, ':')) {
    if (std::count(host.begin(), host.end(), ':') < 2) return false;
    for (char c : host) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
        return false;
      }
    }
    return true;
  }
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  }
  return !host.empty();
}

// Removes the password from a message that might (it should not) repeat it.
std::string Scrub(std::string text, const std::string& password) {
  if (password.size() >= 3) absl::StrReplaceAll({{password, "***"}}, &text);
  return text;
}

SmtpRelay ReadRelay(ConfigMap& r) {
  SmtpRelay relay;
  relay.host = r.String("host");
  if (relay.host.empty()) {
    r.Error("host", "is required");
  } else if (!ValidHostName(relay.host)) {
    r.Error("host", "expected a host name or IP address (the port goes in `port`)");
  }
  std::string tls = r.String("tls", "starttls");
  int default_port = 587;
  if (tls == "starttls") {
    relay.tls = SmtpRelay::Tls::kStartTls;
  } else if (tls == "implicit") {
    relay.tls = SmtpRelay::Tls::kImplicit;
    default_port = 465;
  } else if (tls == "none") {
    relay.tls = SmtpRelay::Tls::kNone;
    default_port = 25;
  } else {
    r.Error("tls", absl::StrCat("expected starttls, implicit or none, got '", tls, "'"));
  }
  relay.port = static_cast<int>(r.Int("port", default_port, 1, 65535));
  relay.priority = static_cast<int>(r.Int("priority", 10, 0, 65535));
  relay.username = r.String("username");
  relay.password = ReadSecretRef(r, "password");
  if (!relay.username.empty() && relay.password.empty()) {
    r.Error("username", "needs password_file or password_env");
  }
  if (relay.username.empty() && !relay.password.empty()) {
    r.Error(relay.password.file.empty() ? "password_env" : "password_file",
            "a password needs a username");
  }
  relay.ca_file = r.String("ca_file");
  if (!relay.ca_file.empty() && r.errors() != nullptr) {
    relay.ca_file = ResolvePath(DirName(r.errors()->file()), relay.ca_file);
  }
  relay.insecure_skip_verify = r.Bool("insecure_skip_verify", false);
  if (relay.tls == SmtpRelay::Tls::kNone &&
      (!relay.ca_file.empty() || relay.insecure_skip_verify)) {
    r.Error(relay.ca_file.empty() ? "insecure_skip_verify" : "ca_file",
            "has no effect with tls: none");
  }
  return relay;
}

}  // namespace

std::string SmtpRelay::name() const {
  bool ipv6 = absl::StrContains(host, ':') && !absl::StartsWith(host, "[");
  return ipv6 ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
}

RelayOutcome SendViaRelay(const SmtpRelay& relay, const std::string& hello, const std::string& from,
                          const std::vector<std::string>& to, const std::string& message,
                          absl::Duration timeout) {
  GlobalInit();
  RelayOutcome outcome;
  std::string password;
  if (!relay.username.empty()) {
    absl::StatusOr<std::string> secret = relay.password.Read();
    if (!secret.ok()) {
      outcome.detail = absl::StrCat("password: ", secret.status().message());
      return outcome;
    }
    password = std::move(*secret);
  }
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) {
    outcome.detail = "curl_easy_init failed";
    return outcome;
  }
  CURL* h = curl.get();
  char error[CURL_ERROR_SIZE] = {0};
  Transcript transcript;
  Upload upload{&message};
  // The URL's path is the name said in EHLO.
  std::string url = absl::StrCat(relay.tls == SmtpRelay::Tls::kImplicit ? "smtps://" : "smtp://",
                                 relay.name(), "/", hello.empty() ? LocalHostName() : hello);
  std::string mail_from = absl::StrCat("<", from, ">");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> recipients(nullptr, curl_slist_free_all);
  for (const std::string& rcpt : to) {
    curl_slist* head = curl_slist_append(recipients.get(), absl::StrCat("<", rcpt, ">").c_str());
    if (head == nullptr) {
      outcome.detail = "out of memory";
      return outcome;
    }
    recipients.release();
    recipients.reset(head);
  }
  long ms = static_cast<long>(absl::ToInt64Milliseconds(timeout));
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(h, CURLOPT_USE_SSL,
                   relay.tls == SmtpRelay::Tls::kStartTls ? static_cast<long>(CURLUSESSL_ALL)
                                                          : static_cast<long>(CURLUSESSL_NONE));
  if (!relay.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, relay.ca_file.c_str());
  if (relay.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!relay.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, relay.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, password.c_str());
  }
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, recipients.get());
  // Deliver to the recipients the relay accepts even if it refuses some (named in the detail).
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead);
  curl_easy_setopt(h, CURLOPT_READDATA, &upload);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, OnDebug);
  curl_easy_setopt(h, CURLOPT_DEBUGDATA, &transcript);
  curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);  // feeds OnDebug only; nothing goes to stderr

  CURLcode res = curl_easy_perform(h);
  int failed_code = ReplyCode(transcript.failed_reply);
  const std::string& failed = transcript.failed_command;
  bool all_recipients_refused =
      res != CURLE_OK && failed.empty() && !transcript.rejected_recipients.empty();
  if (res == CURLE_OK) {
    outcome.kind = RelayOutcome::Kind::kAccepted;
    outcome.detail = transcript.last_reply;
    if (!transcript.rejected_recipients.empty()) {
      absl::StrAppend(&outcome.detail, "; refused recipients: ",
                      absl::StrJoin(transcript.rejected_recipients, "; "));
    }
  } else if ((failed_code >= 500 && (failed == "DATA" || absl::StartsWith(failed, "MAIL"))) ||
             (all_recipients_refused && transcript.all_recipients_permanent)) {
    // A definite no to this message from a relay that took the connection (a refused sender,
    // every recipient refused, a message refused as spam): another relay or a retry will not
    // change it.
    outcome.kind = RelayOutcome::Kind::kRejected;
    outcome.detail = all_recipients_refused ? absl::StrJoin(transcript.rejected_recipients, "; ")
                                            : absl::StrCat(failed, ": ", transcript.failed_reply);
  } else {
    std::string reason = error[0] ? std::string(error) : curl_easy_strerror(res);
    switch (res) {
      case CURLE_USE_SSL_FAILED:
        reason = "the relay does not offer STARTTLS, which tls: starttls requires";
        break;
      case CURLE_LOGIN_DENIED:
        reason = absl::StrCat("authentication failed (", reason, ")");
        break;
      default:
        break;
    }
    if (!failed.empty()) {
      absl::StrAppend(&reason, "; ", failed, ": ", transcript.failed_reply);
    } else if (all_recipients_refused) {
      absl::StrAppend(&reason, "; ", absl::StrJoin(transcript.rejected_recipients, "; "));
    }
    outcome.detail = std::move(reason);
  }
  outcome.detail = Scrub(std::move(outcome.detail), password);
  return outcome;
}

EmailNotifier::EmailNotifier(EmailConfig config) : config_(std::move(config)) {}

absl::StatusOr<std::string> EmailNotifier::BuildMessage(const Notification& notification,
                                                        absl::Time now) const {
  absl::StatusOr<RenderedEmail> rendered = RenderEmail(config_.templates, notification);
  if (!rendered.ok()) return rendered.status();
  EmailMessage m;
  m.from = config_.from;
  m.to = config_.to;
  m.subject = std::move(rendered->subject);
  m.text = std::move(rendered->text);
  m.html = std::move(rendered->html);
  m.id = notification.id;
  m.thread_id = notification.thread_id;
  m.headers = config_.headers;
  m.date = now;
  return BuildMimeMessage(m);
}

DeliveryResult EmailNotifier::Send(const Notification& notification) {
  absl::StatusOr<std::string> message = BuildMessage(notification, absl::Now());
  if (!message.ok()) {
    return DeliveryResult::Permanent(
        absl::StrCat("cannot render the email: ", message.status().message()));
  }
  std::vector<std::string> to;
  for (const EmailAddress& a : config_.to) to.push_back(a.address);
  std::vector<std::string> failures;
  for (const SmtpRelay& relay : config_.relays) {
    RelayOutcome outcome =
        SendViaRelay(relay, config_.hello, config_.from.address, to, *message, config_.timeout);
    switch (outcome.kind) {
      case RelayOutcome::Kind::kAccepted: {
        std::string detail = absl::StrCat("accepted by ", relay.name(), ": ", outcome.detail);
        if (!failures.empty()) {
          absl::StrAppend(&detail, " (after ", absl::StrJoin(failures, "; "), ")");
        }
        return DeliveryResult::Delivered(std::move(detail));
      }
      case RelayOutcome::Kind::kRejected:
        return DeliveryResult::Permanent(
            absl::StrCat(relay.name(), " rejected the message: ", outcome.detail));
      case RelayOutcome::Kind::kFailed:
        failures.push_back(absl::StrCat(relay.name(), ": ", outcome.detail));
        break;
    }
  }
  return DeliveryResult::Retry(
      absl::StrCat("no relay accepted the message: ", absl::StrJoin(failures, "; ")));
}

std::unique_ptr<Notifier> NewEmailNotifier(ConfigMap& config, const EmailTemplates& defaults) {
  ConfigErrors* errors = config.errors();
  size_t errors_before = errors->messages().size();
  EmailConfig c;

  if (!config.Has("to")) config.Error("to", "is required: one address or a list");
  for (const std::string& text : config.StringList("to")) {
    absl::StatusOr<EmailAddress> a = ParseEmailAddress(text);
    if (!a.ok()) {
      config.Error("to", a.status().message());
    } else {
      c.to.push_back(std::move(*a));
    }
  }
  if (config.Has("to") && c.to.empty() && errors->messages().size() == errors_before) {
    config.Error("to", "needs at least one address");
  }

  std::optional<std::string> from = config.OptionalString("from");
  if (!from) {
    config.Error("from", "is required, e.g. 'Vigil <vigil@example.org>'");
  } else {
    absl::StatusOr<EmailAddress> a = ParseEmailAddress(*from);
    if (!a.ok()) {
      config.Error("from", a.status().message());
    } else {
      c.from = std::move(*a);
    }
  }

  YAML::Node relays = config.Node("relays");
  if (!relays.IsDefined() || relays.IsNull()) {
    config.Error("relays", "is required: a list of SMTP relays, e.g. [{host: smtp.example.org}]");
  } else if (!relays.IsSequence() || relays.size() == 0) {
    config.Error("relays", "expected a list of SMTP relays ({host, port, tls, ...})");
  } else {
    for (const YAML::Node& node : relays) {
      ConfigMap r(node, errors);
      c.relays.push_back(ReadRelay(r));
      r.Finish();
    }
  }
  std::stable_sort(c.relays.begin(), c.relays.end(),
                   [](const SmtpRelay& a, const SmtpRelay& b) { return a.priority < b.priority; });

  c.timeout = config.Duration("timeout", absl::Seconds(30), absl::Seconds(1));
  c.hello = config.String("hello");
  if (!c.hello.empty() && (!ValidHostName(c.hello) || absl::StrContains(c.hello, ':'))) {
    config.Error("hello", "expected a host name");
  }

  YAML::Node headers = config.Node("headers");
  if (headers.IsDefined() && !headers.IsNull()) {
    if (!headers.IsMap()) {
      config.Error("headers", "expected a mapping of header names to values");
    } else {
      for (const auto& kv : headers) {
        std::string name = kv.first.Scalar();
        if (!kv.second.IsScalar()) {
          errors->Add(kv.second.Mark(), absl::StrCat("headers.", name, ": expected a string"));
          continue;
        }
        absl::Status valid = ValidateCustomHeader(name, kv.second.Scalar());
        if (!valid.ok()) {
          errors->Add(kv.first.Mark(), absl::StrCat("headers: ", valid.message()));
          continue;
        }
        c.headers.emplace_back(name, kv.second.Scalar());
      }
    }
  }

  c.templates = ReadEmailTemplates(config, defaults);
  if (errors->messages().size() != errors_before) return nullptr;
  return std::make_unique<EmailNotifier>(std::move(c));
}

}  // namespace vigil::alerting
