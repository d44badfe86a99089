#include "listener.hpp"

#include "connection.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace fallbench::proxy::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;

listener::listener(net::io_context& ioc, std::shared_ptr<proxy_state> state)
    : ioc_(ioc), state_(std::move(state)), strand_(net::make_strand(ioc)), acceptor_(strand_), schedule_timer_(strand_), retry_timer_(strand_) {}

tcp::endpoint listener::listen(tcp::endpoint const& at) {
  // Startup code: errors throw (docs/conventions.md section 4). Called before any accept is pending.
  tcp::acceptor acceptor(strand_);
  acceptor.open(at.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(at);
  acceptor.listen(net::socket_base::max_listen_connections);
  auto const bound = acceptor.local_endpoint();
  {
    std::lock_guard lock(mutex_);
    bound_ = bound;
  }
  net::dispatch(strand_, [self = shared_from_this(), a = std::move(acceptor)]() mutable {
    if (self->stopped_) return;
    self->acceptor_ = std::move(a);
    self->do_accept();
  });
  return bound;
}

tcp::endpoint listener::endpoint() const {
  std::lock_guard lock(mutex_);
  return bound_;
}

void listener::do_accept() {
  // Each connection gets its own strand, chosen here (docs/conventions.md section 5).
  acceptor_.async_accept(net::make_strand(ioc_), [self = shared_from_this()](error_code ec, tcp::socket socket) {
    self->on_accept(ec, std::move(socket));
  });
}

void listener::on_accept(error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of descriptors, say: accepting again at once would spin, so wait a little first.
    retry_timer_.expires_after(std::chrono::milliseconds{50});
    retry_timer_.async_wait([self = shared_from_this()](error_code e) {
      if (!e && self->acceptor_.is_open()) self->do_accept();
    });
    return;
  }
  add(state_->count().connections_accepted);
  auto c = std::make_shared<connection>(std::move(socket), state_, next_id_++);
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    // The registry holds weak pointers; expired ones are dropped whenever it has doubled.
    if (connections_.size() >= prune_at_) {
      std::erase_if(connections_, [](auto const& w) { return w.expired(); });
      prune_at_ = std::max<std::size_t>(64, connections_.size() * 2);
    }
    connections_.push_back(c);
  }
  c->run();
  do_accept();
}

std::vector<std::shared_ptr<connection>> listener::open_connections() {
  std::vector<std::shared_ptr<connection>> out;
  std::lock_guard lock(mutex_);
  for (auto const& w : connections_)
    if (auto c = w.lock()) out.push_back(std::move(c));
  return out;
}

void listener::set_profile(profile p) {
  state_->check(p);
  state_->set_profile(std::move(p));
  for (auto const& c : open_connections()) c->profile_changed();
}

void listener::run_schedule(std::vector<schedule_entry> entries, std::chrono::steady_clock::time_point origin) {
  for (auto const& e : entries) state_->check(e.prof);
  net::dispatch(strand_, [self = shared_from_this(), e = std::move(entries), origin]() mutable {
    self->start_schedule(std::move(e), origin);
  });
}

void listener::start_schedule(std::vector<schedule_entry> entries, std::chrono::steady_clock::time_point origin) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
  }
  schedule_ = std::move(entries);
  next_ = 0;
  schedule_start_ = origin;
  schedule_timer_.cancel();
  next_entry();
}

void listener::next_entry() {
  // Entries due now are applied at once; the timer waits for the next one.
  while (next_ < schedule_.size() && schedule_start_ + schedule_[next_].at <= std::chrono::steady_clock::now())
    set_profile(schedule_[next_++].prof);
  if (next_ >= schedule_.size()) return;
  schedule_timer_.expires_at(schedule_start_ + schedule_[next_].at);
  schedule_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec) return;
    {
      std::lock_guard lock(self->mutex_);
      if (self->stopped_) return;
    }
    self->next_entry();
  });
}

void listener::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  net::dispatch(strand_, [self = shared_from_this()] {
    error_code ignored;
    self->acceptor_.close(ignored);
    self->schedule_timer_.cancel();
    self->retry_timer_.cancel();
  });
  for (auto const& c : open_connections()) c->stop();
}

}  // namespace fallbench::proxy::detail
