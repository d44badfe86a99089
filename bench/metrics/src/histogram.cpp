#include "fallbench/metrics/histogram.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace fallbench::metrics {
namespace {

std::string describe(histogram_config const& c) {
  return "lowest_discernible " + std::to_string(c.lowest_discernible) + ", highest_trackable " +
         std::to_string(c.highest_trackable) + ", " + std::to_string(c.significant_digits) + " significant digits";
}

[[noreturn]] void invalid(std::string const& what) { throw std::invalid_argument("histogram: " + what); }

}  // namespace

histogram::histogram(std::int64_t lowest_discernible, std::int64_t highest_trackable, int significant_digits)
    : histogram(histogram_config{lowest_discernible, highest_trackable, significant_digits}) {}

histogram::histogram(histogram_config config) : config_(config) {
  if (config_.lowest_discernible < 1) invalid("lowest_discernible must be at least 1 (" + describe(config_) + ")");
  if (config_.significant_digits < 1 || config_.significant_digits > 5) {
    invalid("significant_digits must be 1..5 (" + describe(config_) + ")");
  }
  if (config_.highest_trackable / 2 < config_.lowest_discernible) {
    invalid("highest_trackable must be at least twice lowest_discernible (" + describe(config_) + ")");
  }

  std::uint64_t resolution = 2;  // 2 * 10^digits: the largest value a bucket must hold at unit resolution
  for (int i = 0; i < config_.significant_digits; ++i) resolution *= 10;
  sub_bucket_magnitude_ = static_cast<int>(std::bit_width(resolution - 1));  // ceil(log2(resolution))
  half_magnitude_ = sub_bucket_magnitude_ - 1;
  unit_magnitude_ = static_cast<int>(std::bit_width(static_cast<std::uint64_t>(config_.lowest_discernible))) - 1;
  sub_bucket_mask_ = ((std::uint64_t{1} << sub_bucket_magnitude_) - 1) << unit_magnitude_;

  // Buckets until the top of the last one, (sub_bucket_count << (unit + buckets - 1)) - 1, reaches
  // highest_trackable; the top must stay below 2^63.
  bucket_count_ = 1;
  auto const highest = static_cast<std::uint64_t>(config_.highest_trackable);
  while (true) {
    int const shift = sub_bucket_magnitude_ + unit_magnitude_ + bucket_count_ - 1;
    if (shift > 62) invalid("the range needs values beyond 2^63 (" + describe(config_) + ")");
    if ((std::uint64_t{1} << shift) - 1 >= highest) break;
    ++bucket_count_;
  }
  counts_.assign(static_cast<std::size_t>(bucket_count_ + 1) << half_magnitude_, 0);
}

void histogram::merge(histogram const& other) {
  if (other.config_ != config_) {
    throw std::invalid_argument("histogram::merge: configurations differ (" + describe(config_) + " vs " +
                                describe(other.config_) + ")");
  }
  if (other.total_ == 0) return;
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  saturated_ += other.saturated_;
  negatives_ += other.negatives_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = saturated_ = negatives_ = 0;
  min_ = std::numeric_limits<std::int64_t>::max();
  max_ = 0;
}

std::int64_t histogram::slot_lowest(std::size_t slot) const noexcept {
  auto const half = std::size_t{1} << half_magnitude_;
  int bucket = static_cast<int>(slot >> half_magnitude_) - 1;
  auto sub = static_cast<std::int64_t>((slot & (half - 1)) + half);
  if (bucket < 0) {
    bucket = 0;
    sub -= static_cast<std::int64_t>(half);
  }
  return sub << (bucket + unit_magnitude_);
}

std::int64_t histogram::slot_highest(std::size_t slot) const noexcept {
  int const bucket = std::max(static_cast<int>(slot >> half_magnitude_) - 1, 0);
  return slot_lowest(slot) + (std::int64_t{1} << (bucket + unit_magnitude_)) - 1;
}

std::int64_t histogram::slot_middle(std::size_t slot) const noexcept {
  int const bucket = std::max(static_cast<int>(slot >> half_magnitude_) - 1, 0);
  return slot_lowest(slot) + ((std::int64_t{1} << (bucket + unit_magnitude_)) >> 1);
}

double histogram::mean() const noexcept {
  if (total_ == 0) return 0.0;
  double sum = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) sum += static_cast<double>(slot_middle(i)) * static_cast<double>(counts_[i]);
  }
  return sum / static_cast<double>(total_);
}

double histogram::stddev() const noexcept {
  if (total_ == 0) return 0.0;
  double const m = mean();
  double sum = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    double const d = static_cast<double>(slot_middle(i)) - m;
    sum += d * d * static_cast<double>(counts_[i]);
  }
  return std::sqrt(sum / static_cast<double>(total_));
}

std::int64_t histogram::rank_of(double p) const noexcept {
  // HdrHistogram's rounding: the value of rank round(p% of count), at least the first.
  auto const rank = static_cast<std::int64_t>(p / 100.0 * static_cast<double>(total_) + 0.5);
  return std::clamp<std::int64_t>(rank, 1, total_);
}

std::int64_t histogram::value_at_percentile(double p) const noexcept {
  if (total_ == 0) return 0;
  if (!(p > 0.0)) return min_;  // also NaN
  if (p >= 100.0) return max_;
  std::int64_t const rank = rank_of(p);
  std::int64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(slot_highest(i), max_);
  }
  return max_;
}

nlohmann::json histogram::to_json() const {
  auto slots = nlohmann::json::array();
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) slots.push_back({i, counts_[i]});
  }
  return {
      {"version", 1},
      {"lowest_discernible", config_.lowest_discernible},
      {"highest_trackable", config_.highest_trackable},
      {"significant_digits", config_.significant_digits},
      {"count", total_},
      {"min", min()},
      {"max", max()},
      {"saturated", saturated_},
      {"negatives", negatives_},
      {"slots", std::move(slots)},
  };
}

histogram histogram::from_json(nlohmann::json const& j) {
  try {
    if (j.at("version").get<int>() != 1) invalid("from_json: unknown version " + j.at("version").dump());
    histogram h(histogram_config{j.at("lowest_discernible").get<std::int64_t>(),
                                 j.at("highest_trackable").get<std::int64_t>(),
                                 j.at("significant_digits").get<int>()});
    auto const& slots = j.at("slots");
    if (!slots.is_array()) invalid("from_json: slots is not an array");
    std::int64_t previous = -1;
    std::int64_t total = 0;
    for (auto const& s : slots) {
      if (!s.is_array() || s.size() != 2) invalid("from_json: a slot is not [index, count]");
      auto const index = s[0].get<std::int64_t>();
      auto const n = s[1].get<std::int64_t>();
      if (index <= previous || index >= static_cast<std::int64_t>(h.counts_.size())) {
        invalid("from_json: slot index " + std::to_string(index) + " out of order or out of range");
      }
      if (n <= 0 || n > std::numeric_limits<std::int64_t>::max() - total) {
        invalid("from_json: slot " + std::to_string(index) + " has count " + std::to_string(n));
      }
      h.counts_[static_cast<std::size_t>(index)] = n;
      total += n;
      previous = index;
    }
    h.total_ = j.at("count").get<std::int64_t>();
    if (h.total_ != total) {
      invalid("from_json: count " + std::to_string(h.total_) + " but the slots hold " + std::to_string(total));
    }
    h.saturated_ = j.at("saturated").get<std::int64_t>();
    h.negatives_ = j.at("negatives").get<std::int64_t>();
    if (h.saturated_ < 0 || h.negatives_ < 0 || h.saturated_ > total || h.negatives_ > total) {
      invalid("from_json: saturated or negatives out of range");
    }
    if (total > 0) {
      h.min_ = j.at("min").get<std::int64_t>();
      h.max_ = j.at("max").get<std::int64_t>();
      auto const first = static_cast<std::size_t>(slots.front()[0].get<std::int64_t>());
      auto const last = static_cast<std::size_t>(previous);
      if (h.min_ < 0 || h.max_ > h.config_.highest_trackable || h.min_ > h.max_ || h.slot_of(h.min_) != first ||
          h.slot_of(h.max_) != last) {
        invalid("from_json: min or max does not fall in the first or last slot");
      }
    }
    return h;
  } catch (nlohmann::json::exception const& e) {
    invalid(std::string("from_json: ") + e.what());
  }
}

nlohmann::json histogram::summary_json() const {
  return {
      {"count", total_},
      {"min_us", min()},
      {"max_us", max()},
      {"mean_us", mean()},
      {"stddev_us", stddev()},
      {"p50_us", value_at_percentile(50.0)},
      {"p90_us", value_at_percentile(90.0)},
      {"p99_us", value_at_percentile(99.0)},
      {"p99_9_us", value_at_percentile(99.9)},
      {"p99_99_us", value_at_percentile(99.99)},
  };
}

nlohmann::json histogram::spectrum_json(int ticks_per_half_distance) const {
  auto out = nlohmann::json::array();
  if (total_ == 0) return out;
  int const ticks = std::max(ticks_per_half_distance, 1);

  // One pass over the slots: the ticks rise, so the slot holding each tick's rank only moves up.
  std::size_t slot = 0;
  std::int64_t seen = counts_[0];
  auto value_of_rank = [&](std::int64_t rank) {
    while (seen < rank) seen += counts_[++slot];
    return std::min(slot_highest(slot), max_);
  };

  // Halving k covers [100 (1 - 2^-k), 100 (1 - 2^-(k+1))) with `ticks` evenly spaced ticks, as wrk2's
  // iterator does; each tick is computed from k and j rather than accumulated, so 87.5 stays 87.5.
  bool done = false;
  for (int k = 0; k < 64 && !done; ++k) {
    double const start = 100.0 - std::ldexp(100.0, -k);
    double const step = std::ldexp(100.0, -(k + 1)) / ticks;
    for (int j = 0; j < ticks && !done; ++j) {
      double const p = start + step * j;
      if (p >= 100.0) {
        done = true;
        break;
      }
      std::int64_t const v = value_of_rank(rank_of(p));
      out.push_back({p, p == 0.0 ? min_ : v});
      done = seen == total_;  // the tick reached the slot of the largest value
    }
  }
  out.push_back({100.0, max_});
  return out;
}

}  // namespace fallbench::metrics
