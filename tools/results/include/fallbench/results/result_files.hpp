#pragma once
/// Reading result documents (reports/schema/result.schema.json) from files or folders of them: what the
/// report and the compare tools both take as input, each document checked against the schema first.
/// Startup code, so errors are exceptions.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace fallbench::results {

/// One result document and where it came from.
struct result_file {
  std::string path;
  nlohmann::json doc;
};

/// A file that is not a valid result document: what() names the file, the place in the document and
/// the rule it breaks, e.g. `a.json: ... runs[0]: Missing required property 'latency'.` (exit 3 in
/// `report` and `compare`).
class invalid_result : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where `doc` breaks the result schema, at most `limit` entries of the form `PATH: rule`; empty when valid.
std::vector<std::string> schema_violations(nlohmann::json const& doc, std::size_t limit = 20);

/// @throws invalid_result naming `path` and the first violations.
void check_result(std::string const& path, nlohmann::json const& doc);

/**
 * Read `operand`: a result file, or a directory whose *.json files are read in name order. Each is
 * checked against the schema.
 * @throws invalid_result for a file that is not JSON or not a valid result document;
 *         std::runtime_error for one that cannot be read, or a directory without results.
 */
std::vector<result_file> read_result_files(std::string const& operand);

}  // namespace fallbench::results
