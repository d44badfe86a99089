#include "connection.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace fallbench::proxy::detail {

namespace net = boost::asio;

namespace {

// One read's worth: enough for a typical HTTP exchange or WebSocket frame at once.
constexpr std::size_t read_size = 16 * 1024;
// Largest single write: keeps bandwidth pieces and latency chunks small enough to interleave.
constexpr std::size_t max_write = 64 * 1024;

// splitmix64: a tiny, fully specified generator, so a seed draws the same faults everywhere.
std::uint64_t next_random(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double uniform01(std::uint64_t& state) noexcept { return static_cast<double>(next_random(state) >> 11) * 0x1.0p-53; }

// Uniform in [lo, hi] (the modulo bias is below 2^-40 for the ranges used here).
std::uint64_t uniform(std::uint64_t& state, std::uint64_t lo, std::uint64_t hi) noexcept {
  return lo + next_random(state) % (hi - lo + 1);
}

std::uint64_t seed_for(std::uint64_t seed, std::uint64_t id, std::uint64_t stream) noexcept {
  std::uint64_t s = seed ^ (id * 0xD1B54A32D192ED03ull) ^ (stream * 0xABC98388FB8FAC03ull);
  next_random(s);
  return s;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 524: return "A Timeout Occurred";  // Cloudflare's, not IANA's
    default: return "Error";
  }
}

template <class Duration>
std::string ms_text(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

connection::direction::direction(net::any_io_executor const& ex, http_framer::role role, std::size_t max_head_bytes)
    : framer(role, max_head_bytes), read_buffer(std::make_unique<char[]>(read_size)), pace(ex) {}

connection::connection(tcp::socket client, std::shared_ptr<proxy_state> state, std::uint64_t id)
    : state_(std::move(state)),
      id_(id),
      client_(std::move(client)),
      upstream_(client_.get_executor()),
      up_dir_(client_.get_executor(), http_framer::role::request, state_->options().max_head_bytes),
      down_dir_(client_.get_executor(), http_framer::role::response, state_->options().max_head_bytes),
      connect_timer_(client_.get_executor()),
      idle_timer_(client_.get_executor()),
      kill_timer_(client_.get_executor()),
      reset_timer_(client_.get_executor()),
      hold_timer_(client_.get_executor()),
      deadline_timer_(client_.get_executor()),
      lifetime_timer_(client_.get_executor()),
      tls_timer_(client_.get_executor()),
      header_timer_(client_.get_executor()) {
  if (auto* ctx = state_->tls()) tls_ = std::make_unique<net::ssl::stream<tcp::socket&>>(client_, *ctx);
  if (state_->options().tls_passthrough) {
    // TLS passed through: no byte is HTTP to the proxy, so both directions are opaque from the start.
    opaque_ = true;
    up_dir_.framer.tunnel();
    down_dir_.framer.tunnel();
  }
}

connection::~connection() {
  if (!closed_) add(state_->count().connections_closed);
}

void connection::run() {
  net::dispatch(client_.get_executor(), [self = shared_from_this()] { self->start(); });
}

void connection::profile_changed() {
  net::post(client_.get_executor(), [self = shared_from_this()] {
    if (!self->closed_) self->refresh_profile();
  });
}

void connection::stop() {
  net::post(client_.get_executor(), [self = shared_from_this()] { self->close(ending::graceful); });
}

void connection::start() {
  started_ = last_activity_ = clock::now();
  for (auto* d : {&up_dir_, &down_dir_}) d->last_read = d->last_data = started_;
  error_code ignored;
  // Nagle off: the proxy must not add delays of its own to small writes (WebSocket frames, polls).
  client_.set_option(tcp::no_delay(true), ignored);
  refresh_profile();
  if (closed_) return;
  track_head();
  connect_timer_.expires_after(state_->options().connect_timeout);
  connect_timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_connect_timeout(ec); });
  upstream_.async_connect(state_->options().upstream, [self = shared_from_this()](error_code ec) { self->on_connect(ec); });
  if (!tls_) return do_read(up);
  tls_timer_.expires_after(state_->options().tls_handshake_timeout);
  tls_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->closed_ || self->tls_ready_) return;
    add(self->state_->count().tls_failures);
    self->close(ending::graceful);
  });
  tls_->async_handshake(net::ssl::stream_base::server,
                        [self = shared_from_this()](error_code ec) { self->on_tls_handshake(ec); });
}

void connection::on_tls_handshake(error_code ec) {
  tls_timer_.cancel();
  if (closed_) return;
  if (ec) {
    // Not TLS (plain HTTP to the TLS port, say) or no common ground: nothing can be answered.
    add(state_->count().tls_failures);
    return close(ending::graceful);
  }
  tls_ready_ = true;
  do_read(up);
  do_write(down);
}

void connection::on_connect_timeout(error_code ec) {
  if (ec || closed_ || connected_) return;
  connect_timed_out_ = true;
  error_code ignored;
  upstream_.close(ignored);
}

void connection::on_connect(error_code ec) {
  connect_timer_.cancel();
  if (closed_) return;
  if (ec) {
    add(state_->count().upstream_failures);
    answering_ = true;
    auto const& u = state_->options().upstream;
    respond_and_close(502, "fallbench proxy: upstream " + u.address().to_string() + ":" + std::to_string(u.port()) +
                               " " + (connect_timed_out_ ? std::string("did not answer in time") : ec.message()) + "\n");
    return;
  }
  error_code ignored;
  upstream_.set_option(tcp::no_delay(true), ignored);
  connected_ = true;
  do_write(up);
  do_read(down);
}

// ---- reading and framing ----

bool connection::read_paused(side s) const {
  auto const& d = s == up ? up_dir_ : down_dir_;
  auto const& options = state_->options();
  if (d.out_bytes >= options.max_queued_bytes) return true;
  // Unframed input is bounded: a head may take max_head_bytes, plus one read.
  if (d.in.size() >= options.max_head_bytes + read_size) return true;
  if (s == up && (awaiting_upgrade_ || refusing_ || pending_.size() >= options.max_pipelined)) return true;
  return false;
}

void connection::do_read(side s) {
  auto& d = dir(s);
  if (closed_ || d.reading || d.source_ended || read_paused(s)) return;
  if (s == down && !connected_) return;
  if (s == up && tls_ && !tls_ready_) return;
  d.reading = true;
  auto handler = [self = shared_from_this(), s](error_code ec, std::size_t n) { self->on_read(s, ec, n); };
  auto const buffer = net::buffer(d.read_buffer.get(), read_size);
  if (s == up && tls_) {
    tls_->async_read_some(buffer, std::move(handler));
  } else {
    source(s).async_read_some(buffer, std::move(handler));
  }
}

void connection::on_read(side s, error_code ec, std::size_t n) {
  auto& d = dir(s);
  d.reading = false;
  if (closed_) return;
  // A TLS client that closes without close_notify ends its stream like a TCP one.
  if (ec == net::error::eof || ec == net::ssl::error::stream_truncated) return on_source_ended(s);
  if (ec) {
    // A reset from one side is passed on as a reset to the other; any other error just ends both.
    close(ec == net::error::connection_reset ? ending::reset : ending::graceful);
    return;
  }
  touch();
  d.last_read = last_activity_;
  // Before an upgrade every byte is data; after it the frame scanner tells heartbeats apart (process()).
  if (!tunnel_) d.last_data = last_activity_;
  relayed_ += n;
  if (reset_armed_ && relayed_ >= reset_at_bytes_) return reset_now("after " + std::to_string(relayed_) + " bytes");
  d.in.append(d.read_buffer.get(), n);
  process(s);
  do_read(s);
}

void connection::process(side s) {
  auto& d = dir(s);
  std::string_view const in = d.in;
  std::size_t used = 0;
  while (!closed_) {
    if (answering_ || (s == up && blackholed_)) {
      used = in.size();  // Nothing more is relayed: the proxy answers (or swallows) itself.
      break;
    }
    if (s == up && (awaiting_upgrade_ || refusing_)) break;
    bool const in_body = !d.framer.idle();
    auto const r = d.framer.step(in.substr(used));
    if (r.what == http_framer::event::need_more) break;
    if (r.what == http_framer::event::error) {
      d.in.clear();
      return on_protocol_error(s, in_body);
    }
    auto const bytes = in.substr(used, r.size);
    used += r.size;
    switch (r.what) {
      case http_framer::event::head:
        if (s == up) {
          on_request_head(bytes);
        } else {
          on_response_head(bytes);
        }
        break;
      case http_framer::event::body:
        if (tunnel_) {
          if ((s == up ? up_frames_ : down_frames_).feed(bytes)) d.last_data = clock::now();
          emit_tunnel(s, bytes);
        } else {
          emit(s, bytes);
        }
        break;
      case http_framer::event::end:
        on_message_end(s);
        break;
      default:
        break;
    }
  }
  if (closed_) return;
  d.in.erase(0, used);
  if (s == up) track_head();
  if (d.source_ended && d.in.empty() && !(s == up && (awaiting_upgrade_ || refusing_))) {
    if (!d.shutdown_queued) {
      d.shutdown_queued = true;
      enqueue(s, {}, true);
    }
  }
}

void connection::on_source_ended(side s) {
  auto& d = dir(s);
  d.source_ended = true;
  if (s == up && blackholed_) {
    fault("the client gave up the swallowed upgrade after " + ms_text(clock::now() - blackholed_at_));
    return close(ending::graceful);
  }
  // A response delimited by the end of the connection ends here.
  if (d.framer.finish()) on_message_end(s);
  process(s);
  if (closed_) return;
  // A request cut off by the client's end can never be completed, and whatever the upstream answered
  // it would be an answer to half a request: both sides go now, not at --max-idle.
  if (s == up && !opaque_ && !tunnel_ && !answering_ && !awaiting_upgrade_ && !refusing_ &&
      (!d.in.empty() || !d.framer.idle())) {
    add(state_->count().truncated_requests);
    return close(ending::graceful);
  }
  maybe_finish();
}

void connection::on_request_head(std::string_view bytes) {
  http_head const* h = &up_dir_.framer.head();
  add(state_->count().http_requests);
  ++requests_;
  auto const& p = *profile_;
  http_head rewritten;
  std::string rewritten_bytes;
  if (p.kind == profile_kind::rewrite_headers && (!p.request_set.empty() || !p.request_remove.empty())) {
    // The rewritten head is what the upstream sees and what decides whether this is an upgrade.
    rewritten = *h;
    for (auto const& name : p.request_remove) rewritten.erase(name);
    for (auto const& [name, value] : p.request_set) {
      rewritten.erase(name);
      rewritten.fields.emplace_back(name, value);
    }
    if (!rewrite_logged_) {
      rewrite_logged_ = true;
      fault("rewrote the head of " + h->method + " " + h->target + " (and of every request after it): " + describe(p));
    }
    rewritten_bytes = rewritten.serialize();
    h = &rewritten;
    bytes = rewritten_bytes;
  }
  bool const upgrade = h->field("upgrade").has_value() && h->has_token("connection", "upgrade");
  if (!upgrade) return forward_request(*h, bytes, false);
  add(state_->count().upgrades_seen);
  std::string const request = h->method + " " + h->target;
  // The upgrade faults are about WebSocket; another protocol's upgrade (h2c) is relayed as it is.
  if (h->has_token("upgrade", "websocket")) {
    switch (p.kind) {
      case profile_kind::strip_upgrade: {
        http_head stripped = *h;
        stripped.erase("upgrade");
        stripped.erase_prefix("sec-websocket-");
        stripped.erase_token("connection", "upgrade");
        fault("removed Upgrade, the Connection upgrade token and Sec-WebSocket-* from " + request);
        return forward_request(stripped, stripped.serialize(), false);
      }
      case profile_kind::refuse_upgrade:
        refusing_ = true;
        refuse_status_ = p.refuse_status;
        refused_request_ = request;
        maybe_refuse();
        return;
      case profile_kind::blackhole_upgrade:
        blackholed_ = true;
        blackholed_at_ = clock::now();
        fault("swallowed " + request + "; holding the connection for up to " + ms_text(p.hold));
        hold_timer_.expires_after(p.hold);
        hold_timer_.async_wait([self = shared_from_this(), hold = p.hold](error_code ec) {
          if (ec || self->closed_) return;
          self->fault("closed the connection of the swallowed upgrade after " + ms_text(hold) + " (hold-ms)");
          self->close(ending::graceful);
        });
        return;
      default:
        break;
    }
  }
  forward_request(*h, bytes, true);
  awaiting_upgrade_ = true;
}

void connection::forward_request(http_head const& h, std::string_view bytes, bool upgrade) {
  emit(up, bytes);
  pending_.push_back({h.method == "HEAD", upgrade, clock::now(), h.method + " " + h.target});
  if (pending_.size() == 1) arm_deadline();
}

void connection::on_response_head(std::string_view bytes) {
  auto& d = down_dir_;
  auto const& h = d.framer.head();
  // A response nobody asked for (a 408 before closing, say) is relayed like any other.
  pending_request const req = pending_.empty() ? pending_request{} : pending_.front();
  if (req.head_method) d.framer.no_body();
  if (h.status < 200 && h.status != 101) {
    emit(down, bytes);  // 100 Continue and the like: the final answer is still to come.
    return;
  }
  add(state_->count().http_responses);
  if (!pending_.empty()) {
    pending_.pop_front();
    arm_deadline();
  }
  if (h.status == 101) {
    // Switching protocols: from here on both directions are opaque bytes.
    d.framer.tunnel();
    up_dir_.framer.tunnel();
    tunnel_ = true;
    upgraded_at_ = clock::now();
    up_dir_.last_data = down_dir_.last_data = upgraded_at_;
    add(state_->count().upgrades_completed);
    emit(down, bytes);
    arm_kill();
    arm_lifetime();
    awaiting_upgrade_ = false;
    resume_requests();
    return;
  }
  response_started_ = true;
  if (profile_->kind == profile_kind::buffer_responses) {
    d.holding = true;
    d.held_split = false;
    d.held_status = h.status;
    d.held_since = clock::now();
  }
  auto const& p = *profile_;
  if (p.kind == profile_kind::rewrite_headers && (!p.response_set.empty() || !p.response_remove.empty())) {
    http_head rewritten = h;
    for (auto const& name : p.response_remove) rewritten.erase(name);
    for (auto const& [name, value] : p.response_set) {
      rewritten.erase(name);
      rewritten.fields.emplace_back(name, value);
    }
    // A proxy that says it closes does close, after this response (the client is told not to reuse it).
    if (!h.has_token("connection", "close") && rewritten.has_token("connection", "close")) close_after_response_ = true;
    if (!rewrite_logged_) {
      rewrite_logged_ = true;
      fault("rewrote the head of a " + std::to_string(h.status) + " response (and of every response after it): " +
            describe(p));
    }
    emit(down, rewritten.serialize());
  } else {
    emit(down, bytes);
  }
  if (req.upgrade) awaiting_upgrade_ = false;  // Declined: the connection goes on as HTTP.
  resume_requests();
}

void connection::resume_requests() {
  process(up);
  do_read(up);
  maybe_finish();
}

void connection::on_message_end(side s) {
  if (s == up) return;
  response_started_ = false;
  auto& d = down_dir_;
  if (d.holding) {
    d.holding = false;
    fault("held a " + std::to_string(d.held_status) + " response (" + std::to_string(d.held.size()) +
          (d.held_split ? " bytes after the last piece" : " bytes") + ") for " + ms_text(clock::now() - d.held_since) +
          ", until its body ended");
    enqueue(down, std::move(d.held));
    d.held = {};
  }
  if (close_after_response_) {
    close_after_response_ = false;
    answering_ = true;  // nothing more is relayed on this connection
    fault("closed the connection after a response it rewrote to Connection: close");
    return enqueue(down, {}, false, true);
  }
  maybe_refuse();
}

void connection::on_protocol_error(side s, bool in_body) {
  add(state_->count().protocol_errors);
  auto const& why = dir(s).framer.error();
  // A request broken in its body (a bad chunk size line) was forwarded already: when it is the only
  // one unanswered, the client gets the 400 and the upstream's answer to its half is discarded.
  if (s == up && pending_.size() == (in_body ? 1u : 0u) && !response_started_ && !down_dir_.holding &&
      down_dir_.framer.idle()) {
    add(state_->count().bad_requests);
    answering_ = true;
    return respond_and_close(why.starts_with("head larger") ? 431 : 400, "fallbench proxy: bad request: " + why + "\n");
  }
  if (s == down && !response_started_ && !down_dir_.holding) {
    answering_ = true;
    return respond_and_close(502, "fallbench proxy: bad response from upstream: " + why + "\n");
  }
  close(ending::graceful);
}

// ---- writing, pacing and shaping ----

void connection::emit(side s, std::string_view bytes) {
  auto& d = dir(s);
  if (s == down && d.holding) {
    d.held.append(bytes);
    if (d.held.size() >= profile_->max_buffer_bytes) {
      if (!d.held_split) fault("a response passed max-buffer-bytes: sending what is held in pieces");
      d.held_split = true;
      enqueue(down, std::move(d.held));
      d.held = {};
    }
    return;
  }
  enqueue(s, std::string(bytes));
}

void connection::enqueue(side s, std::string bytes, bool shutdown, bool close_after, clock::time_point not_before) {
  auto& d = dir(s);
  auto const now = clock::now();
  auto release = std::max(now, not_before);
  auto const& p = *profile_;
  if (p.kind == profile_kind::latency) {
    auto delay = s == up ? p.up_delay : p.down_delay;
    if (p.jitter.count() > 0)
      delay += std::chrono::milliseconds{
          static_cast<std::int64_t>(uniform(d.rng, 0, static_cast<std::uint64_t>(p.jitter.count())))};
    release = std::max(release, now + delay);
    if (!latency_logged_) {
      latency_logged_ = true;
      fault("delaying bytes: up +" + ms_text(p.up_delay) + ", down +" + ms_text(p.down_delay) + ", jitter up to " +
            ms_text(p.jitter));
    }
  }
  // Jitter never reorders: a chunk goes out no earlier than the one before it.
  release = std::max(release, d.last_release);
  d.last_release = release;
  d.out_bytes += bytes.size();
  d.out.push_back({std::move(bytes), 0, release, shutdown, close_after});
  do_write(s);
}

void connection::emit_tunnel(side s, std::string_view bytes) {
  auto const& p = *profile_;
  if (p.kind == profile_kind::upgrade_then_stall) {
    auto const now = clock::now();
    auto const from = std::max(upgraded_at_, profile_since_) + p.stall_after;
    // "For ever" is a day: far beyond any run, and the connection ends long before.
    bool const for_ever = p.stall_for.count() == 0;
    auto const until = for_ever ? now + std::chrono::hours{24} : from + p.stall_for;
    if (now >= from && now < until) {
      if (p.stall == stall_mode::hold) {
        if (!stall_logged_) {
          stall_logged_ = true;
          fault("holding the frames both ways after the upgrade " +
                (for_ever ? std::string("until the connection ends") : "for " + ms_text(until - from)));
        }
        return enqueue(s, std::string(bytes), false, false, until);
      }
      if ((p.stall == stall_mode::drop_up) == (s == up)) {
        auto& d = dir(s);
        d.dropped += bytes.size();
        if (!d.drop_logged) {
          d.drop_logged = true;
          fault(std::string("dropping the ") + (s == up ? "client -> upstream" : "upstream -> client") +
                " bytes after the upgrade " +
                (for_ever ? std::string("until the connection ends") : "for " + ms_text(until - from)) +
                "; the other direction flows");
        }
        return;
      }
    }
  }
  emit(s, bytes);
}

void connection::respond_and_close(int status, std::string_view body) {
  std::string response = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) +
                         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\n\r\n";
  response += body;
  enqueue(down, std::move(response), false, true);
}

void connection::maybe_refuse() {
  // The refusal goes out once every earlier response has, so pipelined answers keep their order.
  if (!refusing_ || refused_ || !pending_.empty() || response_started_) return;
  refused_ = true;
  fault("answered " + std::to_string(refuse_status_) + " to " + refused_request_ + " (not forwarded)");
  respond_and_close(refuse_status_, "fallbench proxy: WebSocket upgrade refused (profile refuse-upgrade)\n");
}

void connection::do_write(side s) {
  auto& d = dir(s);
  if (closed_ || d.writing || d.pacing || d.out.empty()) return;
  if (s == up && !connected_) return;
  if (s == down && tls_ && !tls_ready_) return;
  auto& c = d.out.front();
  auto const now = clock::now();
  if (c.release > now) return pace_until(s, c.release);
  if (c.shutdown) {
    error_code ignored;
    sink(s).shutdown(tcp::socket::shutdown_send, ignored);
    d.out.pop_front();
    d.sink_shut = true;
    return maybe_finish();
  }
  std::size_t n = std::min(c.bytes.size() - c.offset, max_write);
  auto const& p = *profile_;
  if (p.kind == profile_kind::bandwidth && n > 0) {
    auto const rate = static_cast<double>(s == up ? p.up_rate : p.down_rate);
    auto const burst = static_cast<double>(p.burst_bytes);
    if (d.bucket_generation != generation_) {
      d.bucket_generation = generation_;
      d.tokens = burst;
      d.refilled = now;
      if (!bandwidth_logged_) {
        bandwidth_logged_ = true;
        fault("capping at " + std::to_string(p.up_rate) + " B/s up, " + std::to_string(p.down_rate) +
              " B/s down, burst " + std::to_string(p.burst_bytes) + " bytes");
      }
    }
    d.tokens = std::min(burst, d.tokens + std::chrono::duration<double>(now - d.refilled).count() * rate);
    d.refilled = now;
    // Wait for a whole piece (up to the bucket's depth) rather than dribbling out single bytes.
    auto const need = std::min(static_cast<double>(n), burst);
    if (d.tokens < need) {
      auto const wait = std::chrono::duration<double>((need - d.tokens) / rate);
      return pace_until(s, now + std::chrono::ceil<std::chrono::microseconds>(wait));
    }
    n = std::min(n, static_cast<std::size_t>(std::floor(d.tokens)));
    d.tokens -= static_cast<double>(n);
  }
  d.writing = true;
  auto handler = [self = shared_from_this(), s](error_code ec, std::size_t written) { self->on_write(s, ec, written); };
  auto const buffer = net::buffer(c.bytes.data() + c.offset, n);
  if (s == down && tls_) {
    net::async_write(*tls_, buffer, std::move(handler));
  } else {
    net::async_write(sink(s), buffer, std::move(handler));
  }
}

void connection::on_write(side s, error_code ec, std::size_t n) {
  auto& d = dir(s);
  d.writing = false;
  if (closed_) return;
  if (ec) return close(ending::graceful);
  touch();
  add(s == up ? state_->count().bytes_up : state_->count().bytes_down, n);
  auto& c = d.out.front();
  c.offset += n;
  d.out_bytes -= n;
  if (c.offset == c.bytes.size()) {
    bool const close_after = c.close_after;
    d.out.pop_front();
    if (close_after) return close(ending::graceful);
  }
  do_read(s);  // Backpressure off if the queue drained below its bound.
  do_write(s);
}

void connection::pace_until(side s, clock::time_point when) {
  auto& d = dir(s);
  d.pacing = true;
  d.pace.expires_at(when);
  // Cancelled (release_held()) or expired alike, the queue is looked at again.
  d.pace.async_wait([self = shared_from_this(), s](error_code) {
    self->dir(s).pacing = false;
    if (!self->closed_) self->do_write(s);
  });
}

// ---- profile-driven timers ----

void connection::refresh_profile() {
  auto const snap = state_->current();
  if (snap.generation == generation_) return;
  bool const was_stalling = profile_ && profile_->kind == profile_kind::upgrade_then_stall;
  profile_ = snap.prof;
  generation_ = snap.generation;
  profile_since_ = snap.since;
  latency_logged_ = bandwidth_logged_ = false;
  rewrite_logged_ = stall_logged_ = up_dir_.drop_logged = down_dir_.drop_logged = false;
  if (was_stalling) release_held();
  if (profile_->kind == profile_kind::latency) {
    up_dir_.rng = seed_for(profile_->seed, id_, 1);
    down_dir_.rng = seed_for(profile_->seed, id_, 2);
  }
  arm_idle();
  arm_kill();
  arm_reset();
  arm_deadline();
  arm_lifetime();
}

void connection::release_held() {
  // What upgrade-then-stall held goes out now, in order; nothing is held any more.
  auto const now = clock::now();
  for (auto* d : {&up_dir_, &down_dir_}) {
    for (auto& c : d->out) c.release = std::min(c.release, now);
    d->last_release = std::min(d->last_release, now);
    if (d->pacing) d->pace.cancel();
  }
}

connection::clock::time_point connection::idle_since() const {
  auto const& p = *profile_;
  auto const last = [&](direction const& d) { return p.idle_pings_count ? d.last_read : d.last_data; };
  switch (p.idle_counts) {
    case idle_counting::up: return last(up_dir_);
    case idle_counting::down: return last(down_dir_);
    default: return std::max(last(up_dir_), last(down_dir_));
  }
}

void connection::arm_idle() {
  auto at = last_activity_ + state_->options().max_idle;
  if (profile_->kind == profile_kind::idle_timeout) at = std::min(at, idle_since() + profile_->idle);
  idle_timer_.expires_at(at);
  idle_timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_idle(ec); });
}

void connection::on_idle(error_code ec) {
  if (ec || closed_) return;
  auto const now = clock::now();
  auto const& p = *profile_;
  bool const fault_due = p.kind == profile_kind::idle_timeout && now >= idle_since() + p.idle;
  if (!fault_due && now < last_activity_ + state_->options().max_idle) return arm_idle();
  if (fault_due) {
    std::string const what = p.idle_counts == idle_counting::up     ? "from the client"
                             : p.idle_counts == idle_counting::down ? "from the upstream"
                                                                    : "either way";
    fault(std::string("cut ") + (tunnel_ ? "an upgraded" : "an HTTP") + " connection after " +
          ms_text(now - idle_since()) + " without a byte " + what +
          (p.idle_pings_count ? "" : " (WebSocket ping/pong and Engine.IO heartbeats not counted)"));
  } else {
    add(state_->count().idle_closed);
  }
  close(ending::graceful);
}

void connection::track_head() {
  // A head is being read from its first byte (from the accept, for the first request) until it is
  // whole. Bytes held back while an upgrade is pending are not being read as a head yet.
  auto const& d = up_dir_;
  bool const reading_head = !opaque_ && !tunnel_ && !answering_ && !blackholed_ && !awaiting_upgrade_ &&
                            !refusing_ && d.framer.idle() && (!d.in.empty() || requests_ == 0);
  if (!reading_head) {
    if (head_since_ != clock::time_point{}) {
      head_since_ = {};
      header_timer_.cancel();
    }
    return;
  }
  if (head_since_ != clock::time_point{}) return;
  head_since_ = requests_ == 0 ? started_ : clock::now();
  arm_header_deadline();
}

void connection::arm_header_deadline() {
  header_timer_.expires_at(head_since_ + state_->options().header_timeout);
  header_timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_header_deadline(ec); });
}

void connection::on_header_deadline(error_code ec) {
  if (ec || closed_ || head_since_ == clock::time_point{}) return;
  auto const timeout = state_->options().header_timeout;
  if (clock::now() < head_since_ + timeout) return arm_header_deadline();
  add(state_->count().header_timeouts);
  // nginx answers 408 to a head it waited for in vain; a client that sent nothing gets nothing.
  if (!up_dir_.in.empty() && pending_.empty() && !response_started_ && !down_dir_.holding) {
    answering_ = true;
    return respond_and_close(408, "fallbench proxy: request head not complete within " + ms_text(timeout) + "\n");
  }
  close(ending::graceful);
}

void connection::arm_kill() {
  if (!tunnel_ || profile_->kind != profile_kind::kill_websocket_after) {
    kill_timer_.cancel();
    return;
  }
  kill_timer_.expires_at(std::max(upgraded_at_, profile_since_) + profile_->kill_after);
  kill_timer_.async_wait([self = shared_from_this(), generation = generation_](error_code ec) {
    if (ec || self->closed_ || generation != self->generation_) return;
    self->fault("cut the upgraded connection " + ms_text(clock::now() - self->upgraded_at_) + " after the upgrade");
    self->close(ending::graceful);
  });
}

void connection::arm_deadline() {
  if (closed_ || answering_ || pending_.empty() || profile_->kind != profile_kind::request_deadline) {
    deadline_timer_.cancel();
    return;
  }
  deadline_timer_.expires_at(std::max(pending_.front().forwarded, profile_since_) + profile_->deadline);
  deadline_timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_deadline(ec); });
}

void connection::on_deadline(error_code ec) {
  if (ec || closed_ || answering_ || pending_.empty() || profile_->kind != profile_kind::request_deadline) return;
  auto const& p = *profile_;
  auto const& req = pending_.front();
  auto const now = clock::now();
  if (now < std::max(req.forwarded, profile_since_) + p.deadline) return arm_deadline();
  answering_ = true;  // the upstream's late answer is discarded; its connection ends with the client's
  if (response_started_ || down_dir_.holding) {
    // An earlier response is still streaming: a status line now would land inside its body.
    fault("cut the connection: no response to " + req.line + " after " + ms_text(now - req.forwarded) +
          " (deadline-ms) while an earlier response was still streaming");
    return close(ending::graceful);
  }
  fault("answered " + std::to_string(p.deadline_status) + " to " + req.line + " after " +
        ms_text(now - req.forwarded) + " without a response (deadline-ms)");
  respond_and_close(p.deadline_status, "fallbench proxy: no response from the upstream within " + ms_text(p.deadline) +
                                           " (profile request-deadline)\n");
}

void connection::arm_lifetime() {
  auto const& p = *profile_;
  if (p.kind != profile_kind::max_lifetime || (p.lifetime_upgraded_only && !tunnel_)) {
    lifetime_timer_.cancel();
    return;
  }
  auto const from = std::max(p.lifetime_upgraded_only ? upgraded_at_ : started_, profile_since_);
  lifetime_timer_.expires_at(from + p.lifetime);
  lifetime_timer_.async_wait([self = shared_from_this(), generation = generation_, from](error_code ec) {
    if (ec || self->closed_ || generation != self->generation_) return;
    self->fault(std::string("closed the ") + (self->tunnel_ ? "upgraded connection " : "connection ") +
                ms_text(clock::now() - from) + (self->tunnel_ ? " after the upgrade" : " after it opened") +
                ", busy or not (lifetime-ms)");
    self->close(ending::graceful);
  });
}

void connection::arm_reset() {
  reset_armed_ = false;
  reset_timer_.cancel();
  if (profile_->kind != profile_kind::reset) return;
  auto const& p = *profile_;
  // Drawn from (seed, connection id, draw number) only: the same seed and order give the same resets.
  std::uint64_t rng = seed_for(p.seed, id_, 16 + reset_draws_++);
  if (!(uniform01(rng) < p.reset_probability)) return;
  if (p.reset_max_bytes == 0 && p.reset_max.count() == 0) return reset_now("at once");
  reset_armed_ = true;
  reset_at_bytes_ = p.reset_max_bytes > 0 ? relayed_ + uniform(rng, 1, p.reset_max_bytes)
                                          : std::numeric_limits<std::uint64_t>::max();
  if (p.reset_max.count() > 0) {
    auto const after = std::chrono::milliseconds{
        static_cast<std::int64_t>(uniform(rng, 0, static_cast<std::uint64_t>(p.reset_max.count())))};
    reset_timer_.expires_after(after);
    reset_timer_.async_wait([self = shared_from_this(), generation = generation_, after](error_code ec) {
      if (ec || self->closed_ || generation != self->generation_) return;
      self->reset_now("after " + ms_text(after));
    });
  }
}

void connection::reset_now(std::string const& why) {
  fault("reset the connection (RST both ways) " + why + ", " + std::to_string(relayed_) + " bytes relayed");
  close(ending::reset);
}

void connection::fault(std::string what) { state_->fault(id_, profile_->kind, std::move(what)); }

void connection::maybe_finish() {
  if (closed_) return;
  if (up_dir_.sink_shut && down_dir_.sink_shut) return close(ending::graceful);
  // The upstream is gone while the client still waits for an answer it cannot give.
  if (down_dir_.sink_shut && (awaiting_upgrade_ || (refusing_ && !refused_) || !pending_.empty()))
    return close(ending::graceful);
}

void connection::close(ending how) {
  if (closed_) return;
  closed_ = true;
  add(state_->count().connections_closed);
  connect_timer_.cancel();
  idle_timer_.cancel();
  kill_timer_.cancel();
  reset_timer_.cancel();
  hold_timer_.cancel();
  deadline_timer_.cancel();
  lifetime_timer_.cancel();
  tls_timer_.cancel();
  header_timer_.cancel();
  up_dir_.pace.cancel();
  down_dir_.pace.cancel();
  for (auto* socket : {&client_, &upstream_}) {
    if (!socket->is_open()) continue;
    error_code ignored;
    if (how == ending::reset) {
      // SO_LINGER with a zero timeout: close() sends RST instead of FIN, as a middlebox reset does.
      socket->set_option(tcp::socket::linger(true, 0), ignored);
    } else {
      socket->shutdown(tcp::socket::shutdown_both, ignored);
    }
    socket->close(ignored);
  }
}

}  // namespace fallbench::proxy::detail
