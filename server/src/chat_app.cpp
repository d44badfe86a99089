#include "fallbench/chat/chat_app.hpp"

#include <boost/asio/steady_timer.hpp>

#include <set>

namespace fallbench::chat {

namespace {

/// What the chat application remembers of one client; touched only from that client's callbacks.
struct member_state {
  std::set<std::string, std::less<>> rooms;
};

member_state& state_of(client& c) { return *std::static_pointer_cast<member_state>(c.app_data); }

// A valid name or room: a non-empty string within max_name_bytes.
bool valid_name(json const& obj, char const* key) {
  auto const it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return false;
  auto const& s = it->get_ref<std::string const&>();
  return !s.empty() && s.size() <= max_name_bytes;
}

bool valid_name(json const& value) {
  return value.is_string() && !value.get_ref<std::string const&>().empty() &&
         value.get_ref<std::string const&>().size() <= max_name_bytes;
}

json const& first(json const& args) {
  static json const null;
  return args.empty() ? null : args.front();
}

json const ok_ack = json::array({{{"ok", true}}});

}  // namespace

void chat_app::on_connect(client& c, std::string_view, json const&) {
  c.app_data = std::make_shared<member_state>();
  everyone_.join("", c.session());
}

void chat_app::on_disconnect(client& c, std::string_view) {
  if (!c.app_data) return;
  auto& st = state_of(c);
  for (auto const& room : st.rooms) rooms_.leave(room, c.session().get());
  st.rooms.clear();
  everyone_.leave("", c.session().get());
}

void chat_app::on_event(client& c, std::string_view, std::string const& event, json&& args,
                        std::optional<std::uint64_t> ack, std::vector<std::string>&&) {
  if (event == "chat") {
    on_chat(c, first(args), ack);
    return;
  }
  char const* error = nullptr;
  if (event == "join") {
    error = on_join(c, first(args));
  } else if (event == "leave") {
    error = on_leave(c, first(args));
  } else {
    count(invalid_);
    error = "unknown event";
  }
  if (ack) c.ack("/", *ack, error ? json::array({{{"ok", false}, {"error", error}}}) : ok_ack);
}

char const* chat_app::on_join(client& c, json const& arg) {
  if (valid_name(arg)) {
    // The seed page's form: a bare name, announced to everyone.
    count(joins_);
    count(deliveries_, everyone_.broadcast("", encode_event("/", "join", json::array({arg}))));
    return nullptr;
  }
  if (!arg.is_object() || !valid_name(arg, "room") || !valid_name(arg, "name")) {
    count(invalid_);
    return "invalid join: room and name must be non-empty strings";
  }
  auto const& room = arg["room"].get_ref<std::string const&>();
  rooms_.join(room, c.session());
  state_of(c).rooms.insert(room);
  count(joins_);
  // The whole object goes out, unknown fields included: the harness tags its events.
  count(deliveries_, rooms_.broadcast(room, encode_event("/", "join", json::array({arg}))));
  return nullptr;
}

void chat_app::on_chat(client& c, json const& arg, std::optional<std::uint64_t> ack) {
  if (!arg.is_object() || !valid_name(arg, "name")) {
    reject(c, ack, "invalid chat: name must be a non-empty string");
    return;
  }
  auto const msg = arg.find("msg");
  if (msg == arg.end() || !msg->is_string()) {
    reject(c, ack, "invalid chat: msg must be a string");
    return;
  }
  auto const frame = encode_event("/", "chat", json::array({arg}));
  if (!arg.contains("room")) {
    // The seed page's form: {name, msg} to everyone.
    count(chats_);
    count(deliveries_, everyone_.broadcast("", frame));
    if (ack) c.ack("/", *ack, ok_ack);
    return;
  }
  if (!valid_name(arg, "room")) {
    reject(c, ack, "invalid chat: room must be a non-empty string");
    return;
  }
  auto const& room = arg["room"].get_ref<std::string const&>();
  if (!state_of(c).rooms.contains(room)) {
    reject(c, ack, "not a member of room");
    return;
  }
  count(chats_);
  count(deliveries_, rooms_.broadcast(room, frame));
  if (ack) c.ack("/", *ack, ok_ack);
}

char const* chat_app::on_leave(client& c, json const& arg) {
  if (valid_name(arg)) {
    // The seed page's form: announce to everyone, then disconnect the leaver.
    count(leaves_);
    count(deliveries_, everyone_.broadcast("", encode_event("/", "leave", json::array({arg}))));
    c.disconnect();
    return nullptr;
  }
  if (!arg.is_object() || !valid_name(arg, "room") || !valid_name(arg, "name")) {
    count(invalid_);
    return "invalid leave: room and name must be non-empty strings";
  }
  auto const& room = arg["room"].get_ref<std::string const&>();
  auto& st = state_of(c);
  auto const it = st.rooms.find(room);
  if (it == st.rooms.end()) {
    count(invalid_);
    return "not a member of room";
  }
  count(leaves_);
  count(deliveries_, rooms_.broadcast(room, encode_event("/", "leave", json::array({arg}))));
  rooms_.leave(room, c.session().get());
  st.rooms.erase(it);
  return nullptr;
}

void chat_app::reject(client& c, std::optional<std::uint64_t> ack, std::string_view why) {
  count(rejected_);
  count(invalid_);
  if (ack) c.ack("/", *ack, json::array({{{"ok", false}, {"error", why}}}));
}

chat_stats chat_app::stats() const {
  return {joins_.load(), leaves_.load(), chats_.load(), deliveries_.load(), invalid_.load(), rejected_.load(),
          rooms_.room_count()};
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
