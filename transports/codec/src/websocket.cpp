#include "fallbench/codec/websocket.hpp"

namespace fallbench::codec::ws {

parse_result parse_header(std::string_view bytes, bool from_client, frame_header& out) noexcept {
  if (bytes.size() < 2) return parse_result::need_more;
  auto const* const p = reinterpret_cast<unsigned char const*>(bytes.data());
  out.fin = (p[0] & 0x80) != 0;
  out.opcode = p[0] & 0x0F;
  out.masked = (p[1] & 0x80) != 0;
  out.length = p[1] & 0x7F;
  std::size_t size = 2;
  bool bad = (p[0] & 0x70) != 0 || out.masked != from_client;
  if (out.length == 126) {
    if (bytes.size() < 4) return parse_result::need_more;
    out.length = (std::uint64_t{p[2]} << 8) | p[3];
    size = 4;
    bad = bad || out.length < 126;
  } else if (out.length == 127) {
    if (bytes.size() < 10) return parse_result::need_more;
    out.length = 0;
    for (std::size_t i = 0; i < 8; ++i) out.length = (out.length << 8) | p[2 + i];
    size = 10;
    bad = bad || out.length <= 0xFFFF || (out.length >> 63) != 0;
  }
  if (out.opcode >= close) {
    bad = bad || !out.fin || out.length > 125 || out.opcode > pong;
  } else {
    bad = bad || out.opcode > binary;
  }
  if (bad) return parse_result::protocol_error;
  if (out.masked) {
    if (bytes.size() < size + 4) return parse_result::need_more;
    for (std::size_t i = 0; i < 4; ++i) out.mask[i] = p[size + i];
    size += 4;
  }
  out.size = size;
  return parse_result::complete;
}

void unmask(char* data, std::size_t size, std::array<unsigned char, 4> const& mask) noexcept {
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>(data[i] ^ mask[i & 3]);
}

std::size_t write_header(unsigned char* out, unsigned opcode, std::uint64_t size) noexcept {
  out[0] = static_cast<unsigned char>(0x80 | opcode);
  std::size_t length_bytes = 0;
  if (size > 0xFFFF) {
    out[1] = 127;
    length_bytes = 8;
  } else if (size >= 126) {
    out[1] = 126;
    length_bytes = 2;
  } else {
    out[1] = static_cast<unsigned char>(size);
  }
  for (std::size_t i = 0; i < length_bytes; ++i)
    out[2 + i] = static_cast<unsigned char>(size >> (8 * (length_bytes - 1 - i)));
  return 2 + length_bytes;
}

void append_frame(unsigned opcode, std::string_view payload, unsigned char const* mask, std::string& out) {
  unsigned char header[max_header_bytes];
  std::size_t n = write_header(header, opcode, payload.size());
  if (mask) {
    header[1] |= 0x80;
    for (std::size_t i = 0; i < 4; ++i) header[n + i] = mask[i];
    n += 4;
  }
  auto const start = out.size();
  out.append(reinterpret_cast<char const*>(header), n);
  out.append(payload);
  if (mask) unmask(out.data() + start + n, payload.size(), {mask[0], mask[1], mask[2], mask[3]});
}

bool valid_utf8(std::string_view s) noexcept {
  auto const* p = reinterpret_cast<unsigned char const*>(s.data());
  auto const* const end = p + s.size();
  while (p < end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (*p >= 0xC2 && *p <= 0xDF) {
      n = 1;
    } else if (*p >= 0xE0 && *p <= 0xEF) {
      n = 2;
      if (*p == 0xE0) lo = 0xA0;
      if (*p == 0xED) hi = 0x9F;
    } else if (*p >= 0xF0 && *p <= 0xF4) {
      n = 3;
      if (*p == 0xF0) lo = 0x90;
      if (*p == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= n || p[1] < lo || p[1] > hi) return false;
    for (std::size_t i = 2; i <= n; ++i)
      if ((p[i] & 0xC0) != 0x80) return false;
    p += n + 1;
  }
  return true;
}

bool valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

}  // namespace fallbench::codec::ws
