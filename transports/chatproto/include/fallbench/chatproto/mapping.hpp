#pragma once
/// An event mapping (docs/targets.md): which events and payloads stand for the harness's join, chat
/// and leave on a server that speaks its own chat protocol, how a delivery is recognised and where the
/// harness's tag travels, and how a join is confirmed. The default mapping is the chat protocol of
/// docs/design.md section 3, built and read by chat.hpp exactly as before. No I/O, no exceptions.

#include "fallbench/chatproto/chat.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::chatproto {

/// The arguments of an event as JSON text with placeholders `{room}`, `{name}` and `{msg}` inside its
/// strings, e.g. `{"channel":"{room}","text":"{msg}"}` or `"{room}","{msg}"` (two arguments).
class payload_template {
 public:
  /// Compile `args_json` (valid JSON values, comma-separated, as after an event's name; the caller
  /// checked the JSON). Returns nullopt and says why when a `{...}` is not a known placeholder.
  static std::optional<payload_template> compile(std::string_view args_json, std::string& why);

  /// Append the arguments with each placeholder replaced by its value, escaped for a JSON string.
  void render(std::string_view room, std::string_view name, std::string_view msg, std::string& out) const;

  bool uses_msg() const noexcept;
  /// Whether the first argument is an object (so tags can be added to it as fields).
  bool first_is_object() const noexcept { return !source_.empty() && source_.front() == '{'; }
  std::string const& source() const noexcept { return source_; }

 private:
  enum class hole : std::uint8_t { room, name, msg };
  std::string source_;
  std::vector<std::string> literals_;  ///< literals_.size() == holes_.size() + 1
  std::vector<hole> holes_;
};

/// Where the harness's tag (stream, sequence, intended and actual send times) travels in a chat.
enum class tag_place : std::uint8_t {
  fields,  ///< As fields `k`, `q`, `t`, `a` of the chat's first argument (our protocol).
  text,    ///< As a prefix `fb1:<k>:<q>:<t>:<a>;` of the message text: survives a server that keeps
           ///< only {name, msg} or renames every field.
};

/// How the harness knows its join took effect before it chats and counts deliveries.
enum class join_confirm : std::uint8_t {
  ack,          ///< The server acknowledges the join.
  echo,         ///< The server sends the join back to the room, the joiner included.
  ack_or_echo,  ///< Whichever comes first (the default: our server acks, a plain socket.io one echoes).
  settle,       ///< Neither: the join counts after a settle time.
};

std::string_view to_string(tag_place p) noexcept;
std::string_view to_string(join_confirm c) noexcept;

struct event_mapping {
  std::string join_event{event_name(event_kind::join)};
  std::string chat_event{event_name(event_kind::chat)};
  std::string leave_event{event_name(event_kind::leave)};
  /// Payloads; unset: our protocol's {room, name} and {room, name, msg, k, q, t, a}.
  std::optional<payload_template> join_args, chat_args, leave_args;
  std::string delivery_event{event_name(event_kind::chat)};  ///< What a delivered chat is called.
  std::string echo_event{event_name(event_kind::join)};      ///< What a join echo is called.
  tag_place tag = tag_place::fields;
  bool chat_acked = true;  ///< Chats are acknowledged ({ok: true}); false: sent without an ack.
  join_confirm confirm = join_confirm::ack_or_echo;
  std::chrono::milliseconds settle{1000};  ///< For join_confirm::settle.

  /// Our protocol, unchanged.
  bool is_default() const noexcept;
  /// What a run waited for to count a join, in words: "an ack or a join echo".
  std::string confirm_text() const;
};

/// The prefix of a text tag: `fb1:`.
inline constexpr std::string_view text_tag_prefix = "fb1:";

/// Append the arguments of a join (or a leave) of `name` into `room`.
void append_join(event_mapping const& m, std::string_view room, std::string_view name, std::string& out);
void append_leave(event_mapping const& m, std::string_view room, std::string_view name, std::string& out);

/// Append the arguments of a chat carrying `tags`, its text `filler` (after the tag in text mode).
void append_tagged_chat(event_mapping const& m, std::string_view room, std::string_view name, std::string_view filler,
                        harness_tags const& tags, std::string& out);

/// Read the tags of a delivery (the arguments of a `delivery_event`). False when it carries none.
bool read_delivery_tags(event_mapping const& m, decoder& d, std::string_view args, harness_tags& out);

/// Whether `args` of an `echo_event` are the join of `name` into `room`.
bool is_join_echo(event_mapping const& m, decoder& d, std::string_view args, std::string_view room, std::string_view name);

}  // namespace fallbench::chatproto
