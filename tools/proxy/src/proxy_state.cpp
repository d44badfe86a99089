#include "proxy_state.hpp"

namespace fallbench::proxy::detail {

proxy_state::proxy_state(proxy_options options, profile initial)
    : options_(std::move(options)), started_(clock::now()) {
  current_.prof = std::make_shared<profile const>(std::move(initial));
  current_.generation = 1;
  current_.since = started_;
}

proxy_state::snapshot proxy_state::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void proxy_state::set_profile(profile p) {
  auto const now = clock::now();
  fault_event e{now, std::chrono::duration_cast<std::chrono::microseconds>(now - started_), 0,
                std::string(to_string(p.kind)), "profile set: " + describe(p)};
  {
    std::lock_guard lock(mutex_);
    current_.prof = std::make_shared<profile const>(std::move(p));
    ++current_.generation;
    current_.since = now;
  }
  append(std::move(e));
}

void proxy_state::fault(std::uint64_t connection, profile_kind kind, std::string what) {
  add(counters_.faults);
  auto const now = clock::now();
  append({now, std::chrono::duration_cast<std::chrono::microseconds>(now - started_), connection,
          std::string(to_string(kind)), std::move(what)});
}

void proxy_state::append(fault_event e) {
  std::shared_ptr<std::function<void(fault_event const&)> const> callback;
  {
    std::lock_guard lock(mutex_);
    callback = callback_;
    if (log_.size() < options_.max_log_entries) {
      log_.push_back(e);
    } else {
      add(counters_.log_dropped);
    }
  }
  if (callback && *callback) (*callback)(e);
}

void proxy_state::on_event(std::function<void(fault_event const&)> callback) {
  auto shared = std::make_shared<std::function<void(fault_event const&)> const>(std::move(callback));
  std::lock_guard lock(mutex_);
  callback_ = std::move(shared);
}

std::vector<fault_event> proxy_state::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

proxy_stats proxy_state::stats() const {
  auto get = [](std::atomic<std::uint64_t> const& c) { return c.load(std::memory_order_relaxed); };
  proxy_stats s;
  s.connections_accepted = get(counters_.connections_accepted);
  auto const closed = get(counters_.connections_closed);
  s.connections_open = s.connections_accepted > closed ? s.connections_accepted - closed : 0;
  s.bytes_up = get(counters_.bytes_up);
  s.bytes_down = get(counters_.bytes_down);
  s.http_requests = get(counters_.http_requests);
  s.http_responses = get(counters_.http_responses);
  s.upgrades_seen = get(counters_.upgrades_seen);
  s.upgrades_completed = get(counters_.upgrades_completed);
  s.upstream_failures = get(counters_.upstream_failures);
  s.protocol_errors = get(counters_.protocol_errors);
  s.idle_closed = get(counters_.idle_closed);
  s.faults = get(counters_.faults);
  s.log_dropped = get(counters_.log_dropped);
  return s;
}

}  // namespace fallbench::proxy::detail
