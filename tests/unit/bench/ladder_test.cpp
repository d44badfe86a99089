// The capacity ladder as a pure function (bench/load/src/ladder.cpp): the rates it asks for, how it
// judges a step, why it stops, the knee it reports, and the summary line people read.

#include "fallbench/bench/ladder.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace fallbench::bench {
namespace {

ladder_spec rising(double start, double factor, int max_steps, int refine = 0, double bound_ms = 250) {
  ladder_spec l;
  l.start_rate_per_client_hz = start;
  l.factor = factor;
  l.max_steps = max_steps;
  l.refine_steps = refine;
  l.stop_p99_ms = bound_ms;
  return l;
}

/// A step at `rate` that a fake server with `p99_of(rate)` answers; 10 deliveries per chat per client.
step_facts step_at(double rate, double p99_ms) {
  step_facts f;
  f.rate_per_client_hz = rate;
  f.offered_deliveries_per_s = rate * 1000;
  f.deliveries_per_s = rate * 1000;
  f.p99_ms = p99_ms;
  return f;
}

/// Walk a ladder to its end against `server` (rate -> facts); returns the rates asked for.
std::vector<double> walk_all(ladder_walk& w, std::function<step_facts(double)> const& server) {
  std::vector<double> rates;
  while (auto const rate = w.next_rate()) {
    rates.push_back(*rate);
    w.record(server(*rate));
    if (rates.size() > 200) break;
  }
  return rates;
}

TEST(LadderStepTest, JudgesTheGeneratorsLimitsFirst) {
  auto f = step_at(8, 900);
  EXPECT_EQ(judge_step(f, 250), step_outcome::over_bound);
  f.valid = false;
  f.invalid_reasons = {"over the error budget: 9 failed of 100"};
  EXPECT_EQ(judge_step(f, 250), step_outcome::server_failed);
  f.generator_behind = true;
  EXPECT_EQ(judge_step(f, 250), step_outcome::generator_behind);
  f.generator_saturated = true;
  EXPECT_EQ(judge_step(f, 250), step_outcome::generator_saturated) << "a step the generator could not drive says nothing of the server";
  auto lost = step_at(8, 10);
  lost.lost = 3;
  EXPECT_EQ(judge_step(lost, 250), step_outcome::server_failed);
  auto died = step_at(8, 10);
  died.server_exit_status = -11;
  EXPECT_EQ(judge_step(died, 250), step_outcome::server_failed);
  EXPECT_EQ(judge_step(step_at(8, 250), 250), step_outcome::within) << "the bound itself is within";
}

TEST(LadderWalkTest, DoublesUntilOverTheBoundAndReportsTheKnee) {
  ladder_walk w(rising(1, 2, 12));
  auto const rates = walk_all(w, [](double r) { return step_at(r, r < 20 ? 5 : 400); });
  EXPECT_EQ(rates, (std::vector<double>{1, 2, 4, 8, 16, 32}));
  auto const k = w.result();
  EXPECT_TRUE(k.found);
  EXPECT_EQ(k.why, stop_reason::over_bound);
  ASSERT_TRUE(k.best);
  EXPECT_EQ(k.best->rate_per_client_hz, 16);
  EXPECT_EQ(k.best->offered_deliveries_per_s, 16000);
  ASSERT_TRUE(k.stopper);
  EXPECT_EQ(k.stopper->rate_per_client_hz, 32);
  EXPECT_EQ(k.steps, 6);
  EXPECT_EQ(k.summary(),
            "knee at 16000 deliveries/s offered (16 chats/s per client, p99 5.00 ms); stopped: over the p99 bound at 32 "
            "chats/s per client (p99 400 ms > 250 ms)");
  auto const j = k.to_json();
  EXPECT_EQ(j["stop_reason"], "over_bound");
  EXPECT_EQ(j["knee_found"], true);
  EXPECT_EQ(j["knee"]["offered_deliveries_per_s"], 16000);
  EXPECT_TRUE(j["capacity_at_least"].is_null());
  EXPECT_EQ(j["max_rate_per_client_hz"], 16) << "the field older readers (tools/compare) use";
}

TEST(LadderWalkTest, MaxStepsWithoutAKneeSaysCapacityAtLeast) {
  ladder_walk w(rising(0.5, 3, 3));
  auto const rates = walk_all(w, [](double r) { return step_at(r, 1); });
  EXPECT_EQ(rates, (std::vector<double>{0.5, 1.5, 4.5}));
  auto const k = w.result();
  EXPECT_FALSE(k.found);
  EXPECT_EQ(k.why, stop_reason::max_steps);
  EXPECT_FALSE(k.stopper);
  EXPECT_EQ(k.summary(),
            "knee not found, capacity \u2265 4500 deliveries/s offered (4.5 chats/s per client, p99 1.00 ms); stopped: max "
            "steps reached (3) without a knee");
  EXPECT_EQ(k.to_json()["capacity_at_least"]["rate_per_client_hz"], 4.5);
  EXPECT_TRUE(k.to_json()["knee"].is_null());
}

TEST(LadderWalkTest, AGeneratorThatSaturatesEndsTheLadderWithoutAKnee) {
  ladder_walk w(rising(1, 2, 12, 2));
  auto const rates = walk_all(w, [](double r) {
    auto f = step_at(r, 2);
    if (r >= 8) {
      f.valid = false;
      f.generator_saturated = true;
      f.generator_utilisation = 0.97;
      f.invalid_reasons = {"generator saturated: 97% CPU per thread"};
    }
    return f;
  });
  EXPECT_EQ(rates, (std::vector<double>{1, 2, 4, 8})) << "no refinement: the server's knee was not found";
  auto const k = w.result();
  EXPECT_FALSE(k.found);
  EXPECT_EQ(k.why, stop_reason::generator_saturated);
  EXPECT_EQ(k.summary(),
            "knee not found, capacity \u2265 4000 deliveries/s offered (4 chats/s per client, p99 2.00 ms); stopped: generator "
            "saturated at 8 chats/s per client (97% CPU per generator thread): the generator's limit, not the server's");
}

TEST(LadderWalkTest, AGeneratorFallingBehindIsNotTheServersKnee) {
  ladder_walk w(rising(1, 2, 12));
  walk_all(w, [](double r) {
    auto f = step_at(r, r >= 4 ? 900 : 2);
    if (r >= 4) {
      f.valid = false;
      f.generator_behind = true;
      f.invalid_reasons = {"generator fell behind: p99 send lag 300 ms > 100 ms"};
    }
    return f;
  });
  auto const k = w.result();
  EXPECT_FALSE(k.found);
  EXPECT_EQ(k.why, stop_reason::generator_behind);
  EXPECT_NE(k.summary().find("generator fell behind at 4 chats/s per client (generator fell behind: p99 send lag 300 ms"),
            std::string::npos)
      << k.summary();
}

TEST(LadderWalkTest, LossesAreTheServersKnee) {
  ladder_walk w(rising(1, 2, 12));
  walk_all(w, [](double r) {
    auto f = step_at(r, 3);
    if (r >= 2) f.lost = 42;
    return f;
  });
  auto const k = w.result();
  EXPECT_TRUE(k.found);
  EXPECT_EQ(k.why, stop_reason::server_failed);
  EXPECT_EQ(k.best->rate_per_client_hz, 1);
  EXPECT_NE(k.summary().find("stopped: server failed at 2 chats/s per client (42 deliveries lost)"), std::string::npos)
      << k.summary();
}

TEST(LadderWalkTest, AFirstStepOverTheBoundPutsTheKneeBelowIt) {
  ladder_walk w(rising(4, 2, 12, 2));
  auto const rates = walk_all(w, [](double r) { return step_at(r, 600); });
  EXPECT_EQ(rates, (std::vector<double>{4})) << "nothing to bisect without a good step";
  auto const k = w.result();
  EXPECT_TRUE(k.found);
  EXPECT_FALSE(k.best);
  EXPECT_EQ(k.summary(),
            "knee below the first step: no step stayed within p99 250 ms; stopped: over the p99 bound at 4 chats/s per "
            "client (p99 600 ms > 250 ms)");
  EXPECT_TRUE(k.to_json()["max_rate_per_client_hz"].is_null());
}

TEST(LadderWalkTest, RefinesBetweenTheLastGoodAndTheFirstBadStep) {
  ladder_walk w(rising(1, 2, 12, 2));
  std::vector<bool> refining;
  std::vector<double> rates;
  while (auto const rate = w.next_rate()) {
    rates.push_back(*rate);
    refining.push_back(w.refining());
    w.record(step_at(*rate, *rate <= 12 ? 5 : 300));  // the knee lies between 12 and 13 chats/s
  }
  // 1 2 4 8 16 (bad), then sqrt(8*16) = 11.3 (good), sqrt(11.3*16) = 13.4 (bad).
  EXPECT_EQ(rates, (std::vector<double>{1, 2, 4, 8, 16, 11.3, 13.4}));
  EXPECT_EQ(refining, (std::vector<bool>{false, false, false, false, false, true, true}));
  auto const k = w.result();
  EXPECT_TRUE(k.found);
  EXPECT_EQ(k.why, stop_reason::over_bound);
  EXPECT_EQ(k.best->rate_per_client_hz, 11.3);
  EXPECT_EQ(k.stopper->rate_per_client_hz, 13.4);
  EXPECT_EQ(k.refinements, 2);
  EXPECT_EQ(k.steps, 7);
  EXPECT_NE(k.summary().find("; 2 refinement steps"), std::string::npos) << k.summary();
}

TEST(LadderWalkTest, WalksListedRatesAndStopsAtTheirEnd) {
  ladder_spec l;
  l.rates_per_client_hz = {1, 4, 16};
  ladder_walk w(l);
  EXPECT_EQ(walk_all(w, [](double r) { return step_at(r, 1); }), (std::vector<double>{1, 4, 16}));
  EXPECT_EQ(w.result().why, stop_reason::max_steps);
  EXPECT_FALSE(w.result().found);
}

TEST(LadderOfferTest, CountsReceiversPerChatFromTheRoomLayout) {
  case_spec c;
  c.clients = 100;
  c.rooms.count = 10;
  EXPECT_EQ(receivers_per_chat(c), 10.0) << "rooms of 10, the sender's own copy included";
  c.clients = 5;
  c.rooms.count = 2;  // rooms of 3 and 2: (9 + 4) / 5
  EXPECT_DOUBLE_EQ(*receivers_per_chat(c), 13.0 / 5.0);
  c.rooms.zipf_exponent = 1;
  EXPECT_FALSE(receivers_per_chat(c)) << "Zipf rooms are drawn at run time";
}

}  // namespace
}  // namespace fallbench::bench
