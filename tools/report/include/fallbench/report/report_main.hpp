#pragma once
/// `fallbench report RESULT... -o DIR` (tools/report): the entry point alone, so the front door does
/// not compile JSON. The library is fallbench/report/report.hpp.

#include <string_view>
#include <vector>

namespace fallbench::report {

/// Writes DIR/report.html and DIR/summary.md; returns 0, or throws cli::usage_error (exit 2).
int report_main(std::vector<std::string_view> const& argv);

}  // namespace fallbench::report
