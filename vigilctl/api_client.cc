#include "vigilctl/api_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vigil::ctl {
namespace {

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

absl::StatusCode CodeForHttpStatus(long status) {
  switch (status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
      return absl::StatusCode::kUnimplemented;
    case 409:
      return absl::StatusCode::kFailedPrecondition;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 503:
      return absl::StatusCode::kUnavailable;
    default:
      return status >= 500 ? absl::StatusCode::kInternal : absl::StatusCode::kUnknown;
  }
}

std::string Escape(CURL* curl, const std::string& s) {
  std::unique_ptr<char, decltype(&curl_free)> e(
      curl_easy_escape(curl, s.data(), static_cast<int>(s.size())), &curl_free);
  return e ? std::string(e.get()) : std::string();
}

}  // namespace

ApiClient::ApiClient(std::string base_url, absl::Duration timeout)
    : base_url_(absl::StripSuffix(base_url, "/")), timeout_(timeout) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

absl::StatusOr<nlohmann::json> ApiClient::Get(
    absl::string_view path, const std::vector<std::pair<std::string, std::string>>& params) const {
  return Request("GET", path, params, nullptr, "");
}

absl::StatusOr<nlohmann::json> ApiClient::Post(absl::string_view path, const nlohmann::json& body,
                                               const std::string& api_token) const {
  const std::string text = body.dump();
  return Request("POST", path, {}, &text, api_token);
}

absl::StatusOr<nlohmann::json> ApiClient::Delete(absl::string_view path,
                                                 const std::string& api_token) const {
  return Request("DELETE", path, {}, nullptr, api_token);
}

absl::StatusOr<nlohmann::json> ApiClient::Request(
    const char* method, absl::string_view path,
    const std::vector<std::pair<std::string, std::string>>& params, const std::string* request_body,
    const std::string& api_token) const {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return absl::InternalError("curl_easy_init failed");
  std::string url = absl::StrCat(base_url_, path);
  for (size_t i = 0; i < params.size(); ++i) {
    absl::StrAppend(&url, i == 0 ? "?" : "&", Escape(curl.get(), params[i].first), "=",
                    Escape(curl.get(), params[i].second));
  }
  std::string body;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout_)));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "vigilctl");
  curl_easy_setopt(curl.get(), CURLOPT_CUSTOMREQUEST, method);
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr,
                                                                      &curl_slist_free_all);
  auto add_header = [&](const std::string& h) {
    // Appending returns the list's head (the same one once there is a list), null on failure.
    if (curl_slist* head = curl_slist_append(headers.get(), h.c_str())) {
      (void)headers.release();
      headers.reset(head);
    }
  };
  if (!api_token.empty()) add_header("Authorization: Bearer " + api_token);
  if (request_body != nullptr) {
    add_header("Content-Type: application/json");
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, request_body->data());
    curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(request_body->size()));
  }
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("cannot reach collector at ", base_url_, ": ",
                                               error[0] != '\0' ? error : curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);

  nlohmann::json reply = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded() || !reply.is_object() || !reply.contains("status")) {
    std::string excerpt = body.substr(0, 200);
    while (!excerpt.empty() && (excerpt.back() == '\n' || excerpt.back() == '\r')) {
      excerpt.pop_back();
    }
    return absl::Status(
        status >= 200 && status < 300 ? absl::StatusCode::kDataLoss : CodeForHttpStatus(status),
        absl::StrCat("collector at ", base_url_, " answered HTTP ", status, " to ", path,
                     " without an API reply: ", excerpt));
  }
  if (reply["status"] == "success" && status >= 200 && status < 300) {
    return std::move(reply["data"]);
  }
  std::string message = reply.contains("error") && reply["error"].is_string()
                            ? reply["error"].get<std::string>()
                            : absl::StrCat("HTTP ", status);
  return absl::Status(CodeForHttpStatus(status), message);
}

}  // namespace vigil::ctl
