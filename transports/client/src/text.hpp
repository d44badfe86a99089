#pragma once
// Small text helpers of the client's header and cookie parsers (target.cpp, cookie_jar.cpp).

#include <algorithm>
#include <cctype>
#include <string_view>

namespace fallbench::transport::detail {

/// `s` without the optional whitespace (spaces and tabs, RFC 7230 OWS) at either end.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// ASCII case-insensitive equality (header and attribute names).
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

}  // namespace fallbench::transport::detail
