#pragma once
/// The chat protocol (docs/design.md section 3, README "The chat protocol"): the join, chat and leave
/// events, the load harness's tags on a chat, their wire form, and a decoder that checks what the
/// protocol needs without a JSON DOM and keeps the original payload bytes, so a relay forwards a chat
/// exactly as it was sent. The one owner of this format: server, client, harness, CLI, benchmarks and
/// tests all read and write chats here. No I/O, no exceptions, safe to call from any thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fallbench::chatproto {

/// Names and room names longer than this are invalid input: a bound on what one client makes the
/// server hold per membership. Messages are bounded by the transport's maxPayload.
inline constexpr std::size_t max_name_bytes = 256;

/// Arguments nesting arrays and objects deeper than this are malformed: the bound of
/// codec::sio::max_json_depth (the event's own array counts as one level).
inline constexpr std::size_t max_json_depth = 128;

/// The three events of the protocol.
enum class event_kind : std::uint8_t { join, chat, leave };

/// The event's name on the wire (`"join"`, `"chat"`, `"leave"`).
constexpr std::string_view event_name(event_kind k) noexcept {
  switch (k) {
    case event_kind::join: return "join";
    case event_kind::leave: return "leave";
    case event_kind::chat: break;
  }
  return "chat";
}

/// The event named `name`, if it is one of the protocol's.
constexpr std::optional<event_kind> event_of(std::string_view name) noexcept {
  if (name == "chat") return event_kind::chat;
  if (name == "join") return event_kind::join;
  if (name == "leave") return event_kind::leave;
  return std::nullopt;
}

/// What the load harness adds to each chat it sends (keys `k`, `q`, `t`, `a`), so a receiver can
/// match a delivery to its send without a second channel.
struct harness_tags {
  std::int64_t stream = 0;       ///< `k`: the ledger stream (one per sender and room).
  std::int64_t seq = 0;          ///< `q`: the chat's sequence number on its stream, from 0.
  std::int64_t intended_ns = 0;  ///< `t`: when the chat was due, ns on the run's clock.
  std::int64_t sent_ns = 0;      ///< `a`: when it was actually sent, ns on the run's clock.
};

/// Why an event was refused. The first group is malformed JSON (the reference closes the session
/// for an unparsable packet); the second is valid JSON that breaks the protocol (answered {ok:false}).
enum class decode_error : std::uint8_t {
  none = 0,
  // Malformed: see is_malformed.
  truncated,       ///< The text ends inside a value.
  syntax,          ///< Not JSON, or something after the last argument.
  bad_string,      ///< A string with a bad escape, a lone surrogate, a control character or non-UTF-8 bytes.
  too_deep,        ///< Nested deeper than max_json_depth.
  // Invalid: valid JSON the protocol refuses.
  missing_argument,  ///< The event has no argument.
  not_an_object,     ///< The first argument is not an object (nor, for join/leave, the older form's string).
  invalid_room,      ///< `room` absent (where required), not a string, empty or over max_name_bytes.
  invalid_name,      ///< `name` absent, not a string, empty or over max_name_bytes.
  invalid_msg,       ///< A chat's `msg` absent or not a string.
};

/// Whether `e` means the JSON itself is malformed (not merely refused by the protocol).
constexpr bool is_malformed(decode_error e) noexcept {
  return e >= decode_error::truncated && e <= decode_error::too_deep;
}

/// A short English description of `e`.
std::string_view to_string(decode_error e) noexcept;

/**
 * The reason the server gives in its negative ack for an event of kind `k` refused with `e`
 * (e.g. "invalid chat: msg must be a string"). The wire texts of the protocol: clients show them.
 */
std::string_view reason(event_kind k, decode_error e) noexcept;

/// A decoded join, chat or leave. Every view points into the decoded text or into the decoder's
/// buffers: valid until the text dies or the decoder decodes again.
struct message {
  event_kind kind = event_kind::chat;
  /// The older form of the seed chat page: join/leave with a bare name string, chat without a room.
  bool legacy = false;
  std::string_view room;  ///< Decoded; empty in the older form.
  std::string_view name;  ///< Decoded.
  std::string_view msg;   ///< A chat's text as it appears between its quotes, escapes not decoded.
  bool msg_escaped = false;  ///< Whether `msg` holds escapes (decode it with codec::json_scan::string_value).
  std::optional<harness_tags> tags;  ///< Set when all four tags are present as integers.
  /// The first argument's original text, byte for byte (unknown fields, whitespace, escapes kept):
  /// what a relay forwards.
  std::string_view payload;
};

/// Decodes events. Holds the buffers of escaped names, reused from one event to the next, so a
/// decoder allocates only while its buffers grow. Not thread-safe: one per thread.
class decoder {
 public:
  /**
   * Decode the arguments of a `kind` event: `args` is the JSON text after the event's name (as
   * codec::sio::split_event gives it: one or more comma-separated values, or empty). Checks that all
   * of it is JSON and, in the first argument, only what the protocol needs: `room` and `name`
   * non-empty strings within max_name_bytes, a chat's `msg` a string. Unknown fields of any type
   * are skipped (and kept in `out.payload`). When a key appears twice the last one counts.
   * @return decode_error::none, a malformed-JSON error (is_malformed) or a protocol error.
   */
  decode_error decode(event_kind kind, std::string_view args, message& out);

 private:
  std::string room_buffer_;
  std::string name_buffer_;
};

/// The fields of a chat to send.
struct chat {
  std::string_view room;  ///< Empty for the older form (no `room` key).
  std::string_view name;
  std::string_view msg;
  std::optional<harness_tags> tags;
};

/// Append a chat's JSON object (the argument of a `chat` event) to `out`:
/// `{"room":…,"name":…,"msg":…}`, then the tags `"k","q","t","a"` when present.
void append_chat(chat const& c, std::string& out);

/// Append a join's or leave's JSON object `{"room":…,"name":…}` to `out`.
void append_membership(std::string_view room, std::string_view name, std::string& out);

/// Append the Socket.IO EVENT packet text `2["<kind>",<payload>]` in namespace `/` to `out`
/// (the Engine.IO message type `4` is the transport's to add): `payload` is a decoded message's
/// payload, or an object made by append_chat / append_membership.
void append_event_packet(event_kind kind, std::string_view payload, std::string& out);

/// The arguments of the ack to an accepted event: `[{"ok":true}]`. Constant, encoded once.
inline constexpr std::string_view ok_ack_args = R"([{"ok":true}])";

/// The arguments of the ack refusing an event with `reason_text`: `[{"error":"…","ok":false}]`.
void append_reject_args(std::string_view reason_text, std::string& out);

/**
 * Append the Socket.IO ACK packet text `3<id><args>` in namespace `/` to `out`, e.g.
 * `3<id>[{"ok":true}]` with ok_ack_args.
 */
void append_ack_packet(std::uint64_t id, std::string_view args, std::string& out);

/// What an ack to a chat says.
struct ack {
  bool ok = false;
  std::string_view error;  ///< The refusal's reason as it appears between its quotes; empty when ok.
};

/**
 * Decode the payload of an ack to a chat/join/leave: the JSON array after `3<id>`,
 * `[{"ok":true}]` or `[{"error":…,"ok":false}]`.
 * @return decode_error::none; a malformed-JSON error; missing_argument for `[]`; not_an_object when
 *         the first element is not an object with a boolean `ok`.
 */
decode_error decode_ack(std::string_view payload, ack& out);

}  // namespace fallbench::chatproto
