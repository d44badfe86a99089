#pragma once
/// The fault-injecting proxy as a library: an HTTP-aware TCP relay between clients and one upstream
/// that applies a fault profile (docs/design.md §7), changeable at any time or on a schedule. The
/// benchmark harness runs it in process; `fallbench proxy` is a thin CLI over it.

#include "fallbench/proxy/profile.hpp"
#include "fallbench/proxy/schedule.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fallbench::proxy {

namespace detail {
class listener;
}

/// Limits of the proxy itself, whatever the profile. Each has its reason next to it.
struct proxy_options {
  /// Where connections are relayed to.
  boost::asio::ip::tcp::endpoint upstream;
  /// Connecting to the upstream may take this long; then the client gets 502 and the connection ends.
  std::chrono::milliseconds connect_timeout{5'000};
  /// Any connection that carries no byte either way for this long is closed, whatever the profile:
  /// the deadline on every read. Five minutes is far beyond a Socket.IO long-poll (held at most a ping
  /// interval, 25 s) or a WebSocket's silence between pings.
  std::chrono::milliseconds max_idle{300'000};
  /// A request head must be whole this long after its first byte (after the accept, for a
  /// connection's first request); then the client gets 408 (nothing when it sent no byte) and both
  /// sides are closed. nginx's `client_header_timeout` (60 s): without it, a client that sends half a
  /// head and goes silent holds a client and an upstream socket until max_idle.
  std::chrono::milliseconds header_timeout{60'000};
  /// Largest request or response head (start line and fields). A larger request gets 431, a larger
  /// response 502. 64 KiB: browsers and servers stay far below; Beast's default is 8 KiB.
  std::size_t max_head_bytes = 64 * 1024;
  /// Bytes waiting to be written in one direction of one connection before the proxy stops reading
  /// from that direction's source (backpressure instead of an unbounded queue).
  std::size_t max_queued_bytes = 1u << 20;
  /// Requests forwarded and not yet answered on one connection (HTTP pipelining) before the proxy
  /// stops reading requests from the client.
  std::size_t max_pipelined = 16;
  /// Fault log entries kept; later ones are counted in proxy_stats::log_dropped and not stored.
  std::size_t max_log_entries = 100'000;
  /// TLS toward the clients: a certificate chain and its private key (PEM files). When both are set
  /// the proxy terminates TLS (https, wss) and speaks plain HTTP to the upstream.
  std::string tls_cert_file, tls_key_file;
  /// Relay TLS (or any bytes) as they are, both ways: the proxy reads none of the traffic, so only
  /// profiles that need no HTTP apply (needs_http(); the others are refused). Not with tls_cert_file.
  bool tls_passthrough = false;
  /// Longest TLS handshake with a client before its connection is closed (terminating only).
  std::chrono::milliseconds tls_handshake_timeout{5'000};
};

/// Counters since the proxy was made. Bytes are those written to the other side, so under `pass`
/// bytes_up is exactly what the upstream received and bytes_down what the clients received.
struct proxy_stats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_open = 0;
  std::uint64_t bytes_up = 0;             ///< client -> upstream
  std::uint64_t bytes_down = 0;           ///< upstream -> client
  std::uint64_t http_requests = 0;        ///< request heads read from clients
  std::uint64_t http_responses = 0;       ///< final response heads read from the upstream
  std::uint64_t upgrades_seen = 0;        ///< requests with Upgrade and Connection: upgrade
  std::uint64_t upgrades_completed = 0;   ///< 101 answers relayed: the connection became a tunnel
  std::uint64_t upstream_failures = 0;    ///< upstream connections that failed or timed out
  std::uint64_t protocol_errors = 0;      ///< malformed or oversized HTTP from either side
  std::uint64_t idle_closed = 0;          ///< connections closed by proxy_options::max_idle
  std::uint64_t header_timeouts = 0;      ///< connections closed by proxy_options::header_timeout
  std::uint64_t truncated_requests = 0;   ///< clients that ended their stream inside a request
  std::uint64_t bad_requests = 0;         ///< malformed requests the proxy answered itself (400, 431)
  std::uint64_t tls_failures = 0;         ///< client TLS handshakes that failed or timed out
  std::uint64_t faults = 0;               ///< faults applied (each is in the log unless it was full)
  std::uint64_t log_dropped = 0;          ///< log entries not kept (proxy_options::max_log_entries)
};

/// One fault the proxy applied, or a profile change (connection 0).
struct fault_event {
  std::chrono::steady_clock::time_point at;  ///< When it happened.
  std::chrono::microseconds since_start{0};  ///< `at` relative to the proxy's construction.
  std::uint64_t connection = 0;              ///< The connection's id (from 1, in accept order); 0: the proxy.
  std::string profile;                       ///< The profile that applied it, e.g. "refuse-upgrade".
  std::string what;                          ///< What was done, e.g. "answered 403 to GET /socket.io/?..."
};

/// "[   5.002 s] conn 7 refuse-upgrade: answered 403 to GET /x": one line, for logs.
std::string to_string(fault_event const& e);

/// An HTTP-aware TCP proxy to one upstream, applying the current fault profile. It parses just enough
/// HTTP/1.1 (heads, Content-Length and chunked bodies, keep-alive, the Upgrade handshake) to apply the
/// profiles and relays every other byte as it is; after a 101 it relays raw bytes both ways.
///
/// Runs on the given io_context, which may be run by several threads (one strand per connection).
/// All member functions are thread-safe. The io_context must outlive the proxy. The destructor
/// calls stop(); connections then end as the io_context runs their closing handlers.
class proxy {
 public:
  /// Startup code: throws std::invalid_argument for options that do not go together (a TLS
  /// certificate without its key, passthrough with a certificate, passthrough with a profile that
  /// needs HTTP) and std::runtime_error naming the file when the certificate or key cannot be used.
  proxy(boost::asio::io_context& ioc, proxy_options options, profile initial = {});
  ~proxy();
  proxy(proxy const&) = delete;
  proxy& operator=(proxy const&) = delete;

  /// Bind and listen on `at` (port 0 picks a free one) and start accepting.
  /// @return the bound endpoint. Throws boost::system::system_error when binding fails (startup code).
  boost::asio::ip::tcp::endpoint listen(boost::asio::ip::tcp::endpoint const& at);
  /// The bound endpoint (default-constructed before listen()).
  boost::asio::ip::tcp::endpoint endpoint() const;

  /// Apply `p` from now on, to new and open connections alike; logged as a profile change.
  /// Throws std::invalid_argument when the proxy passes TLS through and `p` needs HTTP.
  void set_profile(profile p);
  /// The profile applied now.
  profile current_profile() const;
  /// Run `entries` from now: each entry's profile is set at its offset (an entry at 0 at once).
  /// Replaces a schedule still running; set_profile() does not stop a schedule. Throws as set_profile().
  void run_schedule(std::vector<schedule_entry> entries);
  /// Run `entries` with offsets counted from `origin` instead of now: entries already due apply at
  /// once, in order; before the first entry the current profile stays. A harness that starts the
  /// proxy ahead of its run uses this so the schedule and the run share their start exactly.
  void run_schedule(std::vector<schedule_entry> entries, std::chrono::steady_clock::time_point origin);

  /// Register a callback for each logged event, called on a proxy thread right after it is logged
  /// (not under any lock). Set it before listen(); it must not block.
  void on_event(std::function<void(fault_event const&)> callback);

  proxy_stats stats() const;
  /// A copy of the fault log so far, in order.
  std::vector<fault_event> log() const;

  /// Stop accepting, stop the schedule and close every connection. Idempotent. Once the handlers it
  /// starts have run, the proxy holds no work on the io_context, so io_context::run() can return.
  void stop();

 private:
  std::shared_ptr<detail::listener> listener_;
};

}  // namespace fallbench::proxy
