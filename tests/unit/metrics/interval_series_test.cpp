// fallbench::metrics::interval_series (bench/metrics/src/interval_series.cpp): values land in the
// interval of their time, merge lines intervals up, and the JSON gives one row per interval.

#include "fallbench/metrics/interval_series.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <stdexcept>

namespace fallbench::metrics {
namespace {

using namespace std::chrono_literals;

time_point const t0 = from_ns(1'000'000'000'000);

TEST(IntervalSeriesTest, RecordsIntoTheIntervalOfTheTime) {
  interval_series s(t0, 1s);
  s.record(t0, 100);
  s.record(t0 + 999ms, 200);
  s.record(t0 + 1s, 300);
  s.record(t0 + 3500ms, 400);
  ASSERT_EQ(s.size(), 4U);
  EXPECT_EQ(s.at(0).count(), 2);
  EXPECT_EQ(s.at(0).max(), 200);
  EXPECT_EQ(s.at(1).count(), 1);
  EXPECT_EQ(s.at(2).count(), 0);  // nothing between 2 s and 3 s: an empty row, not a gap
  EXPECT_EQ(s.at(3).min(), 400);
  EXPECT_EQ(s.interval_start(3), t0 + 3s);
  EXPECT_EQ(s.dropped(), 0U);
}

TEST(IntervalSeriesTest, DropsTimesOutsideTheSeries) {
  interval_series s(t0, 100ms, interval_series::default_config, 10);
  s.record(t0 - 1ns, 1);
  s.record(t0 + 1s, 1);  // interval 10: past max_intervals
  s.record(t0 + 999ms, 1);
  EXPECT_EQ(s.dropped(), 2U);
  EXPECT_EQ(s.size(), 10U);
}

TEST(IntervalSeriesTest, ToJsonGivesOneRowPerInterval) {
  interval_series s(t0, 500ms);
  for (int i = 1; i <= 100; ++i) s.record(t0 + 10ms, i * 2);  // below 256: exact at 2 digits
  s.record(t0 + 1200ms, 7);
  auto const j = s.to_json();
  ASSERT_EQ(j.size(), 3U);
  EXPECT_EQ(j[0].at("t_start_s"), 0.0);
  EXPECT_EQ(j[0].at("count"), 100);
  EXPECT_EQ(j[0].at("p50_us"), 100);
  EXPECT_EQ(j[0].at("p99_us"), 198);
  EXPECT_EQ(j[0].at("max_us"), 200);
  EXPECT_EQ(j[1], (nlohmann::json{{"t_start_s", 0.5}, {"count", 0}, {"p50_us", 0}, {"p99_us", 0}, {"max_us", 0}}));
  EXPECT_EQ(j[2].at("t_start_s"), 1.0);
  EXPECT_EQ(j[2].at("max_us"), 7);
}

TEST(IntervalSeriesTest, MergeAddsIntervalByInterval) {
  interval_series a(t0, 1s);
  interval_series b(t0, 1s);
  interval_series all(t0, 1s);
  for (int i = 0; i < 50; ++i) {
    auto const t = t0 + std::chrono::milliseconds(i * 97);
    (i % 2 == 0 ? a : b).record(t, i);
    all.record(t, i);
  }
  b.record(t0 + 7s, 5);
  all.record(t0 + 7s, 5);
  b.record(t0 - 1s, 5);
  a.merge(b);
  EXPECT_EQ(a.to_json(), all.to_json());
  EXPECT_EQ(a.dropped(), 1U);
}

TEST(IntervalSeriesTest, MergeRefusesAnotherStartOrInterval) {
  interval_series a(t0, 1s);
  EXPECT_THROW(a.merge(interval_series(t0 + 1ms, 1s)), std::invalid_argument);
  EXPECT_THROW(a.merge(interval_series(t0, 2s)), std::invalid_argument);
  EXPECT_THROW(a.merge(interval_series(t0, 1s, histogram_config{})), std::invalid_argument);
  EXPECT_THROW(interval_series(t0, 0s), std::invalid_argument);
}

}  // namespace
}  // namespace fallbench::metrics
