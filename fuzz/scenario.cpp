// The scenario loader (bench/load/scenario.hpp): any text either parses into a scenario or throws
// scenario_error with a message; nothing else may escape (a nlohmann::json type_error escaping is a
// crash here, as it would be for `fallbench run`). Oracle: a scenario that parses has a canonical JSON
// that parses again to the same canonical JSON and hash.

#include "fallbench/bench/scenario.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bench = fallbench::bench;

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const text(reinterpret_cast<char const*>(data), size);
  // A scenario names its trace file, and an absolute name is read as it is: keep the fuzzer from
  // reading /dev/zero or /proc. Relative names resolve under a folder that does not exist.
  if (text.find("\"/") != std::string_view::npos || text.find("\\u") != std::string_view::npos) return 0;
  bench::scenario s;
  try {
    s = bench::parse_scenario(text, "/nonexistent-fallbench-fuzz");
  } catch (bench::scenario_error const& e) {
    FUZZ_CHECK(e.what()[0] != '\0');
    return 0;
  }
  FUZZ_CHECK(!s.canonical_json.empty());
  bench::scenario again;
  try {
    again = bench::parse_scenario(s.canonical_json, "/nonexistent-fallbench-fuzz");
  } catch (bench::scenario_error const& e) {
    std::fprintf(stderr, "canonical JSON does not parse again: %s\n%s\n", e.what(), s.canonical_json.c_str());
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(again.canonical_json == s.canonical_json && again.hash == s.hash);
  return 0;
}
