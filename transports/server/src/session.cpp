#include "session_impl.hpp"

#include "websocket_connection.hpp"

#include "fallbench/codec/websocket.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace fallbench::transport {

std::string_view to_string(close_reason r) noexcept {
  switch (r) {
    case close_reason::client_close: return "client close";
    case close_reason::transport_close: return "transport close";
    case close_reason::transport_error: return "transport error";
    case close_reason::ping_timeout: return "ping timeout";
    case close_reason::parse_error: return "parse error";
    case close_reason::duplicate_poll: return "duplicate poll";
    case close_reason::overflow: return "outbound queue overflow";
    case close_reason::payload_too_large: return "payload too large";
    case close_reason::server_close: return "server close";
    case close_reason::no_first_poll: return "no first poll";
    case close_reason::stopped_polling: return "stopped polling";
  }
  return "unknown";
}

namespace {

/// A frame of `size` packet bytes written by `fill`, with its unmasked WebSocket header in the headroom
/// just before them.
template <class Fill>
frame make_frame(bool binary, std::size_t size, Fill&& fill) {
  auto storage = std::make_shared<std::string>(frame::headroom + size, '\0');
  fill(storage->data() + frame::headroom);
  unsigned char header[frame::headroom];
  auto const n = codec::ws::write_header(header, binary ? codec::ws::binary : codec::ws::text, size);
  auto const head = static_cast<std::uint8_t>(frame::headroom - n);
  std::copy(header, header + n, storage->data() + head);
  return {std::move(storage), head, binary};
}

}  // namespace

frame frame::message(std::string_view text) {
  return make_frame(false, 1 + text.size(), [&](char* out) {
    *out++ = codec::eio::type_char(codec::eio::packet_type::message);
    std::copy(text.begin(), text.end(), out);
  });
}

frame frame::binary_message(std::string_view bytes) {
  return make_frame(true, bytes.size(), [&](char* out) { std::copy(bytes.begin(), bytes.end(), out); });
}

frame frame::of(codec::eio::packet const& p) {
  if (p.binary) return binary_message(p.data);
  return make_frame(false, 1 + p.data.size(), [&](char* out) {
    *out++ = codec::eio::type_char(p.type);
    std::copy(p.data.begin(), p.data.end(), out);
  });
}

namespace detail {
namespace {

frame const& close_frame() {
  static frame const f = frame::of({codec::eio::packet_type::close, false, {}});
  return f;
}

frame const& ping_frame() {
  static frame const f = frame::of({codec::eio::packet_type::ping, false, {}});
  return f;
}

}  // namespace

void frame_queue::push_back(frame const& f) {
  if (size_ == ring_.size()) {
    std::vector<frame> bigger;
    bigger.reserve(std::max(first_capacity, ring_.size() * 2));
    for (std::size_t i = 0; i < size_; ++i) bigger.push_back(std::move(ring_[(head_ + i) % ring_.size()]));
    bigger.resize(bigger.capacity());
    ring_ = std::move(bigger);
    head_ = 0;
  }
  ring_[(head_ + size_) % ring_.size()] = f;
  ++size_;
}

frame frame_queue::take_front() {
  frame f = std::move(ring_[head_]);
  head_ = (head_ + 1) % ring_.size();
  if (--size_ == 0) {
    head_ = 0;
    if (ring_.size() > kept_capacity) release();
  }
  return f;
}

void frame_queue::clear() {
  release();
  head_ = size_ = 0;
}

void frame_queue::release() noexcept {
  // Not `ring_ = {}`: that assigns an empty initializer list, which destroys the frames but keeps
  // the allocation.
  std::vector<frame>().swap(ring_);
}

session_impl::session_impl(std::shared_ptr<server_state> state, session_handler& handler, std::string sid,
                           transport_kind kind, std::string peer)
    : state_(std::move(state)),
      handler_(handler),
      sid_(std::move(sid)),
      peer_(std::move(peer)),
      transport_(kind) {}

session_impl::~session_impl() { state_->deadlines->cancel(*this); }

void session_impl::start() {
  {
    std::lock_guard lock(mutex_);
    opened_at_ = clock::now();
    schedule_ping_locked();
  }
  std::lock_guard inbound(inbound_mutex_);
  handler_.on_open(shared_from_this());
}

send_result session_impl::send(std::span<frame const> frames) {
  std::shared_ptr<poll_sink> sink;
  std::shared_ptr<websocket_connection> ws;
  std::string body;
  bool overflow = false;
  {
    std::lock_guard lock(mutex_);
    if (phase_ == phase::closing || phase_ == phase::closed) return send_result::closed;
    std::size_t bytes = 0;
    for (auto const& f : frames) bytes += f.size();
    if (queued_bytes_ + bytes > state_->options.lim.max_queued_bytes) {
      if (state_->options.lim.on_overflow == overflow_policy::drop) {
        counters::add(state_->stats.dropped_packets, frames.size());
        return send_result::dropped;
      }
      overflow = true;  // policy close: fail() below, outside the lock
    } else {
      for (auto const& f : frames) queue_.push_back(f);
      queued_bytes_ += bytes;
      release_locked(sink, body, ws);
    }
  }
  if (overflow) {
    fail(close_reason::overflow);
    return send_result::closed;
  }
  if (sink) sink->complete_poll(std::move(body));
  if (ws) ws->notify();
  return send_result::queued;
}

void session_impl::close() {
  std::shared_ptr<poll_sink> sink;
  std::shared_ptr<websocket_connection> ws;
  std::string body;
  {
    std::lock_guard lock(mutex_);
    if (phase_ == phase::closing || phase_ == phase::closed) return;
    phase_ = phase::closing;
    queue_.push_back(close_frame());
    queued_bytes_ += close_frame().size();
    close_queued_ = true;
    release_locked(sink, body, ws);
    // A client that never fetches the close packet does not hold the session forever.
    arm_heartbeat_locked(state_->options.lim.close_timeout);
  }
  if (sink) sink->complete_poll(std::move(body));
  if (ws) ws->notify();
}

void session_impl::cork() {
  std::lock_guard lock(mutex_);
  ++corked_;
}

void session_impl::uncork() {
  std::shared_ptr<poll_sink> sink;
  std::shared_ptr<websocket_connection> ws;
  std::string body;
  {
    std::lock_guard lock(mutex_);
    if (--corked_ > 0 || queue_.empty() || phase_ == phase::closed) return;
    release_locked(sink, body, ws);
  }
  if (sink) sink->complete_poll(std::move(body));
  if (ws) ws->notify();
}

void session_impl::release_locked(std::shared_ptr<poll_sink>& sink, std::string& body,
                                  std::shared_ptr<websocket_connection>& ws) {
  if (corked_ > 0) return;
  if (parked_) {
    sink = std::move(parked_);
    body = flush_locked();
    unpolled_since_ = clock::now();
  } else if (ws_ && !ws_pending_) {
    ws_pending_ = true;
    ws = ws_;
  }
}

std::string session_impl::flush_locked() {
  std::string body;
  body.reserve(queued_bytes_ + queue_.size() * 2);
  queue_.for_each([&](frame const& f) { codec::eio::append_payload_frame(f.packet(), f.binary, body); });
  counters::add(state_->stats.packets_out, queue_.size());
  counters::add(state_->stats.bytes_out, body.size());
  close_flushed_ = close_queued_;
  queue_.clear();
  queued_bytes_ = 0;
  return body;
}

void session_impl::schedule_ping_locked() {
  awaiting_pong_ = false;
  arm_heartbeat_locked(state_->options.lim.ping_interval);
}

void session_impl::arm_heartbeat_locked(clock::duration after) {
  auto const now = clock::now();
  heartbeat_due_ = now + after;
  rearm_locked(now);
}

void session_impl::rearm_locked(clock::time_point now) {
  close_reason why{};
  auto const at = std::min(heartbeat_due_, poll_deadline_locked(now, why));
  // A deadline queued no later is kept: on_deadline finds the step not yet due and queues it again.
  state_->deadlines->schedule_no_later(*this, at);
}

session_impl::clock::time_point session_impl::poll_deadline_locked(clock::time_point now, close_reason& why) const {
  auto const& lim = state_->options.lim;
  if (transport() != transport_kind::polling || phase_ != phase::open) return clock::time_point::max();
  if (!polled_) {
    // A later first-poll deadline than the first ping would only rename the heartbeat's timeout.
    if (lim.first_poll_timeout.count() <= 0 || lim.first_poll_timeout >= lim.ping_interval) return clock::time_point::max();
    why = close_reason::no_first_poll;
    return opened_at_ + lim.first_poll_timeout;
  }
  if (lim.poll_gap_timeout.count() <= 0 || lim.poll_gap_timeout >= lim.ping_interval + lim.ping_timeout)
    return clock::time_point::max();
  why = close_reason::stopped_polling;
  // With a GET parked no gap has begun: look again a whole gap later (one wake per gap at most,
  // rather than a timer re-armed on every poll).
  return (parked_ ? now : unpolled_since_) + lim.poll_gap_timeout;
}

void session_impl::on_deadline() {
  enum class action { ping, timeout, close_expired, stopped_polling } act;
  close_reason polling_reason = close_reason::no_first_poll;
  {
    std::lock_guard lock(mutex_);
    if (phase_ == phase::closed) return;
    auto const now = clock::now();
    if (now < heartbeat_due_) {
      // An early wake for a polling check; the heartbeat's own step is not due yet.
      if (now < poll_deadline_locked(now, polling_reason)) {
        rearm_locked(now);
        return;
      }
      act = action::stopped_polling;
    } else if (phase_ == phase::closing) {
      act = action::close_expired;
    } else if (awaiting_pong_) {
      act = action::timeout;
    } else {
      // Ping, then allow pingTimeout for the pong (Engine.IO README, "Heartbeat").
      act = action::ping;
      awaiting_pong_ = true;
      arm_heartbeat_locked(state_->options.lim.ping_timeout);
    }
  }
  switch (act) {
    case action::ping: send(ping_frame()); return;
    case action::timeout: fail(close_reason::ping_timeout); return;
    case action::close_expired: fail(close_reason::server_close); return;
    case action::stopped_polling: fail(polling_reason); return;
  }
}

void session_impl::on_packet(codec::eio::packet&& p) {
  using codec::eio::packet_type;
  counters::add(state_->stats.packets_in);
  counters::add(state_->stats.bytes_in, p.data.size() + (p.binary ? 0 : 1));
  switch (p.type) {
    case packet_type::message: deliver(std::move(p)); return;
    case packet_type::pong: {
      std::lock_guard lock(mutex_);
      if (awaiting_pong_ && phase_ != phase::closing && phase_ != phase::closed) schedule_ping_locked();
      return;
    }
    case packet_type::ping:
      // A v4 client does not ping, but answering one costs nothing and helps older peers.
      send(frame::of({packet_type::pong, false, std::move(p.data)}));
      return;
    case packet_type::close: fail(close_reason::client_close, '6'); return;
    case packet_type::upgrade:
    case packet_type::noop: return;
    case packet_type::open: fail(close_reason::parse_error); return;
  }
}

void session_impl::deliver(codec::eio::packet&& p) {
  std::lock_guard inbound(inbound_mutex_);
  if (closed()) return;
  handler_.on_message(shared_from_this(), std::move(p));
}

void session_impl::fail(close_reason why, char release) {
  std::shared_ptr<poll_sink> sink;
  std::shared_ptr<websocket_connection> ws;
  std::shared_ptr<websocket_connection> probe;
  {
    std::lock_guard lock(mutex_);
    if (phase_ == phase::closed) return;
    phase_ = phase::closed;
    closed_.store(true, std::memory_order_release);
    sink = std::move(parked_);
    ws = std::move(ws_);
    probe = std::move(probe_);
    queue_.clear();
    queued_bytes_ = 0;
    state_->deadlines->cancel(*this);
  }
  if (sink) sink->complete_poll(std::string(1, release));
  if (ws) ws->shutdown();
  if (probe) probe->shutdown();
  finish_close(why);
}

void session_impl::finish_close(close_reason why) {
  counters::add(state_->stats.sessions_closed[static_cast<std::size_t>(why)]);
  // Told from a fresh handler, never inline: the caller may hold another session's inbound lock.
  // The session leaves the table only after the application heard of it, so "no session open"
  // means every on_close has run (a shutdown that waits for it leaks no application state);
  // meanwhile the table's find() no longer returns it.
  boost::asio::post(state_->ioc, [self = shared_from_this(), why] {
    {
      std::lock_guard inbound(self->inbound_mutex_);
      self->handler_.on_close(self, why);
    }
    self->state_->remove(self->sid_);
  });
}

poll_outcome session_impl::on_poll(std::shared_ptr<poll_sink> const& sink, std::string& body) {
  std::shared_ptr<poll_sink> duplicate;
  {
    std::lock_guard lock(mutex_);
    if (phase_ == phase::closed) return poll_outcome::unknown;
    if (transport() == transport_kind::websocket) return poll_outcome::bad_request;
    if (!polled_) {
      // The timer was armed for the first-poll deadline; from the first GET on, the gap check says
      // when it wakes (once, not per poll).
      polled_ = true;
      unpolled_since_ = clock::now();
      rearm_locked(unpolled_since_);
    }
    if (parked_) {
      duplicate = parked_;
    } else if (!queue_.empty()) {
      body = flush_locked();
      unpolled_since_ = clock::now();
      return poll_outcome::respond;
    } else if (phase_ == phase::upgrading) {
      // The client is pausing polling for the upgrade: end this request at once.
      body = codec::eio::type_char(codec::eio::packet_type::noop);
      unpolled_since_ = clock::now();
      return poll_outcome::respond;
    } else {
      parked_ = sink;
      return poll_outcome::parked;
    }
  }
  // Two GETs at once: close the session (Engine.IO README, "HTTP long-polling").
  fail(close_reason::duplicate_poll);
  return poll_outcome::unknown;
}

void session_impl::cancel_poll(poll_sink const* sink) {
  std::lock_guard lock(mutex_);
  if (parked_.get() != sink) return;
  parked_.reset();
  unpolled_since_ = clock::now();
}

void session_impl::on_poll_written() {
  {
    std::lock_guard lock(mutex_);
    // The gap runs from when the client had the response, as far as the server can tell.
    unpolled_since_ = clock::now();
    if (!close_flushed_) return;
  }
  fail(close_reason::server_close);
}

poll_outcome session_impl::begin_post() {
  {
    std::lock_guard lock(mutex_);
    if (phase_ == phase::closed) return poll_outcome::unknown;
    if (transport() == transport_kind::websocket) return poll_outcome::bad_request;
    if (!post_active_) {
      post_active_ = true;
      return poll_outcome::respond;
    }
  }
  fail(close_reason::duplicate_poll);
  return poll_outcome::unknown;
}

void session_impl::end_post() {
  std::lock_guard lock(mutex_);
  post_active_ = false;
}

void session_impl::attach(std::shared_ptr<websocket_connection> ws) {
  std::lock_guard lock(mutex_);
  ws_ = std::move(ws);
  ws_pending_ = !queue_.empty();
}

bool session_impl::begin_probe(std::shared_ptr<websocket_connection> const& ws) {
  std::lock_guard lock(mutex_);
  if (phase_ != phase::open || transport() != transport_kind::polling || probe_) return false;
  probe_ = ws;
  return true;
}

void session_impl::probe_received() {
  std::shared_ptr<poll_sink> sink;
  {
    std::lock_guard lock(mutex_);
    if (phase_ != phase::open || !probe_) return;
    phase_ = phase::upgrading;
    sink = std::move(parked_);
  }
  if (sink) sink->complete_poll(std::string(1, codec::eio::type_char(codec::eio::packet_type::noop)));
}

bool session_impl::complete_upgrade(websocket_connection const* ws) {
  std::shared_ptr<poll_sink> sink;
  {
    std::lock_guard lock(mutex_);
    if (phase_ != phase::upgrading || probe_.get() != ws) return false;
    ws_ = std::move(probe_);
    phase_ = phase::open;
    transport_.store(transport_kind::websocket, std::memory_order_release);
    sink = std::move(parked_);
    ws_pending_ = !queue_.empty();
  }
  counters::add(state_->stats.upgrades);
  if (sink) sink->complete_poll(std::string(1, codec::eio::type_char(codec::eio::packet_type::noop)));
  return true;
}

void session_impl::abort_probe(websocket_connection const* ws) {
  std::lock_guard lock(mutex_);
  if (probe_.get() != ws) return;
  probe_.reset();
  if (phase_ == phase::upgrading) resume_polling_locked();
}

void session_impl::resume_polling_locked() {
  // The client paused polling for the upgrade: its gap starts now, and the checks are armed again.
  phase_ = phase::open;
  auto const now = clock::now();
  unpolled_since_ = now;
  rearm_locked(now);
}

bool session_impl::take_frames(websocket_connection const* ws, std::vector<frame>& out, std::size_t max_frames,
                               std::size_t max_bytes, bool& is_close) {
  std::lock_guard lock(mutex_);
  if (ws_.get() != ws || queue_.empty()) {
    ws_pending_ = false;
    return false;
  }
  std::size_t taken = 0;
  std::size_t bytes = 0;
  std::size_t wire_bytes = 0;
  while (!queue_.empty() && taken < max_frames && (taken == 0 || wire_bytes < max_bytes)) {
    out.push_back(queue_.take_front());
    bytes += out.back().size();
    wire_bytes += out.back().websocket_bytes().size();
    ++taken;
  }
  queued_bytes_ -= bytes;
  is_close = close_queued_ && queue_.empty() && out.back().storage == close_frame().storage;
  counters::add(state_->stats.packets_out, taken);
  counters::add(state_->stats.bytes_out, bytes);
  return true;
}

void session_impl::on_websocket_closed(websocket_connection const* ws, close_reason why) {
  {
    std::lock_guard lock(mutex_);
    if (probe_.get() == ws) {
      probe_.reset();
      if (phase_ == phase::upgrading) resume_polling_locked();
      return;
    }
    if (ws_.get() != ws) return;
    if (close_queued_) why = close_reason::server_close;
  }
  fail(why);
}

}  // namespace detail
}  // namespace fallbench::transport
