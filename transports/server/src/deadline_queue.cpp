#include "deadline_queue.hpp"

#include <utility>

namespace fallbench::transport::detail {

void deadline_queue::schedule_no_later(entry& e, clock::time_point at) {
  std::lock_guard lock(mutex_);
  if (e.index_ != npos) {
    if (e.at_ <= at) return;
    e.at_ = at;
    sift_up(e.index_);
  } else {
    e.at_ = at;
    heap_.push_back(&e);
    e.index_ = heap_.size() - 1;
    sift_up(e.index_);
  }
  if (heap_.front() == &e) arm_locked();
}

void deadline_queue::cancel(entry& e) noexcept {
  std::lock_guard lock(mutex_);
  if (e.index_ == npos) return;
  remove_locked(e);
  // The wait stays for the next entry, if it wakes no later; an empty queue holds no wait, so an
  // io_context whose sessions and connections are all gone runs out of work.
  if (heap_.empty()) arm_locked();
}

std::size_t deadline_queue::size() {
  std::lock_guard lock(mutex_);
  return heap_.size();
}

void deadline_queue::remove_locked(entry& e) noexcept {
  auto const i = e.index_;
  e.index_ = npos;
  auto* last = heap_.back();
  heap_.pop_back();
  if (last == &e) return;
  put(i, last);
  sift_up(i);
  sift_down(last->index_);
}

void deadline_queue::sift_up(std::size_t i) noexcept {
  auto* e = heap_[i];
  while (i > 0) {
    auto const parent = (i - 1) / 2;
    if (heap_[parent]->at_ <= e->at_) break;
    put(i, heap_[parent]);
    i = parent;
  }
  put(i, e);
}

void deadline_queue::sift_down(std::size_t i) noexcept {
  auto* e = heap_[i];
  auto const n = heap_.size();
  for (;;) {
    auto child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->at_ < heap_[child]->at_) ++child;
    if (e->at_ <= heap_[child]->at_) break;
    put(i, heap_[child]);
    i = child;
  }
  put(i, e);
}

void deadline_queue::arm_locked() {
  if (heap_.empty()) {
    if (waiting_for_ != clock::time_point::max()) {
      ++generation_;
      waiting_for_ = clock::time_point::max();
      timer_.cancel();
    }
    return;
  }
  auto const at = heap_.front()->at_;
  // A pending wait that wakes no later is kept: it finds nothing due yet and waits again.
  if (waiting_for_ <= at) return;
  waiting_for_ = at;
  timer_.expires_at(at);  // a pending wait completes as cancelled, and its generation is past
  timer_.async_wait([self = shared_from_this(), generation = ++generation_](boost::system::error_code ec) {
    if (!ec) self->on_timer(generation);
  });
}

void deadline_queue::on_timer(std::uint64_t generation) {
  std::vector<std::pair<std::shared_ptr<void>, entry*>> due;
  {
    std::lock_guard lock(mutex_);
    if (generation != generation_) return;
    waiting_for_ = clock::time_point::max();
    auto const now = clock::now();
    while (!heap_.empty() && heap_.front()->at_ <= now) {
      auto& e = *heap_.front();
      remove_locked(e);
      // An owner whose last reference went is being destroyed: its destructor waits for this lock
      // to take the entry out, and finds it out already.
      if (auto held = e.hold()) due.emplace_back(std::move(held), &e);
    }
    arm_locked();
  }
  for (auto& [held, e] : due) e->on_deadline();
}

}  // namespace fallbench::transport::detail
