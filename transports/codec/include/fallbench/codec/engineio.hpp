#pragma once
/// Engine.IO v4 packets and HTTP long-polling payloads (github socketio/engine.io-protocol, README).
/// Pure functions over strings: no I/O, no exceptions on network input, safe to call from any thread.

#include "fallbench/codec/error.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::codec::eio {

/// Engine.IO packet types ("Packet types" table); the wire form is the ASCII digit.
enum class packet_type : std::uint8_t { open = 0, close, ping, pong, message, upgrade, noop };

/// The separator between packets of one polling payload ("Packet encoding": record separator 0x1E).
inline constexpr char record_separator = '\x1e';

/// One Engine.IO packet. `binary` packets carry raw bytes in `data` and are always `message`s.
struct packet {
  packet_type type = packet_type::message;
  bool binary = false;
  std::string data;

  friend bool operator==(packet const&, packet const&) = default;
};

/** The ASCII digit of `t` on the wire. */
constexpr char type_char(packet_type t) noexcept { return static_cast<char>('0' + static_cast<int>(t)); }

/**
 * Append the WebSocket frame of a packet to `out`: the type digit then the data for text packets,
 * the raw bytes for binary ones (to be sent as a binary frame).
 */
void append_frame(packet const& p, std::string& out);

/** The WebSocket frame of a packet (see append_frame). */
std::string encode_frame(packet const& p);

/**
 * Decode one WebSocket frame. A binary frame is a binary message packet as it is.
 * @param max_bytes  frames longer than this fail with error::payload_too_large.
 * @return error::empty_packet or error::unknown_packet_type on a malformed text frame.
 */
error_code decode_frame(std::string_view frame, bool binary, packet& out, std::size_t max_bytes = SIZE_MAX);

/**
 * Append one encoded frame (as produced by append_frame) to a polling payload body:
 * the record separator first unless the body is empty, and `b` + base64 for binary frames.
 */
void append_payload_frame(std::string_view frame, bool binary, std::string& body);

/** Append a packet to a polling payload body (see append_payload_frame). */
void append_payload(packet const& p, std::string& body);

/**
 * Split a polling payload into packets, appending them to `out`.
 * @param max_bytes  bodies longer than this fail with error::payload_too_large.
 * @return the first error met; packets decoded before it stay in `out`, and a caller should close
 *         the session rather than act on a partial payload.
 */
error_code decode_payload(std::string_view body, std::vector<packet>& out, std::size_t max_bytes = SIZE_MAX);

/// The data of the open packet ("Handshake"): exactly these five fields, in this order on the wire.
struct handshake {
  std::string sid;
  std::vector<std::string> upgrades;
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  std::uint64_t max_payload_bytes = 1'000'000;

  friend bool operator==(handshake const&, handshake const&) = default;
};

/** The open packet's data (JSON text, without the leading `0`). */
std::string encode_handshake(handshake const& h);

/**
 * Parse the open packet's data (without the leading `0`).
 * @return error::invalid_handshake when a field is missing or of the wrong type, or when pingInterval
 *         or pingTimeout would overflow std::chrono::steady_clock::duration.
 */
error_code decode_handshake(std::string_view data, handshake& out);

}  // namespace fallbench::codec::eio
