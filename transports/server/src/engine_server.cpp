#include "fallbench/transport/engine_server.hpp"

#include "http_connection.hpp"
#include "server_state.hpp"
#include "session_impl.hpp"
#include "tls_stream.hpp"

#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <random>

namespace fallbench::transport {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace detail {

server_state::server_state(net::io_context& io, server_options opts, session_handler& h)
    : ioc(io), options(std::move(opts)) {
  mounts.emplace_back(options.path, &h);
}

std::string server_state::new_sid() {
  // 20 characters of the URL-safe base64 alphabet from a per-thread generator, plus a counter so
  // that ids never repeat within a server's life even if the generator did.
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string sid;
  sid.reserve(24);
  std::uint64_t bits = rng();
  for (int i = 0; i < 10; ++i, bits >>= 6) sid += alphabet[bits & 63];
  for (std::uint64_t n = ++sid_counter_; sid.size() < 20; n >>= 6) sid += alphabet[n & 63];
  return sid;
}

std::shared_ptr<session_impl> server_state::create_session(transport_kind kind, session_handler& handler) {
  std::lock_guard lock(mutex_);
  if (stopping.load() || sessions_.size() >= options.lim.max_sessions) return nullptr;
  std::string sid;
  do {
    sid = new_sid();
  } while (sessions_.contains(sid));
  auto s = std::make_shared<session_impl>(shared_from_this(), handler, sid, kind);
  sessions_.emplace(std::move(sid), s);
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
  sessions_.erase(sid);
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

/// Accepts connections, each on its own strand, and hands them to http_connection.
struct engine_server::impl : std::enable_shared_from_this<impl> {
  impl(net::io_context& ioc, server_options options, session_handler& handler)
      : state(std::make_shared<detail::server_state>(ioc, std::move(options), handler)),
        acceptor(net::make_strand(ioc)) {}

  void do_accept() {
    acceptor.async_accept(net::make_strand(state->ioc),
                          boost::beast::bind_front_handler(&impl::on_accept, shared_from_this()));
  }

  void on_accept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      if (state->options.tls) {
        std::make_shared<detail::http_connection>(
            state, std::make_unique<detail::tls_stream>(std::move(socket), *state->options.tls))
            ->run();
      } else {
        std::make_shared<detail::http_connection>(state, std::move(socket))->run();
      }
    }
    // Errors such as EMFILE are transient: keep accepting.
    do_accept();
  }

  std::shared_ptr<detail::server_state> state;
  tcp::acceptor acceptor;
};

engine_server::engine_server(net::io_context& ioc, server_options options, session_handler& handler)
    : impl_(std::make_shared<impl>(ioc, std::move(options), handler)) {}

engine_server::~engine_server() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
}

tcp::endpoint engine_server::listen(tcp::endpoint const& endpoint) {
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
  return out;
}

server_options const& engine_server::options() const noexcept { return impl_->state->options; }

}  // namespace fallbench::transport
