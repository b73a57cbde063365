#include "common/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  HttpResponse* response;
  size_t limit;
  bool overflow = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * count;
  if (sink->response->body.size() + n > sink->limit) {
    sink->overflow = true;
    return 0;  // makes libcurl fail the transfer with CURLE_WRITE_ERROR
  }
  sink->response->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  size_t n = size * count;
  absl::string_view line(data, n);
  if (absl::StartsWith(line, "HTTP/")) {
    response->headers.clear();  // a new response (after 100-continue or a redirect)
    return n;
  }
  size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;
  response->headers.emplace_back(
      absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon))),
      std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return n;
}

// The URL without user information, for error messages.
std::string SafeUrl(const std::string& url) {
  size_t scheme = url.find("://");
  size_t at = url.find('@');
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme != std::string::npos && at != std::string::npos &&
      (slash == std::string::npos || at < slash)) {
    return url.substr(0, scheme + 3) + url.substr(at + 1);
  }
  return url;
}

std::optional<absl::Time> ParseCertDate(absl::string_view text) {
  // OpenSSL's ASN1_TIME_print: "Jan  1 00:00:00 2027 GMT". Collapse the double space first.
  std::vector<absl::string_view> parts = absl::StrSplit(text, ' ', absl::SkipEmpty());
  if (parts.size() < 4) return std::nullopt;
  std::string normal = absl::StrCat(parts[0], " ", parts[1], " ", parts[2], " ", parts[3]);
  absl::Time t;
  std::string err;
  if (absl::ParseTime("%b %d %H:%M:%S %Y", normal, absl::UTCTimeZone(), &t, &err)) return t;
  return std::nullopt;
}

absl::Status CurlError(CURLcode code, const char* detail, const std::string& url) {
  std::string message =
      absl::StrCat(SafeUrl(url), ": ", detail[0] ? detail : curl_easy_strerror(code));
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(message);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
      return absl::UnavailableError(message);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

// ---- Plain HTTP/1.1 over loopback or a unix socket, without libcurl.
//
// libcurl's global initialisation loads and initialises OpenSSL even when every URL is
// http:// (about 2 MiB of the agent's resident memory), and the agent's status-page checks
// (nginx stub_status, HAProxy, RabbitMQ, health URLs) mostly talk to a server on the same
// host. Those exchanges need none of libcurl's features beyond what follows: one request on
// one connection (Connection: close), Content-Length or chunked bodies, the same deadlines,
// body limit, Basic authentication, headers and errors as the libcurl path. Everything
// else (https, other hosts and thus proxies and DNS, redirects, credentials in the URL) goes
// through libcurl.

// Where a plain request connects, and what it sends as Host and request target.
struct PlainTarget {
  std::vector<std::string> addresses;  // IP literals to try in order; empty with a unix socket
  int port = 80;
  std::string authority;  // Host header: the URL's host[:port]
  std::string target;     // path and query
};

bool IsLoopbackLiteral(absl::string_view host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  std::string h(host);
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  return inet_pton(AF_INET6, h.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// The plain target of `request`, or nullopt when the request needs libcurl.
std::optional<PlainTarget> PlainHttpTarget(const HttpRequest& request) {
  absl::string_view url = request.url;
  if (!absl::ConsumePrefix(&url, "http://") && !absl::ConsumePrefix(&url, "HTTP://")) {
    return std::nullopt;
  }
  if (request.follow_redirects || request.want_certificate) return std::nullopt;
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return std::nullopt;  // libcurl decides what to make of those
    }
  }
  url = url.substr(0, url.find('#'));
  size_t end = url.find_first_of("/?");
  PlainTarget out;
  out.authority = std::string(url.substr(0, end));
  absl::string_view rest = end == absl::string_view::npos ? "" : url.substr(end);
  out.target = absl::StartsWith(rest, "/") ? std::string(rest) : absl::StrCat("/", rest);
  absl::string_view authority = out.authority;
  if (authority.empty() || absl::StrContains(authority, '@')) return std::nullopt;
  absl::string_view host = authority;
  absl::string_view port;
  if (absl::StartsWith(authority, "[")) {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty() && !absl::ConsumePrefix(&after, ":")) return std::nullopt;
    port = after;
  } else if (size_t colon = authority.rfind(':'); colon != absl::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (!port.empty() && (!absl::SimpleAtoi(port, &out.port) || out.port < 1 || out.port > 65535)) {
    return std::nullopt;
  }
  if (!request.unix_socket.empty()) return out;
  if (!IsLoopbackLiteral(host)) return std::nullopt;
  if (absl::EqualsIgnoreCase(host, "localhost")) {
    out.addresses = {"127.0.0.1", "::1"};
  } else {
    out.addresses = {std::string(host)};
  }
  return out;
}

// One connection with the request's deadlines. Owns the socket.
class PlainConnection {
 public:
  // As with libcurl, a timeout that is not positive means none, and a connect timeout that is
  // not positive means libcurl's default of 300 s.
  PlainConnection(const HttpRequest& request, absl::Time start)
      : request_(request),
        start_(start),
        deadline_(request.timeout > absl::ZeroDuration() ? start + request.timeout
                                                         : absl::InfiniteFuture()),
        connect_deadline_(std::min(
            start + (request.connect_timeout > absl::ZeroDuration() ? request.connect_timeout
                                                                    : absl::Seconds(300)),
            deadline_)) {}
  ~PlainConnection() {
    if (fd_ >= 0) close(fd_);
  }
  PlainConnection(const PlainConnection&) = delete;
  PlainConnection& operator=(const PlainConnection&) = delete;

  absl::Status Connect(const PlainTarget& target) {
    if (!request_.unix_socket.empty()) {
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      if (request_.unix_socket.size() >= sizeof addr.sun_path) {
        return absl::InvalidArgumentError(
            absl::StrCat(Url(), ": unix socket path too long: ", request_.unix_socket));
      }
      std::memcpy(addr.sun_path, request_.unix_socket.data(), request_.unix_socket.size());
      return ConnectTo(AF_UNIX, reinterpret_cast<sockaddr*>(&addr), sizeof addr,
                       request_.unix_socket);
    }
    absl::Status status;
    for (const std::string& address : target.addresses) {
      sockaddr_storage storage{};
      socklen_t length = 0;
      int family = AF_INET;
      if (auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
          inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(target.port);
        length = sizeof *v4;
      } else {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
        inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr);
        v6->sin6_family = family = AF_INET6;
        v6->sin6_port = htons(target.port);
        length = sizeof *v6;
      }
      status = ConnectTo(family, reinterpret_cast<sockaddr*>(&storage), length,
                         absl::StrCat(address, " port ", target.port));
      if (status.ok() || absl::IsDeadlineExceeded(status)) break;
    }
    return status;
  }

  absl::Status SendAll(absl::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (absl::Status s = Wait(POLLOUT, deadline_, "Operation"); !s.ok()) return s;
      } else {
        return absl::UnavailableError(
            absl::StrCat(Url(), ": Failure when sending data: ", std::strerror(errno)));
      }
    }
    return absl::OkStatus();
  }

  // Appends what arrives to `buffer`; returns false at the end of the stream.
  absl::StatusOr<bool> Receive(std::string* buffer) {
    char chunk[16 << 10];
    while (true) {
      ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        received_ += n;
        buffer->append(chunk, n);
        return true;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return absl::UnavailableError(
            absl::StrCat(Url(), ": Failure when receiving data: ", std::strerror(errno)));
      }
      if (absl::Status s = Wait(POLLIN, deadline_, "Operation"); !s.ok()) return s;
    }
  }

  std::string Url() const { return SafeUrl(request_.url); }

 private:
  absl::Status ConnectTo(int family, const sockaddr* addr, socklen_t length,
                         const std::string& where) {
    if (fd_ >= 0) close(fd_);
    fd_ = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      return absl::InternalError(absl::StrCat(Url(), ": socket: ", std::strerror(errno)));
    }
    if (connect(fd_, addr, length) == 0) return absl::OkStatus();
    if (errno != EINPROGRESS) {
      return absl::UnavailableError(
          absl::StrCat(Url(), ": Failed to connect to ", where, ": ", std::strerror(errno)));
    }
    if (absl::Status s = Wait(POLLOUT, connect_deadline_, "Connection"); !s.ok()) return s;
    int error = 0;
    socklen_t size = sizeof error;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) {
      return absl::UnavailableError(
          absl::StrCat(Url(), ": Failed to connect to ", where, ": ", std::strerror(error)));
    }
    return absl::OkStatus();
  }

  // Waits until the socket is ready for `events` or `deadline` passes (libcurl's wording).
  absl::Status Wait(short events, absl::Time deadline, absl::string_view what) {
    while (true) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        return absl::DeadlineExceededError(absl::StrCat(
            Url(), ": ", what, " timed out after ", absl::ToInt64Milliseconds(absl::Now() - start_),
            " milliseconds with ", received_, " bytes received"));
      }
      pollfd p{fd_, events, 0};
      int64_t wait_ms = std::clamp<int64_t>(absl::ToInt64Milliseconds(left), 1, 60'000);
      int n = poll(&p, 1, static_cast<int>(wait_ms));
      if (n > 0) return absl::OkStatus();
      if (n < 0 && errno != EINTR) {
        return absl::InternalError(absl::StrCat(Url(), ": poll: ", std::strerror(errno)));
      }
    }
  }

  const HttpRequest& request_;
  const absl::Time start_;
  const absl::Time deadline_;
  const absl::Time connect_deadline_;
  int fd_ = -1;
  size_t received_ = 0;
};

bool HasHeader(const HttpRequest& request, absl::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (absl::EqualsIgnoreCase(key, name)) return true;
  }
  return false;
}

// The request as libcurl would send it with the options CurlFetch sets.
std::string PlainRequestText(const HttpRequest& request, const PlainTarget& target) {
  std::string out = absl::StrCat(request.method, " ", target.target, " HTTP/1.1\r\n");
  if (!HasHeader(request, "Host")) absl::StrAppend(&out, "Host: ", target.authority, "\r\n");
  if (!request.username.empty() && !HasHeader(request, "Authorization")) {
    absl::StrAppend(&out, "Authorization: Basic ",
                    absl::Base64Escape(absl::StrCat(request.username, ":", request.password)),
                    "\r\n");
  }
  if (!HasHeader(request, "User-Agent")) absl::StrAppend(&out, "User-Agent: vigil/1\r\n");
  if (!HasHeader(request, "Accept")) absl::StrAppend(&out, "Accept: */*\r\n");
  for (const auto& [name, value] : request.headers) {
    // libcurl: "Name:" with nothing after it removes a header instead of sending it.
    if (absl::StripAsciiWhitespace(value).empty()) continue;
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  bool sends_body = !request.body.empty() || request.method == "POST" || request.method == "PUT";
  if (sends_body) {
    absl::StrAppend(&out, "Content-Length: ", request.body.size(), "\r\n");
    if (!HasHeader(request, "Content-Type")) {
      absl::StrAppend(&out, "Content-Type: application/x-www-form-urlencoded\r\n");
    }
  }
  absl::StrAppend(&out, "Connection: close\r\n\r\n");
  if (sends_body) out += request.body;
  return out;
}

// Reads a response from `conn`: skips 1xx responses, then parses the status line and headers
// and reads the body as framed by the headers.
absl::StatusOr<HttpResponse> ReadPlainResponse(const HttpRequest& request, PlainConnection& conn) {
  constexpr size_t kMaxHeaderBytes = 100 << 10;  // libcurl's CURL_MAX_HTTP_HEADER
  HttpResponse response;
  std::string buffer;
  bool more = true;
  size_t header_end;
  while (true) {
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > kMaxHeaderBytes) {
        return absl::InternalError(absl::StrCat(conn.Url(), ": response headers too large"));
      }
      if (!more) {
        return absl::UnavailableError(absl::StrCat(
            conn.Url(), buffer.empty() ? ": Empty reply from server" : ": Truncated reply"));
      }
      absl::StatusOr<bool> got = conn.Receive(&buffer);
      if (!got.ok()) return got.status();
      more = *got;
    }
    std::vector<absl::string_view> lines =
        absl::StrSplit(absl::string_view(buffer).substr(0, header_end), "\r\n");
    // "HTTP/1.1 200 OK"
    absl::string_view status_line = lines[0];
    if (!absl::ConsumePrefix(&status_line, "HTTP/") || status_line.size() < 7 ||
        status_line[3] != ' ' || !absl::SimpleAtoi(status_line.substr(4, 3), &response.status)) {
      return absl::InternalError(absl::StrCat(conn.Url(), ": not an HTTP response: '",
                                              absl::CHexEscape(lines[0].substr(0, 64)), "'"));
    }
    response.headers.clear();
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == absl::string_view::npos) continue;
      response.headers.emplace_back(
          absl::AsciiStrToLower(absl::StripAsciiWhitespace(lines[i].substr(0, colon))),
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
    }
    buffer.erase(0, header_end + 4);
    if (response.status >= 200 || response.status == 101) break;
  }

  std::string& body = response.body;
  auto too_large = [&] {
    return absl::ResourceExhaustedError(
        absl::StrCat(conn.Url(), ": response body larger than ", request.max_body_bytes, " bytes"));
  };
  auto receive = [&]() -> absl::Status {
    if (!more) {
      return absl::InternalError(
          absl::StrCat(conn.Url(), ": transfer closed before the end of the body"));
    }
    absl::StatusOr<bool> got = conn.Receive(&buffer);
    if (!got.ok()) return got.status();
    more = *got;
    return absl::OkStatus();
  };
  if (request.method == "HEAD" || response.status == 204 || response.status == 304) {
    return response;
  }
  std::optional<std::string> encoding = response.Header("transfer-encoding");
  std::optional<std::string> length_header = response.Header("content-length");
  if (encoding.has_value() && absl::StrContains(absl::AsciiStrToLower(*encoding), "chunked")) {
    while (true) {
      size_t eol;
      while ((eol = buffer.find("\r\n")) == std::string::npos) {
        if (absl::Status s = receive(); !s.ok()) return s;
      }
      absl::string_view size_text = absl::string_view(buffer).substr(0, eol);
      size_text = size_text.substr(0, size_text.find(';'));
      uint64_t size = 0;
      if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) {
        return absl::InternalError(absl::StrCat(conn.Url(), ": bad chunk size"));
      }
      if (size > request.max_body_bytes || body.size() + size > request.max_body_bytes) {
        return too_large();
      }
      if (size == 0) break;  // trailers are not read: the connection is closed anyway
      while (buffer.size() < eol + 2 + size + 2) {
        if (absl::Status s = receive(); !s.ok()) return s;
      }
      body.append(buffer, eol + 2, size);
      buffer.erase(0, eol + 2 + size + 2);
    }
  } else if (length_header.has_value()) {
    uint64_t length = 0;
    if (!absl::SimpleAtoi(*length_header, &length)) {
      return absl::InternalError(
          absl::StrCat(conn.Url(), ": bad Content-Length '", *length_header, "'"));
    }
    if (length > request.max_body_bytes) return too_large();
    while (buffer.size() < length) {
      if (absl::Status s = receive(); !s.ok()) return s;
    }
    body = buffer.substr(0, length);
  } else {  // the body ends with the connection
    while (more) {
      if (buffer.size() > request.max_body_bytes) return too_large();
      absl::StatusOr<bool> got = conn.Receive(&buffer);
      if (!got.ok()) return got.status();
      more = *got;
    }
    if (buffer.size() > request.max_body_bytes) return too_large();
    body = std::move(buffer);
  }
  return response;
}

absl::StatusOr<HttpResponse> PlainFetch(const HttpRequest& request, const PlainTarget& target) {
  absl::Time start = absl::Now();
  PlainConnection conn(request, start);
  if (absl::Status s = conn.Connect(target); !s.ok()) return s;
  if (absl::Status s = conn.SendAll(PlainRequestText(request, target)); !s.ok()) return s;
  absl::StatusOr<HttpResponse> response = ReadPlainResponse(request, conn);
  if (response.ok()) response->total_time = absl::Now() - start;
  return response;
}

absl::StatusOr<HttpResponse> CurlFetch(const HttpRequest& request);

}  // namespace

std::optional<std::string> HttpResponse::Header(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

absl::StatusOr<HttpResponse> HttpFetch(const HttpRequest& request) {
  if (std::optional<PlainTarget> target = PlainHttpTarget(request)) {
    return PlainFetch(request, *target);
  }
  return CurlFetch(request);
}

namespace {

absl::StatusOr<HttpResponse> CurlFetch(const HttpRequest& request) {
  GlobalInit();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return absl::InternalError("curl_easy_init failed");
  CURL* h = curl.get();
  HttpResponse response;
  Sink sink{&response, request.max_body_bytes};
  char error[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.connect_timeout)));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.timeout)));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "vigil/1");
  // Loopback never goes through a proxy named in the environment (http_proxy and friends
  // still apply to other hosts, as operators expect for webhooks); the option replaces the
  // environment's no_proxy, so that list is kept.
  std::string no_proxy = "localhost,127.0.0.1,::1";
  for (const char* var : {"no_proxy", "NO_PROXY"}) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') {
      absl::StrAppend(&no_proxy, ",", v);
      break;
    }
  }
  curl_easy_setopt(h, CURLOPT_NOPROXY, no_proxy.c_str());
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
  }
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  // libcurl adds "Expect: 100-continue" to large POSTs, which costs a round trip.
  headers = curl_slist_append(headers, "Expect:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_list(headers, curl_slist_free_all);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (!request.username.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, request.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, request.password.c_str());
  }
  if (!request.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, request.ca_file.c_str());
  if (request.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!request.unix_socket.empty()) {
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, request.unix_socket.c_str());
  }
  if (request.want_certificate) curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);

  CURLcode code = curl_easy_perform(h);
  if (sink.overflow) {
    return absl::ResourceExhaustedError(absl::StrCat(
        SafeUrl(request.url), ": response body larger than ", request.max_body_bytes, " bytes"));
  }
  if (code != CURLE_OK) return CurlError(code, error, request.url);

  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  curl_off_t total_us = 0;
  curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total_us);
  response.total_time = absl::Microseconds(total_us);
  if (request.want_certificate) {
    curl_certinfo* info = nullptr;
    if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &info) == CURLE_OK && info != nullptr &&
        info->num_of_certs > 0) {
      for (curl_slist* item = info->certinfo[0]; item != nullptr; item = item->next) {
        absl::string_view entry(item->data);
        if (absl::ConsumePrefix(&entry, "Expire date:")) {
          response.certificate_not_after = ParseCertDate(entry);
        }
      }
    }
  }
  return response;
}

}  // namespace

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  value = absl::StripAsciiWhitespace(value);
  int64_t seconds = 0;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  absl::Time when;
  std::string err;
  // RFC 9110 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  if (absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", value, absl::UTCTimeZone(), &when, &err)) {
    return when > now ? when - now : absl::ZeroDuration();
  }
  return std::nullopt;
}

}  // namespace vigil
