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
/// A join or a leave costs O(1) whatever the room's size (each room indexes its members by session, and a
/// leave moves the last member into the leaver's place), so a burst of connects does not cost more per
/// connect the more clients are connected. A broadcast sends to a snapshot taken under the lock and
/// sends outside it: the snapshot is kept until the membership changes, so broadcasts to an unchanged
/// room share one (O(1)), and the first broadcast after a change copies the list once (O(members), as
/// the sending itself). Members are in no particular order.
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
  struct room_members {
    member_list list;
    std::unordered_map<transport::session const*, std::size_t> index;  ///< Each member's place in `list`.
    /// `list` as the last broadcast saw it; null once a join or leave changed the room.
    mutable std::shared_ptr<member_list const> snapshot;
  };
  std::unordered_map<std::string, room_members, hash, std::equal_to<>> rooms_;
};

}  // namespace fallbench::chat
