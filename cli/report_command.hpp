#pragma once
// `fallbench report`: the renderer's flags, over report::write_report.

#include <string_view>
#include <vector>

namespace fallbench::cli {

/// Parse the flags, render the results and list the files written on stdout.
/// @throws usage_error on a bad flag or an unreadable input, exit_error (3) on an invalid result.
int report_main(std::vector<std::string_view> const& args);

}  // namespace fallbench::cli
