#pragma once
/// The one reader of values in result documents (docs/conventions.md section 2): a value, a number or a
/// string at a dotted path, for the report, compare, the pipeline outputs and the thresholds alike.
/// Documents are read without trusting them: a missing step or a value of another type is "absent"
/// (nullptr, nullopt or the caller's fallback), never an exception.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace fallbench::results {

/**
 * The value at `path` in `j`: object keys separated by dots ("latency.fanout_corrected.p99_us"); in an
 * array a step of decimal digits is an index ("runs.0.target"). An empty path is `j` itself. Keys that
 * hold a dot cannot be reached (result documents have none).
 * @return nullptr when a step is missing, is out of range, or goes into a value that is neither an
 *         object nor an array.
 */
nlohmann::json const* find_at(nlohmann::json const& j, std::string_view path);

/// The value at `path`, or a null json when it is absent.
nlohmann::json const& value_at(nlohmann::json const& j, std::string_view path);

/// The number at `path` (integer or floating point; not a boolean), nullopt when absent or not a number.
std::optional<double> number_at(nlohmann::json const& j, std::string_view path);

/// The number at `path`, or `fallback` when absent or not a number.
double number_at(nlohmann::json const& j, std::string_view path, double fallback);

/// The string at `path`, nullopt when absent or not a string.
std::optional<std::string> string_at(nlohmann::json const& j, std::string_view path);

/// The string at `path`, or `fallback` when absent or not a string.
std::string string_at(nlohmann::json const& j, std::string_view path, std::string fallback);

}  // namespace fallbench::results
