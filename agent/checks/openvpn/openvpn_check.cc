#include "agent/checks/openvpn/openvpn_check.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/checks/openvpn/openvpn_status.h"

namespace vigil::agent {
namespace {

// A status file lists one line per client and route; thousands of clients stay far below.
constexpr size_t kMaxStatusBytes = 64 << 20;

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    return absl::ErrnoToStatus(e, absl::StrCat("cannot open ", path));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return absl::ErrnoToStatus(e, absl::StrCat("cannot read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxStatusBytes) {
      close(fd);
      return absl::ResourceExhaustedError(
          absl::StrCat(path, ": larger than ", kMaxStatusBytes, " bytes"));
    }
  }
  close(fd);
  return out;
}

// OpenVPN rewrites the file in place, one write per line: a read in the middle of that sees
// no END line. One more read a moment later gets the finished file.
absl::StatusOr<openvpn::StatusFile> ReadStatusFile(const std::string& path) {
  absl::Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    absl::StatusOr<std::string> text = ReadWholeFile(path);
    if (!text.ok()) return text.status();
    absl::StatusOr<openvpn::StatusFile> file =
        openvpn::ParseStatusFile(*text, absl::LocalTimeZone());
    if (file.ok()) return file;
    last = absl::Status(file.status().code(), absl::StrCat(path, ": ", file.status().message()));
  }
  return last;
}

// A session is one CLIENT_LIST row; the same certificate may have several (duplicate-cn).
std::string SessionKey(const openvpn::ClientSession& s) {
  return absl::StrCat(s.common_name, "|", s.real_address, "|",
                      s.connected_since ? absl::ToUnixSeconds(*s.connected_since) : -1);
}

void Add(std::vector<Sample>& out, const char* metric, Labels labels, double value) {
  out.push_back(Sample{metric, std::move(labels), value});
}

}  // namespace

absl::Status OpenVpnCheck::Init(ConfigMap& config) {
  status_file_ = config.String("status_file");
  if (!config.Has("status_file")) {
    config.Error("status_file", "is required: the server's `status` file");
  } else if (status_file_.empty() || status_file_[0] != '/') {
    config.Error("status_file", absl::StrCat("must be an absolute path, got '", status_file_, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Sample>> OpenVpnCheck::Collect(absl::Time now) {
  absl::StatusOr<openvpn::StatusFile> file = ReadStatusFile(status_file_);
  if (!file.ok()) return file.status();

  std::vector<Sample> out;
  Add(out, "openvpn.status.age_seconds", {},
      std::max(0.0, absl::ToDoubleSeconds(now - file->updated)));

  struct PerClient {
    Counters total, delta;
    bool rate_ok = true;
  };
  const bool have_prev = prev_updated_.has_value() && file->updated > *prev_updated_;
  const double seconds = have_prev ? absl::ToDoubleSeconds(file->updated - *prev_updated_) : 0;
  std::map<std::string, PerClient> clients;  // by common name, sorted
  std::map<std::string, Counters> sessions;
  int connected = 0;
  for (const openvpn::ClientSession& s : file->clients) {
    if (s.common_name == "UNDEF") continue;  // still authenticating
    ++connected;
    PerClient& c = clients[s.common_name];
    c.total.received += s.bytes_received;
    c.total.sent += s.bytes_sent;
    const std::string key = SessionKey(s);
    sessions[key] = Counters{s.bytes_received, s.bytes_sent};
    if (!have_prev || !c.rate_ok) continue;
    // A session of the previous file adds its increase; one that connected since then adds
    // all it counted; a counter that went down leaves the client without rates this time.
    auto p = prev_sessions_.find(key);
    if (p != prev_sessions_.end()) {
      if (s.bytes_received < p->second.received || s.bytes_sent < p->second.sent) {
        c.rate_ok = false;
        continue;
      }
      c.delta.received += s.bytes_received - p->second.received;
      c.delta.sent += s.bytes_sent - p->second.sent;
    } else if (s.connected_since && *s.connected_since >= *prev_updated_) {
      c.delta.received += s.bytes_received;
      c.delta.sent += s.bytes_sent;
    } else {
      c.rate_ok = false;
    }
  }
  Add(out, "openvpn.clients.connected", {}, connected);
  for (const auto& [name, c] : clients) {
    Labels labels = {{"client", name}};
    Add(out, "openvpn.client.bytes_received", labels, static_cast<double>(c.total.received));
    Add(out, "openvpn.client.bytes_sent", labels, static_cast<double>(c.total.sent));
    if (have_prev && c.rate_ok) {
      Add(out, "openvpn.client.bytes_received_per_second", labels,
          static_cast<double>(c.delta.received) / seconds);
      Add(out, "openvpn.client.bytes_sent_per_second", labels,
          static_cast<double>(c.delta.sent) / seconds);
    }
  }
  // A file the server has not rewritten since the last collection keeps the older baseline,
  // so the next rate spans both intervals.
  if (!prev_updated_ || file->updated != *prev_updated_) {
    prev_updated_ = file->updated;
    prev_sessions_ = std::move(sessions);
  }
  return out;
}

}  // namespace vigil::agent
