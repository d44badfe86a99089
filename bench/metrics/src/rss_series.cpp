#include "fallbench/metrics/rss_series.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace fallbench::metrics {

double least_squares_slope_kb_per_min(std::vector<rss_sample> const& samples) {
  if (samples.size() < 2) return 0;
  // Centred sums: the times are seconds since the run's start and the sizes hundreds of thousands of
  // kB, so the textbook n*Sxy - Sx*Sy form would lose digits to cancellation.
  double mean_t = 0;
  double mean_kb = 0;
  for (auto const& s : samples) {
    mean_t += s.t_s;
    mean_kb += static_cast<double>(s.kb);
  }
  mean_t /= static_cast<double>(samples.size());
  mean_kb /= static_cast<double>(samples.size());
  double sxy = 0;
  double sxx = 0;
  for (auto const& s : samples) {
    double const dt = s.t_s - mean_t;
    sxy += dt * (static_cast<double>(s.kb) - mean_kb);
    sxx += dt * dt;
  }
  return sxx > 0 ? sxy / sxx * 60.0 : 0.0;
}

rss_series::rss_series(std::size_t max_samples) : max_samples_(max_samples) {
  if (max_samples < 2) throw std::invalid_argument("rss_series: max_samples must be at least 2");
  samples_.reserve(std::min<std::size_t>(max_samples, 4096));
}

void rss_series::add(double t_s, std::int64_t kb) {
  if (offered_++ % stride_ != 0) return;
  if (samples_.size() == max_samples_) {
    // Keep samples 0, 2, 4, ...: the spacing doubles and the series keeps its first sample.
    std::size_t kept = 0;
    for (std::size_t i = 0; i < samples_.size(); i += 2) samples_[kept++] = samples_[i];
    samples_.resize(kept);
    stride_ *= 2;
    offered_ = 1;  // this offer is the first of the new stride
  }
  samples_.push_back({t_s, kb});
}

std::optional<rss_summary> rss_series::summarise(double from_s, double to_s) const {
  std::vector<rss_sample> inside;
  for (auto const& s : samples_)
    if (s.t_s >= from_s && s.t_s <= to_s) inside.push_back(s);
  if (inside.size() < 2 || inside.front().kb <= 0) return std::nullopt;
  rss_summary r;
  r.from_s = from_s;
  r.to_s = to_s;
  r.samples = inside.size();
  r.start_kb = inside.front().kb;
  r.end_kb = inside.back().kb;
  r.peak_kb = std::max_element(inside.begin(), inside.end(), [](auto const& a, auto const& b) { return a.kb < b.kb; })->kb;
  r.slope_kb_per_min = least_squares_slope_kb_per_min(inside);
  r.growth = static_cast<double>(r.end_kb) / static_cast<double>(r.start_kb);
  return r;
}

nlohmann::json rss_series::to_json(double interval_s, double from_s, double to_s) const {
  nlohmann::json samples = nlohmann::json::array();
  for (auto const& s : samples_) samples.push_back({std::round(s.t_s * 1000.0) / 1000.0, s.kb});
  nlohmann::json j = {{"interval_s", interval_s * static_cast<double>(stride_)}, {"samples", std::move(samples)}};
  if (auto const r = summarise(from_s, to_s))
    j["summary"] = {{"from_s", r->from_s},       {"to_s", r->to_s},       {"samples", r->samples},
                    {"start_kb", r->start_kb},   {"end_kb", r->end_kb},   {"peak_kb", r->peak_kb},
                    {"slope_kb_per_min", r->slope_kb_per_min}, {"growth", r->growth}};
  return j;
}

}  // namespace fallbench::metrics
