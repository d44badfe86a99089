// fallbench::metrics::rss_series (bench/metrics/src/rss_series.cpp): the least-squares slope, the
// summary of a stretch of the series, and the bound on what it keeps.

#include "fallbench/metrics/rss_series.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace fallbench::metrics {
namespace {

TEST(RssSeriesTest, SlopeOfALineIsItsGradientPerMinute) {
  std::vector<rss_sample> line;
  for (int t = 0; t < 600; ++t) line.push_back({100.0 + t, 200'000 + 3 * t});  // 3 kB/s
  EXPECT_NEAR(least_squares_slope_kb_per_min(line), 180.0, 1e-6);
  std::vector<rss_sample> flat;
  for (int t = 0; t < 600; ++t) flat.push_back({static_cast<double>(t), 150'000 + (t % 2 == 0 ? 40 : -40)});
  EXPECT_NEAR(least_squares_slope_kb_per_min(flat), 0.0, 0.5);
  EXPECT_EQ(least_squares_slope_kb_per_min({{1.0, 5}}), 0.0);
  EXPECT_EQ(least_squares_slope_kb_per_min({{1.0, 5}, {1.0, 9}}), 0.0);
}

TEST(RssSeriesTest, SummaryCoversOnlyTheStretchAsked) {
  rss_series s;
  // The ramp grows fast (sessions being made), then a slow leak of 1 kB/s.
  for (int t = 0; t < 10; ++t) s.add(t, 10'000 + 5'000 * t);
  for (int t = 10; t <= 70; ++t) s.add(t, 60'000 + (t - 10));
  auto const r = s.summarise(10, 70);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->samples, 61u);
  EXPECT_EQ(r->start_kb, 60'000);
  EXPECT_EQ(r->end_kb, 60'060);
  EXPECT_EQ(r->peak_kb, 60'060);
  EXPECT_NEAR(r->slope_kb_per_min, 60.0, 1e-6);
  EXPECT_NEAR(r->growth, 60'060.0 / 60'000.0, 1e-12);
  EXPECT_FALSE(s.summarise(100, 200)) << "no sample inside";
  EXPECT_FALSE(s.summarise(3, 3)) << "one sample is no slope";

  auto const j = s.to_json(1.0, 10, 70);
  EXPECT_EQ(j["interval_s"], 1.0);
  EXPECT_EQ(j["samples"].size(), 71u);
  EXPECT_EQ(j["samples"][0][1], 10'000);
  EXPECT_NEAR(j["summary"]["slope_kb_per_min"].get<double>(), 60.0, 1e-6);
  EXPECT_FALSE(s.to_json(1.0, 100, 200).contains("summary"));
}

TEST(RssSeriesTest, AFullSeriesThinsItselfAndKeepsItsShape) {
  rss_series s(8);
  for (int t = 0; t < 100; ++t) s.add(t, 1000 + 2 * t);
  EXPECT_LE(s.samples().size(), 8u);
  EXPECT_GE(s.samples().size(), 4u);
  EXPECT_EQ(s.samples().front().t_s, 0.0);
  EXPECT_GT(s.stride(), 1u);
  for (std::size_t i = 1; i < s.samples().size(); ++i)
    EXPECT_EQ(s.samples()[i].t_s - s.samples()[i - 1].t_s, static_cast<double>(s.stride())) << i;
  EXPECT_NEAR(least_squares_slope_kb_per_min(s.samples()), 120.0, 1e-6);
  EXPECT_EQ(s.to_json(1.0, 0, 100)["interval_s"], static_cast<double>(s.stride()));
  EXPECT_THROW(rss_series(1), std::invalid_argument);
}

}  // namespace
}  // namespace fallbench::metrics
