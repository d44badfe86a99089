#pragma once
/// `fallbench run`: replay a scenario against its targets and write a result document.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::bench {

/// Renders the result file `result` into the directory `dir` (`--report DIR`). The front door passes
/// `fallbench report`; the harness does not depend on the renderer (docs/design.md section 2).
using render_report = std::function<void(std::string const& result, std::string const& dir)>;

/// `fallbench run`'s exit status when every run was valid but a threshold of the scenario was crossed
/// (distinct from compare's 1 regression, 4 incomparable and 5 inconclusive).
inline constexpr int exit_threshold_crossed = 6;

/// @return the exit code: 0 when every run is valid and meets the scenario's thresholds, 3 when a run
///         is invalid (the result is still written), 6 when a threshold was crossed, 2 for a bad
///         command line or scenario (cli::usage_error / scenario_error).
int run_main(std::vector<std::string_view> const& args, render_report const& render = {});

}  // namespace fallbench::bench
