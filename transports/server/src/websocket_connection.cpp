#include "websocket_connection.hpp"

#include "session_impl.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <array>
#include <span>
#include <utility>

namespace fallbench::transport::detail {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using codec::eio::packet_type;

namespace {

// RFC 6455 5.2 opcodes.
constexpr unsigned op_continuation = 0x0, op_text = 0x1, op_binary = 0x2, op_close = 0x8, op_ping = 0x9,
                   op_pong = 0xA;

// RFC 6455 7.4.1 status codes.
constexpr std::uint16_t close_normal = 1000, close_protocol_error = 1002, close_invalid_data = 1007,
                        close_too_big = 1009, close_try_again_later = 1013;

/// How much of the session's queue one write takes: bounds the time between two control frames.
constexpr std::size_t max_batch_frames = 256;
constexpr std::size_t max_batch_bytes = 256 * 1024;
/// How long the closing side waits for the other's close frame before dropping the connection.
constexpr std::chrono::seconds close_deadline{5};

/// A status code a peer may send in a close frame (RFC 6455 7.4.1, 7.4.2; 1012-1014 registered since).
bool valid_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
  auto const* p = reinterpret_cast<unsigned char const*>(s.data());
  auto const* const end = p + s.size();
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (*p >= 0xC2 && *p <= 0xDF) {
      n = 1;
    } else if (*p >= 0xE0 && *p <= 0xEF) {
      n = 2;
      if (*p == 0xE0) lo = 0xA0;
      if (*p == 0xED) hi = 0x9F;
    } else if (*p >= 0xF0 && *p <= 0xF4) {
      n = 3;
      if (*p == 0xF0) lo = 0x90;
      if (*p == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= n || p[1] < lo || p[1] > hi) return false;
    for (std::size_t i = 2; i <= n; ++i)
      if ((p[i] & 0xC0) != 0x80) return false;
    p += n + 1;
  }
  return true;
}

/// The per-thread buffer reads go into: a connection keeps only what a split frame leaves over.
std::span<char> read_scratch() {
  thread_local std::array<char, 64 * 1024> buffer;
  return buffer;
}

}  // namespace

websocket_connection::websocket_connection(std::shared_ptr<server_state> state, beast::tcp_stream&& stream)
    : handshake_(std::in_place, std::move(stream)),
      socket_(handshake_->get_executor()),
      state_(std::move(state)),
      timer_(handshake_->get_executor()) {}

void websocket_connection::run(request req, std::shared_ptr<session_impl> existing, session_handler& handler,
                               std::string early) {
  req_ = std::move(req);
  partial_ = std::move(early);
  handler_ = &handler;
  session_ = std::move(existing);
  probing_ = session_ != nullptr;
  beast::get_lowest_layer(*handshake_).expires_never();
  // The opening handshake's deadline; after it, liveness is the Engine.IO heartbeat's job.
  handshake_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  handshake_->set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "fallbench"); }));
  handshake_->async_accept(req_, beast::bind_front_handler(&websocket_connection::on_accept, shared_from_this()));
}

void websocket_connection::on_accept(boost::system::error_code ec) {
  req_ = {};
  if (ec) {
    if (probing_) session_->abort_probe(this);
    return;
  }
  // From here on the connection frames by itself; Beast's stream has no operation pending.
  socket_ = handshake_->next_layer().release_socket();
  handshake_.reset();
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);
  // Frames are batched here, so Nagle's algorithm would only delay them.
  socket_.set_option(net::ip::tcp::no_delay(true), ignored);
  if (!probing_) {
    start_new_session();
    return;
  }
  if (!session_->begin_probe(shared_from_this())) {
    // Already upgrading or upgraded: this second WebSocket is refused (Engine.IO README, "Upgrade").
    session_.reset();
    probing_ = false;
    do_read();
    do_close();
    return;
  }
  timer_.expires_after(state_->options.lim.upgrade_timeout);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code timer_ec) {
    if (timer_ec || !self->probing_) return;
    self->session_->abort_probe(self.get());
    self->probing_ = false;
    self->do_close();
  });
  do_read();
  absorb(nullptr, 0);
}

void websocket_connection::start_new_session() {
  session_ = state_->create_session(transport_kind::websocket, *handler_);
  do_read();
  if (!session_) {
    // Full or stopping: 1013 "try again later".
    close_code_ = close_try_again_later;
    do_close();
    return;
  }
  codec::eio::handshake h;
  h.sid = session_->id();
  h.ping_interval = state_->options.lim.ping_interval;
  h.ping_timeout = state_->options.lim.ping_timeout;
  h.max_payload_bytes = state_->options.lim.max_payload_bytes;
  session_->send(frame::of({packet_type::open, false, codec::eio::encode_handshake(h)}));
  session_->attach(shared_from_this());
  do_write();
  session_->start();
  absorb(nullptr, 0);
}

void websocket_connection::do_read() {
  if (reading_ || !socket_.is_open()) return;
  reading_ = true;
  socket_.async_wait(net::ip::tcp::socket::wait_read,
                     beast::bind_front_handler(&websocket_connection::on_readable, shared_from_this()));
}

void websocket_connection::on_readable(boost::system::error_code ec) {
  reading_ = false;
  if (!socket_.is_open()) return;
  if (ec) {
    close_socket();
    end(close_reason::transport_error);
    return;
  }
  auto const scratch = read_scratch();
  // A few reads per wake-up at most, so one busy client cannot hold the thread.
  for (int round = 0; round < 4; ++round) {
    boost::system::error_code read_ec;
    std::size_t const n = socket_.read_some(net::buffer(scratch.data(), scratch.size()), read_ec);
    if (read_ec == net::error::would_block || read_ec == net::error::try_again) break;
    if (read_ec) {
      // The peer is gone (end of stream without a close frame, or a reset): nothing more to send.
      peer_closed_ = true;
      close_socket();
      end(read_ec == net::error::eof ? close_reason::transport_close : close_reason::transport_error);
      return;
    }
    if (!absorb(scratch.data(), n)) return;
    if (n < scratch.size()) break;
  }
  do_read();
}

bool websocket_connection::absorb(char* data, std::size_t size) {
  // Everything these bytes make the session send leaves together (session_impl::cork).
  auto const session = probing_ ? nullptr : session_;
  cork_guard cork(session.get());
  std::size_t used = 0;
  if (partial_.empty()) {
    if (!consume(data, size, used)) return false;
    if (used < size) partial_.assign(data + used, size - used);
    return true;
  }
  partial_.append(data, size);
  if (!consume(partial_.data(), partial_.size(), used)) return false;
  partial_.erase(0, used);
  if (partial_.empty()) std::string().swap(partial_);  // an idle connection holds no buffer
  return true;
}

bool websocket_connection::consume(char* data, std::size_t size, std::size_t& used) {
  used = 0;
  std::size_t const max = state_->options.lim.max_payload_bytes;
  while (size - used >= 2) {
    auto const* const p = reinterpret_cast<unsigned char const*>(data + used);
    std::size_t const available = size - used;
    bool const fin = (p[0] & 0x80) != 0;
    unsigned const opcode = p[0] & 0x0F;
    std::uint64_t length = p[1] & 0x7F;
    std::size_t header = 2;
    // No extension is negotiated, so RSV bits are errors; client frames must be masked (5.1, 5.2).
    bool bad = (p[0] & 0x70) != 0 || (p[1] & 0x80) == 0;
    if (length == 126) {
      if (available < 4) return true;
      length = (std::uint64_t{p[2]} << 8) | p[3];
      header = 4;
      bad = bad || length < 126;  // lengths use the shortest form (5.2)
    } else if (length == 127) {
      if (available < 10) return true;
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
      header = 10;
      bad = bad || length <= 0xFFFF || (length >> 63) != 0;
    }
    if (opcode >= 0x8) {
      bad = bad || !fin || length > 125 || opcode > op_pong;  // control frames (5.5)
    } else {
      bad = bad || opcode > op_binary;
    }
    if (bad) {
      fail(close_protocol_error, close_reason::parse_error);
      return false;
    }
    if (opcode < 0x8 && length + (opcode == op_continuation ? message_.size() : 0) > max) {
      fail(close_too_big, close_reason::payload_too_large);
      return false;
    }
    header += 4;
    if (available < header + length) return true;
    unsigned char const mask[4] = {p[header - 4], p[header - 3], p[header - 2], p[header - 1]};
    char* const payload = data + used + header;
    for (std::size_t i = 0; i < length; ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i & 3]);
    used += header + static_cast<std::size_t>(length);
    if (handle_frame(opcode, fin, payload, static_cast<std::size_t>(length)) != frame_status::done) return false;
  }
  return true;
}

websocket_connection::frame_status websocket_connection::handle_frame(unsigned opcode, bool fin, char* payload,
                                                                       std::size_t size) {
  std::string_view const data(payload, size);
  switch (opcode) {
    case op_text:
    case op_binary:
      if (in_message_) break;  // a new message before the last one's final fragment (5.4)
      if (fin) return deliver(data, opcode == op_binary) ? frame_status::done : frame_status::failed;
      in_message_ = true;
      message_binary_ = opcode == op_binary;
      message_.assign(data);
      return frame_status::done;
    case op_continuation: {
      if (!in_message_) break;
      message_.append(data);
      if (!fin) return frame_status::done;
      in_message_ = false;
      std::string whole;
      whole.swap(message_);
      return deliver(whole, message_binary_) ? frame_status::done : frame_status::failed;
    }
    case op_close: {
      peer_closed_ = true;
      std::uint16_t code = close_normal;
      if (size >= 2) {
        code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                          static_cast<unsigned char>(payload[1]));
        if (!valid_close_code(code)) code = close_protocol_error;
        if (!valid_utf8(data.substr(2))) code = close_invalid_data;
      } else if (size == 1) {
        code = close_protocol_error;
      }
      // Answer with the same code (5.5.1), then the connection ends.
      if (!close_queued_) close_code_ = code;
      end(close_reason::transport_close);
      if (close_sent_) close_socket();
      return frame_status::failed;
    }
    case op_ping:
      if (!close_queued_) {
        queue_control(op_pong, data);
        do_write();
      }
      return frame_status::done;
    case op_pong: return frame_status::done;
  }
  fail(close_protocol_error, close_reason::parse_error);
  return frame_status::failed;
}

bool websocket_connection::deliver(std::string_view message, bool binary) {
  if (closing_) return true;  // the close frame is on its way: nothing more is read
  if (!binary && !valid_utf8(message)) {
    fail(close_invalid_data, close_reason::parse_error);
    return false;
  }
  codec::eio::packet p;
  if (codec::eio::decode_frame(message, binary, p, state_->options.lim.max_payload_bytes)) {
    failed_ = true;
    if (probing_) {
      end(close_reason::parse_error);
    } else {
      session_->fail(close_reason::parse_error);
    }
    return false;
  }
  if (probing_) {
    on_probe_packet(std::move(p));
  } else {
    session_->on_packet(std::move(p));
  }
  // Reading goes on even if that packet closed the session: the peer's close frame is still due.
  return true;
}

void websocket_connection::on_probe_packet(codec::eio::packet&& p) {
  if (p.type == packet_type::ping && !p.binary && p.data == "probe") {
    queue_control(op_text, "3probe");
    do_write();
    session_->probe_received();
    return;
  }
  if (p.type == packet_type::upgrade && session_->complete_upgrade(this)) {
    probing_ = false;
    timer_.cancel();
    do_write();
    return;
  }
  // Anything else while probing ends the probe; the session carries on over polling.
  end(close_reason::parse_error);
}

void websocket_connection::queue_control(unsigned opcode, std::string_view payload) {
  control_ += static_cast<char>(0x80 | opcode);
  control_ += static_cast<char>(payload.size());  // control payloads are at most 125 bytes (5.5)
  control_ += payload;
}

void websocket_connection::notify() {
  net::post(socket_.get_executor(), [self = shared_from_this()] { self->do_write(); });
}

void websocket_connection::do_write() {
  if (writing_ || close_sent_ || !socket_.is_open()) return;
  iov_.clear();
  control_inflight_.clear();
  control_inflight_.swap(control_);
  if (!control_inflight_.empty()) iov_.emplace_back(control_inflight_.data(), control_inflight_.size());
  writing_close_ = std::exchange(close_in_control_, false);
  // Session frames go out until the close frame is queued; the close frame is last (5.5.1).
  if (!close_queued_ && !probing_ && session_ &&
      session_->take_frames(this, batch_, max_batch_frames, max_batch_bytes, batch_is_close_)) {
    for (auto const& f : batch_) {
      auto const bytes = f.websocket_bytes();
      iov_.emplace_back(bytes.data(), bytes.size());
    }
  }
  if (iov_.empty()) return;
  writing_ = true;
  net::async_write(socket_, std::span<net::const_buffer const>(iov_),
                   beast::bind_front_handler(&websocket_connection::on_write, shared_from_this()));
}

void websocket_connection::on_write(boost::system::error_code ec, std::size_t) {
  writing_ = false;
  bool const wrote_close = std::exchange(writing_close_, false);
  bool const session_done = !batch_.empty() && batch_is_close_;
  batch_.clear();
  if (ec) {
    close_socket();
    end(close_reason::transport_error);
    return;
  }
  if (wrote_close) {
    close_sent_ = true;
    if (peer_closed_ || failed_) {
      close_socket();
      return;
    }
    // Wait a while for the peer's close frame, then drop the connection.
    timer_.expires_after(close_deadline);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code timer_ec) {
      if (!timer_ec) self->close_socket();
    });
    return;
  }
  if (session_done) {
    // The Engine.IO close packet is out: the graceful close is complete.
    session_->fail(close_reason::server_close);
  }
  do_write();
}

void websocket_connection::shutdown() {
  net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    if (self->probing_) self->timer_.cancel();
    self->do_close();
  });
}

void websocket_connection::do_close() {
  closing_ = true;
  if (close_queued_ || !socket_.is_open()) return;
  close_queued_ = true;
  close_in_control_ = true;
  char const code[2] = {static_cast<char>(close_code_ >> 8), static_cast<char>(close_code_ & 0xFF)};
  queue_control(op_close, std::string_view(code, 2));
  do_write();
}

void websocket_connection::fail(std::uint16_t code, close_reason why) {
  failed_ = true;
  if (!close_queued_) close_code_ = code;
  end(why);
}

void websocket_connection::end(close_reason why) {
  if (session_) {
    if (probing_) {
      session_->abort_probe(this);
    } else {
      session_->on_websocket_closed(this, why);
    }
  }
  probing_ = false;
  do_close();
}

void websocket_connection::close_socket() {
  if (!socket_.is_open()) return;
  boost::system::error_code ignored;
  timer_.cancel();
  socket_.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace fallbench::transport::detail
