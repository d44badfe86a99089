// fallbench::metrics::histogram (bench/metrics/src/histogram.cpp): the bucket scheme's golden slot
// bounds, percentiles against the exact order statistics of known data (every one within the stated
// bound), merge, JSON round trip, saturation and the edge cases.

#include "fallbench/metrics/histogram.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace fallbench::metrics {
namespace {

/// The percentiles every accuracy test checks, tails included.
std::vector<double> const checked_percentiles = {0.0,  0.1,  1.0,  10.0, 25.0,   50.0,    75.0,
                                                 90.0, 99.0, 99.9, 99.99, 99.999, 99.9999, 100.0};

/// The exact value at percentile p of sorted data, by HdrHistogram's rank rule (rank round(p% of n),
/// at least 1; p = 0 is the minimum, p = 100 the maximum).
std::int64_t exact_percentile(std::vector<std::int64_t> const& sorted, double p) {
  if (p <= 0.0) return sorted.front();
  if (p >= 100.0) return sorted.back();
  auto const n = static_cast<std::int64_t>(sorted.size());
  auto rank = static_cast<std::int64_t>(p / 100.0 * static_cast<double>(n) + 0.5);
  rank = std::clamp<std::int64_t>(rank, 1, n);
  return sorted[static_cast<std::size_t>(rank - 1)];
}

/// Records `values` and checks every percentile against the exact one: never below it, and above it by
/// less than value * max_relative_error() (values under 2^(digits bits) are exact).
void expect_within_bound(std::vector<std::int64_t> values, histogram_config config) {
  histogram h(config);
  for (auto v : values) h.record(v);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h.count(), static_cast<std::int64_t>(values.size()));
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.max(), values.back());
  double const bound = h.max_relative_error();
  EXPECT_LE(bound, std::pow(10.0, -config.significant_digits));
  for (double p : checked_percentiles) {
    std::int64_t const exact = exact_percentile(values, p);
    std::int64_t const reported = h.value_at_percentile(p);
    EXPECT_GE(reported, exact) << "p" << p;
    EXPECT_LE(static_cast<double>(reported - exact), static_cast<double>(exact) * bound)
        << "p" << p << ": exact " << exact << ", reported " << reported;
  }
}

std::int64_t clamp_to_int(double v) {
  return static_cast<std::int64_t>(std::clamp(v, 0.0, 3.6e9));
}

// --- the scheme -------------------------------------------------------------------------------------

TEST(HistogramTest, DefaultConfigurationHasTheDocumentedSize) {
  histogram const h;
  EXPECT_EQ(h.config(), (histogram_config{1, 3'600'000'000, 3}));
  EXPECT_EQ(h.sub_bucket_count(), 2048);
  EXPECT_EQ(h.bucket_count(), 22);
  EXPECT_EQ(h.slot_count(), 23'552U);
  EXPECT_EQ(h.memory_bytes(), 188'416U);
  EXPECT_EQ(histogram(histogram_config{1, 3'600'000'000, 2}).memory_bytes(), 3'328U * 8);
}

TEST(HistogramTest, SlotBoundsFollowTheLogLinearScheme) {
  histogram const h;  // 2048 sub-buckets: unit slots up to 2047, then slots of 2, 4, 8, ...
  EXPECT_EQ(h.lowest_equivalent(0), 0);
  EXPECT_EQ(h.highest_equivalent(0), 0);
  EXPECT_EQ(h.highest_equivalent(1000), 1000);
  EXPECT_EQ(h.highest_equivalent(2047), 2047);
  EXPECT_EQ(h.lowest_equivalent(2049), 2048);
  EXPECT_EQ(h.highest_equivalent(2048), 2049);
  EXPECT_EQ(h.lowest_equivalent(4097), 4096);
  EXPECT_EQ(h.highest_equivalent(4096), 4099);
  // 10^6 has 20 bits: bucket 9, slots of 2^9 = 512.
  EXPECT_EQ(h.lowest_equivalent(1'000'000), 999'936);
  EXPECT_EQ(h.highest_equivalent(1'000'000), 1'000'447);
  EXPECT_GE(h.highest_equivalent(3'600'000'000), 3'600'000'000);
}

TEST(HistogramTest, LowestDiscernibleAboveOneGroupsSmallerValues) {
  histogram h(1000, 10'000'000, 2);  // unit 512: 0..511 is one slot
  EXPECT_EQ(h.lowest_equivalent(100), 0);
  EXPECT_EQ(h.highest_equivalent(300), 511);
  h.record(100);
  h.record(300);
  EXPECT_EQ(h.value_at_percentile(50.0), 300);  // the slot's top (511), capped at the exact max
  EXPECT_EQ(h.min(), 100);
}

TEST(HistogramTest, RejectsInvalidConfigurations) {
  EXPECT_THROW(histogram(0, 1000, 3), std::invalid_argument);
  EXPECT_THROW(histogram(1, 1000, 0), std::invalid_argument);
  EXPECT_THROW(histogram(1, 1000, 6), std::invalid_argument);
  EXPECT_THROW(histogram(100, 150, 3), std::invalid_argument);
  EXPECT_THROW(histogram(std::int64_t{1} << 40, std::numeric_limits<std::int64_t>::max(), 5), std::invalid_argument);
  EXPECT_NO_THROW(histogram(1, 2, 1));
  EXPECT_NO_THROW(histogram(1, std::int64_t{1} << 30, 5));
}

// --- edge cases -------------------------------------------------------------------------------------

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  histogram const h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.stddev(), 0.0);
  for (double p : checked_percentiles) EXPECT_EQ(h.value_at_percentile(p), 0) << "p" << p;
  auto const summary = h.summary_json();
  for (auto const& [key, value] : summary.items()) EXPECT_EQ(value, 0) << key;
  EXPECT_EQ(h.spectrum_json(), nlohmann::json::array());
}

TEST(HistogramTest, SingleValueIsEveryPercentile) {
  histogram h;
  h.record(123'457);
  EXPECT_EQ(h.count(), 1);
  for (double p : checked_percentiles) EXPECT_EQ(h.value_at_percentile(p), 123'457) << "p" << p;
  EXPECT_EQ(h.min(), 123'457);
  EXPECT_EQ(h.max(), 123'457);
  EXPECT_EQ(h.stddev(), 0.0);
  EXPECT_NEAR(h.mean(), 123'457.0, 123'457.0 * h.max_relative_error());
  EXPECT_EQ(h.spectrum_json(), (nlohmann::json{{0.0, 123'457}, {100.0, 123'457}}));
}

TEST(HistogramTest, SaturatesAboveHighestTrackable) {
  histogram h(1, 1000, 3);
  h.record(10);
  h.record(5000);
  h.record(std::numeric_limits<std::int64_t>::max(), 2);
  EXPECT_EQ(h.count(), 4);
  EXPECT_EQ(h.saturated(), 3);
  EXPECT_EQ(h.max(), 1000);
  EXPECT_EQ(h.value_at_percentile(100.0), 1000);
  EXPECT_EQ(h.value_at_percentile(99.0), 1000);
  EXPECT_EQ(h.value_at_percentile(25.0), 10);
}

TEST(HistogramTest, ClampsNegativeValuesToZeroAndCountsThem) {
  histogram h;
  h.record(-5);
  h.record(std::numeric_limits<std::int64_t>::min());
  h.record(7);
  EXPECT_EQ(h.negatives(), 2);
  EXPECT_EQ(h.saturated(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.value_at_percentile(50.0), 0);
  EXPECT_EQ(h.max(), 7);
}

TEST(HistogramTest, RecordWithCountEqualsRepeatedRecords) {
  histogram a;
  histogram b;
  a.record(777, 5);
  a.record(3, 0);
  a.record(3, -4);
  for (int i = 0; i < 5; ++i) b.record(777);
  EXPECT_EQ(a.to_json(), b.to_json());
}

TEST(HistogramTest, ResetForgetsEverythingButTheConfiguration) {
  histogram h(1, 1000, 2);
  h.record(5);
  h.record(-1);
  h.record(5000);
  h.reset();
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.saturated(), 0);
  EXPECT_EQ(h.negatives(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.config(), (histogram_config{1, 1000, 2}));
  h.record(9);
  EXPECT_EQ(h.min(), 9);
}

// --- accuracy against exact percentiles ---------------------------------------------------------------

TEST(HistogramTest, UniformDataPercentilesAreWithinTheBoundAtEveryPrecision) {
  for (int digits = 1; digits <= 5; ++digits) {
    std::uint64_t const seed = 20240601 + static_cast<std::uint64_t>(digits);
    SCOPED_TRACE("seed " + std::to_string(seed) + ", " + std::to_string(digits) + " significant digits");
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<std::int64_t> dist(1, 10'000'000);
    std::vector<std::int64_t> values(100'000);
    for (auto& v : values) v = dist(rng);
    expect_within_bound(std::move(values), {1, 3'600'000'000, digits});
  }
}

TEST(HistogramTest, ExponentialDataPercentilesAreWithinTheBound) {
  std::uint64_t const seed = 424242;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> dist(1.0 / 1000.0);  // mean 1 ms in microseconds
  std::vector<std::int64_t> values(200'000);
  for (auto& v : values) v = clamp_to_int(dist(rng));
  expect_within_bound(values, {});
  expect_within_bound(std::move(values), {1, 3'600'000'000, 2});
}

TEST(HistogramTest, BimodalDataWithOutliersPercentilesAreWithinTheBound) {
  std::uint64_t const seed = 987654321;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> fast(200.0, 20.0);       // most deliveries: 200 us
  std::normal_distribution<double> slow(50'000.0, 5'000.0);  // a polling round trip: 50 ms
  std::uniform_real_distribution<double> stall(10e6, 60e6);  // stalls of 10..60 s
  std::uniform_real_distribution<double> pick(0.0, 1.0);
  std::vector<std::int64_t> values(300'000);
  for (auto& v : values) {
    double const u = pick(rng);
    v = clamp_to_int(u < 0.001 ? stall(rng) : u < 0.1 ? slow(rng) : fast(rng));
  }
  expect_within_bound(std::move(values), {});
}

// --- merge and JSON -----------------------------------------------------------------------------------

TEST(HistogramTest, MergeEqualsRecordingEverythingInOne) {
  std::uint64_t const seed = 7;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(7.0, 1.5);
  histogram all;
  std::vector<histogram> workers(4);
  for (int i = 0; i < 100'000; ++i) {
    auto const v = clamp_to_int(dist(rng));
    all.record(v);
    workers[static_cast<std::size_t>(i) % workers.size()].record(v);
  }
  workers[1].record(-3);
  all.record(-3);
  histogram merged;
  for (auto const& w : workers) merged.merge(w);
  EXPECT_EQ(merged.to_json(), all.to_json());
  for (double p : checked_percentiles) EXPECT_EQ(merged.value_at_percentile(p), all.value_at_percentile(p)) << p;
  EXPECT_EQ(merged.mean(), all.mean());
}

TEST(HistogramTest, MergeRefusesADifferentConfiguration) {
  histogram a;
  histogram const b(1, 3'600'000'000, 2);
  try {
    a.merge(b);
    FAIL() << "merge accepted a different configuration";
  } catch (std::invalid_argument const& e) {
    EXPECT_NE(std::string(e.what()).find("configurations differ"), std::string::npos) << e.what();
  }
}

TEST(HistogramTest, JsonRoundTripKeepsEveryCount) {
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> dist(1.0 / 5000.0);
  histogram h(1, 60'000'000, 3);
  for (int i = 0; i < 50'000; ++i) h.record(clamp_to_int(dist(rng)));
  h.record(-1);
  h.record(90'000'000);

  auto const text = h.to_json().dump();
  histogram const back = histogram::from_json(nlohmann::json::parse(text));
  EXPECT_EQ(back.to_json(), h.to_json());
  EXPECT_EQ(back.config(), h.config());
  EXPECT_EQ(back.saturated(), 1);
  EXPECT_EQ(back.negatives(), 1);
  EXPECT_EQ(back.summary_json(), h.summary_json());
  EXPECT_EQ(back.spectrum_json(), h.spectrum_json());

  // Results from two runs re-merge.
  histogram twice = histogram::from_json(h.to_json());
  twice.merge(back);
  EXPECT_EQ(twice.count(), 2 * h.count());
  EXPECT_EQ(twice.value_at_percentile(99.0), h.value_at_percentile(99.0));
}

TEST(HistogramTest, JsonRoundTripOfAnEmptyHistogram) {
  histogram const h(1, 1000, 1);
  histogram const back = histogram::from_json(h.to_json());
  EXPECT_EQ(back.count(), 0);
  EXPECT_EQ(back.config(), h.config());
}

TEST(HistogramTest, FromJsonRejectsInconsistentInput) {
  histogram h;
  h.record(10);
  h.record(5000);
  auto const good = h.to_json();
  auto broken = [&](auto&& edit) {
    auto j = good;
    edit(j);
    return j;
  };
  std::vector<nlohmann::json> const bad = {
      broken([](nlohmann::json& j) { j.erase("slots"); }),
      broken([](nlohmann::json& j) { j["count"] = 3; }),
      broken([](nlohmann::json& j) { j["version"] = 2; }),
      broken([](nlohmann::json& j) { j["significant_digits"] = 9; }),
      broken([](nlohmann::json& j) { j["slots"].push_back({100'000'000, 1}); }),
      broken([](nlohmann::json& j) { j["slots"][0][1] = 0; }),
      broken([](nlohmann::json& j) { j["slots"][1][0] = j["slots"][0][0]; }),
      broken([](nlohmann::json& j) { j["slots"][0] = "x"; }),
      broken([](nlohmann::json& j) { j["min"] = 4000; }),
      broken([](nlohmann::json& j) { j["max"] = "big"; }),
      broken([](nlohmann::json& j) { j["saturated"] = 5; }),
  };
  for (auto const& j : bad) EXPECT_THROW(histogram::from_json(j), std::invalid_argument) << j.dump();
}

// --- reports ------------------------------------------------------------------------------------------

TEST(HistogramTest, SummaryJsonHasTheDocumentedKeysInMicroseconds) {
  histogram h;
  for (std::int64_t v = 1; v <= 10'000; ++v) h.record(v);
  auto const s = h.summary_json();
  EXPECT_EQ(s.at("count"), 10'000);
  EXPECT_EQ(s.at("min_us"), 1);
  EXPECT_EQ(s.at("max_us"), 10'000);
  EXPECT_NEAR(s.at("mean_us").get<double>(), 5000.5, 5000.5 * h.max_relative_error());
  EXPECT_NEAR(s.at("stddev_us").get<double>(), 2886.75, 2886.75 * 0.01);
  EXPECT_EQ(s.at("p50_us"), h.value_at_percentile(50.0));
  EXPECT_EQ(s.at("p90_us"), h.value_at_percentile(90.0));
  EXPECT_EQ(s.at("p99_us"), h.value_at_percentile(99.0));
  EXPECT_EQ(s.at("p99_9_us"), h.value_at_percentile(99.9));
  EXPECT_EQ(s.at("p99_99_us"), h.value_at_percentile(99.99));
  EXPECT_EQ(s.size(), 10U);
}

TEST(HistogramTest, SpectrumUsesWrk2TicksPerHalfDistance) {
  histogram h;
  for (std::int64_t v = 1; v <= 1'000'000; ++v) h.record(v);

  // wrk2 prints 5 ticks per halving of the distance to 100 %.
  auto const five = h.spectrum_json();
  std::vector<double> const head = {0, 10, 20, 30, 40, 50, 55, 60, 65, 70, 75, 77.5, 80, 82.5, 85, 87.5, 88.75};
  ASSERT_GT(five.size(), head.size());
  for (std::size_t i = 0; i < head.size(); ++i) EXPECT_EQ(five[i][0].get<double>(), head[i]) << i;

  auto const one = h.spectrum_json(1);
  std::vector<double> const halvings = {0, 50, 75, 87.5, 93.75, 96.875, 98.4375, 99.21875};
  for (std::size_t i = 0; i < halvings.size(); ++i) EXPECT_EQ(one[i][0].get<double>(), halvings[i]) << i;

  for (auto const* spectrum : {&five, &one}) {
    ASSERT_GE(spectrum->size(), 2U);
    EXPECT_EQ(spectrum->front(), (nlohmann::json{0.0, 1}));
    EXPECT_EQ(spectrum->back(), (nlohmann::json{100.0, 1'000'000}));
    for (std::size_t i = 1; i + 1 < spectrum->size(); ++i) {
      double const p = (*spectrum)[i][0].get<double>();
      EXPECT_GT(p, (*spectrum)[i - 1][0].get<double>());
      EXPECT_EQ((*spectrum)[i][1].get<std::int64_t>(), h.value_at_percentile(p)) << p;
    }
    // The last tick before 100 is the first to reach the largest value's slot (its 65 values start
    // past 99.993 %).
    auto const& last_tick = (*spectrum)[spectrum->size() - 2];
    EXPECT_GT(last_tick[0].get<double>(), 99.99);
    EXPECT_EQ(h.lowest_equivalent(last_tick[1].get<std::int64_t>()), h.lowest_equivalent(1'000'000));
  }
}

}  // namespace
}  // namespace fallbench::metrics
