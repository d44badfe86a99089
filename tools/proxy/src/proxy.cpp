#include "fallbench/proxy/proxy.hpp"

#include "listener.hpp"

#include <cstdio>

namespace fallbench::proxy {

proxy::proxy(boost::asio::io_context& ioc, proxy_options options, profile initial)
    : listener_(std::make_shared<detail::listener>(
          ioc, std::make_shared<detail::proxy_state>(std::move(options), std::move(initial)))) {}

proxy::~proxy() { stop(); }

boost::asio::ip::tcp::endpoint proxy::listen(boost::asio::ip::tcp::endpoint const& at) { return listener_->listen(at); }

boost::asio::ip::tcp::endpoint proxy::endpoint() const { return listener_->endpoint(); }

void proxy::set_profile(profile p) { listener_->set_profile(std::move(p)); }

profile proxy::current_profile() const { return *listener_->state().current().prof; }

void proxy::run_schedule(std::vector<schedule_entry> entries) {
  listener_->run_schedule(std::move(entries), std::chrono::steady_clock::now());
}

void proxy::run_schedule(std::vector<schedule_entry> entries, std::chrono::steady_clock::time_point origin) {
  listener_->run_schedule(std::move(entries), origin);
}

void proxy::on_event(std::function<void(fault_event const&)> callback) {
  listener_->state().on_event(std::move(callback));
}

proxy_stats proxy::stats() const { return listener_->state().stats(); }

std::vector<fault_event> proxy::log() const { return listener_->state().log(); }

void proxy::stop() { listener_->stop(); }

std::string to_string(fault_event const& e) {
  auto const us = e.since_start.count();
  char stamp[40];
  std::snprintf(stamp, sizeof stamp, "[%6lld.%03lld s]", static_cast<long long>(us / 1'000'000),
                static_cast<long long>(us / 1000 % 1000));
  std::string const who = e.connection == 0 ? std::string("proxy") : "conn " + std::to_string(e.connection);
  return std::string(stamp) + " " + who + " " + e.profile + ": " + e.what;
}

}  // namespace fallbench::proxy
