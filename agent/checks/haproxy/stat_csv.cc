#include "agent/checks/haproxy/stat_csv.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace vigil::agent::haproxy {
namespace {

absl::Status LineError(absl::string_view source, size_t line, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": line ", line, ": ", message));
}

// One CSV record (a line, or several when a quoted field holds a newline).
struct Record {
  size_t line = 0;  // 1-based line where it starts
  std::vector<std::string> fields;
};

// Splits `text` into records. Every record must end with a newline.
absl::StatusOr<std::vector<Record>> SplitRecords(absl::string_view text, absl::string_view source) {
  std::vector<Record> records;
  size_t line = 1;
  size_t i = 0;
  while (i < text.size()) {
    Record record;
    record.line = line;
    std::string field;
    bool done = false;
    while (!done) {
      if (i >= text.size()) {
        return LineError(source, record.line, "not terminated by a newline (truncated output?)");
      }
      char c = text[i++];
      if (c == '"' && field.empty()) {
        // A quoted field: up to the closing quote; "" is a quote.
        for (;;) {
          if (i >= text.size()) {
            return LineError(source, record.line, "unterminated quoted field (truncated output?)");
          }
          char q = text[i++];
          if (q == '"') {
            if (i < text.size() && text[i] == '"') {
              field.push_back('"');
              ++i;
              continue;
            }
            break;
          }
          if (q == '\n') ++line;
          field.push_back(q);
        }
        continue;
      }
      if (c == ',') {
        record.fields.push_back(std::move(field));
        field.clear();
      } else if (c == '\n') {
        record.fields.push_back(std::move(field));
        ++line;
        done = true;
      } else if (c != '\r') {
        field.push_back(c);
      }
    }
    // HAProxy ends its output with an empty line; blank lines carry no row.
    if (record.fields.size() == 1 && record.fields[0].empty()) continue;
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace

std::string StatRow::Get(const std::string& column) const {
  auto it = fields.find(column);
  return it == fields.end() ? "" : it->second;
}

std::optional<double> StatRow::Number(const std::string& column) const {
  auto it = fields.find(column);
  if (it == fields.end()) return std::nullopt;
  double v = 0;
  if (!absl::SimpleAtod(it->second, &v) || !std::isfinite(v)) return std::nullopt;
  return v;
}

absl::StatusOr<std::vector<StatRow>> ParseStatCsv(absl::string_view text,
                                                  absl::string_view source) {
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": empty output"));
  absl::StatusOr<std::vector<Record>> records = SplitRecords(text, source);
  if (!records.ok()) return records.status();
  if (records->empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no header"));

  std::vector<std::string> header = std::move(records->front().fields);
  if (!header.empty()) {
    absl::string_view first = header[0];
    absl::ConsumePrefix(&first, "#");
    header[0] = std::string(absl::StripLeadingAsciiWhitespace(first));
  }
  int px = -1, sv = -1, type = -1;
  for (size_t c = 0; c < header.size(); ++c) {
    if (header[c] == "pxname") px = static_cast<int>(c);
    if (header[c] == "svname") sv = static_cast<int>(c);
    if (header[c] == "type") type = static_cast<int>(c);
  }
  if (px < 0 || sv < 0) {
    return LineError(source, records->front().line,
                     "header does not name pxname and svname (not HAProxy statistics CSV?)");
  }

  std::vector<StatRow> rows;
  for (size_t r = 1; r < records->size(); ++r) {
    Record& record = (*records)[r];
    if (record.fields.size() != header.size()) {
      return LineError(
          source, record.line,
          absl::StrCat(record.fields.size(), " fields where the header has ", header.size()));
    }
    StatRow row;
    row.proxy = record.fields[px];
    row.name = record.fields[sv];
    if (row.proxy.empty() || row.name.empty()) {
      return LineError(source, record.line, "empty pxname or svname");
    }
    if (type >= 0) {
      const std::string& t = record.fields[type];
      if (t == "0") {
        row.type = RowType::kFrontend;
      } else if (t == "1") {
        row.type = RowType::kBackend;
      } else if (t == "2") {
        row.type = RowType::kServer;
      } else if (t == "3") {
        row.type = RowType::kListener;
      } else {
        return LineError(source, record.line, absl::StrCat("type '", t, "' is not 0, 1, 2 or 3"));
      }
    } else if (row.name == "FRONTEND") {
      row.type = RowType::kFrontend;
    } else if (row.name == "BACKEND") {
      row.type = RowType::kBackend;
    }
    for (size_t c = 0; c < header.size(); ++c) {
      if (!record.fields[c].empty() && !header[c].empty()) {
        row.fields.emplace(header[c], std::move(record.fields[c]));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace vigil::agent::haproxy
