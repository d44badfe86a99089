#pragma once
/// The client side of Engine.IO v4 / Socket.IO v5 with the connection strategies real clients use
/// (docs/design.md section 5): one interface whatever the transport, so the code that drives traffic
/// never branches on it.
///
/// Threading: a client lives on the executor it was created with. Every member function must be called
/// there, and every callback runs there. Run one io_context per thread and give each its own clients
/// (thousands of clients share one thread comfortably); pass a strand if the io_context has several.

#include "fallbench/codec/error.hpp"
#include "fallbench/transport/limits.hpp"
#include "fallbench/transport/session.hpp"
#include "fallbench/transport/target.hpp"
#include "fallbench/transport/url.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace fallbench::transport {

/// How a client reaches the server (DESIGN section 5).
enum class strategy : std::uint8_t {
  polling,    ///< `transports: ['polling']`
  websocket,  ///< `transports: ['websocket']`
  upgrade,    ///< Socket.IO's default: open on polling, probe and upgrade to WebSocket.
  fallback,   ///< WebSocket first, polling when it fails or passes client_options::websocket_timeout.
  /// WebSocket and polling opened together, polling client_options::race_stagger behind (Pusher's
  /// transport race); the first to carry the namespace CONNECT wins, the other's session is closed.
  race,
  /// socket.io-client 4.8's `transports: ['websocket', 'polling']` with `tryAllTransports`: polling is
  /// tried on a WebSocket error only, no timer of its own, so a hanging WebSocket costs connect_timeout.
  tryall,
  /// Phoenix's fallback memory: WebSocket first (websocket_timeout), polling when it fails, and a
  /// client that had to fall back starts on polling next time (client_options::remember_*).
  remember,
};

/// Every strategy, in the order reports show them: fixed transports, then the ones that switch.
inline constexpr strategy all_strategies[] = {strategy::polling, strategy::websocket, strategy::upgrade, strategy::fallback,
                                              strategy::race,    strategy::tryall,    strategy::remember};

std::string_view to_string(strategy s) noexcept;
std::optional<strategy> parse_strategy(std::string_view name) noexcept;

/// A client's transitions, timestamped, for session timelines.
enum class client_event : std::uint8_t {
  connecting,           ///< connect() began (or a reconnection attempt did).
  handshake_done,       ///< The Engine.IO open packet arrived.
  probe_sent,           ///< `2probe` went out on a new WebSocket.
  upgraded,             ///< The WebSocket took over from polling.
  upgrade_failed,       ///< The probe failed; the session stays on polling.
  websocket_failed,     ///< A WebSocket could not be opened (detail says why).
  fell_back,            ///< After websocket_failed, the fallback strategy opens polling.
  namespace_connected,  ///< The Socket.IO CONNECT was answered: the client is usable.
  disconnected,         ///< The session ended (detail gives the reason).
  reconnecting,         ///< A reconnection attempt is scheduled (detail: attempt and delay).
  race_won,             ///< The race strategy's winner carried the CONNECT (detail: websocket or polling).
  remembered,           ///< The remember strategy starts on polling: a fallback to this target is remembered.
  /// With client_options::recovery, after namespace_connected: the server recovered the session (same
  /// socket id, rooms kept, missed broadcasts follow). Detail: the socket id.
  recovered,
};

std::string_view to_string(client_event e) noexcept;

struct transition {
  client_event event;
  std::chrono::steady_clock::time_point at;
  std::string detail;
};

/// What goes wrong on a client. Values are stable: they appear in results.
enum class client_error {
  connect_failed = 1,   ///< TCP connect or name resolution failed.
  http_status,          ///< The server answered an Engine.IO request with a non-200 status.
  websocket_refused,    ///< The WebSocket handshake failed.
  bad_open_packet,      ///< The first packet was not a valid open packet.
  protocol_error,       ///< A malformed Engine.IO or Socket.IO packet from the server.
  payload_too_large,    ///< A frame or body over the client's limit.
  ping_timeout,         ///< No ping from the server within pingInterval + pingTimeout.
  connect_timeout,      ///< Not connected to the namespace within client_options::connect_timeout.
  transport_closed,     ///< The connection ended without a close packet.
  server_close,         ///< The server sent a close packet or a Socket.IO DISCONNECT.
  namespace_refused,    ///< The server answered CONNECT with CONNECT_ERROR.
  client_close,         ///< close() was called.
  websocket_timeout,    ///< No WebSocket within client_options::websocket_timeout (connect and handshake).
  tls_handshake_failed, ///< The TLS handshake failed (the detail gives OpenSSL's reason, e.g. certificate verify failed).
};

boost::system::error_category const& client_error_category() noexcept;
error_code make_error_code(client_error e) noexcept;

/// Bytes and requests counted at the sockets (TCP payload bytes from the kernel's TCP_INFO, so HTTP
/// headers, WebSocket framing and handshakes are all in; over TLS, the TLS records and handshake too).
struct wire_counters {
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t http_requests = 0;      ///< Polling GETs and POSTs, handshakes included.
  std::uint64_t ws_frames_sent = 0;
  std::uint64_t ws_frames_received = 0;
  std::uint64_t tcp_connections = 0;
  std::uint64_t tls_handshakes = 0;  ///< TLS handshakes completed (https/wss), resumed ones included.
  std::uint64_t tls_resumed = 0;     ///< Of those, the ones that resumed a session (client_options::tls_resume).

  wire_counters& operator+=(wire_counters const& o) noexcept;
};

/// A client's settings. Defaults are those of socket.io-client 4.8 where it has one.
struct client_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;
  std::string path = "/socket.io/";
  /// Extra query parameters on every Engine.IO request, percent-encoded without the '?' ("token=x"),
  /// as socket.io-client's `query` option; the target URL's query (url.hpp).
  std::string query;
  strategy strat = strategy::upgrade;
  std::string nsp = "/";
  /// JSON object sent with CONNECT (the `auth` option); empty for none.
  std::string auth_json;
  /// https and wss instead of http and ws (the target URL's scheme).
  bool tls = false;
  /// TLS: verify the server's certificate chain and host name (socket.io-client's `rejectUnauthorized`,
  /// on by default). Off only by an explicit opt-out (`--insecure`).
  bool tls_verify = true;
  /// TLS: a PEM file of certificate authorities to trust; empty: the system's default store.
  std::string tls_ca_file;
  /// TLS: resume sessions, as browsers and Node do: the client keeps the sessions (TLS 1.3 tickets,
  /// TLS 1.2 sessions) its servers give it and offers one on each later connection (the second
  /// polling channel, the upgrade's WebSocket, a reconnection), which then costs an abbreviated
  /// handshake. Each client has its own sessions, never shared with another (docs/tls.md).
  bool tls_resume = true;
  /// Extra request headers sent with every polling request and with the WebSocket handshake
  /// (socket.io-client's `extraHeaders`), e.g. {"Authorization", "Bearer …"}.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Cookies sent from the first request on, as name and value.
  std::vector<std::pair<std::string, std::string>> cookies;
  /// Keep the cookies the server sets (`Set-Cookie`) and send them back on this client's later requests
  /// and reconnections, as a browser does (socket.io-client's `withCredentials`), so a load balancer's
  /// cookie-based stickiness works. Each client has its own jar.
  bool cookie_jar = true;
  /// The local IP address every connection is made from (empty: the system's choice). Clients on one
  /// machine look like many hosts to a load balancer that hashes source addresses (any 127.x.y.z).
  std::string local_address;
  /// From connect() to the namespace connected (socket.io-client `timeout`).
  std::chrono::milliseconds connect_timeout{20'000};
  /// A WebSocket's TCP connect and handshake together (the first transport of `websocket` and
  /// `fallback`, and the upgrade probe): past it the WebSocket counts as failed, so `fallback` falls
  /// back and an upgrade is abandoned while polling goes on. Capped at connect_timeout; kept below it
  /// so a fallback still has time to connect over polling (a proxy that swallows the handshake).
  std::chrono::milliseconds websocket_timeout{10'000};
  /// The race strategy: polling opens this long after the WebSocket (at once if the WebSocket fails
  /// first). Pusher staggers by 2 s; 0 opens both together.
  std::chrono::milliseconds race_stagger{250};
  /// The remember strategy: after a fallback, this many of the process's next sessions to the same
  /// target (scheme, host, port, path) start on polling, within remember_for of the fallback; then
  /// WebSocket is tried first again.
  int remember_sessions = 5;
  std::chrono::milliseconds remember_for{300'000};
  /// The time the remember strategy's memory reads when it records a fallback and when it checks that
  /// remember_for has not passed; empty: std::chrono::steady_clock::now. Lets a test move time on
  /// instead of waiting. The memory is the process's, so a replacement keeps steady_clock's epoch.
  std::function<std::chrono::steady_clock::time_point()> remember_clock;
  /// Largest frame or polling body accepted from the server.
  std::size_t max_payload_bytes = 16u << 20;
  /// Reconnection with exponential backoff and jitter (socket.io-client `reconnection*` options).
  bool reconnect = false;
  int reconnect_attempts = 0;  ///< 0: no limit.
  std::chrono::milliseconds reconnect_delay{1'000};
  std::chrono::milliseconds reconnect_delay_max{5'000};
  double randomization_factor = 0.5;
  std::uint64_t seed = 0;  ///< For the jitter; 0 picks one.
  /// Connection state recovery (socket.io-client 4.6+ against a server with connectionStateRecovery,
  /// docs/recovery.md): keep the private id the CONNECT answer gives and the offset that ends each
  /// broadcast event (removed before on_event sees the arguments), and send both with the CONNECT of a
  /// reconnection, so that the server can give back the same socket, its rooms and what was missed.
  bool recovery = false;
};

/// Point `options` at the server at `url` with `settings` (docs/targets.md): host, port, path (the
/// settings' over the URL's), query, TLS from the scheme, namespace, headers, cookies, auth, trust.
void apply_target(server_url const& url, target_settings const& settings, client_options& options);
/// The TLS context every client with `o`'s TLS settings (tls_verify, tls_ca_file) shares: one per
/// configuration in the process, made on first use. client::create calls it; call it first to check a
/// CA file at startup. Throws tls_config_error (tls.hpp) naming the file and OpenSSL's reason.
std::shared_ptr<boost::asio::ssl::context> client_tls_context(client_options const& o);

/// One Socket.IO client on one namespace.
class client : public std::enable_shared_from_this<client> {
 public:
  /// Called for each event from the server: the event name and the JSON text of its arguments
  /// (what follows the name in the packet's array, without the closing bracket; empty for none).
  using event_handler = std::function<void(std::string_view event, std::string_view args_json)>;
  /// Called with the ack's argument array as JSON text, or with an error when the session ended first.
  using ack_handler = std::function<void(error_code ec, std::string_view args_json)>;

  static std::shared_ptr<client> create(boost::asio::any_io_executor ex, client_options options);
  virtual ~client() = default;

  virtual void on_event(event_handler h) = 0;
  /// The namespace is connected (also after each reconnection: re-join rooms there).
  virtual void on_connect(std::function<void()> h) = 0;
  /// The session ended; `ec` says why. With reconnection on, an attempt follows unless the server
  /// disconnected the client or close() was called.
  virtual void on_disconnect(std::function<void(error_code ec)> h) = 0;
  virtual void on_transition(std::function<void(transition const&)> h) = 0;

  virtual void connect() = 0;

  /**
   * Emit `event` with arguments given as JSON text (`args_json` is what follows the event name inside
   * the array, e.g. `{"room":"r","msg":"hi"}`; empty for none). Packets emitted before the namespace
   * is connected, or during an upgrade, are buffered and sent in order.
   */
  virtual void emit(std::string_view event, std::string_view args_json, ack_handler ack = {}) = 0;

  /// Close the session (a close packet, then the sockets). No reconnection follows.
  virtual void close() = 0;

  virtual bool connected() const noexcept = 0;
  virtual std::optional<transport_kind> transport() const noexcept = 0;
  virtual wire_counters counters() const = 0;
  virtual std::vector<transition> const& transitions() const noexcept = 0;
  /// The error that ended the last session, if any.
  virtual error_code last_error() const noexcept = 0;
  /// The last error as users read it and results count it: last_error().message(), except that an
  /// HTTP error says its status and Engine.IO's reason (`HTTP 400: Session ID unknown`) and a refused
  /// namespace the server's message (`namespace refused: not authorized`). Empty before any error.
  virtual std::string const& last_error_name() const noexcept = 0;
  /// The socket id of the CONNECT answer (empty before the first).
  virtual std::string const& socket_id() const noexcept = 0;
  /// Whether the last namespace connection recovered the previous session (client_options::recovery).
  virtual bool recovered() const noexcept = 0;
};

}  // namespace fallbench::transport

template <>
struct boost::system::is_error_code_enum<fallbench::transport::client_error> : std::true_type {};
