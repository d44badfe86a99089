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

/// @return the exit code: 0 when every run is valid, 3 when a run is invalid (the result is still
///         written), 2 for a bad command line or scenario (cli::usage_error / scenario_error).
int run_main(std::vector<std::string_view> const& args, render_report const& render = {});

}  // namespace fallbench::bench
