// fallbench::compare statistics (tools/compare/src/stats.cpp): the Mann-Whitney U test against published
// and enumerated values, its false-alarm rate and power over seeded synthetic trials, and medians.

#include "fallbench/compare/stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <random>
#include <vector>

namespace fallbench::compare {
namespace {

TEST(MannWhitneyTest, ExactPValueOfFullySeparatedSamples) {
  std::vector<double> const a{1, 2, 3}, b{4, 5, 6};
  auto const t = mann_whitney_u(a, b);
  EXPECT_TRUE(t.exact);
  EXPECT_EQ(t.u_a, 0);
  EXPECT_EQ(t.u_b, 9);
  // One arrangement in C(6, 3) = 20 is this extreme, in each direction.
  EXPECT_NEAR(t.p_value, 2.0 / 20.0, 1e-12);
  EXPECT_NEAR(mann_whitney_u(b, a).p_value, 0.1, 1e-12);
}

// scipy.stats.mannwhitneyu's documented example (males vs females): U = 17, exact p = 0.1111 (7 of the
// 126 arrangements have U <= 3), asymptotic p = 0.11134688653314041.
TEST(MannWhitneyTest, MatchesScipysDocumentedExample) {
  std::vector<double> const males{19, 22, 16, 29, 24}, females{20, 11, 17, 12};
  auto const exact = mann_whitney_u(males, females);
  EXPECT_TRUE(exact.exact);
  EXPECT_EQ(exact.u_a, 17);
  EXPECT_NEAR(exact.p_value, 14.0 / 126.0, 1e-12);
  auto const normal = mann_whitney_u(males, females, u_method::asymptotic);
  EXPECT_FALSE(normal.exact);
  EXPECT_NEAR(normal.p_value, 0.11134688653314041, 1e-12);
}

// With ties the normal approximation applies, with the tie-corrected variance:
// N = 13, tie groups of 2, 3, 2, 2 (values 2, 3, 4, 5): sum(t^3 - t) = 6 + 24 + 6 + 6 = 42;
// sigma^2 = 6 * 7 / 12 * (14 - 42 / 156) = 48.0577; U_a = 6.5; z = (|6.5 - 21| - 0.5) / sigma = 2.0195.
TEST(MannWhitneyTest, CorrectsTheVarianceForTies) {
  std::vector<double> const a{1, 2, 2, 3, 3, 4}, b{2, 3, 4, 5, 5, 6, 7};
  auto const t = mann_whitney_u(a, b);
  EXPECT_FALSE(t.exact);
  EXPECT_EQ(t.u_a, 6.5);
  EXPECT_NEAR(t.p_value, 0.04255495530639132, 1e-12);
}

TEST(MannWhitneyTest, ExactDistributionMatchesEnumeration) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> uniform(0, 1);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> pooled(11);
    for (auto& v : pooled) v = uniform(rng);
    std::vector<double> const a(pooled.begin(), pooled.begin() + 5), b(pooled.begin() + 5, pooled.end());
    auto const t = mann_whitney_u(a, b);
    ASSERT_TRUE(t.exact);
    // Every way of choosing which 5 of the 11 values form sample a (2^11 masks with 5 bits set).
    int at_most = 0, at_least = 0, total = 0;
    for (unsigned mask = 0; mask < (1u << 11); ++mask) {
      if (std::popcount(mask) != 5) continue;
      std::vector<double> x, y;
      for (unsigned i = 0; i < 11; ++i) ((mask >> i) & 1u ? x : y).push_back(pooled[i]);
      double u = 0;
      for (double xi : x)
        for (double yj : y) u += xi > yj ? 1.0 : 0.0;
      ++total;
      at_most += u <= t.u_a ? 1 : 0;
      at_least += u >= t.u_a ? 1 : 0;
    }
    double const expected = std::min(1.0, 2.0 * std::min(at_most, at_least) / static_cast<double>(total));
    EXPECT_NEAR(t.p_value, expected, 1e-12) << "trial " << trial << ", seed 42";
  }
}

TEST(MannWhitneyTest, AllTiedOrEmptyGivesNoEvidence) {
  std::vector<double> const same(10, 320.0);
  EXPECT_EQ(mann_whitney_u(same, same).p_value, 1.0);
  EXPECT_EQ(mann_whitney_u({}, same).p_value, 1.0);
}

TEST(MannWhitneyTest, SmallestPValueSaysWhenTooFewRunsCanShowAnything) {
  EXPECT_NEAR(smallest_p_value(3, 3), 0.1, 1e-12);  // above 0.05: three runs a side never suffice
  EXPECT_NEAR(smallest_p_value(4, 4), 2.0 / 70.0, 1e-12);
  EXPECT_NEAR(smallest_p_value(10, 10), 2.0 / 184756.0, 1e-15);
  EXPECT_EQ(smallest_p_value(0, 5), 1.0);
}

TEST(MedianTest, OddEvenAndEmpty) {
  std::vector<double> const odd{3, 1, 2}, even{4, 1, 3, 2};
  EXPECT_EQ(median(odd), 2);
  EXPECT_EQ(median(even), 2.5);
  EXPECT_EQ(median({}), 0);
}

/// Ten runs of a metric, log-normal around `center` with the given coefficient of variation (about
/// what a p99 does run to run on a shared 2-core machine), rounded to whole microseconds as results are.
std::vector<double> runs(std::mt19937_64& rng, double center, double cv, std::size_t n = 10) {
  std::normal_distribution<double> z(0, 1);
  std::vector<double> v(n);
  for (auto& x : v) x = std::round(center * std::exp(cv * z(rng)));
  return v;
}

/// The gate's rule for one timing metric: significant and worse by more than the minimum effect.
bool flags_regression(std::vector<double> const& base, std::vector<double> const& cand, double alpha, double min_effect) {
  double const change = median(cand) / median(base) - 1.0;
  return mann_whitney_u(base, cand).p_value < alpha && change > min_effect;
}

// Two samples from one distribution, 1000 seeded trials of 10 runs a side. The U test alone rejects at
// most alpha of them (the exact test is conservative); with the 10 % minimum effect almost none.
TEST(MannWhitneyTest, FalseAlarmRateOverSyntheticTrials) {
  std::uint64_t const seed = 20240605;
  std::mt19937_64 rng(seed);
  int constexpr trials = 1000;
  int significant = 0, flagged = 0;
  for (int i = 0; i < trials; ++i) {
    auto const base = runs(rng, 740, 0.10);
    auto const cand = runs(rng, 740, 0.10);
    significant += mann_whitney_u(base, cand).p_value < 0.05 ? 1 : 0;
    flagged += flags_regression(base, cand, 0.05, 0.10) ? 1 : 0;
  }
  double const significant_rate = significant / static_cast<double>(trials);
  double const flagged_rate = flagged / static_cast<double>(trials);
  std::cout << "[ measured ] same distribution, 10 runs a side, " << trials << " trials (seed " << seed
            << "): p < 0.05 in " << significant_rate * 100 << " %, flagged as a regression (p < 0.05 and median +10 %) in "
            << flagged_rate * 100 << " %\n";
  RecordProperty("significant_rate", std::to_string(significant_rate));
  RecordProperty("false_alarm_rate", std::to_string(flagged_rate));
  // alpha plus three binomial standard deviations (sqrt(0.05 * 0.95 / 1000) = 0.0069).
  EXPECT_LE(significant_rate, 0.05 + 0.021) << "seed " << seed;
  // A regression is one direction only: at most alpha / 2, before the effect bound removes more.
  EXPECT_LE(flagged_rate, 0.025 + 0.015) << "seed " << seed;
}

// The other side of the same coin: a 20 % higher p99 is found almost always with 10 runs a side.
TEST(MannWhitneyTest, PowerAgainstATwentyPercentShift) {
  std::uint64_t const seed = 7;
  std::mt19937_64 rng(seed);
  int constexpr trials = 1000;
  int flagged = 0;
  for (int i = 0; i < trials; ++i) {
    auto const base = runs(rng, 740, 0.10);
    auto const cand = runs(rng, 740 * 1.2, 0.10);
    flagged += flags_regression(base, cand, 0.05, 0.10) ? 1 : 0;
  }
  double const power = flagged / static_cast<double>(trials);
  std::cout << "[ measured ] p99 +20 %, 10 runs a side, " << trials << " trials (seed " << seed << "): flagged in "
            << power * 100 << " %\n";
  RecordProperty("power", std::to_string(power));
  EXPECT_GE(power, 0.85) << "seed " << seed;
}

}  // namespace
}  // namespace fallbench::compare
