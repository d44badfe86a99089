#pragma once
/// The statistics of `fallbench compare`: the Mann-Whitney U test and medians. Pure functions on
/// plain numbers, no JSON, so they are tested on known values and on seeded synthetic trials.

#include <cstddef>
#include <span>

namespace fallbench::compare {

/// The outcome of a two-sided Mann-Whitney U test of sample a against sample b.
struct u_test {
  double u_a = 0;        ///< U of sample a: how many (a_i, b_j) pairs have a_i > b_j, ties counting 1/2.
  double u_b = 0;        ///< n_a * n_b - u_a.
  double p_value = 1.0;  ///< Two-sided; 1 when either sample is empty or every value is tied.
  bool exact = false;    ///< From the exact null distribution (no ties, both samples small), not the normal one.
};

/// Both samples at most this large, and no ties: the p-value is exact (the null distribution of U by
/// recurrence); otherwise the normal approximation with tie and continuity corrections.
inline constexpr std::size_t exact_limit = 25;

/**
 * Two-sided Mann-Whitney U test (Wilcoxon rank-sum) of `a` against `b`: is a value drawn from one
 * sample as likely to be above as below a value drawn from the other?
 *
 * Exact when there are no ties and both samples have at most `exact_limit` values: p = min(1, 2 P(U <=
 * min(u_a, u_b))) under the null distribution. Otherwise z = (|u_a - n_a n_b / 2| - 1/2) / sigma with
 * the tie-corrected sigma^2 = n_a n_b / 12 ((N + 1) - sum(t^3 - t) / (N (N - 1))), as scipy's
 * `mannwhitneyu(method="asymptotic")` does.
 */
enum class u_method {
  automatic,   ///< exact when it can be (see above), else the normal approximation
  asymptotic,  ///< always the normal approximation (for tests against published values)
};
u_test mann_whitney_u(std::span<double const> a, std::span<double const> b, u_method method = u_method::automatic);

/// The smallest two-sided p-value the exact test can give for these sizes (2 / C(n_a + n_b, n_a)):
/// above alpha, no difference can ever be significant. 1 when either size is 0.
double smallest_p_value(std::size_t n_a, std::size_t n_b);

/// The median (mean of the middle two for an even count); 0 for an empty sample.
double median(std::span<double const> values);

}  // namespace fallbench::compare
