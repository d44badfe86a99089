#pragma once
/// A server process the harness starts beside itself (our server or the Node peer): spawned with its
/// stdout on a pipe, the URL read from its first line, stopped with SIGTERM. Startup code: throws.

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fallbench::bench {

class child_process {
 public:
  /// Start `argv` (argv[0] a path), its stderr appended to `log_path` (or discarded when empty).
  /// @throws std::runtime_error when it cannot start.
  child_process(std::vector<std::string> const& argv, std::string const& log_path);
  ~child_process();
  child_process(child_process const&) = delete;
  child_process& operator=(child_process const&) = delete;

  /// The first line the process prints; throws if none comes within `timeout` or it exits first.
  std::string first_line(std::chrono::milliseconds timeout);

  /// Everything the process prints until it exits, and its exit status (as stop()'s); a process still
  /// running after `timeout` is killed and this throws.
  std::pair<int, std::string> output(std::chrono::milliseconds timeout);

  int pid() const noexcept { return pid_; }

  /// The exit status if the process has ended (it is then reaped), nothing while it runs.
  std::optional<int> exited();

  /// SIGTERM, wait up to `grace`, then SIGKILL. @return the exit status (or -signal).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds{5});

 private:
  enum class read_result { data, end, timeout };
  /// Append what stdout has to buffered_, waiting until `deadline` for something.
  read_result read_more(std::chrono::steady_clock::time_point deadline);

  int pid_ = 0;
  int stdout_fd_ = -1;
  bool stopped_ = false;
  std::string buffered_;
};

/// From now on SIGINT and SIGTERM to this process first send SIGTERM to every child_process still
/// running (redis-server, servers, haproxy), then end it as the signal would have: an interrupted
/// run leaves nothing behind. Idempotent.
void stop_children_on_signal();

/// The path of the running executable (/proc/self/exe).
std::string self_executable();

/// The first directory at or above `start` that holds `relative` (a file); empty when none does.
std::string find_upwards(std::string const& start, std::string const& relative);

}  // namespace fallbench::bench
