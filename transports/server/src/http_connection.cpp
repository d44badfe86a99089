#include "http_connection.hpp"

#include "websocket_connection.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>

namespace fallbench::transport::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

// The error codes of the reference server's JSON error bodies ({code, message}).
enum engine_error { transport_unknown = 0, session_unknown = 1, bad_handshake_method = 2, bad_request = 3,
                    forbidden = 4, unsupported_protocol_version = 5 };

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The decoded value of `key` in a query string, if present.
std::optional<std::string> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto const amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto const eq = pair.find('=');
    if (pair.substr(0, eq) != key) continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::string value;
    value.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value += ' ';
      } else if (raw[i] == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 && hex_value(raw[i + 2]) >= 0) {
        value += static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
        i += 2;
      } else {
        value += raw[i];
      }
    }
    return value;
  }
  return std::nullopt;
}

// Whether `path` names the Engine.IO endpoint `endpoint` ("/socket.io/" matches "/socket.io" too).
bool is_engine_path(std::string_view path, std::string_view endpoint) {
  auto trim = [](std::string_view s) { return s.size() > 1 && s.back() == '/' ? s.substr(0, s.size() - 1) : s; };
  return trim(path) == trim(endpoint);
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// `authority` without the port that is `scheme`'s default (":80" for http, ":443" for https): browsers
// leave it out of Origin, and clients may or may not put it in Host.
std::string_view without_default_port(std::string_view authority, std::string_view scheme) {
  std::string_view const port = iequals(scheme, "https") ? ":443" : iequals(scheme, "http") ? ":80" : "";
  if (!port.empty() && authority.ends_with(port)) authority.remove_suffix(port.size());
  return authority;
}

// Whether `origin` (scheme "://" host [":" port], RFC 6454 section 6.1) names the host the request was
// sent to (its Host header): the chat page served by this very server.
bool same_origin(std::string_view origin, std::string_view host) {
  auto const sep = origin.find("://");
  if (sep == std::string_view::npos || host.empty()) return false;
  auto const scheme = origin.substr(0, sep);
  auto const authority = origin.substr(sep + 3);
  if (authority.empty() || authority.find_first_of("/?#@") != std::string_view::npos) return false;
  return iequals(without_default_port(authority, scheme), without_default_port(host, scheme));
}

// The host name of a Host header value (without the port; an IPv6 literal keeps its brackets).
std::string_view host_name(std::string_view host) {
  if (host.starts_with('[')) return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

// Whether a request naming `host` may be answered: IP literals and localhost cannot be re-pointed by
// another site's DNS; any other name must be one the server was told it answers for.
bool host_allowed(std::string_view host, std::vector<std::string> const& allowed) {
  auto const name = host_name(host);
  if (name.empty() || name.starts_with('[')) return true;
  boost::system::error_code ec;
  net::ip::make_address_v4(std::string(name), ec);
  if (!ec) return true;
  if (iequals(name, "localhost") ||
      (name.size() > 10 && iequals(name.substr(name.size() - 10), ".localhost")))
    return true;
  return std::any_of(allowed.begin(), allowed.end(), [&](std::string const& a) { return a == "*" || iequals(a, name); });
}

}  // namespace

http_connection::http_connection(std::shared_ptr<server_state> state, net::ip::tcp::socket&& socket)
    : state_(std::move(state)), socket_(std::move(socket)) {
  boost::system::error_code ec;
  peer_ = sock().remote_endpoint(ec).address().to_string();
}

http_connection::http_connection(std::shared_ptr<server_state> state, tls_stream_ptr tls)
    : state_(std::move(state)), socket_(tls->get_executor()), tls_(std::move(tls)) {
  boost::system::error_code ec;
  peer_ = sock().remote_endpoint(ec).address().to_string();
}

http_connection::~http_connection() {
  state_->deadlines->cancel(*this);
  release_body();
}

void http_connection::release_body() noexcept {
  if (body_reserved_ == 0) return;
  state_->release_body(body_reserved_);
  body_reserved_ = 0;
}

void http_connection::arm(std::chrono::steady_clock::duration after) {
  deadline_at_ = std::chrono::steady_clock::now() + after;
  armed_ = true;
  // A later deadline than the one queued moves nothing: the queue calls at the earlier one, which
  // finds the deadline moved and queues it again. A busy keep-alive connection re-arms per request.
  state_->deadlines->schedule_no_later(*this, deadline_at_);
}

void http_connection::on_deadline() {
  // On the queue's thread: the connection's state is its strand's.
  net::post(socket_.get_executor(), [self = shared_from_this()] {
    if (!self->armed_) return;
    if (std::chrono::steady_clock::now() < self->deadline_at_) {
      self->state_->deadlines->schedule_no_later(*self, self->deadline_at_);
      return;
    }
    // The pending read or write ends with an error, and with it the connection.
    boost::system::error_code ignored;
    self->sock().close(ignored);
  });
}

void http_connection::disarm() noexcept {
  armed_ = false;
  // A connection that ends lets go of its place at once, not at its deadline.
  state_->deadlines->cancel(*this);
}

void http_connection::run() {
  if (!tls_) {
    net::dispatch(socket_.get_executor(), beast::bind_front_handler(&http_connection::do_read, shared_from_this()));
    return;
  }
  net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    // The handshake has the deadline of a request.
    self->arm(self->state_->options.lim.http_timeout);
    self->tls_->async_handshake(net::ssl::stream_base::server,
                                beast::bind_front_handler(&http_connection::on_tls_handshake, self));
  });
}

void http_connection::on_tls_handshake(boost::system::error_code ec) {
  if (ec) {
    disarm();
    // Not TLS (a plain HTTP request to the TLS port), a client that refused our certificate, a
    // timeout: the connection just ends; there is no TLS channel to answer on.
    counters::add(state_->stats.tls_handshake_failures);
    boost::system::error_code ignored;
    sock().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    sock().close(ignored);
    return;
  }
  counters::add(state_->stats.tls_handshakes);
  do_read();
}

void http_connection::do_read() {
  if (buffer_.size() > 0) {
    start_read();  // a pipelined request is here already
    return;
  }
  if (tls_) {
    // Readability of the socket says nothing about bytes OpenSSL has already taken off it, so a TLS
    // connection reads at once (the same deadline, but the idle connection holds its read).
    start_read();
    return;
  }
  // Between requests a keep-alive connection (the POST connection of an idle polling session) holds
  // no read operation and no buffer: it waits for readability, with its deadline on a timer, and
  // reads once bytes arrive. Closing the socket at the deadline ends the wait. The last request's
  // parser (its headers) goes too.
  buffer_.shrink_to_fit();
  parser_.reset();
  arm(state_->options.lim.http_timeout);
  socket_.async_wait(net::ip::tcp::socket::wait_read,
                     in_slot(read_wait_, [self = shared_from_this()](boost::system::error_code ec) {
                       if (ec || !self->socket_.is_open()) {
                         self->disarm();
                         return;
                       }
                       self->start_read();
                     }));
}

void http_connection::start_read() {
  release_body();
  parser_ = std::make_unique<http::request_parser<http::string_body>>();
  parser_->body_limit(state_->options.lim.max_payload_bytes);
  parser_->header_limit(static_cast<std::uint32_t>(state_->options.lim.max_header_bytes));
  arm(state_->options.lim.http_timeout);
  if (tls_) {
    http::async_read_header(*tls_, buffer_, *parser_,
                            beast::bind_front_handler(&http_connection::on_header, shared_from_this()));
    return;
  }
  http::async_read_header(socket_, buffer_, *parser_,
                          beast::bind_front_handler(&http_connection::on_header, shared_from_this()));
}

void http_connection::on_header(boost::system::error_code ec, std::size_t bytes) {
  if (ec || parser_->is_done()) return on_read(ec, bytes);
  // The string body reserves a Content-Length whole before its first byte arrives, so that is what
  // the body costs from here; a chunked body may grow to the payload limit.
  auto const length = parser_->content_length();
  auto const need = length ? static_cast<std::size_t>(*length) : state_->options.lim.max_payload_bytes;
  if (!state_->reserve_body(need)) {
    counters::add(state_->stats.bodies_refused);
    send_error(parser_->get(), 503, bad_request, "Too many request bodies in flight", true);
    return;
  }
  body_reserved_ = need;
  if (tls_) {
    http::async_read(*tls_, buffer_, *parser_, beast::bind_front_handler(&http_connection::on_read, shared_from_this()));
    return;
  }
  http::async_read(socket_, buffer_, *parser_,
                   beast::bind_front_handler(&http_connection::on_read, shared_from_this()));
}

void http_connection::on_read(boost::system::error_code ec, std::size_t) {
  // The request's deadline runs on into its answer's (send() re-arms it); the paths that end the
  // connection, park the poll or hand the socket to a WebSocket disarm it.
  if (ec == http::error::end_of_stream) {
    disarm();
    sock().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    return;
  }
  if (ec == http::error::body_limit) {
    auto& req = parser_->get();
    std::string_view const target = req.target();
    auto const q = target.find('?');
    if (q != std::string_view::npos) {
      if (auto sid = query_param(target.substr(q + 1), "sid")) {
        if (auto s = state_->find(*sid)) s->fail(close_reason::payload_too_large);
      }
    }
    send_error(req, 413, bad_request, "Payload too large", true);
    return;
  }
  if (ec == http::error::header_limit) {
    send_error({}, 431, bad_request, "Request header fields too large", true);
    return;
  }
  if (ec) {
    // A malformed request gets 400; an I/O error or timeout just ends the connection.
    if (ec.category() == http::make_error_code(http::error::bad_target).category())
      send_error({}, 400, bad_request, "Bad request", true);
    else
      disarm();
    return;
  }
  counters::add(state_->stats.http_requests);
  handle(parser_->get());
  // The body has been decoded (or refused) by now: its memory and its reservation go back at once,
  // not when the next request comes, which on a keep-alive connection may be never.
  if (body_reserved_ != 0 && parser_) std::string().swap(parser_->get().body());
  release_body();
}

void http_connection::handle(request& req) {
  if (!host_allowed(req[http::field::host], state_->options.allowed_hosts)) {
    // DNS rebinding: a site whose name now resolves to this server; its pages are "same origin" with
    // it, so only the name they carry in Host tells them apart (docs/hardening.md).
    counters::add(state_->stats.host_refused);
    send_error(req, 403, forbidden, "Forbidden");
    return;
  }
  std::string_view const target = req.target();
  auto const q = target.find('?');
  std::string_view const path = target.substr(0, q);
  std::string_view const query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  for (auto const& [mount, handler] : state_->mounts) {
    if (is_engine_path(path, mount)) {
      handle_engine(req, query, *handler);
      return;
    }
  }
  http_exchange ex;
  ex.method = std::string(req.method_string());
  ex.target = std::string(target);
  ex.authorization = std::string(req[http::field::authorization]);
  if (state_->fallback && !beast::websocket::is_upgrade(req)) state_->fallback(ex);
  response res{static_cast<http::status>(ex.status), req.version()};
  res.set(http::field::content_type, ex.content_type);
  res.body() = std::move(ex.body);
  send(req, std::move(res), ex.headers);
}

void http_connection::handle_engine(request& req, std::string_view query, session_handler& handler) {
  if (!origin_allowed(req)) {
    // A page of another site driving a visitor's browser (cross-site WebSocket hijacking, or polling
    // with the visitor's cookies): refused before any session is touched, as the reference's
    // allowRequest refusal answers (403, code 4).
    counters::add(state_->stats.origin_refused);
    send_error(req, 403, forbidden, "Forbidden");
    return;
  }
  if (req.method() == http::verb::options) {
    // CORS preflight. The allowed headers are a fixed list, never the requested ones echoed: a page
    // may only send what the Engine.IO client itself sends (its POST's Content-Type).
    response res{http::status::no_content, req.version()};
    set_cors(req, res);
    res.set(http::field::access_control_allow_methods, "GET, POST");
    res.set(http::field::access_control_allow_headers, "Content-Type");
    send(req, std::move(res));
    return;
  }
  if (query_param(query, "EIO") != "4") {
    send_error(req, 400, unsupported_protocol_version, "Unsupported protocol version");
    return;
  }
  auto const transport = query_param(query, "transport");
  bool const polling = transport == "polling" && state_->options.allow_polling;
  bool const websocket = transport == "websocket" && state_->options.allow_websocket;
  if (!polling && !websocket) {
    send_error(req, 400, transport_unknown, "Transport unknown");
    return;
  }
  bool const upgrade = beast::websocket::is_upgrade(req);
  auto const sid = query_param(query, "sid");
  std::shared_ptr<session_impl> s;
  if (sid) {
    s = state_->find(*sid);
    if (!s || &s->handler() != &handler) {
      send_error(req, 400, session_unknown, "Session ID unknown");
      return;
    }
  }
  if (websocket) {
    if (!upgrade || req.method() != http::verb::get) {
      send_error(req, 400, bad_request, "Bad request");
      return;
    }
    if (!s && !state_->admit_handshake(peer_)) {
      send_error(req, 429, bad_request, "Too many handshakes");
      return;
    }
    // The stream moves to the WebSocket; this connection ends here.
    disarm();
    std::string early = beast::buffers_to_string(buffer_.data());
    auto ws = tls_ ? std::make_shared<websocket_connection>(state_, std::move(tls_), peer_)
                   : std::make_shared<websocket_connection>(state_, std::move(socket_), peer_);
    ws->adopt(std::move(slot_));
    ws->run(parser_->release(), std::move(s), handler, std::move(early));
    return;
  }
  if (upgrade) {
    send_error(req, 400, bad_request, "Bad request");
    return;
  }
  if (!s) {
    if (req.method() != http::verb::get) {
      send_error(req, 400, bad_handshake_method, "Bad handshake method");
      return;
    }
    handshake(req, handler);
    return;
  }
  if (req.method() == http::verb::get) {
    handle_poll(req, s);
  } else if (req.method() == http::verb::post) {
    handle_post(req, s);
  } else {
    send_error(req, 400, bad_request, "Bad request");
  }
}

void http_connection::handshake(request& req, session_handler& handler) {
  if (!state_->admit_handshake(peer_)) {
    // RFC 6585 section 4: the address opened sessions faster than its rate.
    send_error(req, 429, bad_request, "Too many handshakes");
    return;
  }
  auto s = state_->create_session(transport_kind::polling, handler, peer_);
  if (!s) {
    send_error(req, 503, bad_request, "Server full or stopping");
    return;
  }
  codec::eio::handshake h;
  h.sid = s->id();
  if (state_->options.allow_websocket) h.upgrades.emplace_back("websocket");
  h.ping_interval = state_->options.lim.ping_interval;
  h.ping_timeout = state_->options.lim.ping_timeout;
  h.max_payload_bytes = state_->options.lim.max_payload_bytes;
  response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; charset=UTF-8");
  res.body() = codec::eio::type_char(codec::eio::packet_type::open) + codec::eio::encode_handshake(h);
  s->start();
  send(req, std::move(res));
}

void http_connection::handle_poll(request& req, std::shared_ptr<session_impl> const& s) {
  std::string body;
  switch (s->on_poll(shared_from_this(), body)) {
    case poll_outcome::respond: {
      response res{http::status::ok, req.version()};
      res.set(http::field::content_type, "text/plain; charset=UTF-8");
      res.body() = std::move(body);
      polled_ = s;
      send(req, std::move(res));
      return;
    }
    case poll_outcome::parked: {
      // Keep only what the answer needs (version, keep-alive, the CORS origin), and let go
      // of the request and the read buffer: a parked poll is what an idle polling session costs.
      disarm();  // a parked poll has no deadline (watch_parked)
      parked_on_ = s;
      parked_ = parked_request{std::string(req[http::field::origin]), req.version(), req.keep_alive()};
      watch_parked();
      parser_.reset();
      if (buffer_.size() == 0) buffer_.shrink_to_fit();
      return;
    }
    case poll_outcome::bad_request: send_error(req, 400, bad_request, "Bad request"); return;
    case poll_outcome::unknown: send_error(req, 400, session_unknown, "Session ID unknown"); return;
  }
}

void http_connection::handle_post(request& req, std::shared_ptr<session_impl> const& s) {
  switch (s->begin_post()) {
    case poll_outcome::respond: break;
    case poll_outcome::bad_request: send_error(req, 400, bad_request, "Bad request"); return;
    default: send_error(req, 400, session_unknown, "Session ID unknown"); return;
  }
  std::vector<codec::eio::packet> packets;
  auto const ec = codec::eio::decode_payload(req.body(), packets, state_->options.lim.max_payload_bytes);
  if (ec) {
    s->end_post();
    s->fail(ec == codec::condition::limit_exceeded ? close_reason::payload_too_large : close_reason::parse_error);
    send_error(req, 400, bad_request, "Bad request");
    return;
  }
  {
    // What the body's packets make the session send (a chat's own copy, its ack) leaves in one poll
    // response (session_impl::cork).
    cork_guard cork(s.get());
    for (auto& p : packets) {
      if (s->closed()) break;
      s->on_packet(std::move(p));
    }
  }
  s->end_post();
  response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/html");
  res.body() = "ok";
  send(req, std::move(res));
}

void http_connection::watch_parked() {
  // A parked poll has no deadline (the heartbeat bounds it), but a client that goes away must not
  // leave it parked: wait for readability, which is how end of stream shows.
  // Over TLS a byte may also be a close_notify alert: that client is found gone by its heartbeat
  // instead (docs/tls.md).
  sock().async_wait(net::ip::tcp::socket::wait_read, in_slot(read_wait_, [self = shared_from_this()](boost::system::error_code ec) {
    if (ec || !self->parked_on_) return;
    // Readiness can be spurious (an edge-triggered reactor reports a socket ready that has nothing to
    // read), so peek: no byte yet means wait again; a byte is a pipelined request, read after the
    // answer; only end of stream or an error means the client is gone.
    auto& socket = self->sock();
    char byte = 0;
    boost::system::error_code peek_ec;
    socket.non_blocking(true, peek_ec);
    auto const n = socket.receive(net::buffer(&byte, 1), net::socket_base::message_peek, peek_ec);
    if (peek_ec == net::error::would_block || peek_ec == net::error::try_again) {
      self->watch_parked();
      return;
    }
    if (!peek_ec && n > 0) return;
    auto s = std::move(self->parked_on_);
    s->cancel_poll(self.get());
    socket.close(peek_ec);
  }));
}

void http_connection::complete_poll(std::string body) {
  net::post(socket_.get_executor(), [self = shared_from_this(), body = std::move(body)]() mutable {
    if (!self->parked_on_) return;  // the client went away first
    self->polled_ = std::move(self->parked_on_);
    boost::system::error_code ignored;
    self->sock().cancel(ignored);  // ends the readability wait
    // The request again, from what was kept of it (a parked poll is always a GET).
    request req{http::verb::get, {}, self->parked_.version};
    req.keep_alive(self->parked_.keep_alive);
    if (!self->parked_.origin.empty()) req.set(http::field::origin, self->parked_.origin);
    self->parked_ = {};
    response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; charset=UTF-8");
    res.body() = std::move(body);
    self->send(req, std::move(res));
  });
}

bool http_connection::origin_allowed(request const& req) const {
  auto const origin = req[http::field::origin];
  // No Origin: not a browser's cross-origin request (non-browser clients, the C++ and Node clients);
  // there is no visitor's ambient authority to abuse.
  if (origin.empty()) return true;
  auto const& allowed = state_->options.cors_origins;
  if (std::find(allowed.begin(), allowed.end(), "*") != allowed.end()) return true;
  if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) return true;
  return state_->options.allow_same_origin && same_origin(origin, req[http::field::host]);
}

void http_connection::set_cors(request const& req, response& res) const {
  auto const origin = req[http::field::origin];
  if (origin.empty()) return;
  auto const& allowed = state_->options.cors_origins;
  if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) {
    // A named origin may send the visitor's cookies (withCredentials).
    res.set(http::field::access_control_allow_origin, origin);
    res.set(http::field::access_control_allow_credentials, "true");
    res.set(http::field::vary, "Origin");
  } else if (std::find(allowed.begin(), allowed.end(), "*") != allowed.end()) {
    // Any origin, but never with credentials (the Fetch standard refuses "*" with them, and echoing
    // the origin instead would let every site act with the visitor's cookies).
    res.set(http::field::access_control_allow_origin, "*");
  }
}

void http_connection::send_error(request const& req, unsigned status, int code, std::string_view message, bool close) {
  counters::add(state_->stats.http_errors);
  response res{static_cast<http::status>(status), req.version() ? req.version() : 11};
  res.set(http::field::content_type, "application/json");
  res.body() = R"({"code":)" + std::to_string(code) + R"(,"message":")" + std::string(message) + R"("})";
  close_after_write_ = close_after_write_ || close;
  send(req, std::move(res));
}

void http_connection::send(request const& req, response&& res,
                           std::vector<std::pair<std::string, std::string>> const& headers) {
  res.set(http::field::server, "fallbench");
  set_cors(req, res);
  for (auto const& [name, value] : headers) res.set(name, value);
  res.keep_alive(req.keep_alive() && !close_after_write_);
  res.prepare_payload();
  // HEAD: the headers GET would get, Content-Length included (RFC 9110 9.3.2), and no body.
  if (req.method() == http::verb::head) res.body().clear();
  res_ = std::make_unique<response>(std::move(res));
  arm(state_->options.lim.http_timeout);
  if (tls_) {
    http::async_write(*tls_, *res_, beast::bind_front_handler(&http_connection::on_write, shared_from_this()));
    return;
  }
  http::async_write(socket_, *res_, beast::bind_front_handler(&http_connection::on_write, shared_from_this()));
}

void http_connection::on_write(boost::system::error_code ec, std::size_t) {
  if (auto s = std::move(polled_)) s->on_poll_written();
  bool const keep = res_ && res_->keep_alive();
  res_.reset();
  if (ec || !keep) disarm();
  if (ec) return;
  if (!keep) {
    sock().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    return;
  }
  do_read();
}

}  // namespace fallbench::transport::detail
