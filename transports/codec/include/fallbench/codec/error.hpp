#pragma once
/// Errors of the Engine.IO / Socket.IO codec: an enum with its own category, as Beast's websocket/error.hpp.

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace fallbench {

/// The one error type of the network layers (transports, server, load generator).
using error_code = boost::system::error_code;

namespace codec {

/// What the codec rejects. Values are stable: they appear in counters and logs.
enum class error {
  /// A packet with no type character (Engine.IO v4 "Packet encoding": every packet starts with its type).
  empty_packet = 1,
  /// A type character outside 0-6 (Engine.IO) or 0-6 (Socket.IO).
  unknown_packet_type,
  /// A `b`-prefixed polling packet whose base64 is malformed.
  invalid_base64,
  /// A payload or packet longer than the negotiated maxPayload.
  payload_too_large,
  /// A Socket.IO namespace that does not start with `/` or is not closed by `,`.
  invalid_namespace,
  /// A Socket.IO ack id that is not a decimal integer, or overflows 64 bits.
  invalid_ack_id,
  /// A binary Socket.IO packet without `<n>-` or with an unreasonable attachment count.
  invalid_attachments,
  /// A Socket.IO payload that is not valid JSON.
  invalid_json,
  /// Valid JSON of the wrong shape for the packet type (e.g. an EVENT that is not a non-empty array
  /// starting with a string, a CONNECT payload that is not an object).
  invalid_payload,
  /// A binary frame arrived where no attachment was expected.
  unexpected_binary,
  /// The Engine.IO open packet lacks a field or has one of the wrong type or range.
  invalid_handshake,
  /// A Socket.IO payload nesting arrays and objects deeper than sio::max_json_depth.
  json_too_deep,
};

/// Groups of errors, for callers that react to a kind of failure rather than to each error.
enum class condition {
  /// The peer broke the protocol: close the session.
  protocol_violation = 1,
  /// The peer exceeded a size limit: close the session and count it apart.
  limit_exceeded,
};

boost::system::error_category const& error_category() noexcept;
boost::system::error_category const& condition_category() noexcept;

error_code make_error_code(error e) noexcept;
boost::system::error_condition make_error_condition(condition c) noexcept;

}  // namespace codec
}  // namespace fallbench

template <>
struct boost::system::is_error_code_enum<fallbench::codec::error> : std::true_type {};
template <>
struct boost::system::is_error_condition_enum<fallbench::codec::condition> : std::true_type {};
