#include "fallbench/chatproto/chat.hpp"

#include "fallbench/codec/json_scan.hpp"
#include "fallbench/codec/socketio.hpp"

#include <array>
#include <charconv>

namespace fallbench::chatproto {
namespace {

namespace js = codec::json_scan;

decode_error from_scan(js::scan_error e) noexcept {
  switch (e) {
    case js::scan_error::none: return decode_error::none;
    case js::scan_error::truncated: return decode_error::truncated;
    case js::scan_error::syntax: return decode_error::syntax;
    case js::scan_error::bad_escape:
    case js::scan_error::bad_utf8:
    case js::scan_error::control_char: return decode_error::bad_string;
    case js::scan_error::too_deep: return decode_error::too_deep;
  }
  return decode_error::syntax;
}

bool valid_name(std::string_view s) noexcept { return !s.empty() && s.size() <= max_name_bytes; }

// One field of the first argument, as the scan of its object found it.
struct field {
  bool present = false;
  bool is_string = false;
  js::string_token token;
};

// What the scan of the first argument found: the fields the protocol reads, the tags, the kind of value.
struct first_arg {
  enum class type : std::uint8_t { object, string, other } kind = type::other;
  js::string_token string;  // the value, when it is a string
  field room, name, msg;
  std::array<std::optional<std::int64_t>, 4> tags;  // k, q, t, a
};

// Reads one object member's value into `f` (a string is kept; anything else is skipped and marks
// the field present but not a string).
js::scan_error read_field(std::string_view text, std::size_t& pos, field& f) noexcept {
  f.present = true;
  f.is_string = pos < text.size() && text[pos] == '"';
  if (f.is_string) return js::scan_string(text, pos, f.token);
  return js::skip_value(text, pos, 2, max_json_depth);
}

// Reads a tag: an integer is kept; any other value is skipped and clears the tag.
js::scan_error read_tag(std::string_view text, std::size_t& pos, std::optional<std::int64_t>& tag) noexcept {
  tag.reset();
  if (pos < text.size() && (text[pos] == '-' || (text[pos] >= '0' && text[pos] <= '9'))) {
    std::int64_t v = 0;
    bool is_integer = false;
    if (auto e = js::scan_number(text, pos, v, is_integer); e != js::scan_error::none) return e;
    if (is_integer) tag = v;
    return js::scan_error::none;
  }
  return js::skip_value(text, pos, 2, max_json_depth);
}

// Scans the object at text[pos] (depth 2: inside the event's array), keeping the known fields.
js::scan_error scan_object(std::string_view text, std::size_t& pos, first_arg& out) noexcept {
  ++pos;  // '{'
  js::skip_space(text, pos);
  if (pos >= text.size()) return js::scan_error::truncated;
  if (text[pos] == '}') {
    ++pos;
    return js::scan_error::none;
  }
  for (;;) {
    js::string_token key;
    if (auto e = js::scan_string(text, pos, key); e != js::scan_error::none) return e;
    js::skip_space(text, pos);
    if (pos >= text.size()) return js::scan_error::truncated;
    if (text[pos] != ':') return js::scan_error::syntax;
    ++pos;
    js::skip_space(text, pos);
    // Keys are compared as written: the protocol's keys have no escapes, and an escaped spelling of
    // one (`"r\u006fom"`) is rare enough to be decoded on the slow path below.
    std::string_view k = key.raw;
    std::string key_buffer;
    if (key.escaped) k = js::string_value(key, key_buffer);
    js::scan_error e = js::scan_error::none;
    if (k == "room")
      e = read_field(text, pos, out.room);
    else if (k == "name")
      e = read_field(text, pos, out.name);
    else if (k == "msg")
      e = read_field(text, pos, out.msg);
    else if (k.size() == 1 && (k[0] == 'k' || k[0] == 'q' || k[0] == 't' || k[0] == 'a'))
      e = read_tag(text, pos, out.tags[k[0] == 'k' ? 0 : k[0] == 'q' ? 1 : k[0] == 't' ? 2 : 3]);
    else
      e = js::skip_value(text, pos, 2, max_json_depth);
    if (e != js::scan_error::none) return e;
    js::skip_space(text, pos);
    if (pos >= text.size()) return js::scan_error::truncated;
    if (text[pos] == '}') {
      ++pos;
      return js::scan_error::none;
    }
    if (text[pos] != ',') return js::scan_error::syntax;
    ++pos;
    js::skip_space(text, pos);
  }
}

// Scans the first value at text[pos], then checks the rest of `text` up to `end` is `, value`*.
// `payload` receives the first value's text.
js::scan_error scan_args(std::string_view text, std::size_t pos, std::size_t end, first_arg& out,
                         std::string_view& payload) noexcept {
  std::size_t const start = pos;
  js::scan_error e = js::scan_error::none;
  if (text[pos] == '{') {
    out.kind = first_arg::type::object;
    e = scan_object(text, pos, out);
  } else if (text[pos] == '"') {
    out.kind = first_arg::type::string;
    e = js::scan_string(text, pos, out.string);
  } else {
    e = js::skip_value(text, pos, 1, max_json_depth);
  }
  if (e != js::scan_error::none) return e;
  payload = text.substr(start, pos - start);
  for (;;) {
    js::skip_space(text, pos);
    if (pos == end) return js::scan_error::none;
    if (pos > end || text[pos] != ',') return js::scan_error::syntax;
    ++pos;
    js::skip_space(text, pos);
    if (auto e2 = js::skip_value(text, pos, 1, max_json_depth); e2 != js::scan_error::none) return e2;
  }
}

void append_integer(std::int64_t v, std::string& out) {
  std::array<char, 24> buf{};
  auto const [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), ptr);
}

}  // namespace

std::string_view to_string(decode_error e) noexcept {
  switch (e) {
    case decode_error::none: return "no error";
    case decode_error::truncated: return "malformed JSON: the text ends inside a value";
    case decode_error::syntax: return "malformed JSON: syntax error or trailing data";
    case decode_error::bad_string: return "malformed JSON: invalid string (escape, control character or UTF-8)";
    case decode_error::too_deep: return "malformed JSON: nested too deep";
    case decode_error::missing_argument: return "the event has no argument";
    case decode_error::not_an_object: return "the argument is not an object";
    case decode_error::invalid_room: return "room must be a non-empty string";
    case decode_error::invalid_name: return "name must be a non-empty string";
    case decode_error::invalid_msg: return "msg must be a string";
  }
  return "unknown error";
}

std::string_view reason(event_kind k, decode_error e) noexcept {
  if (k == event_kind::chat) {
    switch (e) {
      case decode_error::invalid_msg: return "invalid chat: msg must be a string";
      case decode_error::invalid_room: return "invalid chat: room must be a non-empty string";
      default: return "invalid chat: name must be a non-empty string";
    }
  }
  return k == event_kind::join ? "invalid join: room and name must be non-empty strings"
                               : "invalid leave: room and name must be non-empty strings";
}

decode_error decoder::decode(event_kind kind, std::string_view args, message& out) {
  out = message{};
  out.kind = kind;
  std::size_t pos = 0;
  js::skip_space(args, pos);
  if (pos == args.size()) return decode_error::missing_argument;
  first_arg arg;
  if (auto e = scan_args(args, pos, args.size(), arg, out.payload); e != js::scan_error::none) return from_scan(e);

  if (arg.kind == first_arg::type::string) {
    // The older form: join/leave with a bare name.
    if (kind == event_kind::chat) return decode_error::not_an_object;
    out.legacy = true;
    out.name = js::string_value(arg.string, name_buffer_);
    return valid_name(out.name) ? decode_error::none : decode_error::invalid_name;
  }
  if (arg.kind != first_arg::type::object) return decode_error::not_an_object;
  if (arg.name.present && arg.name.is_string) out.name = js::string_value(arg.name.token, name_buffer_);
  if (arg.room.present && arg.room.is_string) out.room = js::string_value(arg.room.token, room_buffer_);
  if (arg.tags[0] && arg.tags[1] && arg.tags[2] && arg.tags[3])
    out.tags = harness_tags{*arg.tags[0], *arg.tags[1], *arg.tags[2], *arg.tags[3]};

  bool const name_ok = arg.name.is_string && valid_name(out.name);
  bool const room_ok = arg.room.is_string && valid_name(out.room);
  if (kind != event_kind::chat) {
    // Checked in this order so the reasons match the server's since the protocol began.
    if (!room_ok) return decode_error::invalid_room;
    if (!name_ok) return decode_error::invalid_name;
    return decode_error::none;
  }
  if (!name_ok) return decode_error::invalid_name;
  if (!arg.msg.is_string) return decode_error::invalid_msg;
  out.msg = arg.msg.token.raw;
  out.msg_escaped = arg.msg.token.escaped;
  if (!arg.room.present) {
    out.legacy = true;  // the older form: {name, msg} to everyone
    return decode_error::none;
  }
  return room_ok ? decode_error::none : decode_error::invalid_room;
}

void append_chat(chat const& c, std::string& out) {
  out += '{';
  if (!c.room.empty()) {
    out += R"("room":)";
    js::append_string(c.room, out);
    out += ',';
  }
  out += R"("name":)";
  js::append_string(c.name, out);
  out += R"(,"msg":)";
  js::append_string(c.msg, out);
  if (c.tags) {
    out += R"(,"k":)";
    append_integer(c.tags->stream, out);
    out += R"(,"q":)";
    append_integer(c.tags->seq, out);
    out += R"(,"t":)";
    append_integer(c.tags->intended_ns, out);
    out += R"(,"a":)";
    append_integer(c.tags->sent_ns, out);
  }
  out += '}';
}

void append_membership(std::string_view room, std::string_view name, std::string& out) {
  out += R"({"room":)";
  js::append_string(room, out);
  out += R"(,"name":)";
  js::append_string(name, out);
  out += '}';
}

void append_event_packet(event_kind kind, std::string_view payload, std::string& out) {
  out += static_cast<char>('0' + static_cast<int>(codec::sio::packet_type::event));
  codec::sio::append_event_payload(event_name(kind), payload, out);
}

void append_reject_args(std::string_view reason_text, std::string& out) {
  // Keys in nlohmann::json's sorted order, the bytes the server has always sent.
  out += R"([{"error":)";
  js::append_string(reason_text, out);
  out += R"(,"ok":false}])";
}

void append_ack_packet(std::uint64_t id, std::string_view args, std::string& out) {
  out += static_cast<char>('0' + static_cast<int>(codec::sio::packet_type::ack));
  std::array<char, 24> buf{};
  auto const [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), id);
  out.append(buf.data(), ptr);
  out += args;
}

decode_error decode_ack(std::string_view payload, ack& out) {
  out = ack{};
  std::size_t pos = 0;
  js::skip_space(payload, pos);
  if (pos >= payload.size()) return decode_error::truncated;
  if (payload[pos] != '[') return decode_error::syntax;
  // The array's own level is checked as a whole first, then its first element read.
  std::size_t end = pos;
  if (auto e = js::skip_value(payload, end, 0, max_json_depth); e != js::scan_error::none) return from_scan(e);
  std::size_t after = end;
  js::skip_space(payload, after);
  if (after != payload.size()) return decode_error::syntax;
  ++pos;
  js::skip_space(payload, pos);
  if (payload[pos] == ']') return decode_error::missing_argument;
  if (payload[pos] != '{') return decode_error::not_an_object;
  ++pos;
  std::optional<bool> ok;
  js::skip_space(payload, pos);
  while (payload[pos] != '}') {
    js::string_token key;
    js::scan_string(payload, pos, key);
    js::skip_space(payload, pos);
    ++pos;  // ':'
    js::skip_space(payload, pos);
    if (key.raw == "ok" && (payload[pos] == 't' || payload[pos] == 'f')) ok = payload[pos] == 't';
    if (key.raw == "error" && payload[pos] == '"') {
      js::string_token t;
      std::size_t p = pos;
      js::scan_string(payload, p, t);
      out.error = t.raw;
    }
    js::skip_value(payload, pos, 2, max_json_depth);
    js::skip_space(payload, pos);
    if (payload[pos] == ',') {
      ++pos;
      js::skip_space(payload, pos);
    }
  }
  if (!ok) return decode_error::not_an_object;
  out.ok = *ok;
  if (out.ok) out.error = {};
  return decode_error::none;
}

}  // namespace fallbench::chatproto
