#pragma once
/// The phases of one case (docs/design.md section 6): its fixed instants, from the connect ramp to
/// the end of the drain, and the fault windows a fault schedule cuts it into. Internal to bench/load.

#include "fallbench/bench/driver.hpp"
#include "fallbench/bench/scenario.hpp"
#include "fallbench/metrics/clock.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fallbench::bench {

/// The run's fixed instants, shared read-only by every worker.
struct schedule {
  metrics::time_point t0;             ///< run start: the epoch of every timestamp in messages
  metrics::time_point traffic_start;  ///< end of the connect ramp
  metrics::time_point measure_start;  ///< end of warm-up
  metrics::time_point measure_end;    ///< sends stop
  metrics::time_point drain_end;      ///< clients leave and close
  std::vector<metrics::time_point> window_starts;  ///< fault windows, increasing; empty without faults

  /// The fault window holding `t` (times before the first belong to it).
  std::size_t window_of(metrics::time_point t) const {
    auto const k = std::upper_bound(window_starts.begin(), window_starts.end(), t) - window_starts.begin();
    return static_cast<std::size_t>(std::max<std::ptrdiff_t>(k - 1, 0));
  }
  std::int64_t ns(metrics::time_point t) const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t - t0).count();
  }
  metrics::time_point at(std::int64_t ns_since_t0) const { return t0 + std::chrono::nanoseconds{ns_since_t0}; }
  /// Seconds from the run's start to `t`: the time axis of the server's RSS samples.
  double seconds(metrics::time_point t) const { return std::chrono::duration<double>(t - t0).count(); }
  /// Whether a chat intended at `intended` counts: only the measure phase's do.
  bool measured(metrics::time_point intended) const { return intended >= measure_start && intended < measure_end; }
};

/// The phases of a run of `timing` starting at `t0`, cut by `fault_windows` (empty: one window, none).
schedule make_schedule(phases const& timing, metrics::time_point t0, std::vector<fault_window> const& fault_windows);

/// When client `index` of `clients` connects: the connect ramp spreads them evenly from t0.
metrics::time_point connect_time(schedule const& sched, phases const& timing, std::size_t index, int clients);

}  // namespace fallbench::bench
