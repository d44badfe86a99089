#pragma once
// Result documents named on a command line (`fallbench report`, `compare`, `run --report`): read the
// one way, so a bad one exits alike in every command.

#include "fallbench/results/result_files.hpp"

#include <string>
#include <vector>

namespace fallbench::cli {

/// The result documents of `operands` (files, or directories of them), in order.
/// @throws exit_error (3) for an invalid result document, usage_error for an unreadable one.
std::vector<results::result_file> read_results(std::vector<std::string> const& operands);

}  // namespace fallbench::cli
