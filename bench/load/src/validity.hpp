#pragma once
/// The validity rules of a run (docs/design.md section 6): a run whose generator fell behind or
/// saturated, or which failed too often, or which measured nothing, is not a result, and says why.
/// Internal to bench/load; the unit tests call it directly.

#include "fallbench/chatproto/mapping.hpp"
#include "fallbench/metrics/clock.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fallbench::bench {

/// What the rules look at, taken from a finished run's merged figures and its scenario.
struct validity_inputs {
  // The generator's health.
  std::int64_t send_lag_p99_us = 0;           ///< p99 of how late sends went out after their intended time
  std::chrono::milliseconds max_lag{100};     ///< generator_spec::max_lag
  double generator_utilisation = 0;           ///< CPU per thread (or pinned CPU) over the measure phase
  double max_cpu_utilisation = 0.9;           ///< generator_spec::max_cpu_utilisation
  // Failures: under an injected fault they are the measurement, so only the generator's health counts.
  bool fault_injected = false;                ///< the case has a fault or a fault schedule
  double error_budget = 0.01;                 ///< generator_spec::error_budget
  std::uint64_t clients = 0;
  std::uint64_t clients_connected = 0;
  std::uint64_t chats_sent = 0;
  std::uint64_t acks_failed = 0;
  std::uint64_t acks_rejected = 0;
  std::map<std::string, std::uint64_t> errors;  ///< by name, as the result's `errors`
  // What a run that measured nothing waited for.
  std::uint64_t joins_sent = 0;
  std::uint64_t joins_confirmed = 0;
  /// When the first join went out, and into which room.
  std::optional<std::pair<metrics::time_point, std::uint32_t>> first_join;
  metrics::time_point measure_end{};
  std::uint64_t deliveries_measured = 0;
  double rate_per_client_hz = 0;
  chatproto::event_mapping events;  ///< the target's events: what a join confirmation and a delivery look like
};

/// The rules' verdict: the generator's two health flags (in the result's `generator`) and every reason
/// the run is invalid, in the order the rules are checked.
struct validity {
  bool fell_behind = false;  ///< p99 send lag over the generator's max_lag
  bool saturated = false;    ///< generator CPU per thread over max_cpu_utilisation
  std::vector<std::string> reasons;

  bool valid() const noexcept { return reasons.empty(); }
};

/**
 * Judge a run. The rules, each adding a reason:
 * - the generator fell behind (p99 send lag over max_lag) or saturated (utilisation over the limit);
 * - without an injected fault: failures (clients never connected, acks failed or rejected) over the
 *   error budget of the operations (clients and chats sent);
 * - without an injected fault, the first that applies of: no client connected (with the most frequent
 *   error), no join confirmed (with what the run waited for, and how long), no delivery measured
 *   although chats were due (with the events awaited, for another dialect than ours).
 */
validity judge_validity(validity_inputs const& in);

}  // namespace fallbench::bench
