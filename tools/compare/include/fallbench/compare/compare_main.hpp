#pragma once
/// `fallbench compare BASELINE CANDIDATE` (tools/compare): the entry point alone, so the front door
/// does not compile JSON. The library is fallbench/compare/compare.hpp.

#include <string_view>
#include <vector>

namespace fallbench::compare {

/// Returns the exit status: 0 pass, 1 regression, 3 invalid run, 4 incomparable; usage errors throw
/// cli::usage_error (exit 2).
int compare_main(std::vector<std::string_view> const& argv);

}  // namespace fallbench::compare
