// The session's send queue (transports/server/src/session_impl.hpp): order across the ring's wrap and
// growth, and the memory it lets go of.

#include "session_impl.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fallbench::transport::detail {
namespace {

frame numbered(int i) { return frame::message(std::to_string(i)); }

std::string text_of(frame const& f) { return std::string(f.packet().substr(1)); }

TEST(FrameQueueTest, FramesLeaveInOrderAcrossWrapsAndGrowth) {
  frame_queue q;
  int next_in = 0;
  int next_out = 0;
  // Take some before pushing more, so the ring wraps, then grows while wrapped.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 7; ++i) q.push_back(numbered(next_in++));
    for (int i = 0; i < 5; ++i) ASSERT_EQ(text_of(q.take_front()), std::to_string(next_out++)) << "round " << round;
  }
  EXPECT_EQ(q.size(), static_cast<std::size_t>(next_in - next_out));
  while (!q.empty()) ASSERT_EQ(text_of(q.take_front()), std::to_string(next_out++));
  EXPECT_EQ(next_out, next_in);
}

TEST(FrameQueueTest, ClearReleasesTheRing) {
  frame_queue q;
  EXPECT_EQ(q.capacity(), 0u);
  for (int i = 0; i < 3; ++i) q.push_back(numbered(i));
  EXPECT_GT(q.capacity(), 0u);
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.capacity(), 0u);  // what a polling session holds between polls
  q.push_back(numbered(9));
  EXPECT_EQ(text_of(q.take_front()), "9");
}

TEST(FrameQueueTest, ADrainedRingIsKeptUpToItsWorkingSizeAndReleasedAboveIt) {
  frame_queue working;
  for (int i = 0; i < 100; ++i) working.push_back(numbered(i));
  while (!working.empty()) working.take_front();
  EXPECT_GE(working.capacity(), 100u);  // kept for the next burst

  frame_queue burst;
  auto const n = static_cast<int>(frame_queue::kept_capacity) + 1;
  for (int i = 0; i < n; ++i) burst.push_back(numbered(i));
  EXPECT_GT(burst.capacity(), frame_queue::kept_capacity);
  while (!burst.empty()) burst.take_front();
  EXPECT_EQ(burst.capacity(), 0u);
}

}  // namespace
}  // namespace fallbench::transport::detail
