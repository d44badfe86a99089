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

  // Limits against abuse (docs/hardening.md: each one's anchor, flag and counter).

  /// Open TCP connections at once; one accepted beyond it gets 503 and is closed (over TLS, just
  /// closed). 0: no bound. `serve` sets it below the descriptor limit, as HAProxy derives maxconn
  /// from `ulimit -n`.
  std::size_t max_connections = 0;
  /// How long the listener waits before accepting again after an accept failed (out of descriptors:
  /// EMFILE, ENFILE; or memory): the pending connection stays in the backlog, so accepting at once
  /// would spin. 50 ms as the fault proxy's listener; Go's net/http starts its backoff at 5 ms.
  std::chrono::milliseconds accept_backoff{50};
  /// Sessions one client address may hold at once; 0: no bound (nginx's limit_conn is off until
  /// configured: behind a proxy or a carrier-grade NAT one address is many users).
  std::size_t max_sessions_per_address = 0;
  /// New sessions one client address may open per second, with a burst of one second's worth (a token
  /// bucket, as nginx's limit_req); refused with 429. 0: no bound (off until configured, as limit_req).
  std::size_t handshakes_per_second_per_address = 0;
  /// A polling session that has not sent its first GET this long after its handshake is closed
  /// (close_reason::no_first_poll), instead of holding its slot for a whole heartbeat (pingInterval +
  /// pingTimeout, 45 s). The official client polls at once on the open packet; 10 s is the reference's
  /// upgradeTimeout, its deadline for a client's next step. 0: only the heartbeat.
  std::chrono::milliseconds first_poll_timeout{10'000};
  /// A polling session that polled, then has had no GET outstanding for this long (the last one was
  /// answered and no other came) is closed (close_reason::stopped_polling), instead of holding its slot
  /// until the heartbeat finds it (pingInterval + pingTimeout, 45 s: the ping waits in a queue no poll
  /// fetches). The official client sends its next GET as soon as a poll response arrives (milliseconds;
  /// it pauses polling only for an upgrade, which this check leaves alone), so a gap of seconds is no
  /// client's behaviour; 10 s, the reference's upgradeTimeout and first_poll_timeout, allows a busy
  /// browser tab or a slow response transfer. Off (only the heartbeat) at 0 or when not shorter than
  /// pingInterval + pingTimeout.
  std::chrono::milliseconds poll_gap_timeout{10'000};
  /// Bytes of HTTP request bodies being read or handled at once, over every connection. A body's
  /// Content-Length is reserved before its first byte is read (a chunked body reserves
  /// max_payload_bytes, the most it may grow to) and given back once the request is handled or its
  /// connection ends; a body that would pass the bound gets 503 and its connection is closed. Each body
  /// is bounded by max_payload_bytes, but not their number: 300 connections each holding 990 KB took
  /// 299 MB. 64 MB is 64 bodies of the reference's maxHttpBufferSize (1 MB), while a chat POST is a
  /// few hundred bytes. 0: no bound.
  std::size_t max_body_bytes_in_flight = 64'000'000;
};

}  // namespace fallbench::transport
