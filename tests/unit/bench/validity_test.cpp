// The validity rules of a run (bench/load/src/validity.cpp): each rule with an input that triggers it
// and one that does not, the fault exemption, and the one "measured nothing" reason a run gets.

#include "validity.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace fallbench::bench {
namespace {

using namespace std::chrono_literals;

/// A healthy run: every client connected and joined, every chat acked, deliveries measured.
validity_inputs healthy() {
  validity_inputs in;
  in.send_lag_p99_us = 2'000;
  in.max_lag = 100ms;
  in.generator_utilisation = 0.5;
  in.max_cpu_utilisation = 0.9;
  in.error_budget = 0.01;
  in.clients = 100;
  in.clients_connected = 100;
  in.chats_sent = 100;
  in.joins_sent = 100;
  in.joins_confirmed = 100;
  in.measure_end = metrics::time_point{} + 60s;
  in.first_join = std::make_pair(metrics::time_point{} + 10s, 3u);
  in.deliveries_measured = 5'000;
  in.rate_per_client_hz = 1;
  return in;
}

TEST(ValidityTest, AHealthyRunIsValid) {
  auto const v = judge_validity(healthy());
  EXPECT_TRUE(v.valid());
  EXPECT_FALSE(v.fell_behind);
  EXPECT_FALSE(v.saturated);
  EXPECT_TRUE(v.reasons.empty());
}

TEST(ValidityTest, AGeneratorBehindItsScheduleIsInvalid) {
  auto in = healthy();
  in.send_lag_p99_us = 150'400;
  auto const v = judge_validity(in);
  EXPECT_TRUE(v.fell_behind);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "generator fell behind: p99 send lag 150 ms > 100 ms");
  // At the bound exactly it kept its schedule.
  in.send_lag_p99_us = 100'000;
  EXPECT_FALSE(judge_validity(in).fell_behind);
  EXPECT_TRUE(judge_validity(in).valid());
}

TEST(ValidityTest, ASaturatedGeneratorIsInvalid) {
  auto in = healthy();
  in.generator_utilisation = 0.955;
  auto const v = judge_validity(in);
  EXPECT_TRUE(v.saturated);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "generator saturated: 95% CPU per thread");
  in.generator_utilisation = 0.9;
  EXPECT_FALSE(judge_validity(in).saturated);
  EXPECT_TRUE(judge_validity(in).valid());
}

TEST(ValidityTest, FailuresOverTheErrorBudgetMakeARunInvalid) {
  auto in = healthy();
  // 2 clients never connected and 1 ack failed: 3 of 200 operations, over 1 %.
  in.clients_connected = 98;
  in.acks_failed = 1;
  auto v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "over the error budget: 3 failed of 200 (2 clients never connected, 1 ack failed)");
  // A rejected ack is a failure too; 2 of 200 is the budget itself, not over it.
  in.acks_failed = 0;
  EXPECT_TRUE(judge_validity(in).valid());
  in.acks_rejected = 1;
  v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "over the error budget: 3 failed of 200 (2 clients never connected, 1 ack rejected)");
  // Clients still connecting when the run ended are named even when nothing else failed.
  in.acks_rejected = 0;
  in.clients_connected = 97;
  v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "over the error budget: 3 failed of 200 (3 clients never connected)");
}

TEST(ValidityTest, NoClientConnectedNamesTheMostFrequentError) {
  auto in = healthy();
  in.clients_connected = 0;
  in.error_budget = 1.0;  // this rule alone
  in.errors = {{"connect timeout", 7}, {"HTTP 403: Forbidden", 9}, {"transport closed", 9}};
  auto v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 1u);
  // On a tie, the first by name.
  EXPECT_EQ(v.reasons[0], "no client connected (HTTP 403: Forbidden)");
  in.errors.clear();
  v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "no client connected");
  in.clients_connected = 1;
  EXPECT_TRUE(judge_validity(in).valid());
}

TEST(ValidityTest, NoJoinConfirmedSaysWhatItWaitedFor) {
  auto in = healthy();
  in.joins_confirmed = 0;
  in.deliveries_measured = 0;  // follows from it, but the join is the reason given
  auto v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "no join confirmed (waited 50 s for " + in.events.confirm_text() + " of room r3)");
  // A first join after the measure phase's end waited 0 s, not a negative time.
  in.first_join = std::make_pair(in.measure_end + 5s, 3u);
  v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "no join confirmed (waited 0 s for " + in.events.confirm_text() + " of room r3)");
  in.joins_confirmed = 1;
  in.deliveries_measured = 1;
  EXPECT_TRUE(judge_validity(in).valid());
}

TEST(ValidityTest, NoDeliveryMeasuredSaysWhichEventsItWaitedForFromAnotherDialect) {
  auto in = healthy();
  in.deliveries_measured = 0;
  auto v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "no delivery was measured");
  in.events.delivery_event = "message";
  in.events.tag = chatproto::tag_place::text;
  v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0],
            "no delivery was measured (waited for 'message' events carrying the harness's tag as a fb1: prefix of their text)");
  in.events.tag = chatproto::tag_place::fields;
  v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 1u);
  EXPECT_EQ(v.reasons[0], "no delivery was measured (waited for 'message' events carrying the harness's tag as fields k, q, t, a)");
  // A case that sends nothing expects no delivery.
  in.rate_per_client_hz = 0;
  EXPECT_TRUE(judge_validity(in).valid());
}

TEST(ValidityTest, UnderAnInjectedFaultOnlyTheGeneratorsHealthCounts) {
  auto in = healthy();
  in.fault_injected = true;
  in.clients_connected = 0;
  in.acks_failed = 50;
  in.joins_confirmed = 0;
  in.deliveries_measured = 0;
  EXPECT_TRUE(judge_validity(in).valid());
  in.send_lag_p99_us = 200'000;
  in.generator_utilisation = 0.99;
  auto const v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 2u);
  EXPECT_EQ(v.reasons[0], "generator fell behind: p99 send lag 200 ms > 100 ms");
  EXPECT_EQ(v.reasons[1], "generator saturated: 99% CPU per thread");
}

TEST(ValidityTest, ReasonsComeInTheOrderTheRulesAreChecked) {
  auto in = healthy();
  in.send_lag_p99_us = 300'000;
  in.generator_utilisation = 2.0;
  in.clients_connected = 0;
  in.joins_confirmed = 0;
  in.deliveries_measured = 0;
  auto const v = judge_validity(in);
  ASSERT_EQ(v.reasons.size(), 4u);
  EXPECT_EQ(v.reasons[0].rfind("generator fell behind", 0), 0u);
  EXPECT_EQ(v.reasons[1].rfind("generator saturated", 0), 0u);
  EXPECT_EQ(v.reasons[2].rfind("over the error budget", 0), 0u);
  // Of the "measured nothing" reasons only the first that applies: the clients never connected.
  EXPECT_EQ(v.reasons[3], "no client connected");
}

}  // namespace
}  // namespace fallbench::bench
