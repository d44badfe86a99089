#pragma once
/// Connection state recovery (Socket.IO 4.6's `connectionStateRecovery`, docs/recovery.md): the
/// broadcasts of the last while, each with its offset and audience, and the sessions lost abnormally
/// (their socket id, private id and rooms), so that a client that comes back with its private id and
/// the offset of the last broadcast it read gets the same socket id, its rooms, and what it missed.

#include "fallbench/transport/session.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fallbench::chat {

/// Bounds of the store. The reference keeps packets for maxDisconnectionDuration with no other bound;
/// here the packet buffer is bounded in count and bytes too, and the oldest packets go first.
struct recovery_options {
  /// How long a lost session may be recovered (`serve --recovery-window`; the reference's example and
  /// default: 120 000 ms). 0: recovery off.
  std::chrono::milliseconds window{0};
  std::size_t max_packets = 10'000;        ///< Broadcast packets kept at most.
  std::size_t max_bytes = 8u << 20;        ///< Their packet bytes at most.
  std::size_t max_sessions = 100'000;      ///< Lost sessions kept at most (the oldest go first).
  /// The time the store reads to stamp packets and lost sessions and to expire them; empty:
  /// std::chrono::steady_clock::now. Lets a test move time past the window instead of waiting.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

struct recovery_stats {
  std::uint64_t buffered_packets = 0;
  std::uint64_t buffered_bytes = 0;
  std::uint64_t evicted_packets = 0;   ///< Dropped by the count or byte bound before the window passed.
  std::uint64_t expired_packets = 0;   ///< Dropped because they are older than the window.
  std::uint64_t sessions_kept = 0;     ///< Lost sessions that may still be recovered.
  std::uint64_t sessions_persisted = 0;
  std::uint64_t recovered = 0;         ///< CONNECTs that recovered a session.
  std::uint64_t not_recovered = 0;     ///< CONNECTs with a private id that got a fresh session instead.
  std::uint64_t replayed_packets = 0;  ///< Packets sent again on recovery.
};

/// Thread-safe through lock(): every member that takes a `guard` must be called with it held. The
/// broadcast path holds the lock from choosing the offset to queueing the packet to every receiver, so
/// every client sees offsets in increasing order and a recovery (rooms joined again, missed packets
/// queued) is never interleaved with a broadcast: each packet reaches the recovered client once.
class recovery_store {
 public:
  using clock = std::chrono::steady_clock;
  using guard = std::unique_lock<std::mutex>;

  struct lost_session {
    std::string sid;
    std::string pid;
    std::set<std::string, std::less<>> rooms;
    bool everyone = true;  ///< Member of the audience of broadcasts to everyone.
    clock::time_point lost_at;
  };

  explicit recovery_store(recovery_options o) : options_(o) {}

  recovery_options const& options() const noexcept { return options_; }
  guard lock() { return guard(mutex_); }

  /// The offset of the next broadcast (1, 2, ...; its text is the decimal number).
  std::uint64_t next_offset(guard const&) { return ++last_offset_; }
  /// Keep the packet of broadcast `offset` to everyone (`all`) or to `room`.
  void keep(guard const&, std::uint64_t offset, bool all, std::string_view room, transport::frame const& f);
  /// Remember a session lost abnormally.
  void persist(guard const&, lost_session s);
  /// What a CONNECT with `pid` and `offset` recovers: the session (removed from the store) and the
  /// packets after `offset` its rooms received, oldest first; nullopt when the id is unknown or
  /// expired, the offset is not one this server gave, or a packet after it is no longer kept.
  struct restored {
    lost_session session;
    std::vector<transport::frame> missed;
  };
  std::optional<restored> restore(guard const&, std::string_view pid, std::string_view offset);

  recovery_stats stats() const;

 private:
  struct packet {
    std::uint64_t offset;
    bool all;
    std::string room;
    transport::frame f;
    clock::time_point at;
  };
  clock::time_point now() const { return options_.clock ? options_.clock() : clock::now(); }
  void expire(clock::time_point now);
  void drop_front();

  recovery_options const options_;
  mutable std::mutex mutex_;
  std::uint64_t last_offset_ = 0;
  std::deque<packet> packets_;
  std::size_t bytes_ = 0;
  std::unordered_map<std::string, lost_session> sessions_;
  std::deque<std::pair<clock::time_point, std::string>> session_order_;  ///< pid by time lost
  std::uint64_t evicted_ = 0, expired_ = 0, persisted_ = 0, recovered_ = 0, not_recovered_ = 0, replayed_ = 0;
};

/// Whether a session that ended for `why` may be recovered: the connection was lost (closed, failed,
/// silent). A client that said goodbye, or a session the server ended, may not.
bool recoverable(transport::close_reason why) noexcept;

}  // namespace fallbench::chat
