// Engine.IO v4 HTTP long-polling payloads: packets separated by 0x1E, binary ones as `b` + base64
// (transports/codec/engineio.hpp). Oracle: a payload that decodes, re-encoded packet by packet,
// decodes to the same packets (the base64 may differ in its padding bits, the packets may not).

#include "fallbench/codec/engineio.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace eio = fallbench::codec::eio;

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const body(reinterpret_cast<char const*>(data), size);
  std::vector<eio::packet> packets;
  if (eio::decode_payload(body, packets, 64 * 1024)) return 0;
  FUZZ_CHECK(!packets.empty());
  std::string again;
  for (auto const& p : packets) eio::append_payload(p, again);
  std::vector<eio::packet> packets2;
  FUZZ_CHECK(!eio::decode_payload(again, packets2));
  FUZZ_CHECK(packets == packets2);
  return 0;
}
