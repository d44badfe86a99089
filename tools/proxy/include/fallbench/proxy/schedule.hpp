#pragma once
/// A fault schedule: which profile the proxy applies from which moment of a run. No I/O.

#include "fallbench/proxy/profile.hpp"

#include <chrono>
#include <string_view>
#include <vector>

namespace fallbench::proxy {

/// From `at` after the schedule starts, the proxy applies `prof` (until the next entry).
struct schedule_entry {
  std::chrono::milliseconds at{0};
  profile prof;
};

/// Parse a schedule: entries "OFFSET:PROFILE_SPEC" separated by commas or newlines, e.g.
/// "0s:pass,5s:refuse-upgrade,15s:latency?up-ms=100". OFFSET is a number with unit ms, s or m
/// ("1500ms", "1.5s", "2m"); offsets must not decrease. PROFILE_SPEC is as parse_profile's, on top
/// of `base`. Blank lines and text after '#' on a line are ignored, so a schedule can be a file.
/// Throws std::invalid_argument naming the bad entry.
std::vector<schedule_entry> parse_schedule(std::string_view text, profile const& base = {});

/// Parse an offset: "250ms", "5s", "1.5s", "2m". Throws std::invalid_argument.
std::chrono::milliseconds parse_offset(std::string_view text);

}  // namespace fallbench::proxy
