#include "websocket_connection.hpp"

#include "session_impl.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace fallbench::transport::detail {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using codec::eio::packet_type;

websocket_connection::websocket_connection(std::shared_ptr<server_state> state, beast::tcp_stream&& stream)
    : ws_(std::move(stream)), state_(std::move(state)), upgrade_timer_(ws_.get_executor()) {}

void websocket_connection::run(request req, std::shared_ptr<session_impl> existing, session_handler& handler) {
  req_ = std::move(req);
  handler_ = &handler;
  session_ = std::move(existing);
  probing_ = session_ != nullptr;
  beast::get_lowest_layer(ws_).expires_never();
  // Handshake and close deadlines only: liveness is the Engine.IO heartbeat's job.
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "fallbench"); }));
  ws_.read_message_max(state_->options.lim.max_payload_bytes);
  // One Engine.IO packet per frame, as the reference server writes them.
  ws_.auto_fragment(false);
  ws_.async_accept(req_, beast::bind_front_handler(&websocket_connection::on_accept, shared_from_this()));
}

void websocket_connection::on_accept(boost::system::error_code ec) {
  req_ = {};
  if (ec) {
    if (probing_) session_->abort_probe(this);
    return;
  }
  if (!probing_) {
    start_new_session();
    return;
  }
  if (!session_->begin_probe(shared_from_this())) {
    // Already upgrading or upgraded: this second WebSocket is refused (Engine.IO README, "Upgrade").
    session_.reset();
    probing_ = false;
    shutdown();
    return;
  }
  upgrade_timer_.expires_after(state_->options.lim.upgrade_timeout);
  upgrade_timer_.async_wait([self = shared_from_this()](boost::system::error_code timer_ec) {
    if (timer_ec || !self->probing_) return;
    self->session_->abort_probe(self.get());
    self->shutdown();
  });
  do_read();
}

void websocket_connection::start_new_session() {
  session_ = state_->create_session(transport_kind::websocket, *handler_);
  if (!session_) {
    // Full or stopping: 1013 "try again later" (RFC 6455 registry).
    closing_ = true;
    closed_ = true;
    ws_.async_close(websocket::close_reason(websocket::close_code::try_again_later),
                    [self = shared_from_this()](boost::system::error_code) {});
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
  do_read();
}

void websocket_connection::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&websocket_connection::on_read, shared_from_this()));
}

void websocket_connection::on_read(boost::system::error_code ec, std::size_t) {
  if (ec) {
    close_reason why = close_reason::transport_error;
    if (ec == websocket::error::closed || ec == net::error::eof) why = close_reason::transport_close;
    if (ec == websocket::error::message_too_big) why = close_reason::payload_too_large;
    end(why);
    return;
  }
  auto const data = buffer_.cdata();
  std::string_view const text(static_cast<char const*>(data.data()), data.size());
  codec::eio::packet p;
  auto const bad = codec::eio::decode_frame(text, ws_.got_binary(), p, state_->options.lim.max_payload_bytes);
  buffer_.consume(buffer_.size());
  if (bad) {
    if (probing_) {
      end(close_reason::parse_error);
    } else {
      session_->fail(close_reason::parse_error);
    }
    return;
  }
  if (probing_) {
    on_probe_packet(std::move(p));
  } else {
    session_->on_packet(std::move(p));
  }
  if (!closing_) do_read();
}

void websocket_connection::on_probe_packet(codec::eio::packet&& p) {
  if (p.type == packet_type::ping && !p.binary && p.data == "probe") {
    direct_ = frame::of({packet_type::pong, false, "probe"});
    do_write();
    session_->probe_received();
    return;
  }
  if (p.type == packet_type::upgrade && session_->complete_upgrade(this)) {
    probing_ = false;
    upgrade_timer_.cancel();
    do_write();
    return;
  }
  // Anything else while probing ends the probe; the session carries on over polling.
  end(close_reason::parse_error);
}

void websocket_connection::notify() {
  net::post(ws_.get_executor(), [self = shared_from_this()] { self->do_write(); });
}

void websocket_connection::do_write() {
  if (writing_ || closed_) return;
  if (direct_) {
    current_ = std::move(*direct_);
    direct_.reset();
    current_is_close_ = false;
  } else if (closing_ || probing_ || !session_ || !session_->next_frame(this, current_, current_is_close_)) {
    if (closing_) do_close();
    return;
  }
  writing_ = true;
  ws_.text(!current_.binary);
  ws_.async_write(net::buffer(*current_.bytes),
                  beast::bind_front_handler(&websocket_connection::on_write, shared_from_this()));
}

void websocket_connection::on_write(boost::system::error_code ec, std::size_t) {
  writing_ = false;
  current_.bytes.reset();
  if (ec) {
    end(close_reason::transport_error);
    return;
  }
  if (current_is_close_) {
    // The close packet is out: the graceful close is complete.
    closing_ = true;
    session_->fail(close_reason::server_close);
  }
  do_write();
}

void websocket_connection::shutdown() {
  net::dispatch(ws_.get_executor(), [self = shared_from_this()] {
    self->closing_ = true;
    self->upgrade_timer_.cancel();
    if (!self->writing_) self->do_close();
  });
}

void websocket_connection::do_close() {
  if (closed_) return;
  closed_ = true;
  ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](boost::system::error_code) {});
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
  closing_ = true;
  upgrade_timer_.cancel();
  if (!writing_) do_close();
}

}  // namespace fallbench::transport::detail
