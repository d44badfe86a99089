// HTTP long-polling, client side: one connection for GETs (the poll) and one for POSTs, as browsers
// use two pooled connections; at most one request in flight on each (Engine.IO README).

#include "eio_transport.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <deque>
#include <optional>

namespace fallbench::transport::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using codec::eio::packet_type;

namespace {

/// One keep-alive HTTP connection carrying one request at a time.
///
/// A request's deadline is one timer of the channel's own, re-armed lazily (arm()), not the
/// tcp_stream's expiry: that one starts a timer wait with every read and write of the socket and
/// copies the executor into each, which for a poll or a POST (a write and one or two reads) cost the
/// generator more than the request's own work. Over plain HTTP the request and its answer go straight
/// to the socket; over TLS through the TLS stream, whose tcp_stream then has no expiry (and so starts
/// no timer). The tcp_stream's expiry bounds only the connect and the TLS handshake.
class http_channel {
 public:
  using response = http::response<http::string_body>;
  using handler = std::function<void(error_code, response&&)>;
  /// The request's handler, owned by its pending operations and by nothing else: the handler keeps
  /// the transport alive (it captures it), so a member holding it would make a cycle that an
  /// io_context destroying the pending operations at shutdown (without running them) never breaks.
  using pending = std::shared_ptr<handler>;

  http_channel(net::any_io_executor ex, endpoint_info const& where, wire_counters& counters)
      : stream_(ex), deadline_(ex), where_(where), counters_(counters) {}
  ~http_channel() { *alive_ = false; }
  http_channel(http_channel const&) = delete;
  http_channel& operator=(http_channel const&) = delete;

  bool busy() const noexcept { return busy_; }

  template <class Body>
  void request(http::request<Body>&& req, std::chrono::milliseconds timeout, handler done) {
    busy_ = true;
    auto held = std::make_shared<handler>(std::move(done));
    timeout_ = timeout;
    auto msg = std::make_shared<http::request<Body>>(std::move(req));
    auto write = [this, msg, held] {
      arm(timeout_);
      auto on_written = [this, msg, held](error_code ec, std::size_t) { on_write(ec, held); };
      if (tls_) {
        http::async_write(*tls_, *msg, std::move(on_written));
      } else {
        http::async_write(stream_.socket(), *msg, std::move(on_written));
      }
    };
    if (connected_ && stale()) close();
    if (connected_) {
      write();
      return;
    }
    // A TLS stream cannot outlive its connection: each connection gets a new one, which resumes the
    // client's session when it has one (tls_session_cache).
    if (where_.tls) tls_ = make_tls_stream(stream_.get_executor(), where_);
    tcp().expires_after(where_.connect_timeout);
    connect_stream(tcp(), where_, [this, write, held](error_code ec, auto const&) {
      if (ec) return finish(ec, {}, held);
      ++counters_.tcp_connections;
      boost::system::error_code ignored;
      tcp().socket().set_option(net::ip::tcp::no_delay(true), ignored);
      if (!tls_) {
        tcp().expires_never();
        connected_ = true;
        write();
        return;
      }
      tls_->async_handshake(net::ssl::stream_base::client, [this, write, held](error_code hs_ec) {
        if (hs_ec == beast::error::timeout) return finish(hs_ec, {}, held);
        if (hs_ec) {
          tls_failure_ = tls_failure(*tls_, hs_ec);
          return finish(client_error::tls_handshake_failed, {}, held);
        }
        count_tls_handshake(*tls_, counters_);
        tcp().expires_never();
        connected_ = true;
        write();
      });
    });
  }

  /// Why the last TLS handshake failed (with client_error::tls_handshake_failed).
  std::string const& tls_failure_text() const noexcept { return tls_failure_; }

  void close() noexcept {
    auto& socket = tcp().socket();
    if (socket.is_open()) read_tcp_bytes(socket.native_handle(), closed_sent_, closed_received_);
    boost::system::error_code ignored;
    socket.close(ignored);
    buffer_.clear();
    connected_ = false;
    armed_ = false;
    if (waiting_) {
      deadline_.cancel();  // nothing left for it to end; and a pending wait would keep the io_context running
      waiting_ = false;
    }
  }

  void add_counters(wire_counters& c) noexcept {
    c.bytes_sent += closed_sent_;
    c.bytes_received += closed_received_;
    auto& socket = tcp().socket();
    if (socket.is_open()) read_tcp_bytes(socket.native_handle(), c.bytes_sent, c.bytes_received);
  }

 private:
  /// The TCP stream: stream_, or the one inside the TLS stream (stream_ then stays closed).
  beast::tcp_stream& tcp() noexcept { return tls_ ? tls_->next_layer() : stream_; }

  /// A kept-alive connection the server or a middlebox closed while it sat idle (an idle timeout): it
  /// reads as end of stream (or holds bytes nobody asked for). Checked before each reuse, as HTTP
  /// clients do, so the request goes on a fresh connection instead of failing - and a POST, which
  /// must not be retried once sent, is never sent into a connection already closed.
  bool stale() noexcept {
    if (buffer_.size() > 0) return true;
    char byte = 0;
    auto const n = ::recv(tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }

  void on_write(error_code ec, pending const& held) {
    if (ec) return finish(ec, {}, held);
    ++counters_.http_requests;
    parser_.emplace();
    parser_->body_limit(where_.max_payload_bytes);
    auto on_read = [this, held](error_code read_ec, std::size_t) {
      if (read_ec) return finish(read_ec, {}, held);
      auto res = parser_->release();
      where_.extras->absorb(res, where_.path);  // a Set-Cookie on any answer, e.g. a balancer's
      if (!res.keep_alive()) close();
      finish({}, std::move(res), held);
    };
    if (tls_) {
      http::async_read(*tls_, buffer_, *parser_, std::move(on_read));
    } else {
      http::async_read(stream_.socket(), buffer_, *parser_, std::move(on_read));
    }
  }

  void finish(error_code ec, response&& res, pending const& held) {
    busy_ = false;
    armed_ = false;
    if (ec && timed_out_) ec = beast::error::timeout;  // the deadline closed the socket under the request
    timed_out_ = false;
    if (ec) close();
    handler done;
    done.swap(*held);  // at most once, and the handler (with what it keeps alive) goes with this call
    if (done) done(ec, std::move(res));
  }

  /// The request ends `after` from now unless finish() comes first. A wait already pending for an
  /// earlier time is left alone: it wakes, finds the deadline moved, and waits again.
  void arm(std::chrono::milliseconds after) {
    deadline_at_ = std::chrono::steady_clock::now() + after;
    armed_ = true;
    if (waiting_ && deadline_.expiry() <= deadline_at_) return;
    deadline_.expires_at(deadline_at_);  // cancels a later wait, whose handler then does nothing
    wait();
  }

  void wait() {
    waiting_ = true;
    deadline_.async_wait([this, alive = alive_](error_code ec) {
      if (ec == net::error::operation_aborted || !*alive) return;
      waiting_ = false;
      if (!armed_) return;
      if (std::chrono::steady_clock::now() < deadline_at_) {
        deadline_.expires_at(deadline_at_);
        return wait();
      }
      timed_out_ = true;
      close();  // the request's pending read or write ends, with operation_aborted
    });
  }

  beast::tcp_stream stream_;
  net::steady_timer deadline_;
  /// False once the channel is gone: a deadline handler already queued then touches nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::chrono::steady_clock::time_point deadline_at_{};
  bool armed_ = false;      ///< A request is in flight under deadline_at_.
  bool waiting_ = false;    ///< A wait on deadline_ is pending and was not cancelled.
  bool timed_out_ = false;  ///< The deadline closed the connection under the request in flight.
  std::unique_ptr<tls_stream> tls_;  ///< https: this connection's TLS stream
  std::string tls_failure_;
  endpoint_info const& where_;
  wire_counters& counters_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::chrono::milliseconds timeout_{0};
  std::uint64_t closed_sent_ = 0;
  std::uint64_t closed_received_ = 0;
  bool connected_ = false;
  bool busy_ = false;
};

class polling_transport final : public eio_transport, public std::enable_shared_from_this<polling_transport> {
 public:
  polling_transport(net::any_io_executor ex, endpoint_info const& where, std::weak_ptr<transport_owner> owner)
      : where_(where), owner_(std::move(owner)), get_(ex, where_, counters_), post_(ex, where_, counters_),
        request_timeout_(where.connect_timeout) {}

  transport_kind kind() const noexcept override { return transport_kind::polling; }

  void open(std::string const&) override {
    // The handshake is a GET without sid; its body starts with the open packet.
    get_.request(make_get(), where_.connect_timeout,
                 [self = shared_from_this()](error_code ec, http_channel::response&& res) {
                   self->on_handshake(ec, std::move(res));
                 });
  }

  void send(std::vector<std::string> frames) override {
    for (auto& f : frames) outbox_.push_back(std::move(f));
    do_post();
  }

  void send_one(std::string_view frame) override {
    outbox_.emplace_back(frame);
    do_post();
  }

  void pause(std::function<void()> done) override {
    paused_ = true;
    on_paused_ = std::move(done);
    check_paused();
  }

  void resume() override {
    paused_ = false;
    on_paused_ = nullptr;
    do_poll();
    do_post();
  }

  void set_request_timeout(std::chrono::milliseconds t) override { request_timeout_ = t; }

  void close() override {
    closed_ = true;
    get_.close();
    post_.close();
  }

  void shutdown() override {
    shutting_down_ = true;
    get_.close();
    if (!post_.busy() && outbox_.empty()) close();
  }

  wire_counters counters() const noexcept override {
    wire_counters c = counters_;
    get_.add_counters(c);
    post_.add_counters(c);
    return c;
  }

 private:
  std::string target() const {
    std::string t = where_.path + "?EIO=4&transport=polling";
    if (!sid_.empty()) t += "&sid=" + sid_;
    if (!where_.query.empty()) t += "&" + where_.query;
    return t;
  }

  http::request<http::empty_body> make_get() const {
    http::request<http::empty_body> req{http::verb::get, target(), 11};
    req.set(http::field::host, where_.host_header);
    req.keep_alive(true);
    where_.extras->decorate(req, where_.path);
    return req;
  }

  void fail(error_code ec, std::string detail) {
    if (closed_) return;
    close();
    if (auto o = owner_.lock()) o->on_transport_error(this, ec, std::move(detail));
  }

  // Checks a response; false (after failing the transport) when it is not a usable 200.
  bool check(error_code ec, http_channel::response const& res, char const* what, http_channel const& channel) {
    if (closed_) return false;
    if (ec == client_error::tls_handshake_failed) {
      fail(ec, channel.tls_failure_text());
      return false;
    }
    if (ec == http::error::body_limit) {
      fail(client_error::payload_too_large, std::string(what) + ": body over the limit");
      return false;
    }
    if (ec) {
      fail(ec == beast::error::timeout || ec.category() == net::error::get_system_category() ||
                   ec == http::error::end_of_stream || ec == net::error::eof
               ? make_error_code(client_error::transport_closed)
               : make_error_code(client_error::protocol_error),
           std::string(what) + ": " + ec.message());
      return false;
    }
    if (res.result() != http::status::ok) {
      fail(client_error::http_status, std::string(what) + ": " + http_error_text(res.result_int(), res.body()));
      return false;
    }
    return true;
  }

  void on_handshake(error_code ec, http_channel::response&& res) {
    if (ec && !closed_ && ec.category() == net::error::get_system_category() && !get_.busy()) {
      // Connection refused and the like: say so plainly.
      fail(client_error::connect_failed, "polling handshake: " + ec.message());
      return;
    }
    if (!check(ec, res, "polling handshake", get_)) return;
    std::vector<codec::eio::packet> packets;
    codec::eio::handshake h;
    if (codec::eio::decode_payload(res.body(), packets, where_.max_payload_bytes) || packets.empty() ||
        packets.front().type != packet_type::open || codec::eio::decode_handshake(packets.front().data, h)) {
      fail(client_error::bad_open_packet, "polling handshake: " + res.body().substr(0, 200));
      return;
    }
    sid_ = h.sid;
    auto owner = owner_.lock();
    if (!owner) return;
    owner->on_transport_open(this, std::move(h));
    deliver(packets, 1);
    do_poll();
  }

  void deliver(std::vector<codec::eio::packet>& packets, std::size_t from) {
    for (std::size_t i = from; i < packets.size() && !closed_; ++i) {
      auto owner = owner_.lock();
      if (!owner) return;
      owner->on_transport_packet(this, std::move(packets[i]));
    }
  }

  void do_poll() {
    if (closed_ || shutting_down_ || get_.busy()) return;
    if (paused_) {
      check_paused();
      return;
    }
    get_.request(make_get(), request_timeout_, [self = shared_from_this()](error_code ec, http_channel::response&& res) {
      self->on_poll(ec, std::move(res));
    });
  }

  void on_poll(error_code ec, http_channel::response&& res) {
    if (shutting_down_) return;
    if (!check(ec, res, "poll", get_)) return;
    std::vector<codec::eio::packet> packets;
    if (auto bad = codec::eio::decode_payload(res.body(), packets, where_.max_payload_bytes)) {
      fail(bad == codec::condition::limit_exceeded ? client_error::payload_too_large : client_error::protocol_error,
           "poll: " + bad.message());
      return;
    }
    deliver(packets, 0);
    do_poll();
  }

  void do_post() {
    if (closed_ || post_.busy() || outbox_.empty()) return;
    // One POST at a time, carrying everything queued up to maxPayload.
    std::string body;
    std::size_t n = 0;
    for (; n < outbox_.size(); ++n) {
      if (n > 0 && body.size() + outbox_[n].size() + 1 > where_.max_payload_bytes) break;
      codec::eio::append_payload_frame(outbox_[n], false, body);
    }
    outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(n));
    http::request<http::string_body> req{http::verb::post, target(), 11};
    req.set(http::field::host, where_.host_header);
    req.set(http::field::content_type, "text/plain;charset=UTF-8");
    req.keep_alive(true);
    where_.extras->decorate(req, where_.path);
    req.body() = std::move(body);
    req.prepare_payload();
    post_.request(std::move(req), request_timeout_, [self = shared_from_this()](error_code ec, http_channel::response&& res) {
      if (self->shutting_down_ && !self->closed_) {
        if (ec || self->outbox_.empty()) return self->close();
        return self->do_post();
      }
      if (!self->check(ec, res, "post", self->post_)) return;
      self->do_post();
      self->check_paused();
    });
  }

  void check_paused() {
    if (!paused_ || !on_paused_ || get_.busy() || post_.busy() || !outbox_.empty()) return;
    auto done = std::move(on_paused_);
    done();
  }

  endpoint_info const where_;
  std::weak_ptr<transport_owner> owner_;
  wire_counters counters_;
  // Mutable: reading the kernel's byte counters needs the socket's native handle.
  mutable http_channel get_;
  mutable http_channel post_;
  std::chrono::milliseconds request_timeout_;
  std::string sid_;
  std::deque<std::string> outbox_;
  std::function<void()> on_paused_;
  bool paused_ = false;
  bool shutting_down_ = false;
  bool closed_ = false;
};

}  // namespace

std::shared_ptr<eio_transport> make_polling_transport(net::any_io_executor ex, endpoint_info const& where,
                                                      std::weak_ptr<transport_owner> owner) {
  return std::make_shared<polling_transport>(std::move(ex), where, std::move(owner));
}

}  // namespace fallbench::transport::detail
