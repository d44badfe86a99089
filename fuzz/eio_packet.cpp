// Engine.IO v4 WebSocket frames and the open packet's handshake (transports/codec/engineio.hpp).
// The first byte picks text or binary; the rest is the frame. Oracles: whatever decodes re-encodes
// to a frame that decodes to the same packet; a handshake that parses survives encode and parse.

#include "fallbench/codec/engineio.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace eio = fallbench::codec::eio;

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  if (size == 0) return 0;
  bool const binary = (data[0] & 1) != 0;
  std::string_view const frame(reinterpret_cast<char const*>(data) + 1, size - 1);

  eio::packet p;
  if (!eio::decode_frame(frame, binary, p, 64 * 1024)) {
    FUZZ_CHECK(!p.binary || p.type == eio::packet_type::message);
    auto const again = eio::encode_frame(p);
    eio::packet q;
    FUZZ_CHECK(!eio::decode_frame(again, p.binary, q));
    FUZZ_CHECK(p == q);
    if (p.type == eio::packet_type::open && !p.binary) {
      eio::handshake h;
      if (!eio::decode_handshake(p.data, h)) {
        eio::handshake h2;
        FUZZ_CHECK(!eio::decode_handshake(eio::encode_handshake(h), h2));
        FUZZ_CHECK(h == h2);
      }
    }
  }
  return 0;
}
