// Descriptors a run needs (bench/load/src/fd_limit.cpp): per strategy's share of the clients, twice
// over behind a fault proxy or a balancer, and the shipped soak within this machine's usual hard limit.

#include "fallbench/bench/fd_limit.hpp"
#include "fallbench/bench/scenario.hpp"

#include <gtest/gtest.h>

namespace fallbench::bench {
namespace {

case_spec mix(int clients, std::map<transport::strategy, double> weights) {
  case_spec c;
  c.clients = clients;
  c.mix = std::move(weights);
  return c;
}

TEST(FdLimitTest, EachStrategyCountsItsOwnSockets) {
  using transport::strategy;
  EXPECT_EQ(descriptors_needed(mix(1000, {{strategy::websocket, 1}})), 1000 + fd_margin);
  EXPECT_EQ(descriptors_needed(mix(1000, {{strategy::polling, 1}})), 2000 + fd_margin);
  EXPECT_EQ(descriptors_needed(mix(1000, {{strategy::upgrade, 1}})), 3000 + fd_margin);
  EXPECT_EQ(descriptors_needed(mix(1000, {{strategy::websocket, 1}, {strategy::polling, 1}})), 1500 + fd_margin);
  // Shares round up: 3 clients over 2 strategies count 2 of each.
  EXPECT_EQ(descriptors_needed(mix(3, {{strategy::websocket, 1}, {strategy::polling, 1}})), 2 + 4 + fd_margin);
  auto proxied = mix(1000, {{strategy::websocket, 1}});
  proxied.fault = "pass";
  EXPECT_EQ(descriptors_needed(proxied), 2000 + fd_margin);
  auto clustered = mix(1000, {{strategy::websocket, 1}});
  clustered.topology.type = topology_spec::kind::cluster;
  EXPECT_EQ(descriptors_needed(clustered), 2000 + fd_margin);
}

TEST(FdLimitTest, TheSoakFitsUnderTwentyThousand) {
  auto const s = load_scenario(FALLBENCH_SCENARIO_DIR "/soak.json");
  ASSERT_EQ(s.cases.size(), 1u);
  EXPECT_EQ(s.cases[0].clients, 10000);
  EXPECT_EQ(descriptors_needed(s.cases[0]), 15000 + fd_margin);
}

TEST(FdLimitTest, ALimitAlreadyHighEnoughIsLeftAlone) {
  auto const change = raise_fd_limit(16, "a test");
  EXPECT_EQ(change.before, change.after);
  EXPECT_GE(change.after, 16u);
}

}  // namespace
}  // namespace fallbench::bench
