#pragma once
/// Chat rooms: which sessions are in which room, and fan-out of one encoded frame to a room.

#include "fallbench/transport/session.hpp"

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fallbench::chat {

/// Room membership. Thread-safe. Holds weak references: a room never keeps a session alive.
/// Member lists are copy-on-write, so a broadcast takes a snapshot in O(1) under the lock and sends
/// outside it; joins and leaves pay the copy.
class room_registry {
 public:
  struct member {
    transport::session const* key;
    std::weak_ptr<transport::session> session;
  };
  using member_list = std::vector<member>;

  /// Add `s` to `room`; false when it was already there.
  bool join(std::string_view room, transport::session_ptr const& s);
  /// Remove `s` from `room`; false when it was not there. Empty rooms are deleted.
  bool leave(std::string_view room, transport::session const* s);
  /// The members now (a snapshot; never null).
  std::shared_ptr<member_list const> members(std::string_view room) const;

  /// Send `f` to every member of `room`. @return how many sessions took it.
  std::size_t broadcast(std::string_view room, transport::frame const& f) const;

  std::size_t room_count() const;

 private:
  mutable std::mutex mutex_;
  struct hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::shared_ptr<member_list const>, hash, std::equal_to<>> rooms_;
};

}  // namespace fallbench::chat
