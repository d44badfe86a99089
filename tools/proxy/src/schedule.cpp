#include "fallbench/proxy/schedule.hpp"

#include <charconv>
#include <stdexcept>
#include <string>

namespace fallbench::proxy {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::chrono::milliseconds parse_offset(std::string_view text) {
  auto const bad = [&] {
    return std::invalid_argument("bad offset '" + std::string(text) + "' (a number with unit ms, s or m: 500ms, 5s, 1.5s)");
  };
  std::int64_t scale = 0;
  std::string_view number;
  if (text.ends_with("ms")) {
    scale = 1;
    number = text.substr(0, text.size() - 2);
  } else if (text.ends_with("s")) {
    scale = 1000;
    number = text.substr(0, text.size() - 1);
  } else if (text.ends_with("m")) {
    scale = 60'000;
    number = text.substr(0, text.size() - 1);
  } else {
    throw bad();
  }
  // Integer part and an optional fraction of up to three digits (milliseconds are the resolution).
  auto const dot = number.find('.');
  auto const whole = number.substr(0, dot);
  std::int64_t value = 0;
  auto const [ptr, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), value);
  if (whole.empty() || ec != std::errc{} || ptr != whole.data() + whole.size() || value < 0) throw bad();
  // A day at most, as for every duration parameter.
  if (value > 86'400'000 / scale) throw bad();
  std::int64_t ms = value * scale;
  if (dot != std::string_view::npos) {
    auto const fraction = number.substr(dot + 1);
    if (fraction.empty() || fraction.size() > 3) throw bad();
    std::int64_t f = 0;
    for (char c : fraction) {
      if (c < '0' || c > '9') throw bad();
      f = f * 10 + (c - '0');
    }
    for (auto n = fraction.size(); n < 3; ++n) f *= 10;
    ms += f * scale / 1000;
  }
  return std::chrono::milliseconds{ms};
}

std::vector<schedule_entry> parse_schedule(std::string_view text, profile const& base) {
  std::vector<schedule_entry> out;
  auto add = [&](std::string_view entry) {
    entry = trim(entry);
    if (entry.empty()) return;
    auto const colon = entry.find(':');
    if (colon == std::string_view::npos)
      throw std::invalid_argument("schedule entry '" + std::string(entry) + "' is not OFFSET:PROFILE (e.g. 5s:pass)");
    schedule_entry e;
    try {
      e.at = parse_offset(trim(entry.substr(0, colon)));
      e.prof = parse_profile(trim(entry.substr(colon + 1)), base);
    } catch (std::invalid_argument const& err) {
      throw std::invalid_argument("schedule entry '" + std::string(entry) + "': " + err.what());
    }
    if (!out.empty() && e.at < out.back().at)
      throw std::invalid_argument("schedule entry '" + std::string(entry) + "' comes before the one above it");
    out.push_back(std::move(e));
  };
  while (!text.empty()) {
    auto const eol = text.find('\n');
    auto line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    // A comment runs from '#' to the end of its line.
    line = line.substr(0, line.find('#'));
    while (!line.empty()) {
      auto const comma = line.find(',');
      add(line.substr(0, comma));
      line = comma == std::string_view::npos ? std::string_view{} : line.substr(comma + 1);
    }
  }
  if (out.empty()) throw std::invalid_argument("the schedule has no entry");
  return out;
}

}  // namespace fallbench::proxy
