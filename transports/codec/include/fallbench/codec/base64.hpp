#pragma once
/// Standard base64 (RFC 4648 section 4, with padding), as Engine.IO uses for binary packets in polling payloads.

#include <string>
#include <string_view>

namespace fallbench::codec {

/** Append the base64 form of `bytes` to `out`. Never fails. */
void base64_encode(std::string_view bytes, std::string& out);

/**
 * Decode padded base64 `text` and append the bytes to `out`.
 * @return false when `text` is not canonical padded base64 (bad length, alphabet or padding);
 *         `out` may then hold a partial result and should be discarded.
 */
[[nodiscard]] bool base64_decode(std::string_view text, std::string& out);

}  // namespace fallbench::codec
