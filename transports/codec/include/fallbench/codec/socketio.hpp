#pragma once
/// Socket.IO v5 packets (github socketio/socket.io-protocol, "Packet encoding"):
///   <type>[<attachments>-][<namespace>,][<ack id>][JSON payload]
/// Pure functions: no I/O, no exceptions on network input, safe to call from any thread.

#include "fallbench/codec/error.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::codec::sio {

/// Socket.IO packet types; the wire form is the ASCII digit.
enum class packet_type : std::uint8_t { connect = 0, disconnect, event, ack, connect_error, binary_event, binary_ack };

/// Binary packets announce their attachments; more than this is refused to bound what one packet can
/// make the receiver hold (the reference parser has no bound; 1000 is far beyond any real use).
inline constexpr std::size_t max_attachments = 1000;

/// Payloads nesting arrays and objects deeper than this are refused before parsing. nlohmann::json
/// copies, compares and dumps values recursively, so a maxPayload-sized `[[[[...]]]]` (half a
/// million levels) would overflow the stack of whoever encodes or copies the decoded packet.
/// 128 is serde_json's default limit and far beyond any real event.
inline constexpr std::size_t max_json_depth = 128;

/// The parts of a packet's text, as views into it: no allocation, no JSON parsing.
struct header {
  packet_type type = packet_type::event;
  std::string_view nsp = "/";
  std::optional<std::uint64_t> id;
  std::size_t attachments = 0;
  std::string_view payload;  ///< The JSON text, possibly empty.
};

/**
 * Split a packet's text into its parts. Checks the type, attachment count, namespace and ack id,
 * not the JSON.
 * @return error::empty_packet, unknown_packet_type, invalid_attachments, invalid_namespace or
 *         invalid_ack_id.
 */
error_code decode_header(std::string_view text, header& out);

/// A decoded packet. `data` is null when the packet has no payload.
struct packet {
  packet_type type = packet_type::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;
  std::size_t attachments = 0;
  nlohmann::json data;
};

/**
 * Decode a packet's text and check its payload against its type, as the reference parser does:
 * CONNECT an object or nothing, DISCONNECT nothing, CONNECT_ERROR an object or string, (BINARY_)EVENT a
 * non-empty array whose first element is a string or number, (BINARY_)ACK an array. A literal `null`
 * payload is not "nothing": it fits no type.
 * Binary attachments, if any, follow as separate frames: see attachment_collector.
 * @return a header error, error::json_too_deep (see max_json_depth), error::invalid_json, or
 *         error::invalid_payload.
 */
error_code decode(std::string_view text, packet& out);

/**
 * Append a packet's text to `out`, its payload given as JSON text (empty for none).
 * The namespace is written only when it is not `/`.
 */
void append(packet_type type, std::string_view nsp, std::optional<std::uint64_t> id, std::size_t attachments,
            std::string_view payload_json, std::string& out);

/** The text of a packet. */
std::string encode(packet const& p);

/**
 * Append an EVENT payload `["name",args…]` to `out`: the name as a JSON string, then `args_json`
 * (the arguments' JSON text, comma-separated, written as given; empty for none).
 */
void append_event_payload(std::string_view name, std::string_view args_json, std::string& out);

/// The parts of an EVENT payload `["name",args…]`, as views: no JSON DOM.
struct event_parts {
  std::string_view name;  ///< The event name, decoded (a number name as its text, as the reference parser allows).
  std::string_view args;  ///< The arguments' JSON text between the name's comma and the closing `]`; empty for none.
};

/**
 * Split an EVENT payload into its name and the raw text of its arguments. The name is checked as a
 * JSON string (or number); the arguments are not parsed, only delimited: whoever reads them validates
 * them. A name with escapes is decoded into `scratch`, which `out.name` then views.
 * @return error::invalid_payload when the payload is not `[` name [`,` …] `]`, error::invalid_json
 *         when the name is not valid JSON.
 */
error_code split_event(std::string_view payload, event_parts& out, std::string& scratch);

/** Whether `type` carries binary attachments. */
constexpr bool is_binary(packet_type t) noexcept {
  return t == packet_type::binary_event || t == packet_type::binary_ack;
}

/** The JSON placeholder that stands for attachment `num` (`{"_placeholder":true,"num":N}`). */
nlohmann::json placeholder(std::size_t num);

/// Gathers the binary frames that follow a binary packet. Not thread-safe: one per Engine.IO session.
class attachment_collector {
 public:
  /// @param max_total_bytes  bound on the attachments of one packet together: each frame is bounded
  ///                         by maxPayload, but 1000 of them would let one packet hold a gigabyte.
  explicit attachment_collector(std::size_t max_total_bytes = 1'000'000) : max_total_bytes_(max_total_bytes) {}

  /// Start collecting for `p`; the packet is complete at once when it expects no attachment.
  void start(packet p);

  /// Add one binary frame. @return error::unexpected_binary when no packet awaits one,
  ///         error::payload_too_large when the packet's attachments pass max_total_bytes.
  error_code add(std::string_view bytes);

  /// Whether a packet is waiting for more attachments.
  bool waiting() const noexcept { return active_ && buffers_.size() < packet_.attachments; }

  /// Whether a complete packet is ready to take.
  bool ready() const noexcept { return active_ && buffers_.size() == packet_.attachments; }

  /// Take the complete packet and its attachments, in order. Precondition: ready().
  std::pair<packet, std::vector<std::string>> take();

 private:
  packet packet_;
  std::vector<std::string> buffers_;
  std::size_t total_bytes_ = 0;
  std::size_t max_total_bytes_;
  bool active_ = false;
};

}  // namespace fallbench::codec::sio
