#include "fallbench/chat/sio_server.hpp"

#include "fallbench/transport/random_id.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <set>

namespace fallbench::chat {

namespace sio = codec::sio;
using transport::frame;

namespace {

std::string dump(json const& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

// The Socket.IO id of a connection: from the CSPRNG like the session id (random_id.hpp), and never
// the session id itself (the Socket.IO v5 specification keeps them apart so that one cannot be
// learnt from the other).
std::string new_socket_id() {
  auto id = transport::random_id();
  // Without a CSPRNG the session could not have been created; a fixed id is then harmless.
  return id ? std::move(*id) : std::string(20, 'A');
}

std::string echoed_namespace(std::string_view nsp) {
  if (nsp.size() <= max_echoed_namespace_bytes) return std::string(nsp);
  // Cut on a UTF-8 character boundary, so that what the client decodes is the name's start.
  std::size_t cut = max_echoed_namespace_bytes;
  while (cut > 0 && (static_cast<unsigned char>(nsp[cut]) & 0xC0) == 0x80) --cut;
  return std::string(nsp.substr(0, cut)) + "...";
}

namespace {

frame encode(sio::packet_type type, std::string_view nsp, std::optional<std::uint64_t> id, std::size_t attachments,
             std::string_view payload) {
  std::string text;
  text.reserve(payload.size() + nsp.size() + 24);
  sio::append(type, nsp, id, attachments, payload, text);
  return frame::message(text);
}

std::string event_payload(std::string_view event, json const& args) {
  std::string args_text;
  for (auto const& a : args) {
    if (!args_text.empty()) args_text += ',';
    args_text += dump(a);
  }
  std::string payload;
  sio::append_event_payload(event, args_text, payload);
  return payload;
}

}  // namespace

frame encode_event(std::string_view nsp, std::string_view event, json const& args) {
  return encode(sio::packet_type::event, nsp, std::nullopt, 0, event_payload(event, args));
}

transport::send_result client::emit(std::string_view nsp, std::string_view event, json const& args,
                                    std::vector<std::string> const& attachments) {
  if (attachments.empty()) return session_->send(encode_event(nsp, event, args));
  std::vector<frame> frames;
  frames.reserve(1 + attachments.size());
  frames.push_back(encode(sio::packet_type::binary_event, nsp, std::nullopt, attachments.size(),
                          event_payload(event, args)));
  for (auto const& a : attachments) frames.push_back(frame::binary_message(a));
  return session_->send(frames);
}

transport::send_result client::ack(std::string_view nsp, std::uint64_t id, json const& args,
                                   std::vector<std::string> const& attachments) {
  auto const type = attachments.empty() ? sio::packet_type::ack : sio::packet_type::binary_ack;
  std::vector<frame> frames;
  frames.reserve(1 + attachments.size());
  frames.push_back(encode(type, nsp, id, attachments.size(), dump(args)));
  for (auto const& a : attachments) frames.push_back(frame::binary_message(a));
  return session_->send(frames);
}

transport::frame client::connect_reply(std::string_view nsp, std::string_view sid, std::string_view pid) {
  json data{{"sid", sid}};
  if (!pid.empty()) data["pid"] = pid;
  return encode(sio::packet_type::connect, nsp, std::nullopt, 0, dump(data));
}

void client::disconnect(std::string_view nsp) {
  session_->send(encode(sio::packet_type::disconnect, nsp, std::nullopt, 0, {}));
  session_->close();
}

/// Per-session Socket.IO state, kept in session::user_data. Touched only from the session's callbacks,
/// except `connected`, which the connect timer reads from whichever thread runs it.
struct sio_server::state {
  state(transport::session_ptr const& s, boost::asio::io_context& ioc)
      : c(s), connect_timer(std::make_unique<boost::asio::steady_timer>(ioc)) {}
  client c;
  std::set<std::string, std::less<>> namespaces;
  /// Whether the session ever connected to a namespace: once it has, the connect timeout no longer
  /// applies (the reference clears its connectTimeout on the first connect).
  std::atomic<bool> connected{false};
  sio::attachment_collector collector;
  /// Let go of once the session connects (or closes): an idle connected session holds no timer. On
  /// the heap, so that what it let go of is not kept in every session's state (a timer is 120 bytes).
  std::unique_ptr<boost::asio::steady_timer> connect_timer;
};

sio_server::sio_server(boost::asio::io_context& ioc, sio_handler& handler, std::chrono::milliseconds connect_timeout)
    : ioc_(ioc), handler_(handler), connect_timeout_(connect_timeout) {}

void sio_server::on_open(transport::session_ptr const& s) {
  auto st = std::make_shared<state>(s, ioc_);
  s->user_data = st;
  // A session that never joins a namespace is closed (reference: connectTimeout).
  st->connect_timer->expires_after(connect_timeout_);
  st->connect_timer->async_wait([weak = std::weak_ptr<transport::session>(s), st = std::weak_ptr<state>(st)](
                                   boost::system::error_code ec) {
    if (ec) return;
    auto session = weak.lock();
    auto locked = st.lock();
    // The timer runs outside the session's callbacks, so it must not read `namespaces` (a std::set
    // the callbacks modify: a data race, undefined behaviour). It reads the atomic flag the connect
    // sets before cancelling this timer; a cancel that comes too late finds the flag set.
    if (session && locked && !locked->connected.load(std::memory_order_acquire)) session->close();
  });
}

void sio_server::on_message(transport::session_ptr const& s, codec::eio::packet&& p) {
  auto& st = *std::static_pointer_cast<state>(s->user_data);
  if (p.binary) {
    if (st.collector.add(p.data)) {
      parse_errors_.fetch_add(1, std::memory_order_relaxed);
      s->close();
      return;
    }
    if (st.collector.ready()) {
      auto [packet, buffers] = st.collector.take();
      on_packet(s, st, std::move(packet), std::move(buffers));
    }
    return;
  }
  if (!st.collector.waiting() && on_raw_event(s, st, p.data)) return;
  sio::packet packet;
  if (st.collector.waiting() || sio::decode(p.data, packet)) {
    // A malformed packet, or text while attachments are due: close, as the reference does.
    parse_errors_.fetch_add(1, std::memory_order_relaxed);
    s->close();
    return;
  }
  if (sio::is_binary(packet.type) && packet.attachments > 0) {
    st.collector.start(std::move(packet));
    return;
  }
  on_packet(s, st, std::move(packet), {});
}

bool sio_server::on_raw_event(transport::session_ptr const& s, state& st, std::string_view text) {
  // Only the header is decoded here; the payload stays text unless the handler declines it.
  sio::header h;
  if (sio::decode_header(text, h) || h.type != sio::packet_type::event || !st.namespaces.contains(h.nsp)) return false;
  // Names with escapes are decoded here; per thread rather than per session, which idle sessions pay for.
  thread_local std::string name_scratch;
  sio::event_parts ev;
  if (sio::split_event(h.payload, ev, name_scratch)) return false;  // the DOM path refuses it as it always has
  switch (handler_.on_raw_event(st.c, h.nsp, ev.name, ev.args, h.id)) {
    case sio_handler::raw_result::unhandled: return false;
    case sio_handler::raw_result::handled: events_.fetch_add(1, std::memory_order_relaxed); return true;
    case sio_handler::raw_result::malformed:
      parse_errors_.fetch_add(1, std::memory_order_relaxed);
      s->close();
      return true;
  }
  return false;
}

void sio_server::on_packet(transport::session_ptr const& s, state& st, sio::packet&& p,
                           std::vector<std::string>&& attachments) {
  switch (p.type) {
    case sio::packet_type::connect: {
      if (!handler_.has_namespace(p.nsp)) {
        connect_errors_.fetch_add(1, std::memory_order_relaxed);
        auto const echoed = echoed_namespace(p.nsp);
        if (p.nsp.size() > max_echoed_namespace_bytes) truncated_namespaces_.fetch_add(1, std::memory_order_relaxed);
        s->send(encode(sio::packet_type::connect_error, echoed, std::nullopt, 0, R"({"message":"Invalid namespace"})"));
        return;
      }
      if (st.namespaces.contains(p.nsp)) return;
      st.namespaces.insert(p.nsp);
      st.connected.store(true, std::memory_order_release);
      st.connect_timer.reset();  // cancels its wait
      connects_.fetch_add(1, std::memory_order_relaxed);
      if (!handler_.answers_connect(p.nsp)) s->send(client::connect_reply(p.nsp, new_socket_id()));
      handler_.on_connect(st.c, p.nsp, p.data.is_null() ? json::object() : p.data);
      return;
    }
    case sio::packet_type::disconnect:
      if (auto it = st.namespaces.find(p.nsp); it != st.namespaces.end()) {
        st.namespaces.erase(it);
        handler_.on_disconnect(st.c, p.nsp);
      }
      return;
    case sio::packet_type::event:
    case sio::packet_type::binary_event: {
      if (!st.namespaces.contains(p.nsp)) return;  // not connected there: ignored, as the reference does
      events_.fetch_add(1, std::memory_order_relaxed);
      auto& head = p.data.front();
      std::string event = head.is_string() ? head.get<std::string>() : dump(head);
      p.data.erase(p.data.begin());
      handler_.on_event(st.c, p.nsp, event, std::move(p.data), p.id, std::move(attachments));
      return;
    }
    case sio::packet_type::ack:
    case sio::packet_type::binary_ack:
      return;  // the server asks for no acks
    case sio::packet_type::connect_error:
      parse_errors_.fetch_add(1, std::memory_order_relaxed);
      s->close();
      return;
  }
}

void sio_server::on_close(transport::session_ptr const& s, transport::close_reason why) {
  auto st = std::static_pointer_cast<state>(s->user_data);
  if (!st) return;
  st->connect_timer.reset();  // cancels its wait
  for (auto const& nsp : st->namespaces) handler_.on_session_end(st->c, nsp, why);
  st->namespaces.clear();
  // Break the session -> state -> client -> session cycle.
  s->user_data.reset();
}

sio_stats sio_server::stats() const {
  return {connects_.load(), connect_errors_.load(), events_.load(), parse_errors_.load(), truncated_namespaces_.load()};
}

}  // namespace fallbench::chat
