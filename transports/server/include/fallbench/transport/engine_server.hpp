#pragma once
/// The server side of Engine.IO v4: HTTP long-polling, WebSocket and the upgrade between them, on Beast.

#include "fallbench/transport/http_exchange.hpp"
#include "fallbench/transport/limits.hpp"
#include "fallbench/transport/session.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace fallbench::transport {

/// What the application does with sessions. Calls for one session never overlap and come in order
/// (on_open, on_message..., on_close exactly once); calls for different sessions run concurrently on
/// the server's threads. Handlers must not block and must not throw.
class session_handler {
 public:
  virtual ~session_handler() = default;
  virtual void on_open(session_ptr const& s) = 0;
  /// A message packet (text or binary) from the client.
  virtual void on_message(session_ptr const& s, codec::eio::packet&& p) = 0;
  virtual void on_close(session_ptr const& s, close_reason why) = 0;
};

/// The engine server's options.
struct server_options {
  std::string path = "/socket.io/";  ///< The Engine.IO endpoint; `/engine.io/` for a bare engine.
  bool allow_polling = true;
  bool allow_websocket = true;
  /// Origins allowed to make Engine.IO requests and answered with CORS headers (a named origin with
  /// credentials, "*" any origin without them). Requests whose Origin is neither listed nor the
  /// server's own (allow_same_origin) get 403; requests without Origin always pass (docs/hardening.md).
  std::vector<std::string> cors_origins;
  /// Allow an Origin whose host:port is the request's Host: the chat page this server serves.
  bool allow_same_origin = true;
  /// Host names (without the port) a request's Host header may name besides IP addresses and
  /// localhost; "*" for any. Any other name gets 403, whatever the path: a page of another site
  /// whose name an attacker re-points at this server (DNS rebinding) names its own host there.
  std::vector<std::string> allowed_hosts;
  limits lim;
  /// How many threads run the io_context, when the caller knows (0: not known). With exactly one, a
  /// connection's handlers never run at once, so it gets no strand of its own (about 100 bytes and a
  /// lock per handler, for each connection).
  int io_threads = 0;
  /// https and wss on the listening port: every connection starts with a TLS handshake with this
  /// context (make_server_tls_context in tls.hpp). Null: plain http and ws.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

/// Counters of what the server did; cheap to read at any time from any thread.
struct server_stats {
  std::uint64_t sessions_opened = 0;
  std::uint64_t sessions_open = 0;
  std::array<std::uint64_t, 11> sessions_closed{};  ///< Indexed by close_reason.
  std::uint64_t upgrades = 0;
  std::uint64_t http_requests = 0;
  std::uint64_t http_errors = 0;  ///< Engine.IO error responses (400/403/413/503).
  std::uint64_t packets_in = 0;
  std::uint64_t packets_out = 0;
  std::uint64_t bytes_in = 0;   ///< Engine.IO packet bytes received (payloads and frames).
  std::uint64_t bytes_out = 0;  ///< Engine.IO packet bytes sent.
  std::uint64_t dropped_packets = 0;  ///< Packets refused by overflow_policy::drop.
  std::uint64_t tls_handshakes = 0;         ///< TLS handshakes completed (a TLS listener only).
  std::uint64_t tls_handshake_failures = 0; ///< Connections closed because their TLS handshake failed.
  std::uint64_t origin_refused = 0;  ///< Engine.IO requests refused (403) for their Origin.
  std::uint64_t host_refused = 0;    ///< Requests refused (403) for a Host name not allowed.
  std::uint64_t connections_open = 0;      ///< TCP connections open now (HTTP and WebSocket).
  std::uint64_t connections_refused = 0;   ///< Connections closed at accept: limits::max_connections.
  std::uint64_t accept_backoffs = 0;       ///< Accept failures (EMFILE, ENFILE, ...) waited out.
  std::uint64_t sessions_refused_per_address = 0;  ///< Handshakes refused: limits::max_sessions_per_address.
  std::uint64_t handshakes_rate_limited = 0;       ///< Handshakes refused (429): the address's rate.
  std::uint64_t body_bytes_in_flight = 0;  ///< Request body bytes reserved now (limits::max_body_bytes_in_flight).
  std::uint64_t bodies_refused = 0;        ///< Requests refused (503): their body would pass that bound.
};

/// Accepts TCP connections, serves Engine.IO on `options.path` and hands other requests to the
/// fallback. Owns the session table. Thread-safe; run its io_context on any number of threads.
class engine_server {
 public:
  engine_server(boost::asio::io_context& ioc, server_options options, session_handler& handler);
  ~engine_server();
  engine_server(engine_server const&) = delete;
  engine_server& operator=(engine_server const&) = delete;

  /// Bind and start accepting. Throws boost::system::system_error when the address cannot be bound,
  /// std::runtime_error when no random bytes can be drawn for session ids.
  /// @return the bound endpoint (port 0 resolved).
  boost::asio::ip::tcp::endpoint listen(boost::asio::ip::tcp::endpoint const& endpoint);

  /// Serve another Engine.IO endpoint at `path` (e.g. "/engine.io/") with its own handler and the same
  /// options. Call before listen().
  void mount(std::string path, session_handler& handler);

  /// Set the handler of non-Engine.IO requests (called on a server thread; must not block). Call
  /// before listen().
  void set_fallback(std::function<void(http_exchange&)> fallback);

  /// Stop accepting and close every session with a close packet. Thread-safe, idempotent.
  void shutdown();

  server_stats stats() const;
  server_options const& options() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace fallbench::transport
