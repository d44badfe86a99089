#include "schedule.hpp"

namespace fallbench::bench {

schedule make_schedule(phases const& timing, metrics::time_point t0, std::vector<fault_window> const& fault_windows) {
  schedule sched;
  sched.t0 = t0;
  sched.traffic_start = sched.t0 + timing.connect_ramp;
  sched.measure_start = sched.traffic_start + timing.warmup;
  sched.measure_end = sched.measure_start + timing.measure;
  sched.drain_end = sched.measure_end + timing.drain;
  // A fault schedule shares the run's origin (run_options::start), so its offsets count from t0.
  for (auto const& w : fault_windows) sched.window_starts.push_back(sched.t0 + w.from);
  return sched;
}

metrics::time_point connect_time(schedule const& sched, phases const& timing, std::size_t index, int clients) {
  // Whole milliseconds, as the ramp is given: client i of n connects i/n of the way through it.
  return sched.t0 + timing.connect_ramp * static_cast<std::int64_t>(index) / clients;
}

}  // namespace fallbench::bench
