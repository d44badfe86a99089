#pragma once
/// Socket.IO v5 over Engine.IO sessions: namespaces, CONNECT/DISCONNECT, events, acks, binary
/// attachments. The application sees clients and events; rooms and chat live above this layer.

#include "fallbench/codec/socketio.hpp"
#include "fallbench/transport/engine_server.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::chat {

using json = nlohmann::json;

/// One Engine.IO session speaking Socket.IO. Thread-safe: emits may come from any thread.
class client {
 public:
  explicit client(transport::session_ptr s) : session_(std::move(s)) {}

  std::string const& id() const noexcept { return session_->id(); }
  transport::transport_kind transport() const noexcept { return session_->transport(); }
  transport::session_ptr const& session() const noexcept { return session_; }

  /// Emit `event` with `args` (a JSON array of arguments) in namespace `nsp`; with binary
  /// `attachments`, `args` holds their placeholders and a BINARY_EVENT goes out.
  transport::send_result emit(std::string_view nsp, std::string_view event, json const& args,
                              std::vector<std::string> const& attachments = {});
  /// Send an already encoded packet (encode once, send to many).
  transport::send_result send(transport::frame const& f) { return session_->send(f); }
  transport::send_result send(std::span<transport::frame const> frames) { return session_->send(frames); }
  /// Answer the ack `id` with `args` (a JSON array), and binary `attachments` if any.
  transport::send_result ack(std::string_view nsp, std::uint64_t id, json const& args,
                             std::vector<std::string> const& attachments = {});
  /// The CONNECT answer `{"sid": <sid>}` (and `"pid"` when given) for `nsp`, as a frame.
  static transport::frame connect_reply(std::string_view nsp, std::string_view sid, std::string_view pid = {});
  /// Send DISCONNECT for `nsp` then close the session once queued packets are out.
  void disconnect(std::string_view nsp = "/");

  /// Data of the application, attached in on_connect. Touched only from this client's callbacks.
  std::shared_ptr<void> app_data;

 private:
  transport::session_ptr session_;
};

/// A new Socket.IO socket id: from the CSPRNG, and never the Engine.IO session id.
std::string new_socket_id();

/// The encoded Socket.IO EVENT `["event", ...args]` in `nsp`, as an Engine.IO frame to share.
transport::frame encode_event(std::string_view nsp, std::string_view event, json const& args);

/// What the Socket.IO layer tells the application. Calls for one client never overlap.
class sio_handler {
 public:
  virtual ~sio_handler() = default;
  /// Whether `nsp` exists; CONNECT to any other gets CONNECT_ERROR "Invalid namespace".
  virtual bool has_namespace(std::string_view nsp) const = 0;
  virtual void on_connect(client& c, std::string_view nsp, json const& auth) = 0;
  /// Whether on_connect sends the CONNECT answer itself (client::connect_reply, with the socket id it
  /// chooses: connection state recovery gives a recovered client its old one). Otherwise the server
  /// sends `{"sid": <new id>}` before on_connect.
  virtual bool answers_connect(std::string_view /*nsp*/) const { return false; }
  /// What on_raw_event did with an event.
  enum class raw_result : std::uint8_t {
    unhandled,  ///< Not this handler's: decode it into a JSON DOM and call on_event.
    handled,    ///< Done.
    malformed,  ///< The arguments are not JSON: the session is closed, as for any unparsable packet.
  };
  /**
   * A text EVENT in a connected namespace, before any JSON is parsed: the fast path of events the
   * handler can read without a DOM (and forward byte for byte). `event` is the decoded name, `args`
   * the raw JSON text of the arguments after it (codec::sio::split_event: delimited, not validated;
   * the handler validates what it reads). Views valid for the call only. Binary events and events
   * in namespaces the client has not connected never come here.
   */
  virtual raw_result on_raw_event(client&, std::string_view /*nsp*/, std::string_view /*event*/,
                                  std::string_view /*args*/, std::optional<std::uint64_t> /*ack*/) {
    return raw_result::unhandled;
  }
  /// An EVENT: `args` is the array after the event name. `ack` is set when the client asked for one.
  virtual void on_event(client& c, std::string_view nsp, std::string const& event, json&& args,
                        std::optional<std::uint64_t> ack, std::vector<std::string>&& attachments) = 0;
  /// The client left `nsp` (DISCONNECT packet, or the session ended).
  virtual void on_disconnect(client& c, std::string_view nsp) = 0;
  /// The session ended for `why` while connected to `nsp` (no DISCONNECT packet came first). By
  /// default the same as on_disconnect.
  virtual void on_session_end(client& c, std::string_view nsp, transport::close_reason /*why*/) {
    on_disconnect(c, nsp);
  }
};

/// Counters of the Socket.IO layer.
struct sio_stats {
  std::uint64_t connects = 0;
  std::uint64_t connect_errors = 0;
  std::uint64_t events = 0;
  std::uint64_t parse_errors = 0;
  std::uint64_t truncated_namespaces = 0;  ///< CONNECT_ERRORs whose echoed namespace was cut (echoed_namespace).
};

/// Bytes of an unknown namespace a CONNECT_ERROR echoes. A client may name a namespace as long as the
/// largest payload (maxHttpBufferSize, 1 MB), and the reference echoes it whole, so 900 KB in made
/// 900 KB out. 100 bytes hold any namespace an application declares (the official suite's is
/// "/random") and keep the answer small; the packet keeps its shape,
/// `44<nsp>,{"message":"Invalid namespace"}` (docs/hardening.md).
inline constexpr std::size_t max_echoed_namespace_bytes = 100;

/// The namespace as a CONNECT_ERROR echoes it: whole up to max_echoed_namespace_bytes, else its first
/// bytes (cut on a UTF-8 character boundary) followed by "...".
std::string echoed_namespace(std::string_view nsp);

/// Adapts Engine.IO sessions to Socket.IO for one sio_handler.
class sio_server final : public transport::session_handler {
 public:
  /// @param connect_timeout  a session that has not connected to a namespace by then is closed
  ///                         (reference: connectTimeout, 45 s).
  sio_server(boost::asio::io_context& ioc, sio_handler& handler,
             std::chrono::milliseconds connect_timeout = std::chrono::seconds{45});

  void on_open(transport::session_ptr const& s) override;
  void on_message(transport::session_ptr const& s, codec::eio::packet&& p) override;
  void on_close(transport::session_ptr const& s, transport::close_reason why) override;

  sio_stats stats() const;

 private:
  struct state;
  /// The raw-payload path: true when the handler took the EVENT `text` without a DOM.
  bool on_raw_event(transport::session_ptr const& s, state& st, std::string_view text);
  void on_packet(transport::session_ptr const& s, state& st, codec::sio::packet&& p,
                 std::vector<std::string>&& attachments);

  boost::asio::io_context& ioc_;
  sio_handler& handler_;
  std::chrono::milliseconds connect_timeout_;
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> connect_errors_{0};
  std::atomic<std::uint64_t> events_{0};
  std::atomic<std::uint64_t> parse_errors_{0};
  std::atomic<std::uint64_t> truncated_namespaces_{0};
};

}  // namespace fallbench::chat
