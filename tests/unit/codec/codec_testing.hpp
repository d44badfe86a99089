#pragma once
/// Helpers shared by the codec unit tests: error assertions and a deterministic input generator for the
/// fuzz-style tests. Header-only, so the test target's source list does not change.

#include "fallbench/codec/error.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fallbench::codec::test_util {

/** Bytes as a C-like literal, so failure messages show control characters, 0x1E and invalid UTF-8. */
inline std::string escaped(std::string_view bytes) {
  std::string out = "\"";
  for (char const c : bytes) {
    auto const u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      constexpr std::string_view hex = "0123456789abcdef";
      out += "\\x";
      out += hex[static_cast<std::size_t>(u >> 4)];
      out += hex[static_cast<std::size_t>(u & 0xF)];
    }
  }
  out += '"';
  return out;
}

/**
 * Whether `ec` is codec error `e`, checked both ways a caller may test it: against the enum and
 * against the condition it belongs to.
 */
inline ::testing::AssertionResult is_codec_error(error_code const& ec, error e, condition c) {
  if (ec == e && ec == c) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got \"" << ec.message() << "\" (" << ec.category().name() << ':'
                                       << ec.value() << "), want \"" << make_error_code(e).message()
                                       << "\" with condition \"" << make_error_condition(c).message() << '"';
}

/**
 * Deterministic byte strings for fuzz-style tests: random bytes, sequences of protocol tokens, and
 * mutations of a corpus of valid inputs. Only the raw output of std::mt19937_64 is used (its sequence
 * is fixed by the standard, unlike the distributions'), so a seed gives the same inputs everywhere.
 */
class random_input {
 public:
  random_input(std::uint64_t seed, std::vector<std::string> corpus) : rng_{seed}, corpus_{std::move(corpus)} {}

  std::string next() {
    switch (below(3)) {
      case 0: return random_bytes(below(48));
      case 1: return tokens(below(12));
      default: return mutated(corpus_[below(corpus_.size())]);
    }
  }

 private:
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  char any_byte() { return static_cast<char>(static_cast<unsigned char>(rng_() & 0xFF)); }

  std::string random_bytes(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += any_byte();
    return s;
  }

  std::string_view token() {
    static constexpr std::string_view list[] = {
        "0", "1", "2", "3", "4", "5", "6", "7", "9", "12", "18446744073709551616", "1000", "1001", "-", "/", "/admin",
        ",", "[", "]", "{", "}", "\"", "\"foo\"", ":", "\"sid\"", "\"_placeholder\"", "true", "null", "1e400", "-0",
        "\x1e", "b", "=", "AQIDBA==", "Zg==", "probe", "\\", "\\u0000", "\xff", std::string_view{"\0", 1}, " ", "abc"};
    return list[below(std::size(list))];
  }

  std::string tokens(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += token();
    return s;
  }

  std::string mutated(std::string s) {
    for (std::size_t k = below(4) + 1; k > 0; --k) {
      std::size_t const at = s.empty() ? 0 : below(s.size() + 1);
      switch (below(5)) {
        case 0:  // replace a byte
          if (!s.empty()) s[below(s.size())] = any_byte();
          break;
        case 1:  // insert a token
          s.insert(at, token());
          break;
        case 2:  // delete a byte
          if (!s.empty()) s.erase(below(s.size()), 1);
          break;
        case 3:  // truncate
          s.resize(at);
          break;
        default:  // repeat a slice
          s.insert(at, s.substr(at, below(8)));
          break;
      }
    }
    return s;
  }

  std::mt19937_64 rng_;
  std::vector<std::string> corpus_;
};

/** The context of one fuzz input, for failure messages: seed, index and the input itself. */
inline std::string fuzz_case(std::uint64_t seed, int index, std::string_view input) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "seed=0x%016llx case=%d input=", static_cast<unsigned long long>(seed), index);
  return buf + escaped(input);
}

}  // namespace fallbench::codec::test_util
