#include "tests/smtp_sink.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace vigil::testing {

constexpr char kPython[] = "/usr/bin/python3";

bool PortOpen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

SmtpSink::SmtpSink(const TempDir& dir)
    : dir_(dir), port_(FreePort()), maildir_(dir.Join("Maildir")) {}

void SmtpSink::Start() {
  process_ =
      std::make_unique<Process>(std::vector<std::string>{kPython, "-m", "aiosmtpd", "-n", "-l",
                                                         absl::StrCat("127.0.0.1:", port_), "-c",
                                                         "aiosmtpd.handlers.Mailbox", maildir_},
                                dir_.Join("aiosmtpd.out"), dir_.Join("aiosmtpd.err"));
  ASSERT_TRUE(WaitFor([&] { return PortOpen(port_); }, absl::Seconds(30)))
      << "aiosmtpd did not listen on " << port_ << ": " << process_->Stderr();
}

void SmtpSink::Stop() { process_->Stop(SIGTERM); }

std::vector<std::string> SmtpSink::Messages() const {
  std::vector<std::string> files;
  const std::string dir = maildir_ + "/new";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') files.push_back(dir + "/" + e->d_name);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> SmtpSink::MessagesAbout(const std::string& text) const {
  std::vector<std::string> out;
  for (const std::string& f : Messages()) {
    if (absl::StrContains(ReadFile(f), "Subject: [ALARM:1] " + text + " ")) out.push_back(f);
  }
  return out;
}

std::vector<std::string> SmtpSink::MessageIds() const {
  std::vector<std::string> ids;
  for (const std::string& f : Messages()) {
    for (absl::string_view line : absl::StrSplit(ReadFile(f), '\n')) {
      if (absl::ConsumePrefix(&line, "Message-ID: ")) {
        ids.emplace_back(absl::StripTrailingAsciiWhitespace(line));
        break;
      }
      if (line.empty() || line == "\r") break;  // end of the headers
    }
  }
  return ids;
}

}  // namespace vigil::testing
