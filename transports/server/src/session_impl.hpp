#pragma once
// An Engine.IO session: the outbound queue, heartbeat, the parked poll and the upgrade handoff.

#include "fallbench/transport/session.hpp"

#include "op_slot.hpp"
#include "server_state.hpp"


#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fallbench::transport::detail {

class websocket_connection;

/// A FIFO of frames on a ring that keeps its capacity, so that once a session's queue has grown to its
/// working size, queueing a packet allocates nothing. Starts empty (an idle session holds no ring) and
/// lets go of a ring that a burst made large once it has drained. clear() lets go of the ring whatever
/// its size: a poll response takes the whole queue (and copies it into a body it allocates anyway), so
/// an idle polling session holds no ring between polls; the WebSocket writer takes frames one by one
/// (take_front) and keeps its working ring.
class frame_queue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  void push_back(frame const& f);
  frame take_front();
  /// Drop every frame and release the ring.
  void clear();
  /// Frames the ring has room for (0 when it holds none).
  std::size_t capacity() const noexcept { return ring_.capacity(); }
  /// A drained ring above this many frames (24 KiB) is released.
  static constexpr std::size_t kept_capacity = 1024;
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < size_; ++i) f(ring_[(head_ + i) % ring_.size()]);
  }

 private:
  static constexpr std::size_t first_capacity = 4;
  void release() noexcept;
  std::vector<frame> ring_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

/// The GET request parked on a polling session, waiting for packets.
class poll_sink {
 public:
  virtual ~poll_sink() = default;
  /// Answer the parked request with `body`. Called once, from any thread.
  virtual void complete_poll(std::string body) = 0;
};

/// What a poll request gets.
enum class poll_outcome {
  respond,      ///< Answer now with the body given.
  parked,       ///< The request waits; complete_poll comes later.
  bad_request,  ///< 400 Bad request (the session uses WebSocket now).
  unknown,      ///< 400 Session ID unknown (closed, possibly by this very request).
};

/// One Engine.IO session. All public members are thread-safe; `mutex_` guards the transport state and
/// `inbound_mutex_` serialises calls into the application's handler.
class session_impl final : public session,
                           public deadline_queue::entry,
                           public std::enable_shared_from_this<session_impl> {
 public:
  session_impl(std::shared_ptr<server_state> state, session_handler& handler, std::string sid, transport_kind kind,
               std::string peer);
  ~session_impl() override;

  /// The client's address, as text (limits::max_sessions_per_address).
  std::string const& peer() const noexcept { return peer_; }

  /// The application behind the endpoint this session was opened on.
  session_handler& handler() const noexcept { return handler_; }

  // session
  std::string const& id() const noexcept override { return sid_; }
  transport_kind transport() const noexcept override { return transport_.load(std::memory_order_acquire); }
  using session::send;
  send_result send(std::span<frame const> frames) override;
  void close() override;
  bool closed() const noexcept override { return closed_.load(std::memory_order_acquire); }

  /// Start the heartbeat and tell the application. For WebSocket sessions attach the socket first.
  void start();

  /// Hold what send() queues until the matching uncork(): everything one inbound packet (or one
  /// polling body, or one WebSocket read) makes the session send, e.g. a chat's own copy and its
  /// ack, leaves in one poll response or one write (as uWebSockets corks). Nests.
  void cork();
  void uncork();

  /// Feed one packet from the client (either transport).
  void on_packet(codec::eio::packet&& p);
  /// End the session now, releasing a parked poll with `release` ("1" close or "6" noop).
  void fail(close_reason why, char release = '1');

  // Polling
  poll_outcome on_poll(std::shared_ptr<poll_sink> const& sink, std::string& body);
  /// The parked request's connection went away.
  void cancel_poll(poll_sink const* sink);
  /// A poll response was written; when it carried the close packet the session ends now.
  void on_poll_written();
  /// Start a POST; false when another is in flight (the session is then closed) or the session moved on.
  poll_outcome begin_post();
  void end_post();

  // WebSocket
  /// Attach the WebSocket of a WebSocket-only session.
  void attach(std::shared_ptr<websocket_connection> ws);
  /// A WebSocket asks to upgrade this polling session; false when it may not (already upgrading or upgraded).
  bool begin_probe(std::shared_ptr<websocket_connection> const& ws);
  /// The probe ping arrived: release the parked poll with a noop so the client can pause polling.
  void probe_received();
  /// The upgrade packet arrived: the WebSocket becomes the transport. False when the probe was dropped.
  bool complete_upgrade(websocket_connection const* ws);
  /// The probing WebSocket failed or timed out; the session stays on polling.
  void abort_probe(websocket_connection const* ws);
  /// Move up to `max_frames` queued frames (at least one, then up to `max_bytes` in all) to `out` for
  /// the attached WebSocket to write in one go. `is_close`: the last one is the close packet, so the
  /// graceful close is complete once they are written. False when the queue is empty.
  bool take_frames(websocket_connection const* ws, std::vector<frame>& out, std::size_t max_frames,
                   std::size_t max_bytes, bool& is_close);
  /// The attached WebSocket ended.
  void on_websocket_closed(websocket_connection const* ws, close_reason why);

 private:
  using clock = std::chrono::steady_clock;
  void schedule_ping_locked();
  /// Set the heartbeat's own next step (ping, pong deadline, close deadline) `after` from now; the
  /// session's deadline comes earlier when a polling check (poll_deadline_locked) is due first.
  void arm_heartbeat_locked(clock::duration after);
  /// Queue the session's deadline (server_state::deadlines) for the earlier of heartbeat_due_ and the
  /// polling checks' deadline.
  void rearm_locked(clock::time_point now);
  /// When the polling checks close the session unless it polls (time_point::max() when none applies
  /// now), and with which reason: the first GET (limits::first_poll_timeout), then each next GET
  /// (limits::poll_gap_timeout). No check while upgrading: the client pauses polling then.
  clock::time_point poll_deadline_locked(clock::time_point now, close_reason& why) const;
  /// The heartbeat's deadline (deadline_queue): what is due, if anything, and the next deadline.
  void on_deadline() override;
  std::shared_ptr<void> hold() noexcept override { return weak_from_this().lock(); }
  /// A failed probe: back to polling from the upgrade's pause.
  void resume_polling_locked();
  std::string flush_locked();
  void deliver(codec::eio::packet&& p);
  void finish_close(close_reason why);
  /// With the lock held: hand the queue to the parked poll or wake the WebSocket, unless corked.
  void release_locked(std::shared_ptr<poll_sink>& sink, std::string& body, std::shared_ptr<websocket_connection>& ws);

  std::shared_ptr<server_state> const state_;
  session_handler& handler_;
  std::string const sid_;
  std::string const peer_;
  std::atomic<transport_kind> transport_;
  std::atomic<bool> closed_{false};

  std::mutex mutex_;
  enum class phase { open, upgrading, closing, closed } phase_ = phase::open;
  frame_queue queue_;
  unsigned corked_ = 0;
  std::size_t queued_bytes_ = 0;
  bool close_queued_ = false;   ///< The close packet is in the queue (graceful close under way).
  bool close_flushed_ = false;  ///< The close packet went out in a poll response.
  std::shared_ptr<poll_sink> parked_;
  bool post_active_ = false;
  std::shared_ptr<websocket_connection> ws_;
  std::shared_ptr<websocket_connection> probe_;
  bool ws_pending_ = false;  ///< The attached WebSocket has been told to drain the queue.
  bool awaiting_pong_ = false;
  /// When the heartbeat's own step is due. The one timer also serves the polling checks (an idle
  /// session's memory is measured, so no second timer): it may wake before this for them.
  clock::time_point heartbeat_due_{};
  clock::time_point opened_at_{};
  bool polled_ = false;  ///< A GET has come for this session.
  /// When the last GET was answered (or went away): unless one is parked, none is outstanding since.
  /// Set per poll, read only when the timer wakes, so a poll costs a clock read, not a timer.
  clock::time_point unpolled_since_{};

  std::mutex inbound_mutex_;
};

/// Corks a session for a scope (session_impl::cork).
class cork_guard {
 public:
  explicit cork_guard(session_impl* s) : s_(s) {
    if (s_) s_->cork();
  }
  ~cork_guard() {
    if (s_) s_->uncork();
  }
  cork_guard(cork_guard const&) = delete;
  cork_guard& operator=(cork_guard const&) = delete;

 private:
  session_impl* s_;
};

}  // namespace fallbench::transport::detail
