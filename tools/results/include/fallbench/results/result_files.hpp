#pragma once
/// Reading result documents (reports/schema/result.schema.json) from files or folders of them: what the
/// report and the compare tools both take as input. Header only; startup code, so errors are exceptions.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fallbench::results {

/// One result document and where it came from.
struct result_file {
  std::string path;
  nlohmann::json doc;
};

/**
 * Read `operand`: a result file, or a directory whose *.json files are read in name order.
 * @throws std::runtime_error naming the file: unreadable, not JSON, or a directory without results.
 */
inline std::vector<result_file> read_result_files(std::string const& operand) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  std::error_code ec;
  if (fs::is_directory(operand, ec)) {
    for (auto const& entry : fs::directory_iterator(operand))
      if (entry.is_regular_file() && entry.path().extension() == ".json") paths.push_back(entry.path().string());
    std::sort(paths.begin(), paths.end());
    if (paths.empty()) throw std::runtime_error(operand + ": a directory without result files (*.json)");
  } else {
    paths.push_back(operand);
  }
  std::vector<result_file> out;
  for (auto const& p : paths) {
    std::ifstream in(p);
    if (!in) throw std::runtime_error(p + ": cannot read");
    auto doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded()) throw std::runtime_error(p + ": not JSON");
    out.push_back({p, std::move(doc)});
  }
  return out;
}

}  // namespace fallbench::results
