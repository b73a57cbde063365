#include "collector/http/http_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace vigil::collector {
namespace {

// civetweb reports why it failed to start only through its log callback, from the thread that
// constructs the server; this collects those messages for the error Start() returns.
thread_local std::string* startup_errors = nullptr;

int LogCivetMessage(const mg_connection* /*conn*/, const char* message) {
  if (startup_errors != nullptr) {
    if (!startup_errors->empty()) startup_errors->append("; ");
    startup_errors->append(message);
  } else {
    VIGIL_LOG(Warning) << "http: " << message;
  }
  return 1;  // handled: civetweb prints nothing itself
}

struct ListenAddress {
  std::string civet_ports;  // civetweb's listening_ports syntax: "127.0.0.1:8080", "[::1]:0"
  std::string wake_host;    // a numeric address that reaches the listening socket
};

absl::StatusOr<ListenAddress> ParseListen(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("http listen address '", listen, "' must be host:port"));
  }
  std::string host = listen.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("http listen address '", listen, "' has no valid port (0-65535)"));
  }
  if (host.empty()) return ListenAddress{absl::StrCat(port), "127.0.0.1"};
  if (host == "localhost") host = "127.0.0.1";
  std::string wake = host;
  if (wake.size() >= 2 && wake.front() == '[' && wake.back() == ']') {
    wake = wake.substr(1, wake.size() - 2);
  }
  if (wake == "0.0.0.0") wake = "127.0.0.1";
  if (wake == "::") wake = "::1";
  return ListenAddress{absl::StrCat(host, ":", port), wake};
}

// Opens and closes one connection to host:port; failures are ignored (the caller repeats).
void Poke(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), absl::StrCat(port).c_str(), &hints, &found) != 0) return;
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    connect(fd, found->ai_addr, found->ai_addrlen);
    close(fd);
  }
  freeaddrinfo(found);
}

// Reads the request body (as much as the client sends, up to the limit); false when it is
// larger than kMaxRequestBody.
bool ReadBody(mg_connection* conn, std::string* body) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (info->content_length > static_cast<long long>(kMaxRequestBody)) return false;
  char buf[8192];
  for (;;) {
    int n = mg_read(conn, buf, sizeof(buf));
    if (n <= 0) return true;
    body->append(buf, static_cast<size_t>(n));
    if (body->size() > kMaxRequestBody) return false;
  }
}

}  // namespace

HttpServer::HttpServer(Options options, ApiContext context)
    : options_(std::move(options)), api_(std::move(context), options_.limits) {}

HttpServer::~HttpServer() {
  if (civet_ == nullptr) return;
  // civetweb 1.15's accept loop only checks its stop flag between polls of the listening socket,
  // which time out after two seconds; connections wake it at once, so stopping takes
  // milliseconds instead.
  std::atomic<bool> stopped{false};
  std::thread waker([&] {
    while (!stopped.load()) {
      Poke(wake_host_, port_);
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  // Stops accepting and joins the workers before the API they call is destroyed.
  civet_.reset();
  stopped = true;
  waker.join();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Options options, ApiContext context) {
  if (context.store == nullptr) return absl::InvalidArgumentError("http server needs a store");
  if (options.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("http threads must be at least 1, got ", options.threads));
  }
  absl::StatusOr<ListenAddress> address = ParseListen(options.listen);
  if (!address.ok()) return address.status();
  prometheus::Registry* registry = context.registry;

  std::unique_ptr<HttpServer> server(new HttpServer(std::move(options), std::move(context)));
  if (registry != nullptr) {
    try {
      server->requests_ = &prometheus::BuildCounter()
                               .Name("vigil_http_requests_total")
                               .Help("HTTP requests served, by endpoint and status code.")
                               .Register(*registry);
      server->durations_ = &prometheus::BuildHistogram()
                                .Name("vigil_http_request_duration_seconds")
                                .Help("Time to build the response to an HTTP request, by endpoint.")
                                .Register(*registry);
      for (absl::string_view handler : HttpApi::Handlers()) {
        server->durations_by_handler_[handler] = &server->durations_->Add(
            {{"handler", std::string(handler)}},
            prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                    0.1, 0.25, 0.5, 1, 2.5});
      }
    } catch (const std::exception& e) {
      return absl::AlreadyExistsError(absl::StrCat("cannot register http metrics: ", e.what()));
    }
  }

  std::vector<std::string> civet_options = {
      "listening_ports",
      address->civet_ports,
      "num_threads",
      absl::StrCat(server->options_.threads),
      "request_timeout_ms",
      absl::StrCat(absl::ToInt64Milliseconds(server->options_.request_timeout)),
      "enable_keep_alive",
      "no",
  };
  CivetCallbacks callbacks;
  callbacks.log_message = &LogCivetMessage;
  std::string errors;
  startup_errors = &errors;
  try {
    server->civet_ = std::make_unique<CivetServer>(civet_options, &callbacks);
  } catch (const CivetException& e) {
    startup_errors = nullptr;
    return absl::UnavailableError(absl::StrCat("cannot serve http on ", server->options_.listen,
                                               ": ", errors.empty() ? e.what() : errors));
  }
  startup_errors = nullptr;

  mg_server_port bound[4];
  int n = mg_get_server_ports(server->civet_->getContext(), 4, bound);
  if (n < 1) {
    return absl::InternalError(
        absl::StrCat("http server on ", server->options_.listen, " reports no listening port"));
  }
  server->port_ = bound[0].port;
  server->wake_host_ = address->wake_host;
  // One handler for every path and method ("/" matches all URIs), so that unknown paths and
  // methods get the API's JSON errors. CivetServer only hands out a const context; civetweb's own
  // CivetServer::addHandler casts it the same way.
  mg_set_request_handler(const_cast<mg_context*>(server->civet_->getContext()), "/",
                         &HttpServer::HandleRequest, server.get());
  VIGIL_LOG(Info) << "http: serving on " << server->options_.listen << " (port " << server->port_
                  << ")";
  return server;
}

int HttpServer::HandleRequest(mg_connection* conn, void* self) {
  return static_cast<HttpServer*>(self)->Handle(conn);
}

int HttpServer::Handle(mg_connection* conn) {
  const absl::Time start = absl::Now();
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest request;
  request.method = info->request_method != nullptr ? info->request_method : "";
  request.path = info->local_uri != nullptr ? info->local_uri : "";
  if (info->query_string != nullptr) request.params = ParseQueryString(info->query_string);
  if (const char* auth = mg_get_header(conn, "Authorization")) request.authorization = auth;

  // The response is complete before the first byte is written: no store lock is held while a
  // slow client reads it.
  HttpResponse response;
  if (ReadBody(conn, &request.body)) {
    response = api_.Serve(request);
  } else {
    response.status = 413;
    response.content_type = "application/json";
    response.body = absl::StrCat(R"({"status":"error","error":"request body larger than )",
                                 kMaxRequestBody, R"( bytes"})", "\n");
  }

  // Counted before writing, so a client that has the response also sees it counted.
  const std::string handler = HttpApi::HandlerLabel(request.path);
  if (requests_ != nullptr) {
    requests_->Add({{"handler", handler}, {"code", absl::StrCat(response.status)}}).Increment();
  }
  auto histogram = durations_by_handler_.find(handler);
  if (histogram != durations_by_handler_.end()) {
    histogram->second->Observe(absl::ToDoubleSeconds(absl::Now() - start));
  }

  mg_response_header_start(conn, response.status);
  mg_response_header_add(conn, "Content-Type", response.content_type.c_str(), -1);
  mg_response_header_add(conn, "Content-Length", absl::StrCat(response.body.size()).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  for (const auto& [name, value] : response.headers) {
    mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
  }
  mg_response_header_send(conn);
  if (request.method != "HEAD") mg_write(conn, response.body.data(), response.body.size());
  return response.status;
}

}  // namespace vigil::collector
