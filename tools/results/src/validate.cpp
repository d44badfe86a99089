// Result documents checked against reports/schema/result.schema.json with valijson (Debian's
// libvalijson-dev, header only, reads nlohmann::json through its adapter): a maintained validator rather
// than a walk of our own that would drift from the schema.

#include "fallbench/results/result_files.hpp"

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <fstream>
#include <memory>
#include <mutex>

namespace fallbench::results {

std::string_view result_schema_text();  // generated from the schema (cmake/embed_text.cmake)

namespace {

valijson::Schema const& result_schema() {
  static std::once_flag once;
  static std::unique_ptr<valijson::Schema> schema;
  std::call_once(once, [] {
    auto const doc = nlohmann::json::parse(result_schema_text());
    schema = std::make_unique<valijson::Schema>();
    // The schema is written for draft 2020-12 but uses only keywords draft 7 has (besides $defs, which
    // only $ref reaches, by JSON pointer), so valijson's draft 7 reading is exact for it.
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    parser.populateSchema(adapter, *schema);
  });
  return *schema;
}

/// valijson's context ("<root>", "[runs]", "[0]", ...) as a path: runs[0].latency.
std::string path_of(std::vector<std::string> const& context) {
  std::string out;
  for (auto const& part : context) {
    if (part == "<root>") continue;
    if (part.size() >= 2 && part.front() == '[' && part.back() == ']') {
      auto const inner = part.substr(1, part.size() - 2);
      bool const index = !inner.empty() && inner.find_first_not_of("0123456789") == std::string::npos;
      if (index)
        out += part;
      else
        out += (out.empty() ? "" : ".") + inner;
    } else {
      out += (out.empty() ? "" : ".") + part;
    }
  }
  return out.empty() ? "(the document)" : out;
}

}  // namespace

std::vector<std::string> schema_violations(nlohmann::json const& doc, std::size_t limit) {
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(doc);
  std::vector<std::string> out;
  if (validator.validate(result_schema(), adapter, &results)) return out;
  valijson::ValidationResults::Error e;
  std::vector<std::string> wrappers;
  while (results.popError(e)) {
    // valijson reports each failure at its own place, then again at every enclosing object and array
    // ("Failed to validate ..."): the first kind names the rule, the second only repeats where.
    auto line = path_of(e.context) + ": " + e.description;
    if (e.description.rfind("Failed to validate", 0) == 0)
      wrappers.push_back(std::move(line));
    else if (out.size() < limit)
      out.push_back(std::move(line));
  }
  if (out.empty() && !wrappers.empty()) out.push_back(wrappers.front());
  return out;
}

void check_result(std::string const& path, nlohmann::json const& doc) {
  auto const v = schema_violations(doc, 3);
  if (v.empty()) return;
  std::string what = path + ": not a valid result document (reports/schema/result.schema.json): " + v.front();
  for (std::size_t i = 1; i < v.size(); ++i) what += "; " + v[i];
  throw invalid_result(what);
}

std::vector<result_file> read_result_files(std::string const& operand) {
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
    if (doc.is_discarded()) throw invalid_result(p + ": not JSON");
    check_result(p, doc);
    out.push_back({p, std::move(doc)});
  }
  return out;
}

}  // namespace fallbench::results
