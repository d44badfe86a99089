#pragma once
/// A validating JSON scanner without a DOM (RFC 8259): reads strings, integers and literals in place
/// and skips whole values of any type, so a caller checks the few fields it needs and keeps the
/// rest as the original bytes. Pure functions: no I/O, no exceptions, no allocation except
/// `unescape` into the caller's buffer.
///
/// Every function takes the text and a position, and on success moves the position past what it read.
/// On failure the position is unspecified.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fallbench::codec::json_scan {

/// Why a text is not JSON.
enum class scan_error : std::uint8_t {
  none = 0,
  truncated,     ///< The text ends inside a value.
  syntax,        ///< An unexpected character (including trailing garbage the caller reports this way).
  bad_escape,    ///< A `\` escape that is not one of RFC 8259 section 7, or a lone UTF-16 surrogate.
  bad_utf8,      ///< A string with bytes that are not UTF-8 (RFC 8259 section 8.1).
  control_char,  ///< An unescaped character below U+0020 inside a string.
  too_deep,      ///< Arrays and objects nested deeper than the caller's bound.
};

/// A short English description of `e`, for logs and error messages.
std::string_view to_string(scan_error e) noexcept;

/// Whitespace of RFC 8259 section 2: space, tab, line feed, carriage return.
constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/// Move `pos` past any whitespace.
inline void skip_space(std::string_view text, std::size_t& pos) noexcept {
  while (pos < text.size() && is_space(text[pos])) ++pos;
}

/// A string as it appears in the text, between its quotes.
struct string_token {
  std::string_view raw;  ///< The bytes between the quotes, escapes not decoded.
  bool escaped = false;  ///< Whether `raw` holds a `\`: its value then differs from `raw`.
};

/**
 * Read the string starting at `text[pos]` (which must be `"`), checking escapes, surrogate pairs,
 * control characters and UTF-8. `pos` ends after the closing quote.
 */
scan_error scan_string(std::string_view text, std::size_t& pos, string_token& out) noexcept;

/**
 * The value of a string read by scan_string: `token.raw` itself when it has no escape, else its
 * decoded form written into `buffer` (cleared first). Precondition: `token` came from scan_string.
 */
std::string_view string_value(string_token const& token, std::string& buffer);

/**
 * Read a number starting at `text[pos]` (RFC 8259 section 6 grammar).
 * @param integer  set when the number is an integer (no fraction or exponent) that fits 64 bits.
 */
scan_error scan_number(std::string_view text, std::size_t& pos, std::int64_t& integer, bool& is_integer) noexcept;

/**
 * Skip one value of any type starting at `text[pos]` (no leading whitespace), validating it.
 * @param depth  how many arrays/objects enclose it already; a value that would nest deeper than
 *               `max_depth` is refused (bounded recursion: a hostile `[[[[…` cannot overflow the stack).
 */
scan_error skip_value(std::string_view text, std::size_t& pos, std::size_t depth, std::size_t max_depth) noexcept;

/// Append `s` to `out` as a JSON string, quotes included. Escapes `"`, `\` and control characters
/// as nlohmann::json's dump does (`\n` etc., else `\u00XX`); other bytes are copied as they are.
void append_string(std::string_view s, std::string& out);

}  // namespace fallbench::codec::json_scan
