#include "fallbench/chat/rooms.hpp"

namespace fallbench::chat {

bool room_registry::join(std::string_view name, transport::session_ptr const& s) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(name);
  if (it == rooms_.end()) it = rooms_.emplace(std::string(name), room_members{}).first;
  auto& r = it->second;
  if (!r.index.try_emplace(s.get(), r.list.size()).second) return false;
  r.list.push_back({s.get(), s});
  r.snapshot.reset();
  return true;
}

bool room_registry::leave(std::string_view name, transport::session const* s) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(name);
  if (it == rooms_.end()) return false;
  auto& r = it->second;
  auto const pos = r.index.find(s);
  if (pos == r.index.end()) return false;
  if (r.list.size() == 1) {
    rooms_.erase(it);
    return true;
  }
  // The last member takes the leaver's place: O(1), and the order of members was never promised.
  auto const place = pos->second;
  r.index.erase(pos);
  if (place + 1 != r.list.size()) {
    r.list[place] = std::move(r.list.back());
    r.index[r.list[place].key] = place;
  }
  r.list.pop_back();
  r.snapshot.reset();
  return true;
}

std::shared_ptr<room_registry::member_list const> room_registry::members(std::string_view name) const {
  static auto const empty = std::make_shared<member_list const>();
  std::lock_guard lock(mutex_);
  auto const it = rooms_.find(name);
  if (it == rooms_.end()) return empty;
  auto& r = it->second;
  if (!r.snapshot) r.snapshot = std::make_shared<member_list const>(r.list);
  return r.snapshot;
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
