#pragma once
// State shared by the listener and every connection and session of one engine_server.

#include "deadline_queue.hpp"
#include "fallbench/transport/engine_server.hpp"

#include <atomic>
#include <chrono>
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
  std::array<std::atomic<std::uint64_t>, 11> sessions_closed{};
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
  std::atomic<std::uint64_t> origin_refused{0};
  std::atomic<std::uint64_t> host_refused{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> accept_backoffs{0};
  std::atomic<std::uint64_t> sessions_refused_per_address{0};
  std::atomic<std::uint64_t> handshakes_rate_limited{0};
  std::atomic<std::uint64_t> bodies_refused{0};

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
  /// The heartbeats of the sessions and the deadlines of the HTTP connections.
  std::shared_ptr<deadline_queue> const deadlines;
  /// Engine.IO endpoints: the main path first, then any mounted with engine_server::mount.
  std::vector<std::pair<std::string, session_handler*>> mounts;
  std::function<void(http_exchange&)> fallback;
  counters stats;
  std::atomic<bool> stopping{false};
  /// TCP connections open now (connection_slot).
  std::atomic<std::size_t> open_connections{0};
  /// Request body bytes reserved now (reserve_body).
  std::atomic<std::size_t> body_bytes_in_flight{0};

  /// Reserve `bytes` of request body under limits::max_body_bytes_in_flight; false (nothing reserved)
  /// when they would pass it. Give them back with release_body().
  bool reserve_body(std::size_t bytes);
  void release_body(std::size_t bytes) noexcept { body_bytes_in_flight.fetch_sub(bytes, std::memory_order_relaxed); }

  /// Create and register a session for a client at `peer` (its address as text); null when the table
  /// is full, `peer` holds limits::max_sessions_per_address sessions (counted), or the server is stopping.
  std::shared_ptr<session_impl> create_session(transport_kind kind, session_handler& handler, std::string const& peer);
  /// Whether `peer` may open a session now under limits::handshakes_per_second_per_address; takes
  /// its token when it may, counts the refusal when not.
  bool admit_handshake(std::string const& peer);
  std::shared_ptr<session_impl> find(std::string_view sid);
  void remove(std::string const& sid);
  std::vector<std::shared_ptr<session_impl>> snapshot();
  std::size_t size();

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<session_impl>> sessions_;
  std::unordered_map<std::string, std::size_t> sessions_per_peer_;  ///< Under mutex_, when bounded.

  /// One address's token bucket (limits::handshakes_per_second_per_address).
  struct bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };
  std::mutex rate_mutex_;
  std::unordered_map<std::string, bucket> buckets_;
  std::size_t prune_buckets_at_ = 1024;
};

/// One accepted TCP connection, counted in server_state::open_connections while it lives: owned by
/// the HTTP connection, then by the WebSocket it may become.
class connection_slot {
 public:
  explicit connection_slot(std::shared_ptr<server_state> state) : state_(std::move(state)) { ++state_->open_connections; }
  ~connection_slot() { --state_->open_connections; }
  connection_slot(connection_slot const&) = delete;
  connection_slot& operator=(connection_slot const&) = delete;

 private:
  std::shared_ptr<server_state> state_;
};

}  // namespace fallbench::transport::detail
