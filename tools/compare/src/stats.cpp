#include "fallbench/compare/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace fallbench::compare {

namespace {

/// P(U = u) for u = 0 .. n_a n_b under the null hypothesis, no ties: the recurrence
/// p(m, n, u) = m / (m + n) p(m - 1, n, u - n) + n / (m + n) p(m, n - 1, u)
/// (the largest value belongs to the first sample, adding n to U, or to the second), built up
/// row by row in probabilities so nothing overflows.
std::vector<double> null_distribution(std::size_t n_a, std::size_t n_b) {
  // table[m][n] is the distribution for sizes (m, n); only rows m - 1 and m are kept.
  std::vector<std::vector<double>> previous(n_b + 1), current(n_b + 1);
  for (std::size_t n = 0; n <= n_b; ++n) previous[n] = {1.0};  // m = 0: U is always 0
  for (std::size_t m = 1; m <= n_a; ++m) {
    current[0] = {1.0};  // n = 0: U is always 0
    for (std::size_t n = 1; n <= n_b; ++n) {
      std::vector<double> dist(m * n + 1, 0.0);
      double const w_a = static_cast<double>(m) / static_cast<double>(m + n);
      double const w_b = static_cast<double>(n) / static_cast<double>(m + n);
      auto const& from_a = previous[n];     // sizes (m - 1, n): U shifted by n
      auto const& from_b = current[n - 1];  // sizes (m, n - 1)
      for (std::size_t u = 0; u < from_a.size(); ++u) dist[u + n] += w_a * from_a[u];
      for (std::size_t u = 0; u < from_b.size(); ++u) dist[u] += w_b * from_b[u];
      current[n] = std::move(dist);
    }
    std::swap(previous, current);
  }
  return previous[n_b];
}

}  // namespace

u_test mann_whitney_u(std::span<double const> a, std::span<double const> b, u_method method) {
  u_test result;
  std::size_t const n_a = a.size();
  std::size_t const n_b = b.size();
  if (n_a == 0 || n_b == 0) return result;

  // Ranks of the pooled sample, ties sharing their average rank.
  struct item {
    double value;
    bool from_a;
  };
  std::vector<item> pooled;
  pooled.reserve(n_a + n_b);
  for (double v : a) pooled.push_back({v, true});
  for (double v : b) pooled.push_back({v, false});
  std::sort(pooled.begin(), pooled.end(), [](item const& x, item const& y) { return x.value < y.value; });
  double rank_sum_a = 0;
  double tie_term = 0;  // sum over tie groups of t^3 - t
  bool ties = false;
  for (std::size_t i = 0; i < pooled.size();) {
    std::size_t j = i;
    while (j < pooled.size() && pooled[j].value == pooled[i].value) ++j;
    double const t = static_cast<double>(j - i);
    double const average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k)
      if (pooled[k].from_a) rank_sum_a += average_rank;
    if (j - i > 1) {
      ties = true;
      tie_term += t * t * t - t;
    }
    i = j;
  }
  double const na = static_cast<double>(n_a);
  double const nb = static_cast<double>(n_b);
  result.u_a = rank_sum_a - na * (na + 1) / 2.0;
  result.u_b = na * nb - result.u_a;

  if (method == u_method::automatic && !ties && n_a <= exact_limit && n_b <= exact_limit) {
    auto const dist = null_distribution(n_a, n_b);
    // U is an integer without ties; the distribution is symmetric, so twice the lower tail.
    auto const lower = static_cast<std::size_t>(std::llround(std::min(result.u_a, result.u_b)));
    double tail = 0;
    for (std::size_t u = 0; u <= lower && u < dist.size(); ++u) tail += dist[u];
    result.p_value = std::min(1.0, 2.0 * tail);
    result.exact = true;
    return result;
  }

  double const n = na + nb;
  double const variance = na * nb / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
  if (variance <= 0) return result;  // every value tied: no evidence of any difference
  double const z = std::max(0.0, std::abs(result.u_a - na * nb / 2.0) - 0.5) / std::sqrt(variance);
  result.p_value = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return result;
}

double smallest_p_value(std::size_t n_a, std::size_t n_b) {
  if (n_a == 0 || n_b == 0) return 1.0;
  // 1 / C(n_a + n_b, n_a), computed as a product of ratios.
  double inverse = 1.0;
  std::size_t const k = std::min(n_a, n_b);
  std::size_t const total = n_a + n_b;
  for (std::size_t i = 1; i <= k; ++i)
    inverse *= static_cast<double>(i) / static_cast<double>(total - k + i);
  return std::min(1.0, 2.0 * inverse);
}

double median(std::span<double const> values) {
  if (values.empty()) return 0;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  std::size_t const mid = sorted.size() / 2;
  return sorted.size() % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0;
}

}  // namespace fallbench::compare
