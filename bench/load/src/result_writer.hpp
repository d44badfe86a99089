#pragma once
/// The one writer of a run's section of the result document (reports/schema/result.schema.json,
/// `runs[]`): it turns what a case measured, merged over its workers, into JSON. It decides nothing
/// (validity.hpp does) and measures nothing (sim_clients.hpp and the driver do). Internal to bench/load.

#include "case_metrics.hpp"
#include "schedule.hpp"
#include "validity.hpp"

#include "fallbench/bench/driver.hpp"
#include "fallbench/bench/scenario.hpp"
#include "fallbench/metrics/delivery_ledger.hpp"
#include "fallbench/metrics/histogram.hpp"
#include "fallbench/metrics/interval_series.hpp"
#include "fallbench/metrics/process_usage.hpp"
#include "fallbench/metrics/rss_series.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

namespace fallbench::bench {

/// CPU and memory samples taken at the run's phase boundaries (from /proc).
struct cost_samples {
  metrics::process_usage self_before;      ///< the generator before its clients start
  metrics::process_usage self_at_measure;  ///< the generator at the start of the measure phase
  metrics::process_usage self_at_end;      ///< the generator at the end of the measure phase
  bool server_measured = false;            ///< the server is a process of ours (server_process::pid)
  metrics::process_usage server_baseline;  ///< the server before the clients start
  /// The primer's sessions that connected before the baseline (phases.prime); none when not primed.
  std::size_t primed_sessions = 0;
  metrics::process_usage server_at_measure;
  metrics::process_usage server_at_end;
};

/// The generator's CPU seconds over the measure phase.
double generator_cpu_s(cost_samples const& cost);

/// The generator's CPU per thread over the measure phase, as generator_spec::max_cpu_utilisation bounds it.
double generator_utilisation(cost_samples const& cost, generator_spec const& g, phases const& timing);

/// What one case measured, merged over its workers: the writer's input besides the scenario and case.
struct case_measurements {
  /// The per-second series starts with the measure phase; one slot per fault window.
  explicit case_measurements(schedule const& sched)
      : series(sched.measure_start, std::chrono::seconds{1}), windows(sched.window_starts.size()) {}

  std::array<strategy_metrics, strategy_count> by_strategy;
  strategy_metrics total;  ///< by_strategy summed
  metrics::interval_series series;
  metrics::histogram send_lag;
  std::uint64_t late_sends = 0;
  nlohmann::json timelines = nlohmann::json::array();
  std::vector<std::array<window_metrics, strategy_count>> windows;  ///< [fault window][strategy]
  metrics::delivery_report delivery;
  /// The ledger's counts per strategy of the receiver.
  std::array<metrics::delivery_counts, strategy_count> delivery_by_strategy{};
  cost_samples cost;
  metrics::rss_series server_rss;  ///< the server's resident set once a second, t in seconds from t0
};

/// A histogram as the result document gives one: its summary, spectrum and the HDR encoding.
nlohmann::json histogram_json(metrics::histogram const& h);

/// The run's figures per fault window (`runs[].fault_windows`); `plan` is the run's fault timeline.
nlohmann::json fault_windows_json(std::vector<fault_window> const& plan,
                                  std::vector<std::array<window_metrics, strategy_count>> const& windows,
                                  metrics::delivery_report const& delivery, schedule const& sched);

/**
 * The run's section of the result document: its configuration, counts, throughput, latencies per
 * strategy, fault windows, delivery verdict, timelines, cost, the generator's health and `verdict`'s
 * validity. The caller adds what it knows of the target (name, settings, fault, exit status).
 */
nlohmann::json write_run(scenario const& s, case_spec const& c, schedule const& sched,
                         std::vector<fault_window> const& plan, case_measurements const& m, validity const& verdict);

}  // namespace fallbench::bench
