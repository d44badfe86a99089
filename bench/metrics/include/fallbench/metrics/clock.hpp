#pragma once
/// The one clock of the project (docs/conventions.md section 2): the driver, the recorders and the delivery
/// ledger all read std::chrono::steady_clock through these names, so their times compare.
/// Header only, no state; every function is safe to call from any thread.

#include <chrono>
#include <cstdint>

namespace fallbench::metrics {

/// Monotonic, never adjusted by NTP: intervals and latencies only. Not a wall clock.
using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using duration = clock::duration;

static_assert(clock::is_steady, "latencies need a monotonic clock");

/** Now, on the project's clock. */
inline time_point now() noexcept { return clock::now(); }

/** Whole nanoseconds of `d`. */
constexpr std::int64_t to_ns(duration d) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

/** Whole microseconds of `d`, truncated toward zero: the unit histograms record latencies in. */
constexpr std::int64_t to_us(duration d) noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

/** Seconds of `d`, fractional: for reports and rates. */
constexpr double to_seconds(duration d) noexcept { return std::chrono::duration<double>(d).count(); }

/** A time point as nanoseconds since the clock's epoch (an arbitrary instant, boot on Linux). */
constexpr std::int64_t to_ns(time_point t) noexcept { return to_ns(t.time_since_epoch()); }

/** The inverse of to_ns(time_point). */
constexpr time_point from_ns(std::int64_t ns) noexcept {
  return time_point{std::chrono::duration_cast<duration>(std::chrono::nanoseconds{ns})};
}

/** Microseconds from `start` to `end` (negative when `end` is earlier): a latency for a histogram. */
constexpr std::int64_t us_between(time_point start, time_point end) noexcept { return to_us(end - start); }

}  // namespace fallbench::metrics
