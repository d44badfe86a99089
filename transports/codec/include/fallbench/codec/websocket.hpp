#pragma once
/// WebSocket framing (RFC 6455 section 5) below Engine.IO: frame headers, masking, the rules both
/// ends check. Pure functions over bytes, no I/O; the server's and the client's connections frame with
/// them after Beast has done the opening handshake.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fallbench::codec::ws {

/// Opcodes (5.2).
enum opcode : unsigned { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

/// Close status codes used here (7.4.1).
enum close_code : std::uint16_t {
  normal = 1000,
  protocol_error = 1002,
  invalid_data = 1007,
  too_big = 1009,
  try_again_later = 1013,
};

/// The longest header: 2 bytes, an 8-byte length, a 4-byte mask.
inline constexpr std::size_t max_header_bytes = 14;

/// A parsed frame header.
struct frame_header {
  bool fin = false;
  unsigned opcode = 0;
  bool masked = false;
  std::uint64_t length = 0;
  std::array<unsigned char, 4> mask{};
  std::size_t size = 0;  ///< Header bytes, mask included.
};

enum class parse_result { complete, need_more, protocol_error };

/**
 * Parse the frame header at the start of `bytes`.
 * @param from_client  frames a server reads must be masked, frames a client reads must not be (5.1).
 * @return need_more until the whole header is there; protocol_error for reserved bits (no extension
 *         is negotiated), a wrong mask bit, an unknown opcode, a fragmented or long control frame, or
 *         a length not in its shortest form.
 */
parse_result parse_header(std::string_view bytes, bool from_client, frame_header& out) noexcept;

/// XOR `size` bytes in place with the mask, starting at mask byte 0.
void unmask(char* data, std::size_t size, std::array<unsigned char, 4> const& mask) noexcept;

/// Write an unmasked final frame's header for `size` payload bytes to `out` (room for 10 bytes).
/// @return the header's length.
std::size_t write_header(unsigned char* out, unsigned opcode, std::uint64_t size) noexcept;

/// Append a whole final frame to `out`, masked with `mask` when given (a client's frame).
void append_frame(unsigned opcode, std::string_view payload, unsigned char const* mask, std::string& out);

/// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), as text
/// frames and close reasons must be (8.1).
bool valid_utf8(std::string_view s) noexcept;

/// A status code a peer may send in a close frame (7.4.1, 7.4.2; 1012-1014 registered since).
bool valid_close_code(std::uint16_t code) noexcept;

}  // namespace fallbench::codec::ws
