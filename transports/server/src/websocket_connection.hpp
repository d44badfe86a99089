#pragma once
// One WebSocket carrying an Engine.IO session: either from its start, or probing to upgrade a polling one.

#include "fallbench/transport/session.hpp"

#include "op_slot.hpp"
#include "server_state.hpp"
#include "tls_stream.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fallbench::transport::detail {

class session_impl;

/**
 * Owns one WebSocket; kept alive by its pending operations, all on the socket's strand.
 *
 * Beast answers the opening handshake; after it the connection frames by itself (RFC 6455), because
 * the server's frames are unmasked and so the same bytes for every receiver: a broadcast arrives here
 * already framed (transport::frame::websocket_bytes), and everything the session has queued leaves in
 * one gather write, one syscall for many frames. Reads wait for readability and then read into a
 * per-thread buffer, so an idle connection holds no read buffer; only a frame split across reads is
 * kept, in a buffer of its own size. Control frames (pong, close) go out in the next write, ahead of
 * the session's frames.
 *
 * Over TLS (wss) the framing is the same; reads are TLS reads into a buffer of the connection's own
 * (OpenSSL may hold bytes already taken off the socket, so readability cannot be waited for), and
 * the gather write goes through the TLS stream, which packs it into records of up to 16 KiB.
 */
class websocket_connection : public std::enable_shared_from_this<websocket_connection> {
 public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;

  /// `peer`: the client's address, as text.
  websocket_connection(std::shared_ptr<server_state> state, boost::asio::ip::tcp::socket&& socket, std::string peer);
  /// Over TLS, after the TLS handshake.
  websocket_connection(std::shared_ptr<server_state> state, tls_stream_ptr tls, std::string peer);

  /// Hold the connection's place under limits::max_connections (from the HTTP connection it was).
  void adopt(std::unique_ptr<connection_slot> slot) { slot_ = std::move(slot); }

  /// Accept the upgrade in `req`. `existing` is the polling session to upgrade, or null to open a new
  /// WebSocket-only session for `handler`. `early`: bytes the client sent after the request without
  /// waiting for the answer (its first frames), read along with the request. Call on the stream's strand.
  void run(request req, std::shared_ptr<session_impl> existing, session_handler& handler, std::string early);

  /// The session has queued frames. Thread-safe.
  void notify();

  /// Close the WebSocket after the frames being written, if any. Thread-safe, idempotent.
  void shutdown();

 private:
  /// How one read of a frame went.
  enum class frame_status { done, need_more, failed };

  void on_accept(boost::system::error_code ec);
  void start_new_session(std::string peer);
  void do_read();
  void on_readable(boost::system::error_code ec);
  void on_tls_read(boost::system::error_code ec, std::size_t n);
  /// The TCP socket: socket_ once Beast released it, or the one inside the TLS stream.
  boost::asio::ip::tcp::socket& sock() noexcept { return tls_ ? tls_->next_layer().socket() : socket_; }
  /// Take `size` bytes just read (after what a split frame left over) and handle the frames they
  /// complete, corking the session meanwhile. False when the connection ended meanwhile.
  bool absorb(char* data, std::size_t size);
  /// Parse and handle the complete frames in [data, data + size); `used` is how many bytes they took.
  /// False when the connection ended meanwhile.
  bool consume(char* data, std::size_t size, std::size_t& used);
  frame_status handle_frame(unsigned opcode, bool fin, char* payload, std::size_t size);
  bool deliver(std::string_view message, bool binary);
  void on_probe_packet(codec::eio::packet&& p);
  void queue_control(unsigned opcode, std::string_view payload);
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);
  /// Stop taking frames from the session and send the close frame (with `close_code_`) next.
  void do_close();
  /// A protocol violation: close with `code` (RFC 6455 7.4.1) and end the session for `why`.
  void fail(std::uint16_t code, close_reason why);
  void end(close_reason why);
  void close_socket();
  /// timer_, made on first use.
  boost::asio::steady_timer& timer();

  // Beast's streams exist only for the opening handshake (held apart, so an established connection
  // does not keep their room).
  std::unique_ptr<boost::beast::websocket::stream<boost::beast::tcp_stream>> handshake_;
  boost::asio::ip::tcp::socket socket_;  ///< Plain: the socket after the handshake. TLS: unused, closed.
  tls_stream_ptr tls_;                   ///< TLS: the stream, for the handshake and after it.
  std::unique_ptr<boost::beast::websocket::stream<tls_stream&>> tls_handshake_;
  std::vector<char> tls_in_;             ///< TLS: what one read decrypted.
  std::shared_ptr<server_state> const state_;
  std::unique_ptr<connection_slot> slot_;
  std::shared_ptr<session_impl> session_;
  session_handler* handler_ = nullptr;
  /// What only the opening handshake needs: the upgrade request, held until Beast has answered it,
  /// and the peer's address, for the session it opens.
  struct opening {
    request req;
    std::string peer;
  };
  std::unique_ptr<opening> opening_;
  /// The upgrade deadline while probing, then the close deadline; made when first needed, so an
  /// established idle connection holds no timer.
  std::unique_ptr<boost::asio::steady_timer> timer_;
  /// The wait for readability an idle connection holds (op_slot.hpp).
  wait_slot read_wait_;

  /// Buffers most connections never need, made on first use and then kept (an idle connection that
  /// never had a split frame, a fragmented message or a control frame holds none of them).
  struct rare_buffers {
    std::string partial;           ///< The start of a frame split across reads.
    std::string message;           ///< A fragmented message being assembled.
    std::string control;           ///< Control frames to write next.
    std::string control_inflight;  ///< Control frames being written.
  };
  std::unique_ptr<rare_buffers> rare_;
  rare_buffers& rare();
  bool in_message_ = false;
  bool message_binary_ = false;

  std::vector<frame> batch_;  ///< The session's frames being written.
  std::vector<boost::asio::const_buffer> iov_;
  std::uint16_t close_code_ = 1000;

  bool batch_is_close_ = false;  ///< The batch ends with the Engine.IO close packet.
  bool probing_ = false;
  bool writing_ = false;
  bool closing_ = false;      ///< No more session frames: the close frame goes next.
  bool close_queued_ = false; ///< The close frame is queued in the control buffer or being written.
  bool close_in_control_ = false;  ///< The close frame is queued in the control buffer.
  bool writing_close_ = false;     ///< The close frame is in the write in flight.
  bool close_sent_ = false;   ///< The close frame is written.
  bool peer_closed_ = false;  ///< The peer sent its close frame, or its end of stream.
  bool reading_ = false;
  bool failed_ = false;       ///< The peer broke the protocol: drop the connection once the close frame is out.
};

}  // namespace fallbench::transport::detail
