#include "fallbench/chat/rooms.hpp"

#include <algorithm>

namespace fallbench::chat {

bool room_registry::join(std::string_view room, transport::session_ptr const& s) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room);
  if (it == rooms_.end()) it = rooms_.emplace(std::string(room), std::make_shared<member_list const>()).first;
  auto const& current = *it->second;
  if (std::any_of(current.begin(), current.end(), [&](member const& m) { return m.key == s.get(); })) return false;
  auto next = std::make_shared<member_list>();
  next->reserve(current.size() + 1);
  *next = current;
  next->push_back({s.get(), s});
  it->second = std::move(next);
  return true;
}

bool room_registry::leave(std::string_view room, transport::session const* s) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return false;
  auto const& current = *it->second;
  auto const pos = std::find_if(current.begin(), current.end(), [&](member const& m) { return m.key == s; });
  if (pos == current.end()) return false;
  if (current.size() == 1) {
    rooms_.erase(it);
    return true;
  }
  auto next = std::make_shared<member_list>();
  next->reserve(current.size() - 1);
  next->insert(next->end(), current.begin(), pos);
  next->insert(next->end(), pos + 1, current.end());
  it->second = std::move(next);
  return true;
}

std::shared_ptr<room_registry::member_list const> room_registry::members(std::string_view room) const {
  static auto const empty = std::make_shared<member_list const>();
  std::lock_guard lock(mutex_);
  auto const it = rooms_.find(room);
  return it == rooms_.end() ? empty : it->second;
}

std::size_t room_registry::broadcast(std::string_view room, transport::frame const& f) const {
  auto const list = members(room);
  std::size_t delivered = 0;
  for (auto const& m : *list) {
    if (auto s = m.session.lock(); s && s->send(f) == transport::send_result::queued) ++delivered;
  }
  return delivered;
}

std::size_t room_registry::room_count() const {
  std::lock_guard lock(mutex_);
  return rooms_.size();
}

}  // namespace fallbench::chat
