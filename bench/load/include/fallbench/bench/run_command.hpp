#pragma once
/// `fallbench run`: replay a scenario against its targets and write a result document.

#include <string_view>
#include <vector>

namespace fallbench::bench {

/// @return the exit code: 0 when every run is valid, 3 when a run is invalid (the result is still
///         written), 2 for a bad command line or scenario (cli::usage_error / scenario_error).
int run_main(std::vector<std::string_view> const& args);

}  // namespace fallbench::bench
