#pragma once
/// The one set of limits and timings shared by the server configuration, the client and the tests.

#include <chrono>
#include <cstddef>

namespace fallbench::transport {

/// What a session does when a slow client lets its outbound queue pass `max_queued_bytes`.
enum class overflow_policy {
  close,  ///< Close the session (counted as overflow): the client reconnects and knows it lost data.
  drop,   ///< Drop the new packet (counted): the session lives on with a gap the client cannot see.
};

/// Limits and timings of an Engine.IO session. Defaults are those of the reference server (engine.io 6)
/// unless a comment says otherwise.
struct limits {
  /// How often the server pings (Engine.IO v4: the server pings, the client pongs).
  std::chrono::milliseconds ping_interval{25'000};
  /// How long a pong may take before the session is closed as dead.
  std::chrono::milliseconds ping_timeout{20'000};
  /// Largest polling body or WebSocket frame accepted, announced as maxPayload in the open packet.
  std::size_t max_payload_bytes = 1'000'000;
  /// Outbound bytes one session may have queued before `on_overflow` applies. 4 MiB holds about
  /// 40 000 typical chat messages: far beyond a healthy client, small enough that 10 000 stalled
  /// clients cannot exhaust the machine. The reference server has no bound.
  std::size_t max_queued_bytes = 4u << 20;
  overflow_policy on_overflow = overflow_policy::close;
  /// How long a probing WebSocket may take to send the upgrade packet before it is dropped and the
  /// session stays on polling (reference: upgradeTimeout).
  std::chrono::milliseconds upgrade_timeout{10'000};
  /// Deadline to read one HTTP request (headers and body) on a connection; an idle keep-alive
  /// connection is closed after it too.
  std::chrono::milliseconds http_timeout{30'000};
  /// How long a server-initiated close waits for the close packet to be fetched by a polling client.
  std::chrono::milliseconds close_timeout{2'000};
  /// Largest HTTP request header block; requests beyond it get 431.
  std::size_t max_header_bytes = 8 * 1024;
  /// Sessions one server holds at once; handshakes beyond it get 503 (a bound on memory).
  std::size_t max_sessions = 200'000;
};

}  // namespace fallbench::transport
