// The trace loader (bench/load/scenario.hpp, parse_trace: what load_trace does with a file's text).
// Any text either parses or throws scenario_error. Oracles: events are sorted by time, every event's
// room indexes the room names, and only chats carry a size other than the default.

#include "fallbench/bench/scenario.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bench = fallbench::bench;

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const text(reinterpret_cast<char const*>(data), size);
  bench::case_spec c;
  try {
    bench::parse_trace(text, "fuzz.jsonl", c);
  } catch (bench::scenario_error const& e) {
    FUZZ_CHECK(std::string_view(e.what()).starts_with("fuzz.jsonl"));
    return 0;
  }
  FUZZ_CHECK(!c.trace.empty());
  FUZZ_CHECK(std::is_sorted(c.trace.begin(), c.trace.end(), [](auto const& a, auto const& b) { return a.at < b.at; }));
  for (auto const& e : c.trace) {
    FUZZ_CHECK(e.room < c.trace_rooms.size());
    FUZZ_CHECK(e.client < 100'000 && e.bytes >= 1 && e.bytes <= 900'000);
    if (e.what != bench::trace_event::kind::chat) FUZZ_CHECK(e.bytes == 16);
  }
  return 0;
}
