#pragma once
// `fallbench run`: the harness's flags, over bench::run_scenario.

#include "fallbench/bench/run_command.hpp"

#include <string_view>
#include <vector>

namespace fallbench::cli {

/// Parse the flags into bench::scenario_run_options, check them and run the scenario; `render` draws
/// `--report DIR`. @return run_scenario's exit code. @throws usage_error (exit 2) for a bad command
/// line or scenario.
int run_main(std::vector<std::string_view> const& args, bench::render_report const& render);

}  // namespace fallbench::cli
