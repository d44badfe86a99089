#include "fallbench/transport/random_id.hpp"

#include <openssl/rand.h>
#include <sys/random.h>

#include <cerrno>
#include <string_view>
#include <vector>

namespace fallbench::transport {

namespace {

bool fill_random(unsigned char* out, std::size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) == 1) return true;
  // OpenSSL could not seed itself: ask the kernel directly (blocks only before its pool is initialised).
  std::size_t got = 0;
  while (got < n) {
    auto const r = ::getrandom(out + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

std::optional<std::string> random_id(std::size_t bytes) {
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::vector<unsigned char> raw(bytes);
  if (!fill_random(raw.data(), raw.size())) return std::nullopt;
  std::string id;
  id.reserve((bytes * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes; i += 3) {
    auto const v = (unsigned{raw[i]} << 16) | (unsigned{raw[i + 1]} << 8) | unsigned{raw[i + 2]};
    for (int shift = 18; shift >= 0; shift -= 6) id += alphabet[(v >> shift) & 63];
  }
  if (auto const rest = bytes - i; rest > 0) {
    auto const v = (unsigned{raw[i]} << 16) | (rest == 2 ? unsigned{raw[i + 1]} << 8 : 0u);
    id += alphabet[(v >> 18) & 63];
    id += alphabet[(v >> 12) & 63];
    if (rest == 2) id += alphabet[(v >> 6) & 63];
  }
  return id;
}

}  // namespace fallbench::transport
