#pragma once
/// One Engine.IO session as the application sees it: an id, a transport, a way to send and to close.

#include "fallbench/codec/engineio.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace fallbench::transport {

/// The transport a session currently uses.
enum class transport_kind : std::uint8_t { polling, websocket };

constexpr std::string_view to_string(transport_kind k) noexcept {
  return k == transport_kind::polling ? "polling" : "websocket";
}

/// Why a session ended.
enum class close_reason : std::uint8_t {
  client_close,     ///< The client sent a close packet.
  transport_close,  ///< The connection ended without a close packet (WebSocket closed, TCP reset).
  transport_error,  ///< A read or write failed.
  ping_timeout,     ///< No pong within pingTimeout.
  parse_error,      ///< The client sent a malformed packet or payload.
  duplicate_poll,   ///< Two GET (or two POST) requests at once (Engine.IO README, "HTTP long-polling").
  overflow,         ///< The outbound queue passed limits::max_queued_bytes under overflow_policy::close.
  payload_too_large,  ///< A body or frame over maxPayload.
  server_close,     ///< The application or a shutdown closed it.
  no_first_poll,    ///< A polling session sent no GET within limits::first_poll_timeout of its handshake.
  stopped_polling,  ///< A polling session had no GET outstanding for limits::poll_gap_timeout.
};

std::string_view to_string(close_reason r) noexcept;

/// What happened to a packet handed to session::send.
enum class send_result : std::uint8_t { queued, dropped, closed };

/// An outbound Engine.IO packet, encoded once and shared by every session it goes to. One buffer holds
/// the packet (type digit then data; raw bytes when binary) and, in the headroom before it, the header
/// of the unmasked WebSocket frame that carries it: a WebSocket writes `websocket_bytes()` as they
/// are, polling wraps `packet()` into a payload. A broadcast is framed once for every receiver.
struct frame {
  /// Bytes reserved before the packet for the longest WebSocket header (2 + 8 length bytes).
  static constexpr std::size_t headroom = 10;

  std::shared_ptr<std::string const> storage;  ///< [head, headroom): the header; [headroom, end): the packet
  std::uint8_t head = headroom;
  bool binary = false;

  /// The Engine.IO packet.
  std::string_view packet() const noexcept { return std::string_view(*storage).substr(headroom); }
  /// The whole WebSocket frame (FIN, text or binary opcode, no mask): header then packet.
  std::string_view websocket_bytes() const noexcept { return std::string_view(*storage).substr(head); }
  /// The packet's size in bytes.
  std::size_t size() const noexcept { return storage->size() - headroom; }

  /// A text message packet: `4` followed by `text` (e.g. an encoded Socket.IO packet).
  static frame message(std::string_view text);
  /// A binary message packet.
  static frame binary_message(std::string_view bytes);
  /// Any packet.
  static frame of(codec::eio::packet const& p);
};

/// One Engine.IO session. Owned by the server's session table while it is open; the application keeps
/// weak references. All member functions are thread-safe.
class session {
 public:
  virtual ~session() = default;

  /// The session id (`sid`), unique for the server's lifetime.
  virtual std::string const& id() const noexcept = 0;

  /// The transport in use now; changes from polling to websocket when an upgrade completes.
  virtual transport_kind transport() const noexcept = 0;

  /**
   * Queue packets for the client, in order and contiguously (a binary Socket.IO event and its
   * attachments must not interleave with other packets). Never blocks.
   * @return queued, or dropped/closed when the outbound queue is over its bound (limits::on_overflow)
   *         or the session has ended.
   */
  virtual send_result send(std::span<frame const> frames) = 0;
  send_result send(frame const& f) { return send(std::span<frame const>{&f, 1}); }

  /// Close the session after the packets already queued, with a close packet (server_close).
  virtual void close() = 0;

  /// Whether the session has ended.
  virtual bool closed() const noexcept = 0;

  /// Application data attached in session_handler::on_open, before any message is delivered.
  std::shared_ptr<void> user_data;
};

using session_ptr = std::shared_ptr<session>;

}  // namespace fallbench::transport
