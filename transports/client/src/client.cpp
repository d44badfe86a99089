#include "fallbench/transport/client.hpp"

#include "eio_transport.hpp"

#include "fallbench/codec/socketio.hpp"

#include <nlohmann/json.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <unordered_map>

namespace fallbench::transport {

namespace net = boost::asio;
namespace sio = codec::sio;
using codec::eio::packet_type;
using clock = std::chrono::steady_clock;

std::string_view to_string(strategy s) noexcept {
  switch (s) {
    case strategy::polling: return "polling";
    case strategy::websocket: return "websocket";
    case strategy::upgrade: return "upgrade";
    case strategy::fallback: return "fallback";
    case strategy::race: return "race";
    case strategy::tryall: return "tryall";
    case strategy::remember: return "remember";
  }
  return "unknown";
}

std::optional<strategy> parse_strategy(std::string_view name) noexcept {
  for (auto s : all_strategies)
    if (to_string(s) == name) return s;
  return std::nullopt;
}

std::string_view to_string(client_event e) noexcept {
  switch (e) {
    case client_event::connecting: return "connecting";
    case client_event::handshake_done: return "handshake_done";
    case client_event::probe_sent: return "probe_sent";
    case client_event::upgraded: return "upgraded";
    case client_event::upgrade_failed: return "upgrade_failed";
    case client_event::websocket_failed: return "websocket_failed";
    case client_event::fell_back: return "fell_back";
    case client_event::namespace_connected: return "namespace_connected";
    case client_event::disconnected: return "disconnected";
    case client_event::reconnecting: return "reconnecting";
    case client_event::race_won: return "race_won";
    case client_event::remembered: return "remembered";
    case client_event::recovered: return "recovered";
  }
  return "unknown";
}

wire_counters& wire_counters::operator+=(wire_counters const& o) noexcept {
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  http_requests += o.http_requests;
  ws_frames_sent += o.ws_frames_sent;
  ws_frames_received += o.ws_frames_received;
  tcp_connections += o.tcp_connections;
  tls_handshakes += o.tls_handshakes;
  tls_resumed += o.tls_resumed;
  return *this;
}

namespace {

// boost::system::error_category's destructor is non-virtual by design (static singletons).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class client_category final : public boost::system::error_category {
 public:
  char const* name() const noexcept override { return "fallbench.client"; }
  std::string message(int ev) const override {
    switch (static_cast<client_error>(ev)) {
      case client_error::connect_failed: return "connect failed";
      case client_error::http_status: return "HTTP error status";
      case client_error::websocket_refused: return "WebSocket handshake refused";
      case client_error::bad_open_packet: return "bad open packet";
      case client_error::protocol_error: return "protocol error";
      case client_error::payload_too_large: return "payload too large";
      case client_error::ping_timeout: return "ping timeout";
      case client_error::connect_timeout: return "connect timeout";
      case client_error::transport_closed: return "transport closed";
      case client_error::server_close: return "closed by the server";
      case client_error::namespace_refused: return "namespace refused";
      case client_error::client_close: return "closed by the client";
      case client_error::websocket_timeout: return "WebSocket handshake timed out";
      case client_error::tls_handshake_failed: return "TLS handshake failed";
    }
    return "unknown client error";
  }
};
#pragma GCC diagnostic pop

/// Ack handlers waiting for their answer. Ids are handed out in increasing order and the server
/// answers a session's acks in the order it got them, so a vector with a moving head holds them:
/// lookups are a binary search, and once the vector has grown to the acks a session keeps in flight,
/// waiting for an ack allocates nothing.
class ack_table {
 public:
  void add(std::uint64_t id, client::ack_handler handler) { slots_.push_back({id, std::move(handler)}); }

  /// The handler waiting for `id`, taken out of the table; empty when none waits (unknown or answered).
  client::ack_handler take(std::uint64_t id) {
    auto const it = std::lower_bound(slots_.begin() + static_cast<std::ptrdiff_t>(head_), slots_.end(), id,
                                     [](slot const& s, std::uint64_t v) { return s.id < v; });
    if (it == slots_.end() || it->id != id || !it->handler) return {};
    auto handler = std::move(it->handler);
    it->handler = nullptr;
    while (head_ < slots_.size() && !slots_[head_].handler) ++head_;
    if (head_ == slots_.size()) {
      slots_.clear();  // keeps the capacity
      head_ = 0;
    } else if (head_ >= 64 && 2 * head_ >= slots_.size()) {
      // Answers out of order left a long answered prefix: drop it (amortised, one move per slot).
      slots_.erase(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return handler;
  }

  /// Every handler still waiting, in id order; the table is left empty.
  std::vector<client::ack_handler> take_all() {
    std::vector<client::ack_handler> out;
    for (auto i = head_; i < slots_.size(); ++i)
      if (slots_[i].handler) out.push_back(std::move(slots_[i].handler));
    slots_.clear();
    head_ = 0;
    return out;
  }

 private:
  struct slot {
    std::uint64_t id = 0;
    client::ack_handler handler;
  };
  std::vector<slot> slots_;
  std::size_t head_ = 0;  ///< slots before it are answered
};

/// The remember strategy's memory (Phoenix keeps it in the browser's sessionStorage): which targets
/// needed a fallback lately, shared by every client of the process, whatever its thread.
class fallback_memory {
 public:
  static fallback_memory& instance() {
    static fallback_memory memory;
    return memory;
  }

  /// A client to `target` had to fall back at `now`: its next `sessions` sessions start on polling,
  /// within `ttl`.
  void remember(std::string const& target, int sessions, clock::duration ttl, clock::time_point now) {
    if (sessions <= 0 || ttl <= clock::duration::zero()) return;
    std::lock_guard lock(mutex_);
    std::erase_if(entries_, [&](auto const& e) { return e.second.until <= now; });
    if (entries_.size() >= max_targets && !entries_.contains(target)) {
      // Bounded: the entry closest to its end makes room.
      auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                     [](auto const& a, auto const& b) { return a.second.until < b.second.until; });
      entries_.erase(oldest);
    }
    entries_[target] = {now + ttl, sessions};
  }

  /// Whether a session to `target` starting at `now` starts on polling; counts it against the
  /// remembered sessions.
  bool take(std::string const& target, clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(target);
    if (it == entries_.end()) return false;
    if (it->second.until <= now || it->second.sessions_left <= 0) {
      entries_.erase(it);
      return false;
    }
    --it->second.sessions_left;
    return true;
  }

 private:
  static constexpr std::size_t max_targets = 256;
  struct entry {
    clock::time_point until;
    int sessions_left = 0;
  };
  std::mutex mutex_;
  std::map<std::string, entry> entries_;
};

class client_impl final : public client, public detail::transport_owner {
 public:
  client_impl(net::any_io_executor ex, client_options options)
      : ex_(std::move(ex)), options_(std::move(options)), resolver_(ex_), watchdog_(ex_), connect_timer_(ex_),
        reconnect_timer_(ex_), race_timer_(ex_), rng_(options_.seed ? options_.seed : std::random_device{}()) {
    bool const v6 = options_.host.find(':') != std::string::npos;
    where_.host_header = (v6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(options_.port);
    where_.path = options_.path;
    where_.query = options_.query;
    where_.extras = std::make_shared<detail::request_extras>();
    where_.extras->headers = options_.headers;
    where_.extras->cookies = options_.cookies;
    where_.extras->use_jar = options_.cookie_jar;
    where_.extras->tls = options_.tls;
    where_.max_payload_bytes = options_.max_payload_bytes;
    where_.connect_timeout = options_.connect_timeout;
    where_.websocket_timeout = std::min(options_.websocket_timeout, options_.connect_timeout);
    if (!options_.local_address.empty()) {
      error_code ec;
      auto const a = net::ip::make_address(options_.local_address, ec);
      if (!ec) where_.local_address = a;  // the caller passes an IP address; anything else is ignored
    }
    // tryAllTransports has no WebSocket timer: only an error, or the connect timeout (which gives
    // up on the WebSocket first, see on_connect_timeout), moves it on to polling.
    if (options_.strat == strategy::tryall) where_.websocket_timeout = options_.connect_timeout + ws_backstop;
    memory_key_ = std::string(options_.tls ? "https://" : "http://") + where_.host_header + options_.path;
    if (options_.tls) {
      where_.tls = client_tls_context(options_);
      where_.tls_host = options_.host;
      where_.tls_verify = options_.tls_verify;
      if (options_.tls_resume) where_.tls_sessions = std::make_shared<detail::tls_session_cache>();
    }
  }

  void on_event(event_handler h) override { on_event_ = std::move(h); }
  void on_connect(std::function<void()> h) override { on_connect_ = std::move(h); }
  void on_disconnect(std::function<void(error_code)> h) override { on_disconnect_ = std::move(h); }
  void on_transition(std::function<void(transition const&)> h) override { on_transition_ = std::move(h); }

  void connect() override {
    user_closed_ = false;
    attempts_ = 0;
    start_session();
  }

  void emit(std::string_view event, std::string_view args_json, ack_handler ack) override {
    // Encoded into the client's own buffer, which keeps its capacity, and copied by the transport:
    // once the buffers have grown, an emit allocates nothing (the load generator's send path).
    auto& text = emit_buffer_;
    text.clear();
    if (auto const need = event.size() + args_json.size() + options_.nsp.size() + 32; text.capacity() < need)
      text.reserve(2 * need);  // room to spare: the next emit may be a few bytes longer
    text += codec::eio::type_char(packet_type::message);
    std::optional<std::uint64_t> id;
    if (ack) {
      id = next_ack_id_++;
      acks_.add(*id, std::move(ack));
    }
    sio::append(sio::packet_type::event, options_.nsp, id, 0, {}, text);
    sio::append_event_payload(event, args_json, text);
    if (!ns_connected_) {
      // Buffered until the namespace is connected, as the reference client does.
      sio_buffer_.emplace_back(text);
      return;
    }
    send_frame(text);
  }

  void close() override {
    user_closed_ = true;
    reconnect_timer_.cancel();
    race_timer_.cancel();
    if (active_ && engine_open_) send_frame(std::string(1, codec::eio::type_char(packet_type::close)));
    end_session(client_error::client_close, "closed by the client", true);
  }

  bool connected() const noexcept override { return ns_connected_; }

  std::optional<transport_kind> transport() const noexcept override {
    if (!active_ || !engine_open_) return std::nullopt;
    return active_->kind();
  }

  wire_counters counters() const override {
    wire_counters c;
    for (auto const* t : {&active_, &probe_, &rival_})
      if (*t) c += (*t)->counters();
    for (auto const& t : retired_) c += t->counters();
    for (auto const& t : dismissed_) c += t->counters();
    return c;
  }

  std::vector<transition> const& transitions() const noexcept override { return transitions_; }
  error_code last_error() const noexcept override { return last_error_; }
  std::string const& last_error_name() const noexcept override { return last_error_name_; }
  std::string const& socket_id() const noexcept override { return socket_id_; }
  bool recovered() const noexcept override { return recovered_; }

  // transport_owner
  void on_transport_open(detail::eio_transport* t, codec::eio::handshake&& h) override {
    if (auto it = std::find_if(dismissed_.begin(), dismissed_.end(), [&](auto const& d) { return d.get() == t; });
        it != dismissed_.end()) {
      // A race's loser whose handshake was in flight: its session exists now, so end it properly.
      auto loser = std::move(*it);
      dismissed_.erase(it);
      end_transport_session(loser);
      return;
    }
    if (t == rival_.get()) {
      // The race's polling lane: its own session, asking for the namespace too.
      rival_open_ = true;
      rival_handshake_ = std::move(h);
      note_handshake(t);
      rival_->set_request_timeout(rival_handshake_.ping_interval + rival_handshake_.ping_timeout + grace);
      rival_->send({connect_frame()});
      return;
    }
    if (t != active_.get()) return;
    engine_open_ = true;
    handshake_ = std::move(h);
    note_handshake(t);
    active_->set_request_timeout(handshake_.ping_interval + handshake_.ping_timeout + grace);
    arm_watchdog();
    send_frame(connect_frame());
    // Socket.IO's own clients (upgrade; fallback and tryall once on polling) probe for WebSocket. The
    // race already tried it, and remember's point is not to.
    bool const may_upgrade = options_.strat == strategy::upgrade ||
                             ((options_.strat == strategy::fallback || options_.strat == strategy::tryall) && fell_back_);
    if (t->kind() == transport_kind::polling && may_upgrade &&
        std::find(handshake_.upgrades.begin(), handshake_.upgrades.end(), "websocket") != handshake_.upgrades.end())
      start_probe();
  }

  void on_transport_ready(detail::eio_transport* t) override {
    if (t != probe_.get()) return;
    probe_->send({"2probe"});
    record(client_event::probe_sent, {});
  }

  void on_transport_packet(detail::eio_transport* t, codec::eio::packet&& p) override {
    if (t == rival_.get()) {
      on_rival_packet(std::move(p));
      return;
    }
    if (t == probe_.get()) {
      if (p.type == packet_type::pong && p.data == "probe") {
        // Pause polling (no request in flight, nothing unsent), then switch.
        upgrading_ = true;
        active_->pause([self = self_ptr(), probe = probe_.get()] { self->finish_upgrade(probe); });
      } else {
        probe_failed("unexpected packet during probe");
      }
      return;
    }
    if (t != active_.get()) return;
    switch (p.type) {
      case packet_type::ping:
        arm_watchdog();
        send_frame(codec::eio::encode_frame({packet_type::pong, false, std::move(p.data)}));
        return;
      case packet_type::message:
        if (p.binary) {
          // Attachments of binary events: the chat protocol has none; they are skipped.
          if (skip_binary_ > 0) --skip_binary_;
          return;
        }
        on_socketio(p.data);
        return;
      case packet_type::close: end_session(client_error::server_close, "close packet from the server"); return;
      case packet_type::noop:
      case packet_type::pong: return;
      case packet_type::open:
      case packet_type::upgrade: end_session(client_error::protocol_error, "unexpected Engine.IO packet"); return;
    }
  }

  void on_transport_error(detail::eio_transport* t, error_code ec, std::string detail) override {
    if (auto it = std::find_if(dismissed_.begin(), dismissed_.end(), [&](auto const& d) { return d.get() == t; });
        it != dismissed_.end()) {
      retired_.push_back(std::move(*it));
      dismissed_.erase(it);
      return;
    }
    if (t == probe_.get()) {
      probe_failed(std::move(detail));
      return;
    }
    if (t == rival_.get()) {
      // The race's polling lane failed; the WebSocket may still win.
      rival_open_ = false;
      retire(rival_);
      if (!active_) end_session(ec, "race: polling failed: " + detail);
      return;
    }
    if (t != active_.get()) return;
    if (options_.strat == strategy::race && !ns_connected_ && t->kind() == transport_kind::websocket &&
        (rival_ || !race_polling_started_)) {
      // The race goes on with polling alone: promoted if it is running, started now if not yet.
      record(client_event::websocket_failed, detail);
      retire(active_);
      engine_open_ = false;
      watchdog_.cancel();
      race_timer_.cancel();
      if (rival_) {
        promote_rival();
      } else {
        race_polling_started_ = true;
        active_ = detail::make_polling_transport(ex_, where_, owner_ptr());
        active_->open({});
      }
      return;
    }
    if (t->kind() == transport_kind::websocket && !engine_open_) {
      record(client_event::websocket_failed, detail);
      bool const falls_back = options_.strat == strategy::fallback || options_.strat == strategy::tryall ||
                              options_.strat == strategy::remember;
      if (falls_back && !fell_back_) {
        fall_back(ec == client_error::websocket_timeout && options_.strat == strategy::tryall, {});
        return;
      }
    }
    end_session(ec, std::move(detail));
  }

 private:
  // A poll may take up to pingInterval + pingTimeout by design; this much more is allowed for the wire.
  static constexpr std::chrono::milliseconds grace{5'000};
  // tryall: the WebSocket's own timer only backs up the connect timeout, which acts first.
  static constexpr std::chrono::milliseconds ws_backstop{1'000};

  std::string connect_frame() const {
    // Socket.IO CONNECT for our namespace, with the auth payload if any.
    std::string connect(1, codec::eio::type_char(packet_type::message));
    sio::append(sio::packet_type::connect, options_.nsp, std::nullopt, 0, connect_data(), connect);
    return connect;
  }

  /// The CONNECT payload: the auth object, plus the private id and last offset when recovering (as
  /// socket.io-client does, the offset only once one was read).
  std::string connect_data() const {
    if (!options_.recovery || pid_.empty()) return options_.auth_json;
    auto data = options_.auth_json.empty() ? nlohmann::json::object()
                                           : nlohmann::json::parse(options_.auth_json, nullptr, false);
    if (!data.is_object()) return options_.auth_json;
    data["pid"] = pid_;
    if (!last_offset_.empty()) data["offset"] = last_offset_;
    return data.dump();
  }

  /// With recovery: take the offset, a string ending the arguments of a broadcast, off `args` (JSON
  /// text of the arguments) and remember it. A string's opening quote is the first unescaped quote
  /// before its closing one: inside the string every quote is escaped.
  std::string_view strip_offset(std::string_view args) {
    auto end = args.find_last_not_of(" \t\r\n");
    if (end == std::string_view::npos || args[end] != '"' || end == 0) return args;
    std::size_t open = end;
    for (;;) {
      open = args.rfind('"', open - 1);
      if (open == std::string_view::npos) return args;
      std::size_t slashes = 0;
      while (open > slashes && args[open - 1 - slashes] == '\\') ++slashes;
      if (slashes % 2 == 0) break;
      if (open == 0) return args;
    }
    auto const before = open == 0 ? std::string_view::npos : args.find_last_not_of(" \t\r\n", open - 1);
    if (before != std::string_view::npos && args[before] != ',') return args;
    auto const offset = nlohmann::json::parse(args.substr(open, end + 1 - open), nullptr, false);
    if (!offset.is_string()) return args;
    last_offset_ = offset.get<std::string>();
    return before == std::string_view::npos ? std::string_view{} : args.substr(0, before);
  }

  /// The session's first Engine.IO open (a race has two; the first counts as its handshake).
  void note_handshake(detail::eio_transport* t) {
    if (handshake_noted_) return;
    handshake_noted_ = true;
    record(client_event::handshake_done, std::string(to_string(t->kind())));
  }

  /// WebSocket failed before the session opened: go on with polling (fallback, tryall, remember).
  /// `fresh_budget`: the WebSocket used up the connect timeout (tryall), so polling gets a new one.
  void fall_back(bool fresh_budget, std::string why) {
    fell_back_ = true;
    record(client_event::fell_back, std::move(why));
    if (options_.strat == strategy::remember) remember_fallback();
    retire(active_);
    if (fresh_budget) arm_connect_timer();
    active_ = detail::make_polling_transport(ex_, where_, owner_ptr());
    active_->open({});
  }

  /// The remember strategy: this target needed a fallback, so the process's next sessions to it start on polling.
  void remember_fallback() {
    fallback_memory::instance().remember(memory_key_, options_.remember_sessions, options_.remember_for, memory_now());
  }

  /// The time the remember strategy's memory goes by (client_options::remember_clock).
  clock::time_point memory_now() const { return options_.remember_clock ? options_.remember_clock() : clock::now(); }

  void arm_connect_timer() {
    auto const generation = ++connect_generation_;
    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([weak = std::weak_ptr<client>(shared_from_this()), generation](error_code ec) {
      auto self = std::static_pointer_cast<client_impl>(weak.lock());
      if (!ec && self && self->connect_generation_ == generation) self->on_connect_timeout();
    });
  }

  void on_connect_timeout() {
    if (!in_session_ || ns_connected_) return;
    if (options_.strat == strategy::tryall && !fell_back_ && active_ && active_->kind() == transport_kind::websocket &&
        !engine_open_) {
      // tryAllTransports moves on only when the WebSocket errs; a hanging one errs here, at the
      // connect timeout, and polling gets a budget of its own.
      record(client_event::websocket_failed,
             "websocket: no answer within the connect timeout (" + std::to_string(options_.connect_timeout.count()) + " ms)");
      fall_back(true, {});
      return;
    }
    end_session(client_error::connect_timeout, "not connected within the connect timeout");
  }

  // ---- race -----------------------------------------------------------------------------------

  void start_race_polling() {
    if (!in_session_ || ns_connected_ || rival_ || race_polling_started_) return;
    race_polling_started_ = true;
    rival_ = detail::make_polling_transport(ex_, where_, owner_ptr());
    rival_open_ = false;
    rival_->open({});
  }

  void on_rival_packet(codec::eio::packet&& p) {
    switch (p.type) {
      case packet_type::ping:
        rival_->send({codec::eio::encode_frame({packet_type::pong, false, std::move(p.data)})});
        return;
      case packet_type::message: {
        if (p.binary) return;
        sio::header h;
        if (sio::decode_header(p.data, h) || h.nsp != options_.nsp) return;
        if (h.type != sio::packet_type::connect && h.type != sio::packet_type::connect_error) return;
        // Polling answered the CONNECT first: it becomes the session, the WebSocket lane loses.
        promote_rival();
        on_socketio(p.data);
        return;
      }
      case packet_type::close:
        rival_open_ = false;
        retire(rival_);
        return;
      default: return;
    }
  }

  /// The polling lane becomes the active transport; the WebSocket lane, if any, waits in rival_ to
  /// be dismissed when the race is settled.
  void promote_rival() {
    std::swap(active_, rival_);
    std::swap(handshake_, rival_handshake_);
    bool const was_open = engine_open_;
    engine_open_ = rival_open_;
    rival_open_ = was_open;
    if (engine_open_) arm_watchdog();
  }

  /// The namespace is connected: the active transport won; the other lane's session is ended.
  void settle_race() {
    race_timer_.cancel();
    record(client_event::race_won, std::string(to_string(active_->kind())));
    if (!rival_) return;
    auto loser = std::move(rival_);
    bool const open = std::exchange(rival_open_, false);
    dismiss(loser, open);
  }

  /// End a losing lane without leaking its session on the server: an open one gets a close packet
  /// then a clean shutdown; a polling handshake in flight is ended once it opens (on_transport_open);
  /// a WebSocket still in its handshake is just closed (the server ends a session whose WebSocket
  /// closes).
  void dismiss(std::shared_ptr<detail::eio_transport>& loser, bool open) {
    if (open) {
      end_transport_session(loser);
    } else if (loser->kind() == transport_kind::polling) {
      dismissed_.push_back(std::move(loser));
    } else {
      retire(loser);
    }
    loser.reset();
  }

  void end_transport_session(std::shared_ptr<detail::eio_transport>& t) {
    t->send({std::string(1, codec::eio::type_char(packet_type::close))});
    t->shutdown();
    retired_.push_back(std::move(t));
    t.reset();
  }

  std::shared_ptr<client_impl> self_ptr() { return std::static_pointer_cast<client_impl>(shared_from_this()); }
  std::weak_ptr<detail::transport_owner> owner_ptr() { return std::shared_ptr<detail::transport_owner>(self_ptr()); }

  void record(client_event e, std::string detail) {
    transitions_.push_back({e, clock::now(), std::move(detail)});
    if (on_transition_) on_transition_(transitions_.back());
  }

  void start_session() {
    in_session_ = true;
    engine_open_ = ns_connected_ = upgrading_ = fell_back_ = false;
    rival_open_ = race_polling_started_ = handshake_noted_ = false;
    skip_binary_ = 0;
    record(client_event::connecting, std::string(to_string(options_.strat)));
    arm_connect_timer();
    if (!where_.endpoints.empty()) {
      open_first_transport();
      return;
    }
    resolver_.async_resolve(options_.host, std::to_string(options_.port),
                            [self = self_ptr()](error_code ec, net::ip::tcp::resolver::results_type results) {
                              if (!self->in_session_) return;
                              if (ec) return self->end_session(client_error::connect_failed, "resolve: " + ec.message());
                              self->where_.endpoints = std::move(results);
                              self->open_first_transport();
                            });
  }

  void open_first_transport() {
    bool ws_first = options_.strat != strategy::polling && options_.strat != strategy::upgrade;
    if (options_.strat == strategy::remember && fallback_memory::instance().take(memory_key_, memory_now())) {
      // Phoenix: a fallback to this target is remembered, so polling from the start, no upgrade.
      ws_first = false;
      fell_back_ = true;
      record(client_event::remembered, memory_key_);
    }
    if (options_.strat == strategy::race) {
      // Pusher's race: polling joins after the stagger (or at once when the WebSocket fails first).
      auto const generation = connect_generation_;
      race_timer_.expires_after(options_.race_stagger);
      race_timer_.async_wait([weak = std::weak_ptr<client>(shared_from_this()), generation](error_code ec) {
        auto self = std::static_pointer_cast<client_impl>(weak.lock());
        if (!ec && self && self->connect_generation_ == generation) self->start_race_polling();
      });
    }
    if (options_.strat == strategy::fallback && websocket_unusable_) {
      // The last session's WebSocket died before the namespace connected (a middlebox that lets the
      // handshake through and cuts the connection): start this one on polling, as socket.io-client
      // users do on `reconnect_attempt`, and try the upgrade from there.
      ws_first = false;
      fell_back_ = true;
      record(client_event::fell_back, "the last WebSocket session ended before the namespace connected");
    }
    active_ = ws_first ? detail::make_websocket_transport(ex_, where_, owner_ptr())
                       : detail::make_polling_transport(ex_, where_, owner_ptr());
    active_->open({});
  }

  void start_probe() {
    probe_ = detail::make_websocket_transport(ex_, where_, owner_ptr());
    probe_->open(handshake_.sid);
  }

  void probe_failed(std::string detail) {
    record(client_event::upgrade_failed, std::move(detail));
    retire(probe_);
    if (upgrading_) {
      upgrading_ = false;
      active_->resume();
      flush_pending();
    }
  }

  void finish_upgrade(detail::eio_transport* probe) {
    if (!in_session_ || probe_.get() != probe) return;
    probe_->send({std::string(1, codec::eio::type_char(packet_type::upgrade))});
    retire(active_);
    active_ = std::move(probe_);
    upgrading_ = false;
    record(client_event::upgraded, {});
    flush_pending();
  }

  void retire(std::shared_ptr<detail::eio_transport>& t) {
    if (!t) return;
    t->close();
    retired_.push_back(std::move(t));
    t.reset();
  }

  void send_frame(std::string_view frame) {
    if (upgrading_ || !active_) {
      pending_.emplace_back(frame);
      return;
    }
    active_->send_one(frame);
  }

  void flush_pending() {
    if (pending_.empty() || !active_) return;
    std::vector<std::string> frames(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()));
    pending_.clear();
    active_->send(std::move(frames));
  }

  void arm_watchdog() {
    // The server pings every pingInterval; silence for pingInterval + pingTimeout means it is gone.
    watchdog_.expires_after(handshake_.ping_interval + handshake_.ping_timeout);
    watchdog_.async_wait([weak = std::weak_ptr<client>(shared_from_this())](error_code ec) {
      auto self = std::static_pointer_cast<client_impl>(weak.lock());
      if (!ec && self && self->in_session_) self->end_session(client_error::ping_timeout, "no ping from the server");
    });
  }

  void on_socketio(std::string_view text) {
    sio::header h;
    if (auto bad = sio::decode_header(text, h)) {
      end_session(client_error::protocol_error, "Socket.IO packet: " + bad.message());
      return;
    }
    if (h.nsp != options_.nsp) return;
    switch (h.type) {
      case sio::packet_type::connect: {
        ns_connected_ = true;
        attempts_ = 0;
        connect_timer_.cancel();
        if (options_.strat == strategy::race) settle_race();
        {
          auto const data = nlohmann::json::parse(h.payload, nullptr, false);
          auto const field = [&](char const* k) {
            return data.is_object() && data.contains(k) && data[k].is_string() ? data[k].get<std::string>() : std::string{};
          };
          socket_id_ = field("sid");
          auto pid = field("pid");
          // Recovered: the server answered with the private id this client sent (socket.io-client's rule).
          recovered_ = options_.recovery && !pid_.empty() && pid == pid_;
          if (options_.recovery) pid_ = std::move(pid);
          // A fresh session's offsets start over.
          if (!recovered_) last_offset_.clear();
        }
        record(client_event::namespace_connected, {});
        if (recovered_) record(client_event::recovered, socket_id_);
        std::vector<std::string> frames(std::make_move_iterator(sio_buffer_.begin()),
                                        std::make_move_iterator(sio_buffer_.end()));
        sio_buffer_.clear();
        for (auto const& f : frames) send_frame(f);
        if (on_connect_) on_connect_();
        return;
      }
      case sio::packet_type::connect_error:
        end_session(client_error::namespace_refused, std::string(h.payload), true);
        return;
      case sio::packet_type::disconnect:
        end_session(client_error::server_close, "io server disconnect", true);
        return;
      case sio::packet_type::event:
      case sio::packet_type::binary_event: {
        skip_binary_ += h.attachments;
        sio::event_parts ev;
        if (sio::split_event(h.payload, ev, event_name_)) {
          end_session(client_error::protocol_error, "Socket.IO event payload is not [name, ...]");
          return;
        }
        if (options_.recovery && !pid_.empty()) ev.args = strip_offset(ev.args);
        if (on_event_) on_event_(ev.name, ev.args);
        return;
      }
      case sio::packet_type::ack:
      case sio::packet_type::binary_ack: {
        skip_binary_ += h.attachments;
        if (!h.id) return;
        if (auto handler = acks_.take(*h.id)) handler({}, h.payload);
        return;
      }
    }
  }

  /// How an error reads in results (client::last_error_name).
  static std::string error_name(error_code ec, std::string_view detail) {
    if (ec == client_error::http_status) {
      if (auto const at = detail.find("HTTP "); at != std::string_view::npos) return std::string(detail.substr(at));
    } else if (ec == client_error::namespace_refused) {
      // CONNECT_ERROR's payload: {"message": "..."} (Socket.IO v5), or a bare string from older servers.
      auto const j = nlohmann::json::parse(detail, nullptr, false);
      std::string why;
      if (j.is_object() && j.contains("message") && j["message"].is_string()) why = j["message"].get<std::string>();
      else if (j.is_string()) why = j.get<std::string>();
      else why = std::string(detail.substr(0, 200));
      return ec.message() + ": " + why;
    }
    return ec.message();
  }

  void end_session(error_code ec, std::string detail, bool final_disconnect = false) {
    if (!in_session_) return;
    in_session_ = false;
    watchdog_.cancel();
    connect_timer_.cancel();
    race_timer_.cancel();
    ++connect_generation_;
    if (rival_) {
      // A race ended before it was settled: the polling lane's session ends with it.
      bool const open = std::exchange(rival_open_, false);
      dismiss(rival_, open);
    }
    bool const graceful = ec == client_error::client_close;
    if (active_ && graceful) {
      active_->shutdown();
      retired_.push_back(std::move(active_));
    }
    // Under the fallback strategy a WebSocket session lost before it was usable counts as a failed
    // WebSocket: the next attempt starts on polling (open_first_transport).
    if (!graceful && !ns_connected_ && active_ && active_->kind() == transport_kind::websocket) {
      if (options_.strat == strategy::fallback) websocket_unusable_ = true;
      if (options_.strat == strategy::remember) remember_fallback();
    }
    retire(active_);
    retire(probe_);
    engine_open_ = ns_connected_ = upgrading_ = false;
    pending_.clear();
    last_error_ = ec;
    last_error_name_ = error_name(ec, detail);
    record(client_event::disconnected, detail.empty() ? ec.message() : ec.message() + ": " + detail);
    for (auto& handler : acks_.take_all()) handler(ec, {});
    if (on_disconnect_) on_disconnect_(ec);
    if (options_.reconnect && !user_closed_ && !final_disconnect) schedule_reconnect();
  }

  void schedule_reconnect() {
    ++attempts_;
    if (options_.reconnect_attempts > 0 && attempts_ > options_.reconnect_attempts) return;
    // Exponential backoff with jitter, as socket.io-client's backoff: base * 2^(n-1), capped, then
    // moved by up to +-randomization_factor of itself.
    double delay = static_cast<double>(options_.reconnect_delay.count()) * std::pow(2.0, attempts_ - 1);
    delay = std::min(delay, static_cast<double>(options_.reconnect_delay_max.count()));
    if (options_.randomization_factor > 0) {
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      double const deviation = unit(rng_) * options_.randomization_factor * delay;
      delay = unit(rng_) < 0.5 ? delay - deviation : delay + deviation;
    }
    auto const wait = std::chrono::milliseconds{static_cast<std::int64_t>(delay)};
    record(client_event::reconnecting, "attempt " + std::to_string(attempts_) + " in " + std::to_string(wait.count()) + " ms");
    reconnect_timer_.expires_after(wait);
    reconnect_timer_.async_wait([weak = std::weak_ptr<client>(shared_from_this())](error_code ec) {
      auto self = std::static_pointer_cast<client_impl>(weak.lock());
      if (!ec && self && !self->user_closed_) self->start_session();
    });
  }

  net::any_io_executor ex_;
  client_options const options_;
  net::ip::tcp::resolver resolver_;
  detail::endpoint_info where_;
  std::shared_ptr<detail::eio_transport> active_;
  std::shared_ptr<detail::eio_transport> probe_;
  /// The race's polling lane until the race is settled (the WebSocket lane is active_).
  std::shared_ptr<detail::eio_transport> rival_;
  codec::eio::handshake rival_handshake_;
  /// Race losers whose polling handshake is in flight: their session is closed once it opens.
  std::vector<std::shared_ptr<detail::eio_transport>> dismissed_;
  std::string memory_key_;  ///< The target as the remember strategy's memory knows it.
  std::vector<std::shared_ptr<detail::eio_transport>> retired_;  ///< Kept for their byte counters.
  codec::eio::handshake handshake_;
  net::steady_timer watchdog_;
  net::steady_timer connect_timer_;
  net::steady_timer reconnect_timer_;
  net::steady_timer race_timer_;
  std::uint64_t connect_generation_ = 0;  ///< Timers armed for an earlier deadline or session do nothing.
  std::deque<std::string> pending_;     ///< Engine.IO frames held during an upgrade.
  std::deque<std::string> sio_buffer_;  ///< Emits before the namespace is connected.
  ack_table acks_;
  std::string emit_buffer_;  ///< emit()'s encoding, reused
  std::uint64_t next_ack_id_ = 0;
  std::size_t skip_binary_ = 0;
  std::string event_name_;
  std::string socket_id_;
  std::string pid_;          ///< The private id of the CONNECT answer (recovery).
  std::string last_offset_;  ///< The offset of the last broadcast read (recovery).
  bool recovered_ = false;
  std::vector<transition> transitions_;
  error_code last_error_;
  std::string last_error_name_;
  std::mt19937_64 rng_;
  int attempts_ = 0;
  bool in_session_ = false;
  bool engine_open_ = false;
  bool ns_connected_ = false;
  bool upgrading_ = false;
  bool fell_back_ = false;
  bool rival_open_ = false;             ///< The race's polling lane has its Engine.IO session.
  bool race_polling_started_ = false;   ///< The race's polling lane was started this session.
  bool handshake_noted_ = false;
  /// Fallback strategy: a WebSocket session was lost before its namespace connected; reconnections
  /// start on polling from then on (for the client's life: its upgrade probe tries WebSocket again).
  bool websocket_unusable_ = false;
  bool user_closed_ = false;

  event_handler on_event_;
  std::function<void()> on_connect_;
  std::function<void(error_code)> on_disconnect_;
  std::function<void(transition const&)> on_transition_;
};

}  // namespace

boost::system::error_category const& client_error_category() noexcept {
  static client_category const instance;
  return instance;
}

error_code make_error_code(client_error e) noexcept { return {static_cast<int>(e), client_error_category()}; }

void apply_target(server_url const& url, target_settings const& settings, client_options& options) {
  options.host = url.host;
  options.port = url.port;
  options.path = settings.path.value_or(url.path);
  options.query = url.query;
  options.tls = url.tls;
  options.tls_verify = !settings.insecure;
  options.tls_ca_file = settings.ca_file;
  options.nsp = settings.nsp;
  options.headers = settings.headers;
  options.cookies = settings.cookies;
  options.cookie_jar = settings.cookie_jar;
  options.tls_resume = settings.tls_resume;
  options.auth_json = settings.auth_json;
}

std::shared_ptr<client> client::create(net::any_io_executor ex, client_options options) {
  return std::make_shared<client_impl>(std::move(ex), std::move(options));
}

}  // namespace fallbench::transport
