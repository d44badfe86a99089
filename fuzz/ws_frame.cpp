// The WebSocket frame header parser, unmasking and the UTF-8 check (transports/codec/websocket.hpp).
// The first byte picks the side that reads. Oracles: a complete header lies within the bytes and is
// at most 14 bytes; a final frame's header is what write_header writes for it, byte for byte (the
// parser refuses lengths not in their shortest form, so there is one encoding); unmasking twice
// restores the payload; valid_utf8 agrees with a decoder written from RFC 3629's table.

#include "fallbench/codec/websocket.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ws = fallbench::codec::ws;

namespace {

/// RFC 3629 section 4, the UTF8-octets grammar, one rule per line.
bool reference_utf8(std::string_view s) {
  auto const* p = reinterpret_cast<unsigned char const*>(s.data());
  std::size_t const n = s.size();
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  for (std::size_t i = 0; i < n;) {
    unsigned char const c = p[i];
    std::size_t len = 0;
    bool ok = false;
    if (c <= 0x7F) {
      len = 1, ok = true;
    } else if (in(c, 0xC2, 0xDF)) {
      len = 2, ok = i + 1 < n && in(p[i + 1], 0x80, 0xBF);
    } else if (c == 0xE0) {
      len = 3, ok = i + 2 < n && in(p[i + 1], 0xA0, 0xBF) && in(p[i + 2], 0x80, 0xBF);
    } else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) {
      len = 3, ok = i + 2 < n && in(p[i + 1], 0x80, 0xBF) && in(p[i + 2], 0x80, 0xBF);
    } else if (c == 0xED) {
      len = 3, ok = i + 2 < n && in(p[i + 1], 0x80, 0x9F) && in(p[i + 2], 0x80, 0xBF);
    } else if (c == 0xF0) {
      len = 4, ok = i + 3 < n && in(p[i + 1], 0x90, 0xBF) && in(p[i + 2], 0x80, 0xBF) && in(p[i + 3], 0x80, 0xBF);
    } else if (in(c, 0xF1, 0xF3)) {
      len = 4, ok = i + 3 < n && in(p[i + 1], 0x80, 0xBF) && in(p[i + 2], 0x80, 0xBF) && in(p[i + 3], 0x80, 0xBF);
    } else if (c == 0xF4) {
      len = 4, ok = i + 3 < n && in(p[i + 1], 0x80, 0x8F) && in(p[i + 2], 0x80, 0xBF) && in(p[i + 3], 0x80, 0xBF);
    }
    if (!ok) return false;
    i += len;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  if (size == 0) return 0;
  bool const from_client = (data[0] & 1) != 0;
  std::string_view const bytes(reinterpret_cast<char const*>(data) + 1, size - 1);

  ws::frame_header h;
  auto const r = ws::parse_header(bytes, from_client, h);
  if (r == ws::parse_result::complete) {
    FUZZ_CHECK(h.size <= ws::max_header_bytes && h.size <= bytes.size());
    FUZZ_CHECK(h.masked == from_client);
    if (h.fin && !h.masked) {
      unsigned char header[ws::max_header_bytes];
      auto const n = ws::write_header(header, h.opcode, h.length);
      FUZZ_CHECK(n == h.size && std::memcmp(header, bytes.data(), n) == 0);
    }
    auto const available = std::min<std::uint64_t>(h.length, bytes.size() - h.size);
    std::string payload(bytes.substr(h.size, static_cast<std::size_t>(available)));
    std::string const original = payload;
    ws::unmask(payload.data(), payload.size(), h.mask);
    if (h.opcode == ws::text) FUZZ_CHECK(ws::valid_utf8(payload) == reference_utf8(payload));
    ws::unmask(payload.data(), payload.size(), h.mask);
    FUZZ_CHECK(payload == original);
    if (h.opcode == ws::close && payload.size() >= 2) {
      auto const code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                   static_cast<unsigned char>(payload[1]));
      (void)ws::valid_close_code(code);
    }
  }
  FUZZ_CHECK(ws::valid_utf8(bytes) == reference_utf8(bytes));
  return 0;
}
