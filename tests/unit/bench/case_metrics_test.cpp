// The simulated clients' error counters (bench/load/src/case_metrics.cpp): typed counters for the
// driver's own kinds, the transport's names for ended sessions, and the result's `errors` object
// they make together.

#include "case_metrics.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

namespace fallbench::bench {
namespace {

TEST(ErrorCountsTest, OnlyCountsOverZeroAppearByTheirNames) {
  error_counts e;
  EXPECT_TRUE(e.by_name().empty());
  e.count(client_error_kind::send_not_connected);
  e.count(client_error_kind::send_not_connected);
  e.count(client_error_kind::untagged_delivery);
  ++e.session_ended["transport closed"];
  std::map<std::string, std::uint64_t> const want{
      {"send skipped: not connected", 2}, {"chat without harness fields", 1}, {"transport closed", 1}};
  EXPECT_EQ(e.by_name(), want);
}

TEST(ErrorCountsTest, EveryKindHasItsOwnName) {
  EXPECT_EQ(error_name(client_error_kind::send_not_connected), "send skipped: not connected");
  EXPECT_EQ(error_name(client_error_kind::send_not_in_room), "send skipped: not in the room");
  EXPECT_EQ(error_name(client_error_kind::untagged_delivery), "chat without harness fields");
}

TEST(ErrorCountsTest, MergingAddsKindsAndSessionErrors) {
  error_counts a, b;
  a.count(client_error_kind::send_not_in_room);
  ++a.session_ended["HTTP 400: Session ID unknown"];
  b.count(client_error_kind::send_not_in_room);
  b.session_ended["HTTP 400: Session ID unknown"] += 2;
  ++b.session_ended["ping timeout"];
  a.merge(b);
  std::map<std::string, std::uint64_t> const want{
      {"send skipped: not in the room", 2}, {"HTTP 400: Session ID unknown", 3}, {"ping timeout", 1}};
  EXPECT_EQ(a.by_name(), want);
}

}  // namespace
}  // namespace fallbench::bench
