#pragma once
/// Unguessable identifiers: Engine.IO session ids and Socket.IO socket ids. Whoever knows a session id
/// can poll that session's messages and post as it, so ids come from the operating system's CSPRNG
/// (OpenSSL's RAND_bytes, getrandom(2) as a fallback), never from a seeded generator whose output
/// reveals its state (docs/hardening.md).

#include <cstddef>
#include <optional>
#include <string>

namespace fallbench::transport {

/// Random bytes per id: 15 bytes are 120 bits, 20 characters of base64url, the length of the
/// reference server's ids (engine.io's base64id: 15 random bytes).
inline constexpr std::size_t random_id_bytes = 15;

/// `bytes` bytes from the CSPRNG as unpadded base64url (RFC 4648 section 5). Thread-safe.
/// @return nullopt when no CSPRNG can give bytes (the caller refuses the session rather than
///         handing out a guessable id).
std::optional<std::string> random_id(std::size_t bytes = random_id_bytes);

}  // namespace fallbench::transport
