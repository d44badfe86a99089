#include "fallbench/chat/resp.hpp"

#include <charconv>

namespace fallbench::chat::resp {

namespace {

constexpr std::string_view crlf = "\r\n";

struct cursor {
  std::string_view buf;
  std::size_t at = 0;
  limits const& lim;
  std::string_view error;

  /// The line from `at` up to its CRLF, moving past the CRLF.
  status line(std::string_view& out) {
    auto const end = buf.find(crlf, at);
    if (end == std::string_view::npos) {
      // A bare LF, or a line that can no longer be within the limit, will never become valid.
      if (buf.size() - at > lim.max_line_bytes) return fail("line over the limit");
      return status::incomplete;
    }
    if (end - at > lim.max_line_bytes) return fail("line over the limit");
    out = buf.substr(at, end - at);
    at = end + 2;
    return status::complete;
  }

  status fail(std::string_view why) {
    error = why;
    return status::malformed;
  }

  status integer_line(std::int64_t& v) {
    std::string_view text;
    if (auto s = line(text); s != status::complete) return s;
    if (text.empty()) return fail("empty integer");
    auto const* first = text.data();
    auto const* last = text.data() + text.size();
    if (*first == '+') ++first;  // RESP3 servers may write +; harmless to accept
    auto const [ptr, ec] = std::from_chars(first, last, v);
    if (ec != std::errc{} || ptr != last || first == last) return fail("not an integer");
    return status::complete;
  }

  status parse(value& out, std::size_t depth) {
    if (at >= buf.size()) return status::incomplete;
    char const kind = buf[at++];
    switch (kind) {
      case '+':
      case '-': {
        out.type = kind == '+' ? type::simple_string : type::error;
        return line(out.text);
      }
      case ':': {
        out.type = type::integer;
        return integer_line(out.integer);
      }
      case '$': {
        std::int64_t n = 0;
        if (auto s = integer_line(n); s != status::complete) return s;
        if (n == -1) {
          out.type = type::null;
          return status::complete;
        }
        if (n < 0) return fail("negative bulk length");
        if (static_cast<std::uint64_t>(n) > lim.max_bulk_bytes) return fail("bulk length over the limit");
        auto const len = static_cast<std::size_t>(n);
        if (buf.size() - at < len + 2) return status::incomplete;
        if (buf.substr(at + len, 2) != crlf) return fail("bulk string not followed by CRLF");
        out.type = type::bulk_string;
        out.text = buf.substr(at, len);
        at += len + 2;
        return status::complete;
      }
      case '*': {
        std::int64_t n = 0;
        if (auto s = integer_line(n); s != status::complete) return s;
        if (n == -1) {
          out.type = type::null;
          return status::complete;
        }
        if (n < 0) return fail("negative array length");
        if (static_cast<std::uint64_t>(n) > lim.max_elements) return fail("array length over the limit");
        if (depth >= lim.max_depth) return fail("arrays nested too deep");
        out.type = type::array;
        out.elements.resize(static_cast<std::size_t>(n));
        for (auto& e : out.elements)
          if (auto s = parse(e, depth + 1); s != status::complete) return s;
        return status::complete;
      }
      default: return fail("unknown type byte");
    }
  }
};

}  // namespace

result parse(std::string_view buffer, value& out, limits const& lim) {
  cursor c{buffer, 0, lim, {}};
  out = value{};
  auto const s = c.parse(out, 0);
  return {s, s == status::complete ? c.at : 0, c.error};
}

void append_command(std::string& out, std::initializer_list<std::string_view> args) {
  char digits[24];
  auto number = [&](char lead, std::size_t n) {
    out += lead;
    auto const [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    out.append(digits, end);
    out += crlf;
  };
  number('*', args.size());
  for (auto a : args) {
    number('$', a.size());
    out += a;
    out += crlf;
  }
}

}  // namespace fallbench::chat::resp
