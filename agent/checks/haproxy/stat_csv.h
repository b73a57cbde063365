#ifndef VIGIL_AGENT_CHECKS_HAPROXY_STAT_CSV_H_
#define VIGIL_AGENT_CHECKS_HAPROXY_STAT_CSV_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// A pure parser for HAProxy's statistics CSV (`show stat` on the stats socket, or the stats
// page with `;csv`). Columns are found by their header names, because each HAProxy version
// adds some (1.5 has 62, 2.6 has 150); a column a version lacks is simply absent. Thread-safe.

namespace vigil::agent::haproxy {

enum class RowType { kFrontend, kBackend, kServer, kListener };

// One line of the CSV: a frontend, a backend, a server of a backend, or a listener.
struct StatRow {
  std::string proxy;  // pxname
  std::string name;   // svname: FRONTEND, BACKEND, or the server's name
  RowType type = RowType::kServer;
  std::map<std::string, std::string> fields;  // every non-empty value, by column name

  // The value of `column`, or "" when the column is absent or empty.
  std::string Get(const std::string& column) const;
  // The value as a number, or nullopt when absent, empty or not a number.
  std::optional<double> Number(const std::string& column) const;
};

// Parses the whole CSV. The first line is the header ("# pxname,svname,..."; the "# " is
// optional) and must name pxname and svname; every row must have as many fields as the header.
// Quoted fields ("a,b" with "" for a quote) are unquoted. The output must end with a newline
// (HAProxy ends it with an empty line), so a cut-off answer is an error, not a short table.
// Errors are InvalidArgument naming `source` and the line.
absl::StatusOr<std::vector<StatRow>> ParseStatCsv(absl::string_view text, absl::string_view source);

}  // namespace vigil::agent::haproxy

#endif  // VIGIL_AGENT_CHECKS_HAPROXY_STAT_CSV_H_
