#pragma once
// One WebSocket carrying an Engine.IO session: either from its start, or probing to upgrade a polling one.

#include "fallbench/transport/session.hpp"

#include "server_state.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <memory>
#include <optional>

namespace fallbench::transport::detail {

class session_impl;

/// Owns one WebSocket stream; kept alive by its pending operations. Writes one frame at a time,
/// pulling them from its session's queue, so a session has one bounded queue whatever its transport.
class websocket_connection : public std::enable_shared_from_this<websocket_connection> {
 public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;

  websocket_connection(std::shared_ptr<server_state> state, boost::beast::tcp_stream&& stream);

  /// Accept the upgrade in `req`. `existing` is the polling session to upgrade, or null to open a new
  /// WebSocket-only session for `handler`. Call on the stream's strand.
  void run(request req, std::shared_ptr<session_impl> existing, session_handler& handler);

  /// The session has queued frames. Thread-safe.
  void notify();

  /// Close the WebSocket after the frame being written, if any. Thread-safe, idempotent.
  void shutdown();

 private:
  void on_accept(boost::system::error_code ec);
  void start_new_session();
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t bytes);
  void on_probe_packet(codec::eio::packet&& p);
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  void do_close();
  void end(close_reason why);

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<server_state> const state_;
  std::shared_ptr<session_impl> session_;
  session_handler* handler_ = nullptr;
  request req_;
  boost::asio::steady_timer upgrade_timer_;
  std::optional<frame> direct_;  ///< A frame written outside the session queue (the probe's pong).
  frame current_;
  bool current_is_close_ = false;
  bool probing_ = false;
  bool writing_ = false;
  bool closing_ = false;  ///< shutdown() was called: close once no write is in flight.
  bool closed_ = false;   ///< async_close started.
};

}  // namespace fallbench::transport::detail
