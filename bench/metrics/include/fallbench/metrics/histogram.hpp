#pragma once
/// A log-linear histogram of int64 values (microseconds in practice) with bounded relative error:
/// HdrHistogram's bucket scheme (docs/design.md section 6), written for fallbench.
///
/// Layout. Values are split into buckets by power of two; each bucket holds `sub_bucket_count / 2`
/// linear sub-buckets (bucket 0 holds `sub_bucket_count`), where sub_bucket_count is the smallest
/// power of two >= 2 * 10^significant_digits. A value is thus counted in a slot whose width is at most
/// value / (sub_bucket_count / 2), and reported as that slot's highest value.
///
/// Error bound. For a value v >= lowest_discernible * sub_bucket_count / 2 the reported value r
/// satisfies v <= r < v * (1 + 1 / (sub_bucket_count / 2)), and 1 / (sub_bucket_count / 2) <=
/// 10^-significant_digits; below that, values are exact to within lowest_discernible (rounded down to
/// a power of two). With lowest_discernible = 1: exact below 2048, within 0.098 % above (3 digits).
///
/// Memory. 8 bytes per slot, (bucket_count + 1) * sub_bucket_count / 2 slots, allocated once in the
/// constructor. The default configuration (1 us .. 1 h, 3 digits) has 22 buckets of 1024 slots:
/// 23,552 slots, 188,416 bytes (184 KiB). 2 digits over the same range: 3,328 slots, 26 KiB.
///
/// Threading: not thread-safe; give each worker its own and merge() them after the workers joined,
/// as wrk2 does with hdr_add.

#include <nlohmann/json_fwd.hpp>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace fallbench::metrics {

/// What a histogram can hold and how precisely. Two histograms merge only when these are equal.
struct histogram_config {
  /// The smallest value told apart from 0; values are exact to within it. At least 1.
  std::int64_t lowest_discernible = 1;
  /// Larger values are recorded as this one and counted as saturated(). 1 h in microseconds: a
  /// stalled server must show up as a large latency, not vanish.
  std::int64_t highest_trackable = 3'600'000'000;
  /// Decimal digits of precision, 1..5 (HdrHistogram's range). 3: within 0.1 %.
  int significant_digits = 3;

  friend bool operator==(histogram_config const&, histogram_config const&) = default;
};

/// A log-linear histogram (see the file comment). Owned by one worker at a time.
class histogram {
 public:
  /**
   * @throws std::invalid_argument when lowest_discernible < 1, highest_trackable < 2 *
   *         lowest_discernible, significant_digits is outside 1..5, or the range needs values
   *         beyond 2^63.
   */
  explicit histogram(histogram_config config = {});
  histogram(std::int64_t lowest_discernible, std::int64_t highest_trackable, int significant_digits = 3);

  /** Record one value. O(1), no allocation. Negative values count as 0 (and in negatives()); values
   *  over highest_trackable as highest_trackable (and in saturated()). */
  void record(std::int64_t value) noexcept { record(value, 1); }

  /** Record `count` occurrences of `value` (ignored when count <= 0). O(1), no allocation. */
  void record(std::int64_t value, std::int64_t count) noexcept {
    if (count <= 0) return;
    if (value < 0) {
      value = 0;
      negatives_ += count;
    } else if (value > config_.highest_trackable) {
      value = config_.highest_trackable;
      saturated_ += count;
    }
    counts_[slot_of(value)] += count;
    total_ += count;
    if (value < min_) min_ = value;
    if (value > max_) max_ = value;
  }

  /**
   * Add every count of `other` to this one.
   * @throws std::invalid_argument when the configurations differ (the slots would not line up).
   */
  void merge(histogram const& other);

  /** Forget every value; keeps the configuration and the memory. */
  void reset() noexcept;

  /// Values recorded (clamped ones included).
  std::int64_t count() const noexcept { return total_; }
  /// Values recorded above highest_trackable, counted at highest_trackable.
  std::int64_t saturated() const noexcept { return saturated_; }
  /// Negative values recorded, counted at 0.
  std::int64_t negatives() const noexcept { return negatives_; }
  /// The smallest and largest values recorded (after clamping), exactly; 0 when empty.
  std::int64_t min() const noexcept { return total_ == 0 ? 0 : min_; }
  std::int64_t max() const noexcept { return total_ == 0 ? 0 : max_; }
  /// Mean and standard deviation over the slots' middle values, as HdrHistogram computes them; 0 when empty.
  double mean() const noexcept;
  double stddev() const noexcept;

  /**
   * The value at percentile `p` (0..100), with HdrHistogram's semantics: the highest value of the slot
   * holding the value of rank max(1, round(p / 100 * count())) in sorted order, capped at max().
   * p <= 0 gives min(), p >= 100 gives max(), an empty histogram gives 0. O(slots).
   */
  std::int64_t value_at_percentile(double p) const noexcept;

  /// The configuration, and the scheme derived from it.
  histogram_config const& config() const noexcept { return config_; }
  std::size_t slot_count() const noexcept { return counts_.size(); }
  int bucket_count() const noexcept { return bucket_count_; }
  std::int64_t sub_bucket_count() const noexcept { return std::int64_t{1} << sub_bucket_magnitude_; }
  /// The bound of the file comment: 1 / (sub_bucket_count / 2).
  double max_relative_error() const noexcept { return 1.0 / static_cast<double>(std::int64_t{1} << half_magnitude_); }
  /// Bytes held by the slots.
  std::size_t memory_bytes() const noexcept { return counts_.size() * sizeof(std::int64_t); }

  /// The lowest and highest value counted in the same slot as `value` (0 <= value <= highest_trackable).
  std::int64_t lowest_equivalent(std::int64_t value) const noexcept { return slot_lowest(slot_of(value)); }
  std::int64_t highest_equivalent(std::int64_t value) const noexcept { return slot_highest(slot_of(value)); }

  /**
   * Everything, compactly, to carry in results and merge across runs:
   * {"version":1, "lowest_discernible", "highest_trackable", "significant_digits", "count", "min",
   *  "max", "saturated", "negatives", "slots":[[slot index, count], ...]} (non-zero slots only).
   */
  nlohmann::json to_json() const;

  /**
   * The inverse of to_json().
   * @throws std::invalid_argument when a field is missing or of the wrong type, the configuration is
   *         invalid, a slot is out of range or repeated, or the counts, min or max disagree.
   */
  static histogram from_json(nlohmann::json const& j);

  /** {count, min_us, max_us, mean_us, stddev_us, p50_us, p90_us, p99_us, p99_9_us, p99_99_us}. */
  nlohmann::json summary_json() const;

  /**
   * wrk2's "Detailed Percentile spectrum" (wrk2 src/hdr_histogram.c, percentile iterator) as
   * [[percentile, value_us], ...]: starting at 0, each halving of the distance to 100 gets
   * `ticks_per_half_distance` evenly spaced ticks (wrk2 prints 5: 0, 10, ... 50, 55, ... 75, 77.5,
   * ...; 1 gives 0, 50, 75, 87.5, ...). Ticks stop at the first one that reaches the slot of the
   * largest value, then [100, max] closes the list. Values as value_at_percentile(). Empty: [].
   */
  nlohmann::json spectrum_json(int ticks_per_half_distance = 5) const;

 private:
  std::size_t slot_of(std::int64_t value) const noexcept {
    auto const v = static_cast<std::uint64_t>(value);
    int const bucket = static_cast<int>(std::bit_width(v | sub_bucket_mask_)) - unit_magnitude_ - sub_bucket_magnitude_;
    auto const sub = v >> (bucket + unit_magnitude_);
    return (static_cast<std::size_t>(bucket + 1) << half_magnitude_) + static_cast<std::size_t>(sub) -
           (std::size_t{1} << half_magnitude_);
  }
  std::int64_t slot_lowest(std::size_t slot) const noexcept;
  std::int64_t slot_highest(std::size_t slot) const noexcept;
  std::int64_t slot_middle(std::size_t slot) const noexcept;
  std::int64_t rank_of(double p) const noexcept;

  histogram_config config_;
  int unit_magnitude_ = 0;        ///< log2 of lowest_discernible, rounded down.
  int sub_bucket_magnitude_ = 0;  ///< log2 of sub_bucket_count.
  int half_magnitude_ = 0;        ///< sub_bucket_magnitude_ - 1.
  int bucket_count_ = 0;
  std::uint64_t sub_bucket_mask_ = 0;  ///< (sub_bucket_count - 1) << unit_magnitude_.
  std::vector<std::int64_t> counts_;
  std::int64_t total_ = 0;
  std::int64_t saturated_ = 0;
  std::int64_t negatives_ = 0;
  std::int64_t min_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_ = 0;
};

}  // namespace fallbench::metrics
