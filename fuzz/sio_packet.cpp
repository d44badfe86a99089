// Socket.IO v5 packets (transports/codec/socketio.hpp): the header split, the full decode with its
// payload checks, the event splitter and the binary attachment collector. Oracles: the header and the
// full decode agree; a decoded packet re-encodes to text that decodes to the same packet; an event's
// name from split_event is the first element of the decoded array.

#include "fallbench/codec/socketio.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sio = fallbench::codec::sio;

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  std::string_view const text(reinterpret_cast<char const*>(data), size);

  sio::header h;
  auto const header_ec = sio::decode_header(text, h);
  if (!header_ec) FUZZ_CHECK(h.payload.size() <= text.size());

  sio::packet p;
  if (sio::decode(text, p)) return 0;
  FUZZ_CHECK(!header_ec);
  FUZZ_CHECK(p.type == h.type && p.nsp == h.nsp && p.id == h.id && p.attachments == h.attachments);

  auto const again = sio::encode(p);
  sio::packet q;
  FUZZ_CHECK(!sio::decode(again, q));
  FUZZ_CHECK(q.type == p.type && q.nsp == p.nsp && q.id == p.id && q.attachments == p.attachments);
  FUZZ_CHECK(q.data == p.data);

  if (p.type == sio::packet_type::event || p.type == sio::packet_type::binary_event) {
    sio::event_parts parts;
    std::string scratch;
    if (!sio::split_event(h.payload, parts, scratch)) {
      auto const& first = p.data.at(0);
      if (first.is_string()) FUZZ_CHECK(parts.name == first.get_ref<std::string const&>());
    }
  }

  // The frames after a binary packet: here, a few slices of the packet's own text.
  sio::attachment_collector collector(4096);
  collector.start(p);
  for (std::size_t i = 0; collector.waiting() && i < 8; ++i) {
    if (collector.add(text.substr(0, i * 7))) break;
  }
  if (collector.ready()) {
    auto [packet, buffers] = collector.take();
    FUZZ_CHECK(buffers.size() == packet.attachments);
  }
  return 0;
}
