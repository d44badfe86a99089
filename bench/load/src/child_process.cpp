#include "fallbench/bench/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace fallbench::bench {

namespace {

/// A waitpid status as the exit code, or minus the signal that ended the process.
int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

/// The pids of running children, for the signal handler (only lock-free atomics are safe there).
std::array<std::atomic<int>, 256> live_children{};

void remember(int pid) {
  for (auto& slot : live_children) {
    int expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
}

void forget(int pid) {
  for (auto& slot : live_children) {
    int expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

extern "C" void on_stop_signal(int sig) {
  for (auto& slot : live_children)
    if (int const pid = slot.load(); pid > 0) ::kill(pid, SIGTERM);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void stop_children_on_signal() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

std::optional<int> child_process::exited() {
  if (stopped_ || pid_ <= 0) return 0;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  stopped_ = true;
  forget(pid_);
  return exit_status(status);
}

child_process::child_process(std::vector<std::string> const& argv, std::string const& log_path) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.empty() ? "/dev/null" : log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto const& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int const rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  stdout_fd_ = fds[0];
  remember(pid_);
}

child_process::~child_process() {
  if (!stopped_) stop();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

child_process::read_result child_process::read_more(std::chrono::steady_clock::time_point deadline) {
  while (true) {
    auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return read_result::timeout;
    pollfd p{stdout_fd_, POLLIN, 0};
    int const n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    if (n <= 0) continue;
    char buf[4096];
    auto const got = ::read(stdout_fd_, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return read_result::end;  // the process closed stdout: it is exiting
    buffered_.append(buf, static_cast<std::size_t>(got));
    return read_result::data;
  }
}

std::string child_process::first_line(std::chrono::milliseconds timeout) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (auto nl = buffered_.find('\n'); nl != std::string::npos) return buffered_.substr(0, nl);
    switch (read_more(deadline)) {
      case read_result::data: break;
      case read_result::timeout:
        throw std::runtime_error("no URL line from the server within " + std::to_string(timeout.count()) + " ms");
      case read_result::end: throw std::runtime_error("the server exited before printing its URL (see its log)");
    }
  }
}

std::pair<int, std::string> child_process::output(std::chrono::milliseconds timeout) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  for (auto r = read_more(deadline); r != read_result::end; r = read_more(deadline)) {
    if (r == read_result::timeout) {
      stop(std::chrono::milliseconds{0});
      throw std::runtime_error("still running after " + std::to_string(timeout.count()) + " ms");
    }
  }
  int status = 0;
  stopped_ = true;
  forget(pid_);
  if (::waitpid(pid_, &status, 0) != pid_) return {-1, buffered_};
  return {exit_status(status), buffered_};
}

int child_process::stop(std::chrono::milliseconds grace) {
  if (stopped_ || pid_ <= 0) return 0;
  stopped_ = true;
  forget(pid_);
  ::kill(pid_, SIGTERM);
  auto const deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (true) {
    pid_t const r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return exit_status(status);
}

std::string self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string{} : p.string();
}

std::string find_upwards(std::string const& start, std::string const& relative) {
  std::error_code ec;
  for (auto dir = std::filesystem::absolute(start, ec); !dir.empty(); dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / relative, ec)) return dir.string();
    if (dir == dir.parent_path()) break;
  }
  return {};
}

}  // namespace fallbench::bench
