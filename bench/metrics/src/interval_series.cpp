#include "fallbench/metrics/interval_series.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace fallbench::metrics {

interval_series::interval_series(time_point start, duration interval, histogram_config config,
                                 std::size_t max_intervals)
    : start_(start), interval_(interval), config_(config), max_intervals_(max_intervals), empty_(config) {
  if (interval_ <= duration::zero()) throw std::invalid_argument("interval_series: the interval must be positive");
}

histogram& interval_series::slot(std::size_t i) {
  if (i >= intervals_.size()) intervals_.resize(i + 1);
  auto& h = intervals_[i];
  if (!h) h = std::make_unique<histogram>(config_);
  return *h;
}

void interval_series::record(time_point t, std::int64_t value) {
  if (t < start_) {
    ++dropped_;
    return;
  }
  auto const i = static_cast<std::size_t>((t - start_) / interval_);
  if (i >= max_intervals_) {
    ++dropped_;
    return;
  }
  slot(i).record(value);
}

void interval_series::merge(interval_series const& other) {
  if (other.start_ != start_ || other.interval_ != interval_ || other.config_ != config_) {
    throw std::invalid_argument("interval_series::merge: the series differ in start, interval or histogram configuration");
  }
  for (std::size_t i = 0; i < other.intervals_.size(); ++i) {
    if (other.intervals_[i]) slot(i).merge(*other.intervals_[i]);
  }
  dropped_ += other.dropped_;
}

histogram const& interval_series::at(std::size_t i) const {
  auto const& h = intervals_.at(i);
  return h ? *h : empty_;
}

nlohmann::json interval_series::to_json() const {
  auto out = nlohmann::json::array();
  for (std::size_t i = 0; i < intervals_.size(); ++i) {
    histogram const& h = at(i);
    out.push_back({
        {"t_start_s", to_seconds(interval_start(i) - start_)},
        {"count", h.count()},
        {"p50_us", h.value_at_percentile(50.0)},
        {"p99_us", h.value_at_percentile(99.0)},
        {"max_us", h.max()},
    });
  }
  return out;
}

}  // namespace fallbench::metrics
