#ifndef VIGIL_VIGILCTL_API_CLIENT_H_
#define VIGIL_VIGILCTL_API_CLIENT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace vigil::ctl {

// Client of the collector's HTTP API (docs/api.md): one blocking libcurl request per call, with
// a deadline. Thread-compatible: const methods may be called from several threads at once.
class ApiClient {
 public:
  // `base_url` like "http://127.0.0.1:8080" (a trailing slash is ignored).
  ApiClient(std::string base_url, absl::Duration timeout);

  const std::string& base_url() const { return base_url_; }

  // GETs base_url + path with `params` URL-encoded and returns the "data" member of a
  // {"status":"success"} reply. Errors:
  //   UNAVAILABLE "cannot reach collector at URL: <curl error>" when no reply came;
  //   the API's own error message for an error reply, with a code from the HTTP status
  //   (400 INVALID_ARGUMENT, 404 NOT_FOUND, ...);
  //   DATA_LOSS when the reply is not the API's JSON.
  absl::StatusOr<nlohmann::json> Get(
      absl::string_view path, const std::vector<std::pair<std::string, std::string>>& params) const;
  // POSTs `body` as JSON, or DELETEs, with `Authorization: Bearer <api_token>` (the state-changing
  // calls); replies and errors as for Get (401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 409
  // FAILED_PRECONDITION).
  absl::StatusOr<nlohmann::json> Post(absl::string_view path, const nlohmann::json& body,
                                      const std::string& api_token) const;
  absl::StatusOr<nlohmann::json> Delete(absl::string_view path, const std::string& api_token) const;

 private:
  absl::StatusOr<nlohmann::json> Request(
      const char* method, absl::string_view path,
      const std::vector<std::pair<std::string, std::string>>& params, const std::string* body,
      const std::string& api_token) const;

  std::string base_url_;
  absl::Duration timeout_;
};

}  // namespace vigil::ctl

#endif  // VIGIL_VIGILCTL_API_CLIENT_H_
