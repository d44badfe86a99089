#pragma once
/// A capacity ladder's walk and its knee: which rate to run next, how each step came out, why the
/// ladder stopped, and the highest offered load that stayed within the bound and valid. Pure: the runs
/// are the caller's (run_command.cpp), so the rules are tested without a server.

#include "fallbench/bench/scenario.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::bench {

/// How one ladder step came out. When several apply, the generator's own limits come first: a step
/// the generator could not drive says nothing about the server.
enum class step_outcome : std::uint8_t {
  within,               ///< valid, fan-out p99 within the bound, nothing lost
  generator_saturated,  ///< the generator's CPU per thread passed max_cpu_utilisation
  generator_behind,     ///< the generator's sends lagged their intended times beyond max_lag_ms
  server_failed,        ///< lost deliveries, failures over the error budget, nothing delivered, or the server exited
  over_bound,           ///< valid, but the fan-out p99 passed stop_p99_ms
};

/// Why a ladder stopped rising.
enum class stop_reason : std::uint8_t {
  over_bound,           ///< the server's knee: p99 passed the bound
  server_failed,        ///< the server's knee: it lost or failed before p99 passed the bound
  generator_saturated,  ///< the generator's limit, not the server's: knee not found
  generator_behind,     ///< likewise
  max_steps,            ///< every step stayed within: knee not found
};

std::string_view to_string(step_outcome o) noexcept;
std::string_view to_string(stop_reason r) noexcept;

/// What a ladder needs to know of one run.
struct step_facts {
  double rate_per_client_hz = 0;
  double offered_deliveries_per_s = 0;  ///< what the schedule asked for: chats/s times receivers per chat
  double deliveries_per_s = 0;          ///< what was measured
  double p99_ms = 0;                    ///< fan-out, corrected
  bool valid = true;
  bool generator_saturated = false;
  double generator_utilisation = 0;  ///< CPU per generator thread, 0..1
  bool generator_behind = false;
  std::uint64_t lost = 0;
  int server_exit_status = 0;  ///< a server that died during the run (non-zero, not our SIGTERM)
  std::vector<std::string> invalid_reasons;
};

/// Judge one step against the bound (the outcome order above).
step_outcome judge_step(step_facts const& f, double stop_p99_ms);

/// A ladder's outcome: the knee, or how far it got without one.
struct knee_report {
  stop_reason why = stop_reason::max_steps;
  /// The server's knee was found (over_bound, server_failed); otherwise capacity is at least `best`'s.
  bool found = false;
  std::optional<step_facts> best;     ///< the highest step within the bound; none when the first step was not
  std::optional<step_facts> stopper;  ///< the lowest step that was not within (none for max_steps)
  std::string stop_detail;            ///< what the stopping step showed, e.g. "p99 812 ms > 250 ms"
  int steps = 0;                      ///< runs made, refinements included
  int refinements = 0;
  double stop_p99_ms = 250;

  /// One line for people: "knee at 640000 deliveries/s offered (32 chats/s per client, p99 12 ms); ..."
  /// or "knee not found, capacity >= ...". `fallbench run` prints it, the report shows it.
  std::string summary() const;
  /// The result document's capacity[] entry (without target and case).
  nlohmann::json to_json() const;
};

/// Walks a ladder: rise (listed rates, or start times factor^k) while steps stay within; stop at the
/// first step that does not, or after max_steps; then, when the server's knee was found and
/// refine_steps > 0, bisect (geometric midpoint) between the last good and the first bad rate.
class ladder_walk {
 public:
  explicit ladder_walk(ladder_spec spec);

  /// The rate of the next step; none when the ladder is done.
  std::optional<double> next_rate() const;
  /// Whether the next step is a refinement (bisection) rather than a rise.
  bool refining() const noexcept { return refining_; }
  /// Record the step just run at next_rate(). @return its outcome.
  step_outcome record(step_facts const& f);
  knee_report result() const;

 private:
  ladder_spec spec_;
  int rises_ = 0;  ///< rising steps recorded
  bool refining_ = false;
  bool done_ = false;
  knee_report report_;
};

/// Receivers of each chat, on average over senders, when it is known from the layout alone (uniform
/// rooms: client i is in room i mod n; the sender gets its own copy); none for Zipf rooms.
std::optional<double> receivers_per_chat(case_spec const& c);

}  // namespace fallbench::bench
