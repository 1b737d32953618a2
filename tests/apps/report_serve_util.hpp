// `krill report --serve` from a test: the program as a child process whose output is read
// through a pipe (Krill), and one HTTP GET over a fresh connection (http_get). Shared by
// report_serve_test.cpp and postgres_cli_test.cpp.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace krill::testing {

struct HttpResponse {
  int status = -1;  // -1: no answer
  std::string headers;
  std::string body;
};

// One GET over a fresh connection to 127.0.0.1:port ("Connection: close": the body runs to EOF).
inline HttpResponse http_get(int port, const std::string& path) {
  HttpResponse r;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return r;
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return r;
  }
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return r;
  }
  std::string raw;
  char buf[65536];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const size_t end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.1 ") || end == std::string::npos) return r;
  r.status = std::stoi(raw.substr(9, 3));
  r.headers = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  return r;
}

// `krill report ARGS` as a child process (in `folder`, when given), its stdout and stderr read
// through a pipe; stopped (SIGTERM) on destruction.
class Krill {
 public:
  explicit Krill(std::vector<std::string> args, const std::filesystem::path& folder = {}) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    args.insert(args.begin(), {KRILL_BINARY, "report"});
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::dup2(fds[1], 2);
      ::close(fds[0]);
      ::close(fds[1]);
      if (!folder.empty() && ::chdir(folder.c_str()) != 0) ::_exit(126);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(KRILL_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~Krill() {
    if (running()) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  Krill(const Krill&) = delete;
  Krill& operator=(const Krill&) = delete;

  // The port of the "serving ... at http://127.0.0.1:PORT/" line; -1 when the program ends or
  // 20 s pass without it.
  int port() {
    const std::regex serving(
        R"(serving the report of study '[^']*' at http://127\.0\.0\.1:(\d+)/)");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      if (std::regex_search(output_, m, serving)) return std::stoi(m[1]);
      if (!read_some(200) && !running()) return -1;
    }
    return -1;
  }
  // The exit code once the program ends (-1: still running after 20 s).
  int exit_code() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!read_some(200) && !running()) break;
    }
    while (read_some(0)) {
    }
    if (status_ && WIFEXITED(*status_)) return WEXITSTATUS(*status_);
    return -1;
  }
  bool running() {
    if (status_ || pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return !status_;
  }
  const std::string& output() const { return output_; }

 private:
  // Reads what is there within `timeout_ms`; false at the end of the output or when nothing came.
  bool read_some(int timeout_ms) {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    output_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::optional<int> status_;
  std::string output_;
};

}  // namespace krill::testing
