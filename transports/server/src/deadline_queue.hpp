#pragma once
// The deadlines of every session and HTTP connection of one server, on one timer.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

namespace fallbench::transport::detail {

/**
 * A binary min-heap of deadlines and one Asio timer that waits for the earliest.
 *
 * Every idle session waits on its heartbeat, and an idle keep-alive connection on its deadline. An
 * Asio timer of their own costs each of them its timer (120 bytes, most of it the type-erased
 * executor) and its pending wait (a 240-byte operation), for a deadline that is a time and nothing
 * more. Here a deadline is an `entry` inside its owner: its time and its place in the heap.
 *
 * The queue holds no owner alive: an owner takes itself out in its destructor, and the queue, to call
 * an owner whose time came, first takes a strong reference (entry::hold) under the queue's lock,
 * which fails once the owner is being destroyed. The owner's own state is its own business:
 * on_deadline runs on the timer's thread without the queue's lock, so an owner that needs its strand
 * posts there. A deadline is a time that has come, not a command: owners check what is due when
 * called (an entry moved later is called at its earlier time and waits again).
 *
 * Lock order: an owner's lock, then the queue's; the queue calls owners with its lock released.
 */
class deadline_queue : public std::enable_shared_from_this<deadline_queue> {
 public:
  using clock = std::chrono::steady_clock;

  /// A deadline, inside its owner.
  class entry {
   public:
    entry() = default;
    entry(entry const&) = delete;
    entry& operator=(entry const&) = delete;

   protected:
    virtual ~entry() = default;

   private:
    friend class deadline_queue;
    /// The owner, kept alive while it is called; null once it is being destroyed.
    virtual std::shared_ptr<void> hold() noexcept = 0;
    /// Its time came. On the queue's timer's thread, with the queue's lock released.
    virtual void on_deadline() = 0;

    clock::time_point at_{};
    std::size_t index_ = npos;  ///< Its place in the heap; npos when not scheduled.
  };

  explicit deadline_queue(boost::asio::io_context& ioc) : timer_(ioc) {}

  /// Call `e` at `at`, unless it is already to be called no later. Thread-safe.
  void schedule_no_later(entry& e, clock::time_point at);
  /// `e` is not called unless scheduled again. A call already under way may still come. Thread-safe.
  void cancel(entry& e) noexcept;
  /// Entries scheduled now.
  std::size_t size();

 private:
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

  void remove_locked(entry& e) noexcept;
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void put(std::size_t i, entry* e) noexcept {
    heap_[i] = e;
    e->index_ = i;
  }
  /// Wait for the heap's earliest entry, unless the pending wait wakes no later; no wait when empty.
  void arm_locked();
  void on_timer(std::uint64_t generation);

  std::mutex mutex_;
  std::vector<entry*> heap_;
  boost::asio::steady_timer timer_;
  clock::time_point waiting_for_ = clock::time_point::max();  ///< The pending wait's expiry; max: none.
  std::uint64_t generation_ = 0;  ///< Of the pending wait: a replaced wait's completion does nothing.
};

}  // namespace fallbench::transport::detail
