#pragma once
/// The open-loop load driver: runs one case of a scenario against one server and measures it
/// (docs/design.md section 6).

#include "fallbench/bench/scenario.hpp"
#include "fallbench/metrics/clock.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace fallbench::bench {

/// Where the server under test listens.
struct endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string path = "/socket.io/";
  std::string query;  ///< extra query parameters of the target URL
  bool tls = false;   ///< https/wss
  /// Namespace, headers, cookies, auth, TLS trust (the path is already in `path`).
  transport::target_settings settings;
  /// Which events stand for join/chat/leave and how deliveries and joins are recognised.
  chatproto::event_mapping events;
  /// Each client connects from its own loopback address (127.1.x.y, from its index), so a balancer
  /// hashing source addresses sees as many hosts as clients (a cluster's `sticky: source`).
  bool distinct_sources = false;
};

/// A progress report, about once a second, for a terminal's status line.
struct progress {
  std::string phase;
  double elapsed_s = 0;  ///< Since the run's start.
  double total_s = 0;    ///< The run's planned length (connect ramp to the end of the drain).
  std::uint64_t connected = 0;
  std::uint64_t chats_sent = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t errors = 0;  ///< Failed operations so far (connects, sends, acks).
};

/// The server's process, if the driver may measure it (CPU and peak RSS from /proc).
struct server_process {
  int pid = 0;  ///< 0: not measurable (an external URL).
};

/// A stretch of a run under one fault profile: from `from` after the run's start until the next
/// window's start (the last until the run ends).
struct fault_window {
  std::chrono::milliseconds from{0};
  std::string profile;  ///< The profile the proxy applies, e.g. "pass" or "latency?up-ms=50&..."
  /// "before": pass before any fault; "fault": any other profile; "after": pass after a fault.
  std::string role;
};

/// How the caller sets a run up.
struct run_options {
  /// The run's start (t = 0 of every timestamp, of the connect ramp and of a fault schedule); unset:
  /// shortly after the call. A caller that starts a fault proxy first picks it, so the proxy's
  /// schedule and the run share their origin.
  std::optional<metrics::time_point> start;
  /// The fault timeline of the run (empty: no fault proxy). Every event is tagged with the window it
  /// happened in, and the result gets the run's figures per window (`fault_windows`).
  std::vector<fault_window> fault_windows;
};

/**
 * Run `c` against `at`: connect the clients over the connect ramp, send chats at their intended times
 * (open loop: whatever the server does), discard the warm-up, measure, drain, leave and close.
 * Worker threads own their clients and recorders; everything is merged at the end.
 * @return the run's section of the result document (reports/schema/result.schema.json, `runs[]`).
 */
nlohmann::json run_case(scenario const& s, case_spec const& c, endpoint const& at, server_process server,
                        std::function<void(progress const&)> const& on_progress = {}, run_options const& options = {});

}  // namespace fallbench::bench
