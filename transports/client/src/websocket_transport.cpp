// WebSocket, client side: one Engine.IO packet per frame, one write in flight, reads until closed.

#include "eio_transport.hpp"

#include <boost/asio/connect.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <algorithm>
#include <chrono>
#include <deque>

namespace fallbench::transport::detail {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using codec::eio::packet_type;

namespace {

class websocket_transport final : public eio_transport, public std::enable_shared_from_this<websocket_transport> {
 public:
  websocket_transport(net::any_io_executor ex, endpoint_info const& where, std::weak_ptr<transport_owner> owner)
      : where_(where), owner_(std::move(owner)), ws_(ex) {}

  transport_kind kind() const noexcept override { return transport_kind::websocket; }

  void open(std::string const& sid) override {
    probe_ = !sid.empty();
    target_ = where_.path + "?EIO=4&transport=websocket";
    if (probe_) target_ += "&sid=" + sid;
    auto& tcp = beast::get_lowest_layer(ws_);
    // One budget for connect and handshake: a handshake that never completes is a failed WebSocket.
    deadline_ = std::chrono::steady_clock::now() + where_.websocket_timeout;
    tcp.expires_after(where_.websocket_timeout);
    tcp.async_connect(where_.endpoints, [self = shared_from_this()](error_code ec, auto const&) {
      self->on_connect(ec);
    });
  }

  void send(std::vector<std::string> frames) override {
    for (auto& f : frames) outq_.push_back(std::move(f));
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
    auto& socket = beast::get_lowest_layer(ws_).socket();
    if (socket.is_open()) read_tcp_bytes(socket.native_handle(), closed_sent_, closed_received_);
    boost::system::error_code ignored;
    socket.close(ignored);
  }

  wire_counters counters() const noexcept override {
    wire_counters c = counters_;
    c.bytes_sent += closed_sent_;
    c.bytes_received += closed_received_;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    if (socket.is_open()) read_tcp_bytes(socket.native_handle(), c.bytes_sent, c.bytes_received);
    return c;
  }

 private:
  void finish_shutdown() {
    if (closed_) return;
    if (!outq_.empty() && ws_.is_open()) return do_write();
    if (!ws_.is_open()) return close();
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](error_code) { self->close(); });
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
    auto& tcp = beast::get_lowest_layer(ws_);
    boost::system::error_code ignored;
    tcp.socket().set_option(net::ip::tcp::no_delay(true), ignored);
    tcp.expires_never();
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::client);
    t.handshake_timeout = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now()),
                                   std::chrono::milliseconds{1});
    ws_.set_option(t);
    ws_.read_message_max(where_.max_payload_bytes);
    ws_.auto_fragment(false);
    ws_.async_handshake(res_, where_.host_header, target_, [self = shared_from_this()](error_code hs_ec) {
      self->on_handshake(hs_ec);
    });
  }

  void on_handshake(error_code ec) {
    if (closed_) return;
    // A handshake that never got its answer (a middlebox swallowed it) is not a refusal.
    if (ec == beast::error::timeout) return fail(client_error::websocket_timeout, "websocket handshake: " + timeout_text());
    if (ec) {
      std::string detail = "websocket handshake: " + ec.message();
      // The status only when a response came back (a declined handshake), not after a timeout or a
      // cut, where res_ still holds its default.
      bool const answered = ec.category() == websocket::make_error_code(websocket::error::upgrade_declined).category();
      if (answered && res_.result_int() != 0) detail += " (HTTP " + std::to_string(res_.result_int()) + ")";
      return fail(client_error::websocket_refused, detail);
    }
    res_ = {};
    if (probe_) {
      if (auto o = owner_.lock()) o->on_transport_ready(this);
    }
    do_read();
    do_write();
  }

  std::string timeout_text() const {
    return "no answer within " + std::to_string(where_.websocket_timeout.count()) + " ms";
  }

  void do_read() {
    ws_.async_read(buffer_, [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (closed_) return;
    if (ec == websocket::error::message_too_big) return fail(client_error::payload_too_large, "websocket frame over the limit");
    if (ec) return fail(client_error::transport_closed, "websocket read: " + ec.message());
    ++counters_.ws_frames_received;
    auto const data = buffer_.cdata();
    std::string_view const frame(static_cast<char const*>(data.data()), data.size());
    codec::eio::packet p;
    auto const bad = codec::eio::decode_frame(frame, ws_.got_binary(), p, where_.max_payload_bytes);
    buffer_.consume(buffer_.size());
    if (bad) return fail(client_error::protocol_error, "websocket frame: " + bad.message());
    auto owner = owner_.lock();
    if (!owner) return;
    if (!opened_ && !probe_) {
      // A new session's first frame is the open packet.
      codec::eio::handshake h;
      if (p.type != packet_type::open || codec::eio::decode_handshake(p.data, h))
        return fail(client_error::bad_open_packet, "websocket: first frame is not an open packet");
      opened_ = true;
      owner->on_transport_open(this, std::move(h));
    } else {
      owner->on_transport_packet(this, std::move(p));
    }
    if (!closed_) do_read();
  }

  void do_write() {
    if (writing_ || closed_ || outq_.empty() || !ws_.is_open()) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(outq_.front()), [self = shared_from_this()](error_code ec, std::size_t) {
      self->writing_ = false;
      if (self->closed_) return;
      if (ec) return self->fail(client_error::transport_closed, "websocket write: " + ec.message());
      ++self->counters_.ws_frames_sent;
      self->outq_.pop_front();
      if (self->shutting_down_ && self->outq_.empty()) return self->finish_shutdown();
      self->do_write();
    });
  }

  endpoint_info const where_;
  std::weak_ptr<transport_owner> owner_;
  // Mutable: reading the kernel's byte counters needs the socket's native handle.
  mutable websocket::stream<beast::tcp_stream> ws_;
  websocket::response_type res_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outq_;
  std::string target_;
  std::chrono::steady_clock::time_point deadline_{};  ///< connect and handshake must end by then
  wire_counters counters_;
  std::uint64_t closed_sent_ = 0;
  std::uint64_t closed_received_ = 0;
  bool probe_ = false;
  bool opened_ = false;
  bool writing_ = false;
  bool shutting_down_ = false;
  bool closed_ = false;
};

}  // namespace

std::shared_ptr<eio_transport> make_websocket_transport(net::any_io_executor ex, endpoint_info const& where,
                                                        std::weak_ptr<transport_owner> owner) {
  return std::make_shared<websocket_transport>(std::move(ex), where, std::move(owner));
}

}  // namespace fallbench::transport::detail
