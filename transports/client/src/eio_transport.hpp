#pragma once
// The client side of one Engine.IO transport, behind one interface (the h2load `Session` shape).

#include "fallbench/codec/engineio.hpp"
#include "fallbench/transport/client.hpp"
#include "fallbench/transport/cookie_jar.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/fields.hpp>

#include <functional>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fallbench::transport::detail {

class eio_transport;

/// Who a transport reports to (the client). Calls come on the client's executor.
class transport_owner {
 public:
  virtual ~transport_owner() = default;
  /// A new session's open packet arrived.
  virtual void on_transport_open(eio_transport* t, codec::eio::handshake&& h) = 0;
  /// A WebSocket joined an existing session (probe mode) and is ready for `2probe`.
  virtual void on_transport_ready(eio_transport* t) = 0;
  virtual void on_transport_packet(eio_transport* t, codec::eio::packet&& p) = 0;
  /// The transport failed or ended; it sends nothing more.
  virtual void on_transport_error(eio_transport* t, error_code ec, std::string detail) = 0;
};

/// What a client adds to every HTTP request of its transports (polling requests and the WebSocket
/// handshake): the user's headers and cookies, and the cookies its jar kept from earlier responses.
/// One per client, shared by its transports (so a cookie set on the handshake goes with the upgrade).
struct request_extras {
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> cookies;
  bool use_jar = true;
  bool tls = false;
  cookie_jar jar;

  /// Add the headers and the Cookie header for a request to `path`.
  void decorate(boost::beast::http::fields& request, std::string_view path) const;
  /// Keep the cookies a response to a request for `path` sets (when the jar is on).
  void absorb(boost::beast::http::fields const& response, std::string_view path);
};

/// How an HTTP error reads in results and messages: `HTTP 400: Session ID unknown` when the body is
/// Engine.IO's JSON error ({"code":1,"message":"Session ID unknown"}), else `HTTP 403`.
std::string http_error_text(unsigned status, std::string_view body);

/// One client's TLS sessions (client_options::tls_resume), for resuming on its later connections.
/// The process shares one context per configuration (client_tls_context) among every client, so the
/// context's own session cache is off and its new-session callback hands each session to the cache of
/// the client whose connection received it (found through the connection's ex_data): one simulated
/// browser never resumes another's session. TLS 1.3 sessions are used once, as browsers do (RFC 8446
/// appendix C.4: a reused ticket links connections); TLS 1.2 sessions until replaced. Thread-safe.
class tls_session_cache {
 public:
  /// Offer a kept session to `ssl` before its handshake, and have `ssl`'s new sessions (which over
  /// TLS 1.3 arrive as tickets after the handshake, while reading) come to this cache, which must
  /// outlive `ssl`.
  void attach(SSL* ssl);
  /// Keep `session` (a reference of our own) if it can be resumed; the newest are kept.
  void store(SSL_SESSION* session);
  std::size_t size() const;

 private:
  struct session_free {
    void operator()(SSL_SESSION* s) const noexcept;
  };
  using session_ptr = std::unique_ptr<SSL_SESSION, session_free>;
  /// A few, as tickets come two at a time from OpenSSL servers and a client opens a few connections
  /// at once (its polling channels, the upgrade's probe).
  static constexpr std::size_t max_sessions = 4;
  mutable std::mutex mutex_;
  std::deque<session_ptr> sessions_;  ///< oldest first
};

/// Where to connect and what to ask.
struct endpoint_info {
  boost::asio::ip::tcp::resolver::results_type endpoints;
  std::string host_header;  ///< host:port
  std::string path;         ///< the Engine.IO path, e.g. /socket.io/
  std::string query;        ///< extra query parameters for every request ("a=1&b=2"), or empty
  std::shared_ptr<request_extras> extras;  ///< never null once the client made it
  std::size_t max_payload_bytes = 0;
  std::chrono::milliseconds connect_timeout{20'000};
  std::chrono::milliseconds websocket_timeout{10'000};  ///< client_options::websocket_timeout
  std::optional<boost::asio::ip::address> local_address;  ///< client_options::local_address
  /// https/wss: the shared context (client_tls_context); null for http/ws.
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::string tls_host;  ///< The name SNI sends and the certificate must match (client_options::host).
  bool tls_verify = true;
  /// The client's TLS sessions; null when resumption is off (client_options::tls_resume) or without TLS.
  std::shared_ptr<tls_session_cache> tls_sessions;
};

/// A client connection over TLS (Beast's ssl_stream: its flat_stream packs a gather write into one record).
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// A new TLS stream for `where`, with SNI (for a name, not an address: RFC 6066 section 3) and, when
/// verifying, the certificate's host-name check (RFC 6125: subjectAltName DNS or IP) set.
std::unique_ptr<tls_stream> make_tls_stream(boost::asio::any_io_executor ex, endpoint_info const& where);

/// Count a completed TLS handshake of `s` in `c`, and whether it resumed a session.
void count_tls_handshake(tls_stream& s, wire_counters& c) noexcept;

/// OpenSSL's reason for a failed TLS handshake, with X.509's when verification failed:
/// "certificate verify failed (unable to get local issuer certificate)". The client reports it after
/// client_error::tls_handshake_failed's message.
std::string tls_failure(tls_stream& s, error_code ec);

/// Connect `stream` (a beast::tcp_stream) to `where`: to any resolved endpoint, or, bound to
/// where.local_address, to the first of its family. `handler(error_code, tcp::endpoint)`.
template <class Stream, class Handler>
void connect_stream(Stream& stream, endpoint_info const& where, Handler handler) {
  if (!where.local_address) {
    stream.async_connect(where.endpoints, std::move(handler));
    return;
  }
  namespace net = boost::asio;
  using tcp = net::ip::tcp;
  tcp::endpoint to;
  bool found = false;
  for (auto const& e : where.endpoints) {
    if (e.endpoint().address().is_v4() == where.local_address->is_v4()) {
      to = e.endpoint();
      found = true;
      break;
    }
  }
  error_code ec = found ? error_code{} : make_error_code(net::error::address_family_not_supported);
  auto& socket = stream.socket();
  if (!ec) {
    error_code ignored;
    socket.close(ignored);
    socket.open(to.protocol(), ec);
  }
  if (!ec) socket.bind(tcp::endpoint(*where.local_address, 0), ec);
  if (ec) {
    net::post(stream.get_executor(), [handler = std::move(handler), ec, to]() mutable { handler(ec, to); });
    return;
  }
  stream.async_connect(to, [handler = std::move(handler), to](error_code e) mutable { handler(e, to); });
}

/// One transport of one client session. Owned by the client; its pending operations hold it alive.
class eio_transport {
 public:
  virtual ~eio_transport() = default;
  virtual transport_kind kind() const noexcept = 0;
  /// Open a new session (empty sid) or join `sid` to upgrade it (WebSocket only).
  virtual void open(std::string const& sid) = 0;
  /// Send packets, each encoded as a WebSocket frame would be (type digit then data).
  virtual void send(std::vector<std::string> frames) = 0;
  /// Send one packet, encoded as for send(); the transport copies what it needs before returning (the
  /// WebSocket frames it into its pending write, so an emit allocates nothing there).
  virtual void send_one(std::string_view frame) = 0;
  /// Stop starting requests; `done` runs once nothing is in flight (polling, before an upgrade).
  virtual void pause(std::function<void()> done) = 0;
  /// Undo pause() (the upgrade failed after all).
  virtual void resume() = 0;
  /// Requests must finish within this once the heartbeat is known (pingInterval + pingTimeout).
  virtual void set_request_timeout(std::chrono::milliseconds t) = 0;
  /// Stop at once: sockets closed, no more callbacks.
  virtual void close() = 0;
  /// Send what is queued (e.g. a close packet), then close; no more callbacks.
  virtual void shutdown() = 0;
  virtual wire_counters counters() const noexcept = 0;
};

std::shared_ptr<eio_transport> make_polling_transport(boost::asio::any_io_executor ex, endpoint_info const& where,
                                                      std::weak_ptr<transport_owner> owner);
std::shared_ptr<eio_transport> make_websocket_transport(boost::asio::any_io_executor ex, endpoint_info const& where,
                                                        std::weak_ptr<transport_owner> owner);

/// Add the TCP payload bytes (over TLS: the TLS records, handshake included) the kernel counted on socket `fd` (TCP_INFO) to `sent` and `received`.
/// Call before closing the socket.
void read_tcp_bytes(int fd, std::uint64_t& sent, std::uint64_t& received) noexcept;

}  // namespace fallbench::transport::detail
