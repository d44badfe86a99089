#pragma once
/// Histograms per fixed interval from a start time, for over-time charts (throughput and p99 per
/// second). One per worker, merged after the workers joined; not thread-safe.

#include "fallbench/metrics/clock.hpp"
#include "fallbench/metrics/histogram.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace fallbench::metrics {

/// A histogram per interval [start + i * interval, start + (i + 1) * interval).
class interval_series {
 public:
  /// 2 significant digits (1 %) suffices for a chart and keeps an interval at 26 KiB instead of 184.
  static constexpr histogram_config default_config{1, 3'600'000'000, 2};
  /// A day of 1 s intervals. Intervals are allocated when first recorded into, so the bound only
  /// caps what a wrong timestamp could allocate.
  static constexpr std::size_t default_max_intervals = 86'400;

  /**
   * @param interval  at least 1 ns.
   * @throws std::invalid_argument on a non-positive interval or an invalid histogram configuration.
   */
  explicit interval_series(time_point start, duration interval = std::chrono::seconds{1},
                           histogram_config config = default_config,
                           std::size_t max_intervals = default_max_intervals);

  /**
   * Record `value` (microseconds) in the interval holding `t`. O(1); allocates the interval's
   * histogram the first time it is used. Times before the start or past max_intervals are counted in
   * dropped() and not recorded.
   */
  void record(time_point t, std::int64_t value);

  /**
   * Add `other`'s intervals to this one's.
   * @throws std::invalid_argument when the start, interval or histogram configuration differ.
   */
  void merge(interval_series const& other);

  /// Intervals from the first to the last one recorded into (those between may be empty).
  std::size_t size() const noexcept { return intervals_.size(); }
  /// The histogram of interval `i` (< size()); an empty one when nothing fell in it.
  histogram const& at(std::size_t i) const;
  /// The start of interval `i`.
  time_point interval_start(std::size_t i) const noexcept {
    return start_ + interval_ * static_cast<duration::rep>(i);
  }
  time_point start() const noexcept { return start_; }
  duration interval() const noexcept { return interval_; }
  /// Records that fell outside [start, start + max_intervals * interval).
  std::uint64_t dropped() const noexcept { return dropped_; }

  /** [{t_start_s, count, p50_us, p99_us, max_us}, ...], one per interval up to the last recorded;
   *  t_start_s is seconds from start(). */
  nlohmann::json to_json() const;

 private:
  histogram& slot(std::size_t i);

  time_point start_;
  duration interval_;
  histogram_config config_;
  std::size_t max_intervals_;
  std::vector<std::unique_ptr<histogram>> intervals_;  ///< Null until recorded into.
  histogram empty_;
  std::uint64_t dropped_ = 0;
};

}  // namespace fallbench::metrics
