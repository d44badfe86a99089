#pragma once
// One HTTP/1.1 connection: Engine.IO polling requests, WebSocket upgrades handed off, other requests
// answered by the fallback.

#include "deadline_queue.hpp"
#include "op_slot.hpp"
#include "session_impl.hpp"
#include "tls_stream.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fallbench::transport::detail {

/// Reads requests one at a time and answers them in order; kept alive by its pending operation.
/// A parked poll holds it (as the session's poll_sink) until packets arrive.
class http_connection : public poll_sink,
                        public deadline_queue::entry,
                        public std::enable_shared_from_this<http_connection> {
 public:
  http_connection(std::shared_ptr<server_state> state, boost::asio::ip::tcp::socket&& socket);
  /// Over TLS: run() does the server's TLS handshake first.
  http_connection(std::shared_ptr<server_state> state, tls_stream_ptr tls);
  ~http_connection() override;
  http_connection(http_connection const&) = delete;
  http_connection& operator=(http_connection const&) = delete;

  /// Hold the connection's place under limits::max_connections; handed on to a WebSocket.
  void adopt(std::unique_ptr<connection_slot> slot) { slot_ = std::move(slot); }

  /// Start reading. Call once, from any thread.
  void run();

  /// Answer the parked poll. Thread-safe.
  void complete_poll(std::string body) override;

 private:
  using request = boost::beast::http::request<boost::beast::http::string_body>;
  using response = boost::beast::http::response<boost::beast::http::string_body>;

  void on_tls_handshake(boost::system::error_code ec);
  /// The TCP socket under the connection (inside the TLS stream over TLS).
  boost::asio::ip::tcp::socket& sock() noexcept { return tls_ ? tls_->next_layer().socket() : socket_; }
  /// Close the socket `after` from now unless disarm() or another arm() comes first: the deadline of
  /// a request being read, a response being written, or a keep-alive connection's wait for the next.
  void arm(std::chrono::steady_clock::duration after);
  std::shared_ptr<void> hold() noexcept override { return weak_from_this().lock(); }
  void on_deadline() override;
  /// No deadline: the connection ends, parks a poll, or hands its socket on.
  void disarm() noexcept;
  /// Wait for the next request (readability, then start_read), within the HTTP deadline.
  void do_read();
  /// Read one request.
  void start_read();
  /// The head is in: reserve the body's bytes (limits::max_body_bytes_in_flight), then read it.
  void on_header(boost::system::error_code ec, std::size_t bytes);
  void on_read(boost::system::error_code ec, std::size_t bytes);
  void release_body() noexcept;
  void handle(request& req);
  void handle_engine(request& req, std::string_view query, session_handler& handler);
  void handle_poll(request& req, std::shared_ptr<session_impl> const& s);
  void handle_post(request& req, std::shared_ptr<session_impl> const& s);
  void handshake(request& req, session_handler& handler);
  void watch_parked();
  void send_error(request const& req, unsigned status, int code, std::string_view message, bool close = false);
  void send(request const& req, response&& res,
            std::vector<std::pair<std::string, std::string>> const& headers = {});
  void on_write(boost::system::error_code ec, std::size_t bytes);
  void set_cors(request const& req, response& res) const;
  /// The origin policy (docs/hardening.md): no Origin, an allowed one, or the request's own host.
  bool origin_allowed(request const& req) const;

  std::shared_ptr<server_state> const state_;
  std::unique_ptr<connection_slot> slot_;
  std::string peer_;  ///< The client's address, as text.
  // Plain connections use socket_; TLS ones tls_ (socket_ then stays closed). A small variant rather
  // than a template on the stream: only the read, the write and the hand-off to the WebSocket differ,
  // so one branch per I/O call keeps a single compiled connection (docs/tls.md). A bare socket, not
  // Beast's tcp_stream: that one keeps its socket and three timers in a block of its own (about 500
  // bytes a connection, two connections an idle polling session), where one deadline does here.
  boost::asio::ip::tcp::socket socket_;
  tls_stream_ptr tls_;
  /// Every deadline of the connection (arm()), in the server's deadline_queue: a time and a place
  /// in its heap, not a timer and a pending wait of its own (about 380 bytes).
  std::chrono::steady_clock::time_point deadline_at_{};
  bool armed_ = false;  ///< A deadline applies.
  // The operation an idle keep-alive connection or a parked poll holds (op_slot.hpp): the wait for
  // readability (between requests, or watching the parked poll's client).
  wait_slot read_wait_;
  boost::beast::flat_buffer buffer_;
  // The parser and the response live on the heap, only while a request is read and handled or a
  // response written: an idle keep-alive connection or a parked poll holds neither.
  std::unique_ptr<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::unique_ptr<response> res_;
  std::shared_ptr<session_impl> parked_on_;  ///< The session whose poll this connection is holding.
  /// What the parked request's answer needs of it: its CORS origin, version and keep-alive (the
  /// request itself, a header block on the heap, goes).
  struct parked_request {
    std::string origin;
    unsigned version = 11;
    bool keep_alive = true;
  } parked_;
  std::shared_ptr<session_impl> polled_;     ///< The session whose poll response is being written.
  bool close_after_write_ = false;
  std::size_t body_reserved_ = 0;  ///< Bytes of the current request's body reserved in server_state.
};

}  // namespace fallbench::transport::detail
