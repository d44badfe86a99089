#pragma once
// `fallbench compare`: the regression gate's flags, over compare::compare.

#include <string_view>
#include <vector>

namespace fallbench::cli {

/// Parse the flags, compare and print the Markdown (and the files asked for).
/// @return 0 pass, 1 regression, 3 invalid run, 4 incomparable, 5 inconclusive; throws usage_error
///         (exit 2) or exit_error (3, a document that breaks the result schema).
int compare_main(std::vector<std::string_view> const& args);

}  // namespace fallbench::cli
