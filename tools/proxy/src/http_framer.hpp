#pragma once
/// Finds the message boundaries in one direction of an HTTP/1.1 byte stream without I/O: heads are
/// parsed (so profiles can read and rewrite them), bodies are only delimited (Content-Length, chunked,
/// until close) and passed through as they are. Used by one connection on its strand.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fallbench::proxy::detail {

/// One HTTP message head: the start line and the fields in their original order and spelling.
struct http_head {
  std::string method;          ///< Requests: "GET", ...
  std::string target;          ///< Requests: "/socket.io/?EIO=4&transport=polling"
  unsigned status = 0;         ///< Responses: 200, ...
  std::string start_line;      ///< The whole first line, without CRLF.
  std::vector<std::pair<std::string, std::string>> fields;

  /// The value of the first field named `name` (case-insensitive).
  std::optional<std::string_view> field(std::string_view name) const;
  /// Whether some field `name` holds `token` in its comma-separated list (case-insensitive).
  bool has_token(std::string_view name, std::string_view token) const;
  /// Remove every field named `name` (case-insensitive); @return how many.
  std::size_t erase(std::string_view name);
  /// Remove every field whose name starts with `prefix` (case-insensitive); @return how many.
  std::size_t erase_prefix(std::string_view prefix);
  /// Remove `token` from every field `name`'s list, and the field when its list becomes empty.
  void erase_token(std::string_view name, std::string_view token);
  /// The head as bytes: start line, fields, empty line.
  std::string serialize() const;
};

/// A push parser for one direction: call step() on the bytes not consumed yet until it says need_more.
class http_framer {
 public:
  enum class role { request, response };
  enum class event {
    need_more,  ///< Nothing can be done with these bytes alone; read more.
    head,       ///< A head of `size` bytes was parsed; see head().
    body,       ///< `size` bytes of body (raw, chunk framing included) to relay.
    end,        ///< The message ended (size 0); the next bytes start a new one.
    error,      ///< Malformed or oversized input; see error(). The stream cannot go on.
  };
  struct result {
    event what;
    std::size_t size;
  };

  http_framer(role r, std::size_t max_head_bytes) : role_(r), max_head_bytes_(max_head_bytes) {}

  /// Consume from the front of `in` (the bytes not consumed so far).
  result step(std::string_view in);

  /// After a response head: the response has no body whatever its fields (the request was HEAD).
  void no_body();
  /// From now on every byte is opaque (after a 101 Switching Protocols): step() yields body only.
  void tunnel();
  /// The source ended. @return whether that ends a message (a response delimited by close); the
  /// caller then treats it as `end`.
  bool finish();

  http_head const& head() const noexcept { return head_; }
  /// Whether the framer is between messages (nothing of a next message consumed yet).
  bool idle() const noexcept { return state_ == state::head; }
  bool tunneled() const noexcept { return state_ == state::tunnel; }
  /// Why step() returned error.
  std::string const& error() const noexcept { return error_; }

 private:
  enum class state { head, length, chunk_size, chunk_data, chunk_crlf, trailer, until_close, end, tunnel, failed };

  result fail(std::string why);
  bool parse_head(std::string_view text);
  bool frame_body();

  role role_;
  std::size_t max_head_bytes_;
  state state_ = state::head;
  std::uint64_t remaining_ = 0;
  http_head head_;
  std::string error_;
};

}  // namespace fallbench::proxy::detail
