#include "result_inputs.hpp"

#include "fallbench/cli/args.hpp"

#include <exception>
#include <iterator>

namespace fallbench::cli {

std::vector<results::result_file> read_results(std::vector<std::string> const& operands) {
  std::vector<results::result_file> out;
  for (auto const& operand : operands) {
    try {
      auto files = results::read_result_files(operand);
      std::move(files.begin(), files.end(), std::back_inserter(out));
    } catch (results::invalid_result const& e) {
      throw exit_error(3, e.what());
    } catch (std::exception const& e) {
      throw usage_error(e.what());
    }
  }
  return out;
}

}  // namespace fallbench::cli
