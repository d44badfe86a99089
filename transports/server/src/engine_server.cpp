#include "fallbench/transport/engine_server.hpp"

#include "fallbench/transport/random_id.hpp"

#include "http_connection.hpp"
#include "server_state.hpp"
#include "session_impl.hpp"
#include "tls_stream.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace fallbench::transport {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace detail {

server_state::server_state(net::io_context& io, server_options opts, session_handler& h)
    : ioc(io), options(std::move(opts)), deadlines(std::make_shared<deadline_queue>(io)) {
  mounts.emplace_back(options.path, &h);
}

std::shared_ptr<session_impl> server_state::create_session(transport_kind kind, session_handler& handler,
                                                           std::string const& peer) {
  std::lock_guard lock(mutex_);
  if (stopping.load() || sessions_.size() >= options.lim.max_sessions) return nullptr;
  auto const per_peer = options.lim.max_sessions_per_address;
  if (per_peer > 0) {
    if (auto it = sessions_per_peer_.find(peer); it != sessions_per_peer_.end() && it->second >= per_peer) {
      counters::add(stats.sessions_refused_per_address);
      return nullptr;
    }
  }
  // 120 bits from the CSPRNG (random_id.hpp): a repeat is as likely as guessing one, but the table
  // is checked anyway since a repeated id would hand one client another's session.
  std::optional<std::string> sid;
  do {
    sid = random_id();
    if (!sid) return nullptr;  // no CSPRNG: refuse (503) rather than hand out a guessable id
  } while (sessions_.contains(*sid));
  auto s = std::make_shared<session_impl>(shared_from_this(), handler, *sid, kind, peer);
  sessions_.emplace(std::move(*sid), s);
  if (per_peer > 0) ++sessions_per_peer_[peer];
  counters::add(stats.sessions_opened);
  return s;
}

std::shared_ptr<session_impl> server_state::find(std::string_view sid) {
  std::lock_guard lock(mutex_);
  auto const it = sessions_.find(std::string(sid));
  // A closed session stays in the table until its on_close has run; to clients it is already gone.
  return it == sessions_.end() || it->second->closed() ? nullptr : it->second;
}

void server_state::remove(std::string const& sid) {
  std::lock_guard lock(mutex_);
  auto const it = sessions_.find(sid);
  if (it == sessions_.end()) return;
  if (options.lim.max_sessions_per_address > 0) {
    if (auto p = sessions_per_peer_.find(it->second->peer()); p != sessions_per_peer_.end() && --p->second == 0)
      sessions_per_peer_.erase(p);
  }
  sessions_.erase(it);
}

bool server_state::reserve_body(std::size_t bytes) {
  auto const bound = options.lim.max_body_bytes_in_flight;
  auto held = body_bytes_in_flight.load(std::memory_order_relaxed);
  do {
    if (bound != 0 && (held > bound || bytes > bound - held)) return false;
  } while (!body_bytes_in_flight.compare_exchange_weak(held, held + bytes, std::memory_order_relaxed));
  return true;
}

bool server_state::admit_handshake(std::string const& peer) {
  auto const rate = options.lim.handshakes_per_second_per_address;
  if (rate == 0) return true;
  auto const now = std::chrono::steady_clock::now();
  std::lock_guard lock(rate_mutex_);
  auto const burst = static_cast<double>(rate);
  if (buckets_.size() >= prune_buckets_at_) {
    // A full bucket is the same as none: forget the addresses that have been quiet for a second, so
    // that many addresses cannot grow the map without bound.
    std::erase_if(buckets_, [&](auto const& b) {
      return b.second.tokens + std::chrono::duration<double>(now - b.second.last).count() * burst >= burst;
    });
    prune_buckets_at_ = std::max<std::size_t>(1024, buckets_.size() * 2);
  }
  auto [it, fresh] = buckets_.try_emplace(peer, bucket{burst, now});
  auto& b = it->second;
  if (!fresh) {
    b.tokens = std::min(burst, b.tokens + std::chrono::duration<double>(now - b.last).count() * burst);
    b.last = now;
  }
  if (b.tokens < 1) {
    counters::add(stats.handshakes_rate_limited);
    return false;
  }
  b.tokens -= 1;
  return true;
}

std::vector<std::shared_ptr<session_impl>> server_state::snapshot() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<session_impl>> out;
  out.reserve(sessions_.size());
  for (auto const& [sid, s] : sessions_) out.push_back(s);
  return out;
}

std::size_t server_state::size() {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace detail

/// Accepts connections, each on its own strand (unless one thread runs the server), and hands them
/// to http_connection.
struct engine_server::impl : std::enable_shared_from_this<impl> {
  impl(net::io_context& ioc, server_options options, session_handler& handler)
      : state(std::make_shared<detail::server_state>(ioc, std::move(options), handler)),
        acceptor(net::make_strand(ioc)) {}

  void do_accept() {
    auto handler = boost::beast::bind_front_handler(&impl::on_accept, shared_from_this());
    if (state->options.io_threads == 1) {
      acceptor.async_accept(state->ioc.get_executor(), std::move(handler));
    } else {
      acceptor.async_accept(net::make_strand(state->ioc), std::move(handler));
    }
  }

  void on_accept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec == net::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
        ec == net::error::no_buffer_space || ec == net::error::no_memory) {
      // The connection stays in the backlog and the listening socket stays readable: accepting again
      // at once would spin on the same error. Wait, then try again (docs/hardening.md).
      detail::counters::add(state->stats.accept_backoffs);
      retry.expires_after(state->options.lim.accept_backoff);
      retry.async_wait([self = shared_from_this()](boost::system::error_code e) {
        if (!e && self->acceptor.is_open()) self->do_accept();
      });
      return;
    }
    if (!ec) {
      if (auto const max = state->options.lim.max_connections; max > 0 && state->open_connections.load() >= max) {
        refuse(std::move(socket));
      } else {
        auto slot = std::make_unique<detail::connection_slot>(state);
        socket.set_option(tcp::no_delay(true), ec);
        std::shared_ptr<detail::http_connection> c;
        if (state->options.tls) {
          c = std::make_shared<detail::http_connection>(
              state, std::make_unique<detail::tls_stream>(std::move(socket), *state->options.tls));
        } else {
          c = std::make_shared<detail::http_connection>(state, std::move(socket));
        }
        c->adopt(std::move(slot));
        c->run();
      }
    }
    // Other errors (a connection reset before it was accepted) concern one connection: go on.
    do_accept();
  }

  // Over limits::max_connections: a plain connection gets a 503 written at once (a fresh socket's send
  // buffer takes it without blocking), then both close; over TLS there is no channel to answer on.
  void refuse(tcp::socket socket) {
    detail::counters::add(state->stats.connections_refused);
    boost::system::error_code ignored;
    if (!state->options.tls) {
      static constexpr std::string_view answer =
          "HTTP/1.1 503 Service Unavailable\r\nServer: fallbench\r\nRetry-After: 1\r\nConnection: close\r\n"
          "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 21\r\n\r\nToo many connections\n";
      socket.non_blocking(true, ignored);
      socket.write_some(net::buffer(answer.data(), answer.size()), ignored);
      socket.shutdown(tcp::socket::shutdown_send, ignored);
    }
    socket.close(ignored);
  }

  std::shared_ptr<detail::server_state> state;
  tcp::acceptor acceptor;
  net::steady_timer retry{acceptor.get_executor()};  ///< The accept backoff.
};

engine_server::engine_server(net::io_context& ioc, server_options options, session_handler& handler)
    : impl_(std::make_shared<impl>(ioc, std::move(options), handler)) {}

engine_server::~engine_server() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
}

tcp::endpoint engine_server::listen(tcp::endpoint const& endpoint) {
  // Draw a session id now: a server that cannot get random bytes fails here, not at its first
  // handshake; and OpenSSL's generator sets itself up (about 2 MB of its code and tables, resident)
  // before the first client, not within the first client's handshake.
  if (!random_id()) throw std::runtime_error("no random bytes for session ids (OpenSSL and getrandom both failed)");
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol());
  a.set_option(net::socket_base::reuse_address(true));
  a.bind(endpoint);
  a.listen(net::socket_base::max_listen_connections);
  auto const bound = a.local_endpoint();
  net::dispatch(a.get_executor(), [self = impl_] { self->do_accept(); });
  return bound;
}

void engine_server::mount(std::string path, session_handler& handler) {
  impl_->state->mounts.emplace_back(std::move(path), &handler);
}

void engine_server::set_fallback(std::function<void(http_exchange&)> fallback) {
  impl_->state->fallback = std::move(fallback);
}

void engine_server::shutdown() {
  impl_->state->stopping.store(true);
  net::dispatch(impl_->acceptor.get_executor(), [self = impl_] {
    boost::system::error_code ignored;
    self->acceptor.close(ignored);
    self->retry.cancel();
  });
  for (auto const& s : impl_->state->snapshot()) s->close();
}

server_stats engine_server::stats() const {
  auto const& c = impl_->state->stats;
  server_stats out;
  auto get = [](std::atomic<std::uint64_t> const& v) { return v.load(std::memory_order_relaxed); };
  out.sessions_opened = get(c.sessions_opened);
  out.sessions_open = impl_->state->size();
  for (std::size_t i = 0; i < out.sessions_closed.size(); ++i) out.sessions_closed[i] = get(c.sessions_closed[i]);
  out.upgrades = get(c.upgrades);
  out.http_requests = get(c.http_requests);
  out.http_errors = get(c.http_errors);
  out.packets_in = get(c.packets_in);
  out.packets_out = get(c.packets_out);
  out.bytes_in = get(c.bytes_in);
  out.bytes_out = get(c.bytes_out);
  out.dropped_packets = get(c.dropped_packets);
  out.tls_handshakes = get(c.tls_handshakes);
  out.tls_handshake_failures = get(c.tls_handshake_failures);
  out.origin_refused = get(c.origin_refused);
  out.host_refused = get(c.host_refused);
  out.connections_open = impl_->state->open_connections.load(std::memory_order_relaxed);
  out.connections_refused = get(c.connections_refused);
  out.accept_backoffs = get(c.accept_backoffs);
  out.sessions_refused_per_address = get(c.sessions_refused_per_address);
  out.handshakes_rate_limited = get(c.handshakes_rate_limited);
  out.body_bytes_in_flight = impl_->state->body_bytes_in_flight.load(std::memory_order_relaxed);
  out.bodies_refused = get(c.bodies_refused);
  return out;
}

server_options const& engine_server::options() const noexcept { return impl_->state->options; }

}  // namespace fallbench::transport
