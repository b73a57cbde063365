#include "vigilctl/silences.h"

#include <algorithm>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/secret.h"
#include "vigilctl/table.h"

namespace vigil::ctl {
namespace {

using nlohmann::json;

int Fail(std::ostream& err, absl::string_view message) {
  err << "vigilctl: " << message << "\n";
  return kExitFailure;
}

// The API token for a state-changing call; the error says where it is expected.
absl::StatusOr<std::string> ApiToken(const std::string& token_file, absl::string_view command) {
  if (token_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        command,
        " needs the collector's API token: give --token-file FILE (the file the collector's "
        "auth.api_token_file names) or set VIGIL_API_TOKEN_FILE"));
  }
  return ReadSecretFile(token_file);
}

}  // namespace

int RunSilenceAdd(const ApiClient& client, const std::string& token_file, const SilenceArgs& args,
                  std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::string> token = ApiToken(token_file, "silence add");
  if (!token.ok()) return Fail(err, token.status().message());
  json body = {{"matchers", args.matchers}, {"created_by", args.author}, {"comment", args.comment}};
  if (args.duration) body["duration"] = *args.duration;
  if (args.until) body["ends_at"] = *args.until;
  if (args.start) body["starts_at"] = *args.start;
  absl::StatusOr<json> data = client.Post("/api/v1/silences", body, *token);
  if (!data.ok()) return Fail(err, data.status().message());
  if (!data->is_object() || !data->contains("id") || !(*data)["id"].is_string()) {
    return Fail(err, absl::StrCat("unexpected reply from collector at ", client.base_url(),
                                  ": the new silence has no id"));
  }
  out << (*data)["id"].get<std::string>() << "\n";
  return kExitOk;
}

int RunSilenceList(const ApiClient& client, std::ostream& out, std::ostream& err) {
  absl::StatusOr<json> data = client.Get("/api/v1/silences", {});
  if (!data.ok()) return Fail(err, data.status().message());
  if (!data->is_array()) {
    return Fail(err, absl::StrCat("unexpected reply from collector at ", client.base_url(),
                                  ": data is not a list"));
  }
  TextTable table({"ID", "STATE", "MATCHERS", "STARTS", "ENDS", "CREATED BY", "COMMENT"});
  for (const json& s : *data) {
    if (!s.is_object() || !s.contains("id") || !s.contains("state") || !s.contains("matchers") ||
        !s["matchers"].is_array() || !s.contains("starts_at_ms") || !s.contains("ends_at_ms")) {
      return Fail(err, absl::StrCat("unexpected reply from collector at ", client.base_url(),
                                    ": a silence lacks id, state, matchers or its times"));
    }
    std::vector<std::string> matchers;
    for (const json& m : s["matchers"])
      matchers.push_back(m.is_string() ? m.get<std::string>() : "?");
    table.AddRow({s["id"].get<std::string>(), s["state"].get<std::string>(),
                  absl::StrJoin(matchers, ", "), FormatTimestamp(s["starts_at_ms"].get<int64_t>()),
                  FormatTimestamp(s["ends_at_ms"].get<int64_t>()), s.value("created_by", ""),
                  s.value("comment", "")});
  }
  out << table.Render() << "\n"
      << table.rows() << (table.rows() == 1 ? " silence\n" : " silences\n");
  return kExitOk;
}

int RunSilenceExpire(const ApiClient& client, const std::string& token_file, const std::string& id,
                     std::ostream& out, std::ostream& err) {
  const bool plain = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  if (!plain) return Fail(err, absl::StrCat("'", id, "' is not a silence id (see silence list)"));
  absl::StatusOr<std::string> token = ApiToken(token_file, "silence expire");
  if (!token.ok()) return Fail(err, token.status().message());
  absl::StatusOr<json> data = client.Delete(absl::StrCat("/api/v1/silences/", id), *token);
  if (!data.ok()) return Fail(err, data.status().message());
  out << "silence " << id << " expired\n";
  return kExitOk;
}

}  // namespace vigil::ctl
