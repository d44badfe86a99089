// WebSocket, client side: one Engine.IO packet per frame. Beast connects and writes and reads the
// opening handshake; after it the transport frames by itself (codec::ws), as the server does:
// everything queued meanwhile leaves in one write, and each read takes every frame it finds, so a
// busy client costs one syscall for many messages and no per-message composed operation.

#include "eio_transport.hpp"

#include "fallbench/codec/websocket.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>
#include <utility>

namespace fallbench::transport::detail {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
namespace net = boost::asio;
using codec::eio::packet_type;
namespace ws = codec::ws;

namespace {

/// The least free room a read is given.
constexpr std::size_t min_read = 8 * 1024;

/// Masks for the client's frames (RFC 6455 5.3 asks for unpredictable ones against proxy cache
/// poisoning by scripts; a load generator's peers are its own servers, so a fast generator will do).
std::array<unsigned char, 4> next_mask() {
  thread_local std::uint64_t state = 0x9E3779B97F4A7C15ull ^ reinterpret_cast<std::uintptr_t>(&state);
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return {static_cast<unsigned char>(state), static_cast<unsigned char>(state >> 8),
          static_cast<unsigned char>(state >> 16), static_cast<unsigned char>(state >> 24)};
}

class websocket_transport final : public eio_transport, public std::enable_shared_from_this<websocket_transport> {
 public:
  websocket_transport(net::any_io_executor ex, endpoint_info const& where, std::weak_ptr<transport_owner> owner)
      : where_(where), owner_(std::move(owner)), stream_(ex) {}

  transport_kind kind() const noexcept override { return transport_kind::websocket; }

  void open(std::string const& sid) override {
    probe_ = !sid.empty();
    target_ = where_.path + "?EIO=4&transport=websocket";
    if (probe_) target_ += "&sid=" + sid;
    if (!where_.query.empty()) target_ += "&" + where_.query;
    if (where_.tls) tls_ = make_tls_stream(stream_.get_executor(), where_);
    // One budget for connect and handshakes (TLS and WebSocket): a handshake that never completes is
    // a failed WebSocket.
    tcp().expires_after(where_.websocket_timeout);
    connect_stream(tcp(), where_, [self = shared_from_this()](error_code ec, auto const&) {
      self->on_connect(ec);
    });
  }

  void send(std::vector<std::string> frames) override {
    for (auto const& f : frames) queue_frame(f);
    do_write();
  }

  void send_one(std::string_view frame) override {
    queue_frame(frame);
    do_write();
  }

  void pause(std::function<void()> done) override { done(); }
  void resume() override {}

  void shutdown() override {
    shutting_down_ = true;
    if (!writing_) finish_shutdown();
  }

  void set_request_timeout(std::chrono::milliseconds) override {}

  void close() override {
    if (closed_) return;
    closed_ = true;
    auto& sock = socket();
    if (sock.is_open()) read_tcp_bytes(sock.native_handle(), closed_sent_, closed_received_);
    boost::system::error_code ignored;
    sock.close(ignored);
  }

  wire_counters counters() const noexcept override {
    wire_counters c = counters_;
    c.bytes_sent += closed_sent_;
    c.bytes_received += closed_received_;
    auto& sock = socket();
    if (sock.is_open()) read_tcp_bytes(sock.native_handle(), c.bytes_sent, c.bytes_received);
    return c;
  }

 private:
  /// The socket: Beast's until the handshake is done, the transport's own after; over TLS, the one in
  /// the TLS stream throughout.
  net::ip::tcp::socket& socket() const {
    if (tls_) return tls_->next_layer().socket();
    return framing_ ? socket_ : stream_.socket();
  }
  beast::tcp_stream& tcp() const noexcept { return tls_ ? tls_->next_layer() : stream_; }

  void finish_shutdown() {
    if (closed_) return;
    if (!framing_) return close();
    if (!pending_.empty()) return do_write();
    if (sent_close_) return;
    // Our close frame, then the connection ends once it is written (the server needs no answer).
    sent_close_ = true;
    std::uint16_t const code = ws::normal;
    char const payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    auto const mask = next_mask();
    ws::append_frame(ws::close, std::string_view(payload, 2), mask.data(), pending_);
    do_write();
  }

  void fail(error_code ec, std::string detail) {
    if (shutting_down_) return close();
    if (closed_) return;
    close();
    if (auto o = owner_.lock()) o->on_transport_error(this, ec, std::move(detail));
  }

  void on_connect(error_code ec) {
    if (closed_) return;
    if (ec == beast::error::timeout) return fail(client_error::websocket_timeout, "websocket connect: " + timeout_text());
    if (ec) return fail(client_error::connect_failed, "websocket connect: " + ec.message());
    ++counters_.tcp_connections;
    boost::system::error_code ignored;
    tcp().socket().set_option(net::ip::tcp::no_delay(true), ignored);
    if (!tls_) return send_upgrade();
    tls_->async_handshake(net::ssl::stream_base::client, [self = shared_from_this()](error_code hs_ec) {
      if (self->closed_) return;
      if (hs_ec == beast::error::timeout)
        return self->fail(client_error::websocket_timeout, "websocket TLS handshake: " + self->timeout_text());
      if (hs_ec) return self->fail(client_error::tls_handshake_failed, tls_failure(*self->tls_, hs_ec));
      count_tls_handshake(*self->tls_, self->counters_);
      self->send_upgrade();
    });
  }

  void send_upgrade() {
    // The opening handshake (RFC 6455 4.1), within what is left of the budget.
    websocket::detail::sec_ws_key_type key;
    websocket::detail::make_sec_ws_key(key);
    beast::string_view const key_text(key.data(), key.size());
    websocket::detail::make_sec_ws_accept(accept_, key_text);
    req_ = {http::verb::get, target_, 11};
    req_.set(http::field::host, where_.host_header);
    req_.set(http::field::upgrade, "websocket");
    req_.set(http::field::connection, "Upgrade");
    req_.set(http::field::sec_websocket_key, key_text);
    req_.set(http::field::sec_websocket_version, "13");
    req_.set(http::field::user_agent, "fallbench");
    where_.extras->decorate(req_, where_.path);
    auto on_written = [self = shared_from_this()](error_code write_ec, std::size_t) {
      if (self->closed_) return;
      if (write_ec) return self->on_handshake(write_ec);
      self->res_.emplace();
      self->res_->body_limit(64 * 1024);
      auto on_read = [self](error_code read_ec, std::size_t) { self->on_handshake(read_ec); };
      if (self->tls_) {
        http::async_read(*self->tls_, self->read_buffer_, *self->res_, std::move(on_read));
      } else {
        http::async_read(self->stream_, self->read_buffer_, *self->res_, std::move(on_read));
      }
    };
    if (tls_) {
      http::async_write(*tls_, req_, std::move(on_written));
    } else {
      http::async_write(stream_, req_, std::move(on_written));
    }
  }

  void on_handshake(error_code ec) {
    if (closed_) return;
    // A handshake that never got its answer (a middlebox swallowed it) is not a refusal.
    if (ec == beast::error::timeout) return fail(client_error::websocket_timeout, "websocket handshake: " + timeout_text());
    if (ec) return fail(client_error::websocket_refused, "websocket handshake: " + ec.message());
    auto const& res = res_->get();
    where_.extras->absorb(res, where_.path);
    bool const upgraded = res.result() == http::status::switching_protocols &&
                          beast::iequals(res[http::field::upgrade], "websocket") &&
                          beast::http::token_list{res[http::field::connection]}.exists("upgrade") &&
                          res[http::field::sec_websocket_accept] == beast::string_view(accept_.data(), accept_.size());
    if (!upgraded) {
      // A declined handshake: the status says why (403 from a proxy, 400 from the server).
      return fail(client_error::websocket_refused,
                  "websocket handshake: declined (" + http_error_text(res.result_int(), res.body()) + ")");
    }
    res_.reset();
    req_ = {};
    // From here on the transport frames by itself; what the server sent right after its answer is
    // already in the read buffer. Over TLS the TLS stream stays (it cannot be taken apart), with no
    // deadline: liveness is the Engine.IO heartbeat's job.
    if (tls_) {
      tls_->next_layer().expires_never();
    } else {
      socket_ = stream_.release_socket();
    }
    framing_ = true;
    auto const early = read_buffer_.cdata();
    buffer_.resize(std::max(early.size(), min_read));
    std::memcpy(buffer_.data(), early.data(), early.size());
    filled_ = early.size();
    read_buffer_ = {};
    boost::system::error_code ignored;
    if (!tls_) socket_.non_blocking(true, ignored);
    if (probe_) {
      if (auto o = owner_.lock()) o->on_transport_ready(this);
    }
    if (filled_ > 0 && !absorb()) return;
    do_read();
    do_write();
  }

  std::string timeout_text() const {
    return "no answer within " + std::to_string(where_.websocket_timeout.count()) + " ms";
  }

  void do_read() {
    if (closed_ || reading_) return;
    // Room for at least a few frames; a frame larger than the buffer grows it (bounded by maxPayload).
    if (buffer_.size() - filled_ < min_read) buffer_.resize(std::max(2 * buffer_.size(), filled_ + min_read));
    reading_ = true;
    // A read, not a wait for readability: Asio tries it at once (no epoll_ctl to re-arm a wait), and
    // under load it finds data and completes without the reactor.
    auto on_read = [self = shared_from_this()](error_code ec, std::size_t n) {
      self->reading_ = false;
      self->on_read(ec, n);
    };
    auto const room = net::buffer(buffer_.data() + filled_, buffer_.size() - filled_);
    if (tls_) {
      tls_->async_read_some(room, std::move(on_read));
    } else {
      socket_.async_read_some(room, std::move(on_read));
    }
  }

  void on_read(error_code ec, std::size_t n) {
    if (closed_) return;
    if (ec) {
      if (shutting_down_) return close();
      return fail(client_error::transport_closed, "websocket read: " + ec.message());
    }
    auto self = shared_from_this();  // a callback may drop the owner's reference
    filled_ += n;
    if (!absorb()) return;
    do_read();
  }

  /// Handle the complete frames in the buffer and keep what is left of a split one at its start.
  /// False when the transport ended meanwhile.
  bool absorb() {
    std::size_t used = 0;
    if (!consume(buffer_.data(), filled_, used)) return false;
    if (used > 0) {
      std::memmove(buffer_.data(), buffer_.data() + used, filled_ - used);
      filled_ -= used;
    }
    return true;
  }

  bool consume(char* data, std::size_t size, std::size_t& used) {
    used = 0;
    for (;;) {
      ws::frame_header h;
      switch (ws::parse_header(std::string_view(data + used, size - used), false, h)) {
        case ws::parse_result::need_more: return true;
        case ws::parse_result::protocol_error:
          fail(client_error::protocol_error, "websocket: malformed frame from the server");
          return false;
        case ws::parse_result::complete: break;
      }
      if (h.opcode < ws::close && h.length + (h.opcode == ws::continuation ? message_.size() : 0) > where_.max_payload_bytes) {
        fail(client_error::payload_too_large, "websocket frame over the limit");
        return false;
      }
      if (size - used < h.size + h.length) return true;
      std::string_view const payload(data + used + h.size, static_cast<std::size_t>(h.length));
      used += h.size + payload.size();
      if (!handle_frame(h.opcode, h.fin, payload) || closed_) return false;
    }
  }

  bool handle_frame(unsigned opcode, bool fin, std::string_view payload) {
    switch (opcode) {
      case ws::text:
      case ws::binary:
        if (in_message_) break;
        if (fin) return on_message(payload, opcode == ws::binary);
        in_message_ = true;
        message_binary_ = opcode == ws::binary;
        message_.assign(payload);
        return true;
      case ws::continuation: {
        if (!in_message_) break;
        message_.append(payload);
        if (!fin) return true;
        in_message_ = false;
        std::string whole;
        whole.swap(message_);
        return on_message(whole, message_binary_);
      }
      case ws::close:
        if (shutting_down_) {
          close();
          return false;
        }
        fail(client_error::transport_closed, "websocket read: closed by the server");
        return false;
      case ws::ping: {
        auto const mask = next_mask();
        ws::append_frame(ws::pong, payload, mask.data(), pending_);
        do_write();
        return true;
      }
      case ws::pong: return true;
    }
    fail(client_error::protocol_error, "websocket: unexpected frame from the server");
    return false;
  }

  bool on_message(std::string_view frame, bool binary) {
    ++counters_.ws_frames_received;
    // The packet is the transport's own, so its data keeps its capacity from frame to frame: a
    // delivery decodes without allocating (unless the owner took the data, as a pong does).
    auto& p = incoming_;
    if (auto const bad = codec::eio::decode_frame(frame, binary, p, where_.max_payload_bytes)) {
      fail(client_error::protocol_error, "websocket frame: " + bad.message());
      return false;
    }
    auto owner = owner_.lock();
    if (!owner) return false;
    if (!opened_ && !probe_) {
      // A new session's first frame is the open packet.
      codec::eio::handshake h;
      if (p.type != packet_type::open || codec::eio::decode_handshake(p.data, h)) {
        fail(client_error::bad_open_packet, "websocket: first frame is not an open packet");
        return false;
      }
      opened_ = true;
      owner->on_transport_open(this, std::move(h));
    } else {
      owner->on_transport_packet(this, std::move(p));
    }
    return !closed_;
  }

  /// Mask `frame` into the pending write (whose capacity stays: queueing allocates nothing once grown).
  void queue_frame(std::string_view frame) {
    // Grown with room to spare: a frame a few bytes longer than the last (a longer ack id or sequence
    // number) must not grow it again, and the two buffers take turns.
    if (auto const need = pending_.size() + frame.size() + ws::max_header_bytes; pending_.capacity() < need)
      pending_.reserve(2 * need);
    auto const mask = next_mask();
    ws::append_frame(ws::text, frame, mask.data(), pending_);
    ++pending_frames_;
  }

  void do_write() {
    if (writing_ || closed_ || !framing_ || pending_.empty()) return;
    writing_ = true;
    inflight_.clear();
    inflight_.swap(pending_);
    auto const frames = std::exchange(pending_frames_, 0);
    auto on_written = [self = shared_from_this(), frames](error_code ec, std::size_t) {
      self->writing_ = false;
      if (self->closed_) return;
      if (ec) return self->fail(client_error::transport_closed, "websocket write: " + ec.message());
      self->counters_.ws_frames_sent += frames;
      if (self->sent_close_ && self->pending_.empty()) return self->close();
      if (self->shutting_down_ && self->pending_.empty()) return self->finish_shutdown();
      self->do_write();
    };
    if (tls_) {
      net::async_write(*tls_, net::buffer(inflight_), std::move(on_written));
    } else {
      net::async_write(socket_, net::buffer(inflight_), std::move(on_written));
    }
  }

  endpoint_info const where_;
  std::weak_ptr<transport_owner> owner_;
  // Mutable: reading the kernel's byte counters needs the socket's native handle.
  mutable beast::tcp_stream stream_;  ///< connect and the opening handshake
  mutable net::ip::tcp::socket socket_{stream_.get_executor()};  ///< after the handshake
  std::unique_ptr<tls_stream> tls_;  ///< wss: connect, both handshakes and the frames (stream_ unused)
  http::request<http::empty_body> req_;
  std::optional<http::response_parser<http::string_body>> res_;
  beast::flat_buffer read_buffer_;
  websocket::detail::sec_ws_accept_type accept_;
  std::vector<char> buffer_;  ///< bytes read: [0, filled_) holds the start of frames not yet handled
  std::size_t filled_ = 0;
  std::string message_;   ///< a fragmented message being assembled
  codec::eio::packet incoming_;  ///< the packet being handed to the owner (reused: no allocation per frame)
  std::string pending_;   ///< masked frames waiting for the write in flight
  std::string inflight_;  ///< the frames being written
  std::uint64_t pending_frames_ = 0;
  std::string target_;
  wire_counters counters_;
  std::uint64_t closed_sent_ = 0;
  std::uint64_t closed_received_ = 0;
  bool probe_ = false;
  bool opened_ = false;
  bool framing_ = false;
  bool reading_ = false;
  bool in_message_ = false;
  bool message_binary_ = false;
  bool writing_ = false;
  bool sent_close_ = false;
  bool shutting_down_ = false;
  bool closed_ = false;
};

}  // namespace

std::shared_ptr<eio_transport> make_websocket_transport(net::any_io_executor ex, endpoint_info const& where,
                                                        std::weak_ptr<transport_owner> owner) {
  return std::make_shared<websocket_transport>(std::move(ex), where, std::move(owner));
}

}  // namespace fallbench::transport::detail
