#include "websocket_connection.hpp"

#include "session_impl.hpp"

#include "fallbench/codec/websocket.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/ssl.hpp>
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

namespace ws = codec::ws;

/// How much of the session's queue one write takes: bounds the time between two control frames.
constexpr std::size_t max_batch_frames = 256;
constexpr std::size_t max_batch_bytes = 256 * 1024;
/// How long the closing side waits for the other's close frame before dropping the connection.
constexpr std::chrono::seconds close_deadline{5};

/// The per-thread buffer reads go into: a connection keeps only what a split frame leaves over.
std::span<char> read_scratch() {
  thread_local std::array<char, 64 * 1024> buffer;
  return buffer;
}

}  // namespace

websocket_connection::websocket_connection(std::shared_ptr<server_state> state, net::ip::tcp::socket&& socket,
                                           std::string peer)
    : handshake_(std::make_unique<beast::websocket::stream<beast::tcp_stream>>(std::move(socket))),
      socket_(handshake_->get_executor()),
      state_(std::move(state)),
      opening_(std::make_unique<opening>(opening{{}, std::move(peer)})) {}

websocket_connection::websocket_connection(std::shared_ptr<server_state> state, tls_stream_ptr tls, std::string peer)
    : socket_(tls->get_executor()),
      tls_(std::move(tls)),
      state_(std::move(state)),
      opening_(std::make_unique<opening>(opening{{}, std::move(peer)})) {
  tls_handshake_ = std::make_unique<beast::websocket::stream<tls_stream&>>(*tls_);
}

void websocket_connection::run(request req, std::shared_ptr<session_impl> existing, session_handler& handler,
                               std::string early) {
  opening_->req = std::move(req);
  if (!early.empty()) rare().partial = std::move(early);
  handler_ = &handler;
  session_ = std::move(existing);
  probing_ = session_ != nullptr;
  auto accept = [this](auto& ws) {
    beast::get_lowest_layer(ws).expires_never();
    // The opening handshake's deadline; after it, liveness is the Engine.IO heartbeat's job.
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "fallbench"); }));
    ws.async_accept(opening_->req, beast::bind_front_handler(&websocket_connection::on_accept, shared_from_this()));
  };
  if (tls_) {
    accept(*tls_handshake_);
  } else {
    accept(*handshake_);
  }
}

void websocket_connection::on_accept(boost::system::error_code ec) {
  auto const opened = std::move(opening_);
  if (ec) {
    if (probing_) session_->abort_probe(this);
    return;
  }
  // From here on the connection frames by itself; Beast's stream has no operation pending.
  boost::system::error_code ignored;
  if (tls_) {
    tls_handshake_.reset();
    tls_in_.resize(16 * 1024);  // a TLS record's largest plaintext
  } else {
    socket_ = handshake_->next_layer().release_socket();
    handshake_.reset();
    socket_.non_blocking(true, ignored);
  }
  // Frames are batched here, so Nagle's algorithm would only delay them.
  sock().set_option(net::ip::tcp::no_delay(true), ignored);
  if (!probing_) {
    start_new_session(std::move(opened->peer));
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
  timer().expires_after(state_->options.lim.upgrade_timeout);
  timer().async_wait([self = shared_from_this()](boost::system::error_code timer_ec) {
    if (timer_ec || !self->probing_) return;
    self->session_->abort_probe(self.get());
    self->probing_ = false;
    self->do_close();
  });
  do_read();
  absorb(nullptr, 0);
}

void websocket_connection::start_new_session(std::string peer) {
  session_ = state_->create_session(transport_kind::websocket, *handler_, std::move(peer));
  do_read();
  if (!session_) {
    // Full or stopping: 1013 "try again later".
    close_code_ = ws::try_again_later;
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
  if (reading_ || !sock().is_open()) return;
  reading_ = true;
  if (tls_) {
    tls_->async_read_some(net::buffer(tls_in_), beast::bind_front_handler(&websocket_connection::on_tls_read,
                                                                          shared_from_this()));
    return;
  }
  socket_.async_wait(net::ip::tcp::socket::wait_read,
                     in_slot(read_wait_, beast::bind_front_handler(&websocket_connection::on_readable, shared_from_this())));
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

void websocket_connection::on_tls_read(boost::system::error_code ec, std::size_t n) {
  reading_ = false;
  if (!sock().is_open()) return;
  if (ec) {
    // The peer is gone: close_notify, end of stream without it, a reset, or a broken record.
    peer_closed_ = true;
    close_socket();
    end(ec == net::error::eof || ec == net::ssl::error::stream_truncated ? close_reason::transport_close
                                                                         : close_reason::transport_error);
    return;
  }
  if (!absorb(tls_in_.data(), n)) return;
  do_read();
}

bool websocket_connection::absorb(char* data, std::size_t size) {
  // Everything these bytes make the session send leaves together (session_impl::cork).
  auto const session = probing_ ? nullptr : session_;
  cork_guard cork(session.get());
  std::size_t used = 0;
  if (!rare_ || rare_->partial.empty()) {
    if (!consume(data, size, used)) return false;
    if (used < size) rare().partial.assign(data + used, size - used);
    return true;
  }
  auto& partial = rare_->partial;
  partial.append(data, size);
  if (!consume(partial.data(), partial.size(), used)) return false;
  partial.erase(0, used);
  if (partial.empty()) std::string().swap(partial);  // an idle connection holds no frame's bytes
  return true;
}

bool websocket_connection::consume(char* data, std::size_t size, std::size_t& used) {
  used = 0;
  std::size_t const max = state_->options.lim.max_payload_bytes;
  for (;;) {
    ws::frame_header h;
    switch (ws::parse_header(std::string_view(data + used, size - used), true, h)) {
      case ws::parse_result::need_more: return true;
      case ws::parse_result::protocol_error: fail(ws::protocol_error, close_reason::parse_error); return false;
      case ws::parse_result::complete: break;
    }
    if (h.opcode < ws::close && h.length + (h.opcode == ws::continuation && rare_ ? rare_->message.size() : 0) > max) {
      fail(ws::too_big, close_reason::payload_too_large);
      return false;
    }
    if (size - used < h.size + h.length) return true;
    char* const payload = data + used + h.size;
    auto const length = static_cast<std::size_t>(h.length);
    ws::unmask(payload, length, h.mask);
    used += h.size + length;
    if (handle_frame(h.opcode, h.fin, payload, length) != frame_status::done) return false;
  }
}

websocket_connection::frame_status websocket_connection::handle_frame(unsigned opcode, bool fin, char* payload,
                                                                       std::size_t size) {
  std::string_view const data(payload, size);
  switch (opcode) {
    case ws::text:
    case ws::binary:
      if (in_message_) break;  // a new message before the last one's final fragment (5.4)
      if (fin) return deliver(data, opcode == ws::binary) ? frame_status::done : frame_status::failed;
      in_message_ = true;
      message_binary_ = opcode == ws::binary;
      rare().message.assign(data);
      return frame_status::done;
    case ws::continuation: {
      if (!in_message_) break;
      rare().message.append(data);
      if (!fin) return frame_status::done;
      in_message_ = false;
      std::string whole;
      whole.swap(rare_->message);
      return deliver(whole, message_binary_) ? frame_status::done : frame_status::failed;
    }
    case ws::close: {
      peer_closed_ = true;
      std::uint16_t code = ws::normal;
      if (size >= 2) {
        code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                          static_cast<unsigned char>(payload[1]));
        if (!ws::valid_close_code(code)) code = ws::protocol_error;
        if (!ws::valid_utf8(data.substr(2))) code = ws::invalid_data;
      } else if (size == 1) {
        code = ws::protocol_error;
      }
      // Answer with the same code (5.5.1), then the connection ends.
      if (!close_queued_) close_code_ = code;
      end(close_reason::transport_close);
      if (close_sent_) close_socket();
      return frame_status::failed;
    }
    case ws::ping:
      if (!close_queued_) {
        queue_control(ws::pong, data);
        do_write();
      }
      return frame_status::done;
    case ws::pong: return frame_status::done;
  }
  fail(ws::protocol_error, close_reason::parse_error);
  return frame_status::failed;
}

bool websocket_connection::deliver(std::string_view message, bool binary) {
  if (closing_) return true;  // the close frame is on its way: nothing more is read
  if (!binary && !ws::valid_utf8(message)) {
    fail(ws::invalid_data, close_reason::parse_error);
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
    queue_control(ws::text, "3probe");
    do_write();
    session_->probe_received();
    return;
  }
  if (p.type == packet_type::upgrade && session_->complete_upgrade(this)) {
    probing_ = false;
    if (timer_) timer_->cancel();
    do_write();
    return;
  }
  // Anything else while probing ends the probe; the session carries on over polling.
  end(close_reason::parse_error);
}

void websocket_connection::queue_control(unsigned opcode, std::string_view payload) {
  ws::append_frame(opcode, payload, nullptr, rare().control);
}

websocket_connection::rare_buffers& websocket_connection::rare() {
  if (!rare_) rare_ = std::make_unique<rare_buffers>();
  return *rare_;
}

boost::asio::steady_timer& websocket_connection::timer() {
  if (!timer_) timer_ = std::make_unique<net::steady_timer>(socket_.get_executor());
  return *timer_;
}

void websocket_connection::notify() {
  net::post(socket_.get_executor(), [self = shared_from_this()] { self->do_write(); });
}

void websocket_connection::do_write() {
  if (writing_ || close_sent_ || !sock().is_open()) return;
  iov_.clear();
  if (rare_) {
    rare_->control_inflight.clear();
    rare_->control_inflight.swap(rare_->control);
    if (!rare_->control_inflight.empty()) iov_.emplace_back(rare_->control_inflight.data(), rare_->control_inflight.size());
  }
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
  if (tls_) {
    net::async_write(*tls_, std::span<net::const_buffer const>(iov_),
                     beast::bind_front_handler(&websocket_connection::on_write, shared_from_this()));
    return;
  }
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
    timer().expires_after(close_deadline);
    timer().async_wait([self = shared_from_this()](boost::system::error_code timer_ec) {
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
    if (self->probing_ && self->timer_) self->timer_->cancel();
    self->do_close();
  });
}

void websocket_connection::do_close() {
  closing_ = true;
  if (close_queued_ || !sock().is_open()) return;
  close_queued_ = true;
  close_in_control_ = true;
  char const code[2] = {static_cast<char>(close_code_ >> 8), static_cast<char>(close_code_ & 0xFF)};
  queue_control(ws::close, std::string_view(code, 2));
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
  auto& socket = sock();
  if (!socket.is_open()) return;
  boost::system::error_code ignored;
  if (timer_) timer_->cancel();
  socket.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

}  // namespace fallbench::transport::detail
