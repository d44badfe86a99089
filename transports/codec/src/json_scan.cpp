#include "fallbench/codec/json_scan.hpp"

#include <charconv>
#include <cstring>

namespace fallbench::codec::json_scan {
namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the 4 hex digits at text[pos]; false when truncated or not hex.
bool read_hex4(std::string_view text, std::size_t pos, std::uint32_t& out) noexcept {
  if (text.size() - pos < 4) return false;
  out = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    int const v = hex_value(text[pos + i]);
    if (v < 0) return false;
    out = (out << 4) | static_cast<std::uint32_t>(v);
  }
  return true;
}

// Whether any of the 8 bytes in `v` needs a look inside a string: `"`, `\`, below 0x20 or from 0x80
// (bit tricks of graphics.stanford.edu/~seander/bithacks.html, "Determine if a word has a byte less
// than n"; the answer is exact, which byte it is is left to the byte loop).
constexpr bool has_special_byte(std::uint64_t v) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101u;
  constexpr std::uint64_t highs = 0x8080808080808080u;
  auto const has_zero = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  std::uint64_t const control = (v - ones * 0x20u) & ~v & highs;
  std::uint64_t const non_ascii = v & highs;
  std::uint64_t const quote = has_zero(v ^ (ones * 0x22u));
  std::uint64_t const backslash = has_zero(v ^ (ones * 0x5Cu));
  return (control | non_ascii | quote | backslash) != 0;
}

constexpr bool is_high_surrogate(std::uint32_t u) noexcept { return u >= 0xD800 && u <= 0xDBFF; }
constexpr bool is_low_surrogate(std::uint32_t u) noexcept { return u >= 0xDC00 && u <= 0xDFFF; }

// Checks the escape at text[pos] (just after its backslash) and moves pos past it.
scan_error scan_escape(std::string_view text, std::size_t& pos) noexcept {
  if (pos >= text.size()) return scan_error::truncated;
  char const c = text[pos];
  if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
    ++pos;
    return scan_error::none;
  }
  if (c != 'u') return scan_error::bad_escape;
  std::uint32_t u = 0;
  if (text.size() - pos - 1 < 4) return scan_error::truncated;
  if (!read_hex4(text, pos + 1, u)) return scan_error::bad_escape;
  pos += 5;
  if (is_low_surrogate(u)) return scan_error::bad_escape;
  if (!is_high_surrogate(u)) return scan_error::none;
  // A high surrogate must be followed by `\u` and a low one (RFC 8259 section 7).
  if (text.size() - pos < 6) {
    // Truncated when what is there is a prefix of `\uDC00`-style text; wrong otherwise.
    std::string_view const rest = text.substr(pos);
    if (rest.empty() || (rest[0] == '\\' && (rest.size() < 2 || rest[1] == 'u'))) return scan_error::truncated;
    return scan_error::bad_escape;
  }
  std::uint32_t low = 0;
  if (text[pos] != '\\' || text[pos + 1] != 'u' || !read_hex4(text, pos + 2, low) || !is_low_surrogate(low))
    return scan_error::bad_escape;
  pos += 6;
  return scan_error::none;
}

// Checks the UTF-8 sequence starting at text[pos] (a byte >= 0x80) and moves pos past it
// (Unicode 15 table 3-7: no overlongs, no surrogates, nothing above U+10FFFF).
scan_error scan_utf8(std::string_view text, std::size_t& pos) noexcept {
  auto const b = [&](std::size_t i) { return static_cast<unsigned char>(text[pos + i]); };
  unsigned char const lead = b(0);
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return scan_error::bad_utf8;
  }
  for (std::size_t i = 1; i < len; ++i) {
    if (pos + i >= text.size()) return scan_error::truncated;
    unsigned char const c = b(i);
    if (i == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return scan_error::bad_utf8;
  }
  pos += len;
  return scan_error::none;
}

void append_utf8(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

scan_error expect_literal(std::string_view text, std::size_t& pos, std::string_view word) noexcept {
  std::string_view const rest = text.substr(pos);
  if (rest.size() < word.size()) return word.starts_with(rest) ? scan_error::truncated : scan_error::syntax;
  if (!rest.starts_with(word)) return scan_error::syntax;
  pos += word.size();
  return scan_error::none;
}

}  // namespace

std::string_view to_string(scan_error e) noexcept {
  switch (e) {
    case scan_error::none: return "no error";
    case scan_error::truncated: return "JSON text ends inside a value";
    case scan_error::syntax: return "JSON syntax error";
    case scan_error::bad_escape: return "invalid JSON string escape";
    case scan_error::bad_utf8: return "JSON string is not UTF-8";
    case scan_error::control_char: return "unescaped control character in a JSON string";
    case scan_error::too_deep: return "JSON nested too deep";
  }
  return "unknown JSON error";
}

scan_error scan_string(std::string_view text, std::size_t& pos, string_token& out) noexcept {
  if (pos >= text.size()) return scan_error::truncated;
  if (text[pos] != '"') return scan_error::syntax;
  std::size_t const start = ++pos;
  bool escaped = false;
  while (pos < text.size()) {
    // Plain ASCII eight bytes at a time: a chat's text is mostly that.
    while (text.size() - pos >= 8) {
      std::uint64_t v = 0;
      std::memcpy(&v, text.data() + pos, sizeof v);
      if (has_special_byte(v)) break;
      pos += 8;
    }
    if (pos >= text.size()) break;
    auto const c = static_cast<unsigned char>(text[pos]);
    if (c == '"') {
      out.raw = text.substr(start, pos - start);
      out.escaped = escaped;
      ++pos;
      return scan_error::none;
    }
    if (c == '\\') {
      escaped = true;
      ++pos;
      if (auto e = scan_escape(text, pos); e != scan_error::none) return e;
    } else if (c < 0x20) {
      return scan_error::control_char;
    } else if (c >= 0x80) {
      if (auto e = scan_utf8(text, pos); e != scan_error::none) return e;
    } else {
      ++pos;
    }
  }
  return scan_error::truncated;
}

std::string_view string_value(string_token const& token, std::string& buffer) {
  if (!token.escaped) return token.raw;
  buffer.clear();
  std::string_view const raw = token.raw;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\') {
      buffer += raw[i];
      continue;
    }
    char const c = raw[++i];
    switch (c) {
      case 'b': buffer += '\b'; break;
      case 'f': buffer += '\f'; break;
      case 'n': buffer += '\n'; break;
      case 'r': buffer += '\r'; break;
      case 't': buffer += '\t'; break;
      case 'u': {
        std::uint32_t u = 0;
        read_hex4(raw, i + 1, u);
        i += 4;
        if (is_high_surrogate(u)) {
          std::uint32_t low = 0;
          read_hex4(raw, i + 3, low);
          i += 6;
          u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(u, buffer);
        break;
      }
      default: buffer += c; break;  // `"`, `\` and `/` stand for themselves
    }
  }
  return buffer;
}

scan_error scan_number(std::string_view text, std::size_t& pos, std::int64_t& integer, bool& is_integer) noexcept {
  std::size_t const start = pos;
  is_integer = false;
  if (pos < text.size() && text[pos] == '-') ++pos;
  if (pos >= text.size()) return scan_error::truncated;
  if (text[pos] == '0') {
    ++pos;
  } else if (is_digit(text[pos])) {
    while (pos < text.size() && is_digit(text[pos])) ++pos;
  } else {
    return scan_error::syntax;
  }
  bool fraction = false;
  if (pos < text.size() && text[pos] == '.') {
    fraction = true;
    ++pos;
    if (pos >= text.size()) return scan_error::truncated;
    if (!is_digit(text[pos])) return scan_error::syntax;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    fraction = true;
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
    if (pos >= text.size()) return scan_error::truncated;
    if (!is_digit(text[pos])) return scan_error::syntax;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
  }
  if (!fraction) {
    auto const [ptr, ec] = std::from_chars(text.data() + start, text.data() + pos, integer);
    is_integer = ec == std::errc{};
  }
  return scan_error::none;
}

scan_error skip_value(std::string_view text, std::size_t& pos, std::size_t depth, std::size_t max_depth) noexcept {
  if (pos >= text.size()) return scan_error::truncated;
  switch (text[pos]) {
    case '"': {
      string_token t;
      return scan_string(text, pos, t);
    }
    case 't': return expect_literal(text, pos, "true");
    case 'f': return expect_literal(text, pos, "false");
    case 'n': return expect_literal(text, pos, "null");
    case '[':
    case '{': {
      bool const object = text[pos] == '{';
      char const close = object ? '}' : ']';
      if (depth + 1 > max_depth) return scan_error::too_deep;
      ++pos;
      skip_space(text, pos);
      if (pos >= text.size()) return scan_error::truncated;
      if (text[pos] == close) {
        ++pos;
        return scan_error::none;
      }
      for (;;) {
        if (object) {
          string_token key;
          if (auto e = scan_string(text, pos, key); e != scan_error::none) return e;
          skip_space(text, pos);
          if (pos >= text.size()) return scan_error::truncated;
          if (text[pos] != ':') return scan_error::syntax;
          ++pos;
          skip_space(text, pos);
        }
        if (auto e = skip_value(text, pos, depth + 1, max_depth); e != scan_error::none) return e;
        skip_space(text, pos);
        if (pos >= text.size()) return scan_error::truncated;
        if (text[pos] == close) {
          ++pos;
          return scan_error::none;
        }
        if (text[pos] != ',') return scan_error::syntax;
        ++pos;
        skip_space(text, pos);
      }
    }
    default: {
      std::int64_t ignored = 0;
      bool is_integer = false;
      return scan_number(text, pos, ignored, is_integer);
    }
  }
}

void append_string(std::string_view s, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  // Runs of bytes that need no escape are appended whole.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto const u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(s, run, i - run);
    run = i + 1;
    switch (u) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[u >> 4];
        out += hex[u & 0xFu];
    }
  }
  out.append(s, run, s.size() - run);
  out += '"';
}

}  // namespace fallbench::codec::json_scan
