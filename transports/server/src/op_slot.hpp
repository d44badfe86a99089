#pragma once
// Memory for one long-lived pending operation, inside the object that starts it.

#include <boost/asio/bind_allocator.hpp>

#include <atomic>
#include <cstddef>
#include <new>
#include <utility>

namespace fallbench::transport::detail {

/**
 * Asio allocates each pending operation through the handler's allocator; by default from a per-thread
 * cache of recycled blocks, each as large as the largest operation that once used it. An idle session
 * waits for ever on a small operation (readability; its heartbeat and a keep-alive connection's
 * deadline are in the server's deadline_queue, not waits of their own), and a recycled block that last held an HTTP write is several times their
 * size: in the idle study, slots cut a polling session's heap by about 620 bytes, a third of what
 * its pending operations held (docs/relay.md, "What an idle session holds"). A slot keeps one operation of a known kind in `Size` bytes of its
 * owner, exactly, allocating nothing per wait; an operation larger than the slot, or a second one
 * while the first still holds it (a completion racing a re-arm on another thread), goes to the heap.
 *
 * The owner outlives its operations: their handlers hold it (shared_from_this), and Asio frees an
 * operation's memory before it lets go of the handler.
 */
template <std::size_t Size>
class op_slot {
 public:
  op_slot() = default;
  op_slot(op_slot const&) = delete;
  op_slot& operator=(op_slot const&) = delete;

  void* allocate(std::size_t bytes) {
    if (bytes <= Size && !used_.exchange(true, std::memory_order_acquire)) return storage_;
    return ::operator new(bytes);
  }
  void deallocate(void* p) noexcept {
    if (p == storage_) {
      used_.store(false, std::memory_order_release);
      return;
    }
    ::operator delete(p);
  }

 private:
  alignas(std::max_align_t) unsigned char storage_[Size];
  std::atomic<bool> used_{false};
};

/// The allocator Asio sees: a pointer to the slot.
template <class T, std::size_t Size>
class op_slot_allocator {
 public:
  using value_type = T;
  template <class U>
  struct rebind {
    using other = op_slot_allocator<U, Size>;
  };
  explicit op_slot_allocator(op_slot<Size>& slot) noexcept : slot_(&slot) {}
  template <class U>
  op_slot_allocator(op_slot_allocator<U, Size> const& other) noexcept : slot_(other.slot_) {}

  T* allocate(std::size_t n) { return static_cast<T*>(slot_->allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { slot_->deallocate(p); }

  template <class U>
  bool operator==(op_slot_allocator<U, Size> const& other) const noexcept { return slot_ == other.slot_; }

 private:
  template <class, std::size_t>
  friend class op_slot_allocator;
  op_slot<Size>* slot_;
};

/// `handler`, with its operation's memory in `slot`.
template <std::size_t Size, class Handler>
auto in_slot(op_slot<Size>& slot, Handler&& handler) {
  return boost::asio::bind_allocator(op_slot_allocator<void, Size>(slot), std::forward<Handler>(handler));
}

/// Room for a wait (readability or a timer) whose handler holds a shared_ptr and a word or two: Asio's
/// operations for these are 192-224 bytes here (Boost 1.81, x86_64; the executor is any_io_executor).
using wait_slot = op_slot<224>;

}  // namespace fallbench::transport::detail
