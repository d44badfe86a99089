#pragma once
/// CPU time and memory of a process (docs/design.md section 6, "Cost"), read from Linux's /proc on
/// demand: the server's and the generator's, so a run can report messages per CPU-second and flag a
/// generator that ran out of CPU. Every function is safe to call from any thread; cpu_meter is not.

#include "fallbench/metrics/clock.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>

namespace fallbench::metrics {

/// One sample of a process's resource use.
struct process_usage {
  time_point at{};                       ///< When it was taken.
  std::chrono::nanoseconds user_cpu{0};  ///< CPU time in user mode since the process started.
  std::chrono::nanoseconds system_cpu{0};  ///< CPU time in the kernel on its behalf.
  std::int64_t rss_bytes = 0;            ///< Resident set size at `at` (VmRSS).
  std::int64_t peak_rss_bytes = 0;       ///< Largest resident set size so far (VmHWM).
  /// The anonymous part of the resident set (RssAnon): heap, stacks, anonymous mappings. The rest is
  /// file pages (the program's code and libraries, paged in as code paths first run: shared, and paid
  /// once however many sessions there are); 0 where the kernel does not report it.
  std::int64_t anon_rss_bytes = 0;

  std::chrono::nanoseconds cpu() const noexcept { return user_cpu + system_cpu; }
  double user_cpu_s() const noexcept { return to_seconds(user_cpu); }
  double system_cpu_s() const noexcept { return to_seconds(system_cpu); }
};

/**
 * Sample process `pid`: CPU times from /proc/<pid>/stat (utime, stime: in clock ticks, usually 10 ms)
 * and memory from /proc/<pid>/status (VmRSS, VmHWM, RssAnon).
 * @return nullopt when the process is gone or its files cannot be read or parsed.
 */
std::optional<process_usage> sample_process(pid_t pid);

/**
 * Sample this process: CPU times from getrusage(RUSAGE_SELF) (microsecond resolution), memory from
 * /proc/self/status (getrusage's ru_maxrss for the peak if that cannot be read).
 */
process_usage sample_self();

/** CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID): one worker's busy time, which tells a
 *  saturated worker thread apart from a process that still has idle cores. */
std::chrono::nanoseconds thread_cpu_time() noexcept;

/** CPU used between two samples of one process over the wall time between them, in cores (1.0: one
 *  core busy all the time; 2.0: two). 0 when no time passed. */
double cpu_utilisation(process_usage const& earlier, process_usage const& later) noexcept;

/// A process's CPU utilisation between successive calls. Not thread-safe.
class cpu_meter {
 public:
  /// Meters `pid`, or this process (with sample_self()) by default; takes the first sample now.
  explicit cpu_meter(std::optional<pid_t> pid = std::nullopt);

  /** Utilisation since the previous call (or construction), in cores; nullopt when the process is
   *  gone (the previous sample is kept). */
  std::optional<double> next();

  /// The latest successful sample; its `at` is the epoch if there never was one.
  process_usage const& last() const noexcept { return last_; }

 private:
  std::optional<process_usage> sample() const;

  std::optional<pid_t> pid_;
  process_usage last_{};
};

}  // namespace fallbench::metrics
