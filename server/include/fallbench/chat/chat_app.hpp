#pragma once
/// The chat protocol of docs/design.md section 3: join, chat (with ack) and leave in rooms, plus the
/// seed page's older form (string names, chat without room, broadcast to everyone).

#include "fallbench/chat/recovery.hpp"
#include "fallbench/chat/rooms.hpp"
#include "fallbench/chatproto/chat.hpp"
#include "fallbench/chat/sio_server.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace fallbench::chat {

/// Counters of the chat application.
struct chat_stats {
  std::uint64_t joins = 0;
  std::uint64_t leaves = 0;
  std::uint64_t chats = 0;
  std::uint64_t deliveries = 0;      ///< Chat, join and leave events queued to receivers.
  std::uint64_t invalid_events = 0;  ///< Malformed join/chat/leave and unknown events.
  std::uint64_t rejected_chats = 0;  ///< Chats answered {ok:false}.
  std::uint64_t rooms = 0;
  std::uint64_t refused_joins = 0;   ///< Joins refused because the client is in max_rooms_per_client rooms.
};

/// Rooms one client may be in at once (`serve --max-rooms-per-client`). Each membership costs the
/// client's set entry and a place in the room's member list (with names and rooms up to 256 bytes,
/// about 0.5 KB), so 1000 bound one client at about 0.5 MB; no chat UI comes near it (Discord caps a
/// user at 100 servers, 200 with Nitro; the harness joins one room per client). docs/hardening.md.
inline constexpr std::size_t default_max_rooms_per_client = 1000;

/// Counters of the cluster relay (docs/cluster.md): what this node heard from the others.
struct relay_stats {
  std::uint64_t relayed_in = 0;          ///< Messages of other nodes delivered to local members.
  std::uint64_t relayed_deliveries = 0;  ///< Events queued to local members from those messages.
  std::uint64_t own_skipped = 0;         ///< Our own messages coming back from the channel.
  std::uint64_t malformed = 0;           ///< Messages on the channel that are not relay messages.
};

/// Names and room names longer than this are invalid input (the protocol module's bound).
using chatproto::max_name_bytes;

/// The chat application on namespace `/`. Thread-safe.
/// join, chat and leave are read by the protocol module's DOM-free decoder on the raw-payload path
/// and relayed as their original text, byte for byte; nothing is encoded before it is checked.
class chat_app final : public sio_handler {
 public:
  bool has_namespace(std::string_view nsp) const override { return nsp == "/"; }
  void on_connect(client& c, std::string_view nsp, json const& auth) override;
  raw_result on_raw_event(client& c, std::string_view nsp, std::string_view event, std::string_view args,
                          std::optional<std::uint64_t> ack) override;
  /// The DOM path: unknown events, and join/chat/leave sent as BINARY_EVENT (their arguments are
  /// written back to text and take the same path as on_raw_event).
  void on_event(client& c, std::string_view nsp, std::string const& event, json&& args,
                std::optional<std::uint64_t> ack, std::vector<std::string>&& attachments) override;
  void on_disconnect(client& c, std::string_view nsp) override;
  bool answers_connect(std::string_view) const override { return recovery_ != nullptr; }
  void on_session_end(client& c, std::string_view nsp, transport::close_reason why) override;

  chat_stats stats() const;

  /// Connection state recovery (docs/recovery.md): every broadcast carries its offset as a last
  /// argument and is kept, the CONNECT answer carries a private id, and a session lost abnormally can
  /// be recovered within `o.window`. Call before the server starts; a window of 0 leaves it off. Not
  /// with set_relay (the offsets are this server's own).
  void enable_recovery(recovery_options o);
  bool recovery_enabled() const noexcept { return recovery_ != nullptr; }
  /// The recovery store's counters; nullopt when recovery is off.
  std::optional<recovery_stats> recovery_counters() const;

  /// A join beyond `n` rooms is refused with a negative ack ("too many rooms"). Call before the
  /// server starts.
  void set_max_rooms_per_client(std::size_t n) { max_rooms_per_client_ = n; }

  /// Join a cluster as `node_id`: every broadcast is also handed, as one relay message
  /// (cluster.hpp), to `publish`. Call before the server starts.
  void set_relay(std::string node_id, std::function<void(std::string_view message)> publish);
  /// A message from the cluster's channel: delivered to local members as its original packet bytes,
  /// unless this node sent it; with recovery on, with this node's offset appended and kept like a
  /// local broadcast (docs/recovery.md, "In a cluster"). Thread-safe.
  void deliver_relayed(std::string_view message);
  relay_stats relay_counters() const;

 private:
  /// Encode `kind`'s event once, queue it to the local members of `room` (of everyone when `all`),
  /// and publish it to the cluster. @return local deliveries.
  std::size_t broadcast(bool all, std::string_view room, chatproto::event_kind kind, std::string_view payload);
  /// broadcast() with recovery on: published to the cluster without an offset (offsets are each
  /// node's own), then deliver_kept().
  std::size_t broadcast_kept(bool all, std::string_view room, chatproto::event_kind kind, std::string_view payload);
  /// The EVENT packet `text` (`2[...]`, rewritten in place) with this node's next offset appended,
  /// kept and queued to the local members, all under the store's lock. @return local deliveries.
  std::size_t deliver_kept(bool all, std::string_view room, std::string& text);

  void on_message(client& c, chatproto::message const& m, std::optional<std::uint64_t> ack);
  /// Join and leave return null when done, or why the event was ignored (the negative ack's error).
  char const* on_join(client& c, chatproto::message const& m);
  void on_chat(client& c, chatproto::message const& m, std::optional<std::uint64_t> ack);
  char const* on_leave(client& c, chatproto::message const& m);
  void reject(client& c, std::optional<std::uint64_t> ack, std::string_view why);
  void answer(client& c, std::optional<std::uint64_t> ack, char const* error);
  void count(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) { counter.fetch_add(n, std::memory_order_relaxed); }

  room_registry rooms_;
  room_registry everyone_;  ///< Every connected client: the audience of the seed page's older form.
  std::atomic<std::uint64_t> joins_{0}, leaves_{0}, chats_{0}, deliveries_{0}, invalid_{0}, rejected_{0};
  std::atomic<std::uint64_t> refused_joins_{0};
  std::size_t max_rooms_per_client_ = default_max_rooms_per_client;
  std::string node_id_;
  std::function<void(std::string_view)> publish_;
  std::unique_ptr<recovery_store> recovery_;
  std::atomic<std::uint64_t> relayed_in_{0}, relayed_deliveries_{0}, own_skipped_{0}, relay_malformed_{0};
};

/// The behaviour the official Socket.IO protocol test suite expects of its reference server:
/// namespaces `/` and `/custom`, an `auth` event echoing the CONNECT payload, `message` echoed back as
/// `message-back`, `message-with-ack` acknowledged with its own arguments (binary attachments included).
class conformance_app final : public sio_handler {
 public:
  explicit conformance_app(boost::asio::io_context& ioc) : ioc_(ioc) {}

  bool has_namespace(std::string_view nsp) const override { return nsp == "/" || nsp == "/custom"; }
  void on_connect(client& c, std::string_view nsp, json const& auth) override;
  void on_event(client& c, std::string_view nsp, std::string const& event, json&& args,
                std::optional<std::uint64_t> ack, std::vector<std::string>&& attachments) override;
  void on_disconnect(client&, std::string_view) override {}

 private:
  boost::asio::io_context& ioc_;
};

/// An Engine.IO echo: every message packet goes back as it came (the engine.io-protocol test suite).
class echo_engine final : public transport::session_handler {
 public:
  void on_open(transport::session_ptr const&) override {}
  void on_message(transport::session_ptr const& s, codec::eio::packet&& p) override;
  void on_close(transport::session_ptr const&, transport::close_reason) override {}
};

}  // namespace fallbench::chat
