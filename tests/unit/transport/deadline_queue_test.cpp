// The server's deadline queue (transports/server/src/deadline_queue.hpp): every owner called once, in
// order and never early; a deadline kept when no later, moved when earlier; cancelled owners never
// called; an io_context left with no deadlines runs out of work.

#include "deadline_queue.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace fallbench::transport::detail {
namespace {

using namespace std::chrono_literals;
using clock = deadline_queue::clock;

class owner final : public deadline_queue::entry, public std::enable_shared_from_this<owner> {
 public:
  explicit owner(std::shared_ptr<deadline_queue> q, int id = 0) : queue_(std::move(q)), id_(id) {}
  ~owner() override { queue_->cancel(*this); }
  owner(owner const&) = delete;
  owner& operator=(owner const&) = delete;

  std::shared_ptr<void> hold() noexcept override { return weak_from_this().lock(); }
  void on_deadline() override {
    called_at.push_back(clock::now());
    if (log) log->push_back(id_);
  }

  std::vector<clock::time_point> called_at;
  std::vector<int>* log = nullptr;

 private:
  std::shared_ptr<deadline_queue> queue_;
  int id_;
};

/// Runs `ioc` until it runs out of work, for at most 5 s; true when it ran out.
bool run_out(boost::asio::io_context& ioc) {
  ioc.run_for(5s);
  return ioc.stopped();
}

TEST(DeadlineQueueTest, OwnersAreCalledOnceInTheirOrderAndNeverEarly) {
  boost::asio::io_context ioc;
  auto q = std::make_shared<deadline_queue>(ioc);
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> ms(1, 60);
  std::vector<int> log;
  std::vector<std::shared_ptr<owner>> owners;
  std::vector<clock::time_point> due;
  auto const start = clock::now();
  for (int i = 0; i < 300; ++i) {
    owners.push_back(std::make_shared<owner>(q, i));
    owners.back()->log = &log;
    due.push_back(start + std::chrono::milliseconds(ms(rng)));
    q->schedule_no_later(*owners.back(), due.back());
  }
  EXPECT_EQ(q->size(), 300U);
  ASSERT_TRUE(run_out(ioc)) << "the queue still held a wait with nothing scheduled";
  EXPECT_EQ(q->size(), 0U);
  ASSERT_EQ(log.size(), 300U);
  for (std::size_t i = 0; i < owners.size(); ++i) {
    ASSERT_EQ(owners[i]->called_at.size(), 1U) << "owner " << i;
    EXPECT_GE(owners[i]->called_at[0], due[i]) << "owner " << i << " was called early";
  }
  for (std::size_t k = 1; k < log.size(); ++k)
    EXPECT_LE(due[static_cast<std::size_t>(log[k - 1])], due[static_cast<std::size_t>(log[k])]) << "call " << k;
}

TEST(DeadlineQueueTest, ALaterDeadlineKeepsTheQueuedOneAndAnEarlierOneReplacesIt) {
  boost::asio::io_context ioc;
  auto q = std::make_shared<deadline_queue>(ioc);
  auto kept = std::make_shared<owner>(q);
  auto moved = std::make_shared<owner>(q);
  auto const start = clock::now();
  q->schedule_no_later(*kept, start + 20ms);
  q->schedule_no_later(*kept, start + 1h);  // no later than queued: kept at 20 ms
  q->schedule_no_later(*moved, start + 1h);
  q->schedule_no_later(*moved, start + 30ms);  // earlier: moved, and the queue's wait with it
  ASSERT_TRUE(run_out(ioc)) << "a deadline an hour away was still queued";
  ASSERT_EQ(kept->called_at.size(), 1U);
  ASSERT_EQ(moved->called_at.size(), 1U);
  EXPECT_GE(kept->called_at[0], start + 20ms);
  EXPECT_GE(moved->called_at[0], start + 30ms);
  EXPECT_LT(moved->called_at[0], start + 4s);
}

TEST(DeadlineQueueTest, CancelledOwnersAreNotCalledAndAnEmptyQueueHoldsNoWork) {
  boost::asio::io_context ioc;
  auto q = std::make_shared<deadline_queue>(ioc);
  std::vector<std::shared_ptr<owner>> owners;
  auto const start = clock::now();
  for (int i = 0; i < 50; ++i) {
    owners.push_back(std::make_shared<owner>(q, i));
    q->schedule_no_later(*owners.back(), start + (i % 2 == 0 ? 10ms : 1h));
  }
  // Cancelled: the odd ones, an hour away, and one of the soon ones; one more goes with its owner.
  for (int i = 1; i < 50; i += 2) q->cancel(*owners[static_cast<std::size_t>(i)]);
  q->cancel(*owners[0]);
  owners[2].reset();
  EXPECT_EQ(q->size(), 23U);
  ASSERT_TRUE(run_out(ioc)) << "cancelled deadlines an hour away still held the io_context";
  for (int i = 0; i < 50; ++i) {
    auto const& o = owners[static_cast<std::size_t>(i)];
    if (!o) continue;
    bool const due = i % 2 == 0 && i != 0;
    EXPECT_EQ(o->called_at.size(), due ? 1U : 0U) << "owner " << i;
  }
}

TEST(DeadlineQueueTest, ThreadsScheduleAndCancelWhileTheQueueRuns) {
  boost::asio::io_context ioc;
  auto q = std::make_shared<deadline_queue>(ioc);
  constexpr int per_thread = 200;
  std::vector<std::vector<std::shared_ptr<owner>>> owners(4);
  for (auto& v : owners)
    for (int i = 0; i < per_thread; ++i) v.push_back(std::make_shared<owner>(q, i));
  auto guard = boost::asio::make_work_guard(ioc);
  std::vector<std::thread> runners;
  for (int t = 0; t < 2; ++t) runners.emplace_back([&] { ioc.run_for(10s); });
  std::vector<std::thread> schedulers;
  for (auto& v : owners) {
    schedulers.emplace_back([&v, &q] {
      for (int i = 0; i < per_thread; ++i) {
        auto& o = *v[static_cast<std::size_t>(i)];
        // The ones cancelled are an hour away, so cancelling always comes first.
        q->schedule_no_later(o, clock::now() + (i % 3 == 0 ? std::chrono::milliseconds(1h) : std::chrono::milliseconds(1 + i % 7)));
        if (i % 3 == 0) q->cancel(o);
      }
    });
  }
  for (auto& t : schedulers) t.join();
  guard.reset();
  for (auto& t : runners) t.join();
  ASSERT_TRUE(ioc.stopped()) << "the io_context did not run out of work";
  EXPECT_EQ(q->size(), 0U);
  // on_deadline of one owner never runs on two threads here (each is called at most once), so its
  // log is read only after the runners joined.
  for (auto& v : owners) {
    for (int i = 0; i < per_thread; ++i) {
      auto const& o = *v[static_cast<std::size_t>(i)];
      EXPECT_EQ(o.called_at.size(), i % 3 == 0 ? 0U : 1U) << "owner " << i;
    }
  }
}

}  // namespace
}  // namespace fallbench::transport::detail
