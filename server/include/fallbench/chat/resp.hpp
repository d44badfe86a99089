#pragma once
/// RESP2, the Redis serialization protocol (https://redis.io/docs/latest/develop/reference/protocol-spec/):
/// what the cluster relay needs to talk to Redis. An incremental, bounded parser that never throws on
/// network input (docs/conventions.md section 4) and the writer of commands (arrays of bulk strings).

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::chat::resp {

enum class type : std::uint8_t { simple_string, error, integer, bulk_string, null, array };

/// One parsed reply. Strings are views into the buffer given to parser::parse: valid until it changes.
struct value {
  resp::type type = resp::type::null;
  std::string_view text;      ///< simple_string, error, bulk_string
  std::int64_t integer = 0;   ///< integer
  std::vector<value> elements;  ///< array
};

enum class status : std::uint8_t {
  complete,    ///< One value parsed; `consumed` bytes of the buffer were it.
  incomplete,  ///< The buffer holds the start of a value only: read more, then parse again from its start.
  malformed,   ///< Not RESP2, or over a limit: the connection cannot be trusted any more.
};

struct result {
  resp::status status = resp::status::incomplete;
  std::size_t consumed = 0;
  std::string_view error;  ///< For malformed: why, e.g. "bulk length over the limit".
};

/// Bounds on what a reply may claim, checked before anything is buffered for it.
struct limits {
  std::size_t max_bulk_bytes = 64u << 20;  ///< Longest bulk string (Redis's own default is 512 MB).
  std::size_t max_elements = 1024;         ///< Longest array.
  std::size_t max_depth = 4;               ///< Nesting of arrays.
  std::size_t max_line_bytes = 4096;       ///< Longest simple string, error, integer or length line.
};

/**
 * Parse one value from the front of `buffer`. Stateless: after `incomplete` the caller reads more and
 * parses again from the value's first byte. A retry costs one pass over the value's headers, not over
 * its bulk bytes (they are skipped by their length), so large messages arriving in pieces stay linear.
 */
result parse(std::string_view buffer, value& out, limits const& lim = {});

/// Append a command as RESP2 clients send it: an array of bulk strings, e.g. PUBLISH channel payload.
void append_command(std::string& out, std::initializer_list<std::string_view> args);

}  // namespace fallbench::chat::resp
