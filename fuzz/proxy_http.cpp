// The fault proxy's HTTP/1.1 framer (tools/proxy/src/http_framer.hpp), driven as a proxy connection
// drives it: bytes arrive in pieces, step() runs until it needs more, a 101 response tunnels. The first
// byte picks the direction and the piece size. Oracles: no event claims more bytes than it was given;
// the framer always makes progress; a head that parsed, serialized, parses again to the same head.

#include "http_framer.hpp"
#include "fuzz_check.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using fallbench::proxy::detail::http_framer;
using fallbench::proxy::detail::http_head;

namespace {

constexpr std::size_t max_head_bytes = 8192;

void check_reparse(http_framer::role role, http_head const& head) {
  auto const text = head.serialize();
  http_framer again(role, max_head_bytes);
  auto const r = again.step(text);
  FUZZ_CHECK(r.what == http_framer::event::head && r.size == text.size());
  auto const& h = again.head();
  FUZZ_CHECK(h.method == head.method && h.target == head.target && h.status == head.status);
  FUZZ_CHECK(h.start_line == head.start_line && h.fields == head.fields);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  if (size == 0) return 0;
  auto const role = (data[0] & 1) != 0 ? http_framer::role::response : http_framer::role::request;
  std::size_t const piece = 1 + (data[0] >> 1);  // 1 to 128 bytes a read.
  std::string_view const input(reinterpret_cast<char const*>(data) + 1, size - 1);

  http_framer framer(role, max_head_bytes);
  std::string pending;
  std::size_t fed = 0;
  std::size_t steps = 0;
  bool failed = false;
  while (!failed && fed < input.size()) {
    auto const n = std::min(piece, input.size() - fed);
    pending.append(input.substr(fed, n));
    fed += n;
    std::size_t used = 0;
    for (;;) {
      FUZZ_CHECK(++steps < 4 * input.size() + 64);  // Every step but need_more consumes or ends a message.
      auto const rest = std::string_view(pending).substr(used);
      auto const r = framer.step(rest);
      FUZZ_CHECK(r.size <= rest.size());
      if (r.what == http_framer::event::need_more) break;
      if (r.what == http_framer::event::error) {
        FUZZ_CHECK(!framer.error().empty());
        failed = true;
        break;
      }
      used += r.size;
      if (r.what == http_framer::event::head) {
        check_reparse(role, framer.head());
        if (role == http_framer::role::response && framer.head().status == 101) framer.tunnel();
      }
    }
    pending.erase(0, used);
  }
  if (!failed) (void)framer.finish();
  return 0;
}
