#include "fallbench/chat/chat_app.hpp"

#include "fallbench/chat/cluster.hpp"

#include <boost/asio/steady_timer.hpp>

#include <set>

namespace fallbench::chat {

namespace {

namespace proto = chatproto;
using raw_result = sio_handler::raw_result;

/// What the chat application remembers of one client; touched only from that client's callbacks.
struct member_state {
  std::set<std::string, std::less<>> rooms;
  std::string sid;  ///< The Socket.IO id and private id, with recovery on.
  std::string pid;
};

member_state& state_of(client& c) { return *std::static_pointer_cast<member_state>(c.app_data); }

// The text of the packets this thread builds, reused from one to the next: frame::message copies it
// into the frame every receiver shares, so the buffer's capacity outlives the packet.
std::string& packet_buffer() {
  thread_local std::string text;
  text.clear();
  return text;
}

// `3<id>[{"ok":true}]`: the arguments are a constant encoded once; only the id is written per chat.
void send_ok(client& c, std::uint64_t id) {
  auto& text = packet_buffer();
  proto::append_ack_packet(id, proto::ok_ack_args, text);
  c.send(transport::frame::message(text));
}

void send_refusal(client& c, std::uint64_t id, std::string_view why) {
  auto& text = packet_buffer();
  proto::append_ack_packet(id, {}, text);
  proto::append_reject_args(why, text);
  c.send(transport::frame::message(text));
}

}  // namespace

// The EVENT `2["<kind>",<payload>]`: the payload is the sender's own text, never re-serialised. The
// same packet bytes go to the cluster, so other nodes frame them as they are (docs/cluster.md).
std::size_t chat_app::broadcast(bool all, std::string_view room, proto::event_kind kind, std::string_view payload) {
  if (recovery_) return broadcast_kept(all, room, kind, payload);
  auto& text = packet_buffer();
  proto::append_event_packet(kind, payload, text);
  auto const delivered = (all ? everyone_ : rooms_).broadcast(all ? std::string_view{} : room, transport::frame::message(text));
  if (publish_) {
    thread_local std::string message;
    message.clear();
    encode_relay(node_id_, all, all ? std::string_view{} : room, text, message);
    publish_(message);
  }
  return delivered;
}

// With recovery: `2["<kind>",<payload>,"<offset>"]`, still one frame for every receiver (the offset is
// the packet's, not the receiver's). The cluster gets the packet without it: each node appends its own.
std::size_t chat_app::broadcast_kept(bool all, std::string_view room, proto::event_kind kind, std::string_view payload) {
  auto& text = packet_buffer();
  proto::append_event_packet(kind, payload, text);
  if (publish_) {
    thread_local std::string message;
    message.clear();
    encode_relay(node_id_, all, all ? std::string_view{} : room, text, message);
    publish_(message);
  }
  return deliver_kept(all, room, text);
}

// The lock is held while the frame is queued to the receivers, so each receiver gets offsets in
// increasing order and a recovery never runs between the two.
std::size_t chat_app::deliver_kept(bool all, std::string_view room, std::string& text) {
  auto lock = recovery_->lock();
  auto const offset = recovery_->next_offset(lock);
  text.pop_back();  // the array's closing bracket
  text += ",\"";
  text += std::to_string(offset);
  text += "\"]";
  auto const f = transport::frame::message(text);
  recovery_->keep(lock, offset, all, all ? std::string_view{} : room, f);
  return (all ? everyone_ : rooms_).broadcast(all ? std::string_view{} : room, f);
}

void chat_app::enable_recovery(recovery_options o) {
  if (o.window.count() <= 0) return;
  recovery_ = std::make_unique<recovery_store>(o);
}

std::optional<recovery_stats> chat_app::recovery_counters() const {
  if (!recovery_) return std::nullopt;
  return recovery_->stats();
}

void chat_app::set_relay(std::string node_id, std::function<void(std::string_view)> publish) {
  node_id_ = std::move(node_id);
  publish_ = std::move(publish);
}

void chat_app::deliver_relayed(std::string_view message) {
  auto const m = decode_relay(message);
  if (!m) {
    count(relay_malformed_);
    return;
  }
  if (m->node == node_id_) {
    count(own_skipped_);  // Redis sends a channel's messages to every subscriber, the publisher's included
    return;
  }
  if (recovery_) {
    // An offset goes inside the event's array: a packet that is not one cannot carry it.
    if (!m->packet.starts_with("2[") || !m->packet.ends_with("]")) {
      count(relay_malformed_);
      return;
    }
    count(relayed_in_);
    // Not packet_buffer(): a publish may deliver on the same thread (as the tests' in-process relay
    // does) while the broadcast that published still holds its packet there.
    thread_local std::string text;
    text.assign(m->packet);
    count(relayed_deliveries_, deliver_kept(m->everyone, m->room, text));
    return;
  }
  count(relayed_in_);
  auto const& registry = m->everyone ? everyone_ : rooms_;
  count(relayed_deliveries_, registry.broadcast(m->room, transport::frame::message(m->packet)));
}

relay_stats chat_app::relay_counters() const {
  return {relayed_in_.load(), relayed_deliveries_.load(), own_skipped_.load(), relay_malformed_.load()};
}

void chat_app::on_connect(client& c, std::string_view nsp, json const& auth) {
  auto st = std::make_shared<member_state>();
  c.app_data = st;
  if (!recovery_) {
    everyone_.join("", c.session());
    return;
  }
  // The CONNECT of a client that was here: its private id and the offset of the last broadcast it read.
  auto const* pid = auth.is_object() && auth.contains("pid") && auth["pid"].is_string() ? &auth["pid"] : nullptr;
  auto const* offset =
      auth.is_object() && auth.contains("offset") && auth["offset"].is_string() ? &auth["offset"] : nullptr;
  auto lock = recovery_->lock();
  std::optional<recovery_store::restored> back;
  if (pid && offset) back = recovery_->restore(lock, pid->get_ref<std::string const&>(), offset->get_ref<std::string const&>());
  std::vector<transport::frame> frames;
  if (back) {
    st->sid = std::move(back->session.sid);
    st->pid = std::move(back->session.pid);
    st->rooms = std::move(back->session.rooms);
    for (auto const& room : st->rooms) rooms_.join(room, c.session());
  } else {
    st->sid = new_socket_id();
    st->pid = new_socket_id();
  }
  everyone_.join("", c.session());
  // The answer, then what was missed, in one send: nothing can come between them (the lock is held).
  frames.reserve(1 + (back ? back->missed.size() : 0));
  frames.push_back(client::connect_reply(nsp, st->sid, st->pid));
  if (back) frames.insert(frames.end(), back->missed.begin(), back->missed.end());
  c.send(frames);
}

void chat_app::on_session_end(client& c, std::string_view nsp, transport::close_reason why) {
  if (recovery_ && c.app_data && recoverable(why)) {
    auto const& st = state_of(c);
    recovery_store::lost_session lost;
    lost.sid = st.sid;
    lost.pid = st.pid;
    lost.rooms = st.rooms;
    auto lock = recovery_->lock();
    recovery_->persist(lock, std::move(lost));
  }
  on_disconnect(c, nsp);
}

void chat_app::on_disconnect(client& c, std::string_view) {
  if (!c.app_data) return;
  auto& st = state_of(c);
  for (auto const& room : st.rooms) rooms_.leave(room, c.session().get());
  st.rooms.clear();
  everyone_.leave("", c.session().get());
}

sio_handler::raw_result chat_app::on_raw_event(client& c, std::string_view, std::string_view event,
                                               std::string_view args, std::optional<std::uint64_t> ack) {
  auto const kind = proto::event_of(event);
  if (!kind) return raw_result::unhandled;  // answered on the DOM path, as an unknown event
  thread_local proto::decoder decoder;
  proto::message m;
  auto const e = decoder.decode(*kind, args, m);
  if (proto::is_malformed(e)) return raw_result::malformed;
  if (e != proto::decode_error::none) {
    // Refused before anything is encoded: only the negative ack, if asked for, is written.
    if (*kind == proto::event_kind::chat) {
      reject(c, ack, proto::reason(*kind, e));
    } else {
      count(invalid_);
      if (ack) send_refusal(c, *ack, proto::reason(*kind, e));
    }
    return raw_result::handled;
  }
  on_message(c, m, ack);
  return raw_result::handled;
}

void chat_app::on_event(client& c, std::string_view nsp, std::string const& event, json&& args,
                        std::optional<std::uint64_t> ack, std::vector<std::string>&&) {
  if (proto::event_of(event)) {
    // A join/chat/leave that came as a BINARY_EVENT: its arguments as text, then the one path.
    std::string text;
    for (auto const& a : args) {
      if (!text.empty()) text += ',';
      text += a.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    on_raw_event(c, nsp, event, text, ack);
    return;
  }
  count(invalid_);
  answer(c, ack, "unknown event");
}

void chat_app::on_message(client& c, proto::message const& m, std::optional<std::uint64_t> ack) {
  switch (m.kind) {
    case proto::event_kind::chat: on_chat(c, m, ack); return;
    case proto::event_kind::join: answer(c, ack, on_join(c, m)); return;
    case proto::event_kind::leave: answer(c, ack, on_leave(c, m)); return;
  }
}

void chat_app::answer(client& c, std::optional<std::uint64_t> ack, char const* error) {
  if (!ack) return;
  if (error)
    send_refusal(c, *ack, error);
  else
    send_ok(c, *ack);
}

char const* chat_app::on_join(client& c, proto::message const& m) {
  if (m.legacy) {
    // The seed page's form: a bare name, announced to everyone.
    count(joins_);
    count(deliveries_, broadcast(true, {}, m.kind, m.payload));
    return nullptr;
  }
  auto& st = state_of(c);
  if (st.rooms.size() >= max_rooms_per_client_ && !st.rooms.contains(m.room)) {
    // Memory per client is bounded; the client can leave a room to join another.
    count(refused_joins_);
    return "too many rooms";
  }
  rooms_.join(m.room, c.session());
  st.rooms.emplace(m.room);
  count(joins_);
  // The whole object goes out as it came, unknown fields included: the harness tags its events.
  count(deliveries_, broadcast(false, m.room, m.kind, m.payload));
  return nullptr;
}

void chat_app::on_chat(client& c, proto::message const& m, std::optional<std::uint64_t> ack) {
  if (m.legacy) {
    // The seed page's form: {name, msg} to everyone.
    count(chats_);
    count(deliveries_, broadcast(true, {}, m.kind, m.payload));
    if (ack) send_ok(c, *ack);
    return;
  }
  if (!state_of(c).rooms.contains(m.room)) {
    reject(c, ack, "not a member of room");
    return;
  }
  count(chats_);
  count(deliveries_, broadcast(false, m.room, m.kind, m.payload));
  if (ack) send_ok(c, *ack);
}

char const* chat_app::on_leave(client& c, proto::message const& m) {
  if (m.legacy) {
    // The seed page's form: announce to everyone, then disconnect the leaver.
    count(leaves_);
    count(deliveries_, broadcast(true, {}, m.kind, m.payload));
    c.disconnect();
    return nullptr;
  }
  auto& st = state_of(c);
  auto const it = st.rooms.find(m.room);
  if (it == st.rooms.end()) {
    count(invalid_);
    return "not a member of room";
  }
  count(leaves_);
  count(deliveries_, broadcast(false, m.room, m.kind, m.payload));
  rooms_.leave(m.room, c.session().get());
  st.rooms.erase(it);
  return nullptr;
}

void chat_app::reject(client& c, std::optional<std::uint64_t> ack, std::string_view why) {
  count(rejected_);
  count(invalid_);
  if (ack) send_refusal(c, *ack, why);
}

chat_stats chat_app::stats() const {
  return {joins_.load(),    leaves_.load(),       chats_.load(),         deliveries_.load(),
          invalid_.load(),  rejected_.load(),     rooms_.room_count(),   refused_joins_.load()};
}

void conformance_app::on_connect(client& c, std::string_view nsp, json const& auth) {
  // The suite waits for the CONNECT answer and the `auth` event with two successive one-shot
  // listeners; its WebSocket client emits every frame of one TCP read synchronously, so an `auth`
  // frame read together with the CONNECT answer is lost to the test. The reference server's event
  // loop happens to put a loop iteration between them; here a short timer does.
  auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, std::chrono::milliseconds{5});
  timer->async_wait([timer, s = c.session(), nsp = std::string(nsp), auth](boost::system::error_code ec) {
    if (!ec) s->send(encode_event(nsp, "auth", json::array({auth})));
  });
}

void conformance_app::on_event(client& c, std::string_view nsp, std::string const& event, json&& args,
                               std::optional<std::uint64_t> ack, std::vector<std::string>&& attachments) {
  if (event == "message") {
    c.emit(nsp, "message-back", args, attachments);
  } else if (event == "message-with-ack" && ack) {
    c.ack(nsp, *ack, args, attachments);
  }
}

void echo_engine::on_message(transport::session_ptr const& s, codec::eio::packet&& p) {
  s->send(transport::frame::of(p));
}

}  // namespace fallbench::chat
