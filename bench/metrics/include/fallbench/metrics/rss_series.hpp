#pragma once
/// A process's resident set size over a run, one sample a second, and whether it stays flat: the
/// soak's question (docs/soak.md). Samples are bounded: past `max_samples` every other one is dropped
/// and the spacing doubles, so a run of any length keeps a series of the same shape. Not thread-safe.

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace fallbench::metrics {

/// One sample: seconds since the run's start, resident set size in kB (VmRSS).
struct rss_sample {
  double t_s = 0;
  std::int64_t kb = 0;
};

/// The series over one stretch of the run (the measure phase: after the connect ramp and the warm-up).
struct rss_summary {
  double from_s = 0;  ///< The stretch summarised, seconds since the run's start.
  double to_s = 0;
  std::size_t samples = 0;  ///< Samples inside it.
  std::int64_t start_kb = 0;  ///< Its first sample.
  std::int64_t end_kb = 0;    ///< Its last sample.
  std::int64_t peak_kb = 0;   ///< Its largest sample.
  double slope_kb_per_min = 0;  ///< Least-squares slope of kB over time.
  double growth = 0;            ///< end_kb / start_kb.
};

/// The least-squares slope of kB over seconds, per minute; 0 with fewer than two distinct times.
double least_squares_slope_kb_per_min(std::vector<rss_sample> const& samples);

class rss_series {
 public:
  /// A day of one-second samples.
  static constexpr std::size_t default_max_samples = 86'400;

  /// @throws std::invalid_argument when max_samples is below 2.
  explicit rss_series(std::size_t max_samples = default_max_samples);

  /// Offer one sample (in time order). Every `stride()`-th offer is kept; when the series is full, every
  /// other kept sample is dropped and the stride doubles.
  void add(double t_s, std::int64_t kb);

  std::vector<rss_sample> const& samples() const noexcept { return samples_; }
  /// Offers per kept sample: 1 until the series first filled up.
  std::size_t stride() const noexcept { return stride_; }

  /// The samples with `from_s <= t_s <= to_s`, summarised; nullopt when fewer than two are inside or
  /// the first is 0 kB (a process that could not be read).
  std::optional<rss_summary> summarise(double from_s, double to_s) const;

  /// `{interval_s, samples: [[t_s, kB], ...], summary?}` (reports/schema/result.schema.json, `runs[].rss`);
  /// `interval_s` is the sampling interval times the stride.
  nlohmann::json to_json(double interval_s, double from_s, double to_s) const;

 private:
  std::size_t max_samples_;
  std::size_t stride_ = 1;
  std::size_t offered_ = 0;
  std::vector<rss_sample> samples_;
};

}  // namespace fallbench::metrics
