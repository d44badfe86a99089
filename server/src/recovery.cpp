#include "fallbench/chat/recovery.hpp"

#include <charconv>

namespace fallbench::chat {

bool recoverable(transport::close_reason why) noexcept {
  using transport::close_reason;
  switch (why) {
    case close_reason::transport_close:
    case close_reason::transport_error:
    case close_reason::ping_timeout:
    case close_reason::stopped_polling: return true;
    default: return false;
  }
}

void recovery_store::drop_front() {
  bytes_ -= packets_.front().f.size();
  packets_.pop_front();
}

void recovery_store::expire(clock::time_point now) {
  auto const horizon = now - options_.window;
  while (!packets_.empty() && packets_.front().at < horizon) {
    drop_front();
    ++expired_;
  }
  while (!session_order_.empty() && session_order_.front().first < horizon) {
    auto const it = sessions_.find(session_order_.front().second);
    // The entry may be gone (recovered) or be a newer loss of the same id; only this loss expires.
    if (it != sessions_.end() && it->second.lost_at == session_order_.front().first) sessions_.erase(it);
    session_order_.pop_front();
  }
}

void recovery_store::keep(guard const&, std::uint64_t offset, bool all, std::string_view room,
                          transport::frame const& f) {
  auto const now = this->now();
  expire(now);
  packets_.push_back({offset, all, std::string(room), f, now});
  bytes_ += f.size();
  while (packets_.size() > options_.max_packets || (bytes_ > options_.max_bytes && packets_.size() > 1)) {
    drop_front();
    ++evicted_;
  }
}

void recovery_store::persist(guard const&, lost_session s) {
  auto const now = this->now();
  expire(now);
  s.lost_at = now;
  session_order_.emplace_back(now, s.pid);
  auto pid = s.pid;
  sessions_.insert_or_assign(std::move(pid), std::move(s));
  ++persisted_;
  while (sessions_.size() > options_.max_sessions && !session_order_.empty()) {
    auto const it = sessions_.find(session_order_.front().second);
    if (it != sessions_.end() && it->second.lost_at == session_order_.front().first) sessions_.erase(it);
    session_order_.pop_front();
  }
}

std::optional<recovery_store::restored> recovery_store::restore(guard const&, std::string_view pid,
                                                                std::string_view offset) {
  expire(now());
  auto const it = sessions_.find(std::string(pid));
  std::uint64_t after = 0;
  auto const [end, ec] = std::from_chars(offset.data(), offset.data() + offset.size(), after);
  bool const offset_ok = ec == std::errc{} && end == offset.data() + offset.size() && after <= last_offset_;
  // Every packet after `after` must still be here: the oldest kept is at most the one right after it.
  std::uint64_t const first_kept = packets_.empty() ? last_offset_ + 1 : packets_.front().offset;
  if (it == sessions_.end() || !offset_ok || after + 1 < first_kept) {
    ++not_recovered_;
    return std::nullopt;
  }
  restored r{std::move(it->second), {}};
  sessions_.erase(it);
  // Offsets are consecutive in the buffer: the packet after `after` is at a known place.
  if (!packets_.empty() && after + 1 >= first_kept) {
    for (auto p = packets_.begin() + static_cast<std::ptrdiff_t>(after + 1 - first_kept); p != packets_.end(); ++p) {
      if (p->all ? r.session.everyone : r.session.rooms.contains(p->room)) r.missed.push_back(p->f);
    }
  }
  ++recovered_;
  replayed_ += r.missed.size();
  return r;
}

recovery_stats recovery_store::stats() const {
  std::lock_guard lock(mutex_);
  return {packets_.size(), bytes_,         evicted_,   expired_,      sessions_.size(),
          persisted_,      recovered_,     not_recovered_, replayed_};
}

}  // namespace fallbench::chat
