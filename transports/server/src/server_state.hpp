#pragma once
// State shared by the listener and every connection and session of one engine_server.

#include "fallbench/transport/engine_server.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fallbench::transport::detail {

class session_impl;

/// Atomic counters behind server_stats.
struct counters {
  std::atomic<std::uint64_t> sessions_opened{0};
  std::array<std::atomic<std::uint64_t>, 9> sessions_closed{};
  std::atomic<std::uint64_t> upgrades{0};
  std::atomic<std::uint64_t> http_requests{0};
  std::atomic<std::uint64_t> http_errors{0};
  std::atomic<std::uint64_t> packets_in{0};
  std::atomic<std::uint64_t> packets_out{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> dropped_packets{0};
  std::atomic<std::uint64_t> tls_handshakes{0};
  std::atomic<std::uint64_t> tls_handshake_failures{0};

  static void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.fetch_add(n, std::memory_order_relaxed);
  }
};

/// The server's shared state: options, handler, session table and counters. Owned by engine_server
/// and every connection (shared_ptr); the table owns open sessions, nothing else does.
class server_state : public std::enable_shared_from_this<server_state> {
 public:
  server_state(boost::asio::io_context& ioc, server_options options, session_handler& handler);

  boost::asio::io_context& ioc;
  server_options const options;
  /// Engine.IO endpoints: the main path first, then any mounted with engine_server::mount.
  std::vector<std::pair<std::string, session_handler*>> mounts;
  std::function<void(http_exchange&)> fallback;
  counters stats;
  std::atomic<bool> stopping{false};

  /// Create and register a session; null when the table is full or the server is stopping.
  std::shared_ptr<session_impl> create_session(transport_kind kind, session_handler& handler);
  std::shared_ptr<session_impl> find(std::string_view sid);
  void remove(std::string const& sid);
  std::vector<std::shared_ptr<session_impl>> snapshot();
  std::size_t size();

 private:
  std::string new_sid();

  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<session_impl>> sessions_;
  std::uint64_t sid_counter_ = 0;
};

}  // namespace fallbench::transport::detail
