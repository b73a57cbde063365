#ifndef VIGIL_COLLECTOR_HTTP_HTTP_SERVER_H_
#define VIGIL_COLLECTOR_HTTP_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collector/http/api.h"

class CivetServer;
struct mg_connection;

namespace prometheus {
template <typename T>
class Family;
class Counter;
class Histogram;
}  // namespace prometheus

namespace vigil::collector {

// The collector's HTTP server: civetweb listening on one address with a pool of worker threads,
// serving HttpApi. Each request is handled on its own worker, so a slow client holds only its
// thread (and at most `request_timeout`). Counts requests in the context's registry as
// vigil_http_requests_total{handler,code} and vigil_http_request_duration_seconds{handler}.
// Thread-safe: port() may be called from any thread; destruction stops the server and waits for
// requests in flight.
class HttpServer {
 public:
  struct Options {
    std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free port
    int threads = 4;
    absl::Duration request_timeout = absl::Seconds(30);
    ApiLimits limits;
  };

  // Binds and starts serving. context.store must be set. Errors (bad address, port in use) name
  // the address.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(Options options, ApiContext context);

  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when Options::listen asked for port 0).
  int port() const { return port_; }

 private:
  HttpServer(Options options, ApiContext context);
  static int HandleRequest(mg_connection* conn, void* self);
  int Handle(mg_connection* conn);

  // Constant after Start().
  Options options_;
  HttpApi api_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* durations_ = nullptr;
  absl::flat_hash_map<std::string, prometheus::Histogram*> durations_by_handler_;
  int port_ = 0;
  std::string wake_host_;  // where the destructor connects to wake civetweb's accept loop
  std::unique_ptr<CivetServer> civet_;
};

}  // namespace vigil::collector

#endif  // VIGIL_COLLECTOR_HTTP_HTTP_SERVER_H_
