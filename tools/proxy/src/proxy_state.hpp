#pragma once
/// What the listener and every connection of one proxy share: options, the current profile, counters
/// and the fault log. Thread-safe; owned jointly by the listener and the connections.

#include "fallbench/proxy/proxy.hpp"

#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fallbench::proxy::detail {

class proxy_state {
 public:
  using clock = std::chrono::steady_clock;

  /// The profile in force, and since when. A new generation each time the profile is set.
  struct snapshot {
    std::shared_ptr<profile const> prof;
    std::uint64_t generation = 0;
    clock::time_point since;
  };

  /// The counters of proxy_stats, updated from any thread.
  struct counters {
    std::atomic<std::uint64_t> connections_accepted{0}, connections_closed{0}, bytes_up{0}, bytes_down{0},
        http_requests{0}, http_responses{0}, upgrades_seen{0}, upgrades_completed{0}, upstream_failures{0},
        protocol_errors{0}, idle_closed{0}, header_timeouts{0}, truncated_requests{0}, bad_requests{0}, faults{0}, log_dropped{0}, tls_failures{0};
  };

  proxy_state(proxy_options options, profile initial);

  proxy_options const& options() const noexcept { return options_; }
  /// The TLS context clients are served with; null unless the proxy terminates TLS.
  boost::asio::ssl::context* tls() const noexcept { return tls_.get(); }
  /// Throws std::invalid_argument when `p` cannot apply with these options (needs_http() while
  /// passing TLS through).
  void check(profile const& p) const;
  clock::time_point started() const noexcept { return started_; }

  snapshot current() const;
  /// Make `p` current (a new generation) and log the change.
  void set_profile(profile p);

  /// Log a fault applied by connection `connection` under `kind`, and count it.
  void fault(std::uint64_t connection, profile_kind kind, std::string what);
  void on_event(std::function<void(fault_event const&)> callback);
  std::vector<fault_event> log() const;

  counters& count() noexcept { return counters_; }
  proxy_stats stats() const;

 private:
  void append(fault_event e);

  proxy_options const options_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  clock::time_point const started_;
  counters counters_;

  mutable std::mutex mutex_;
  snapshot current_;
  std::vector<fault_event> log_;
  std::shared_ptr<std::function<void(fault_event const&)> const> callback_;
};

/// Add `n` to a counter (relaxed: counters order nothing).
inline void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
  counter.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace fallbench::proxy::detail
