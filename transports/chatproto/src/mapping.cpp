#include "fallbench/chatproto/mapping.hpp"

#include "fallbench/codec/json_scan.hpp"

#include <charconv>

namespace fallbench::chatproto {

namespace js = codec::json_scan;

namespace {

/// `s` escaped for the inside of a JSON string (no quotes).
void append_escaped(std::string_view s, std::string& out) {
  auto const at = out.size();
  js::append_string(s, out);
  out.erase(at, 1);
  out.pop_back();
}

void append_integer(std::int64_t v, std::string& out) {
  char buf[24];
  auto const [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

/// A JSON integer after `"key":` in `text` (the first occurrence), as the custom fields mode finds it.
std::optional<std::int64_t> find_field(std::string_view text, std::string_view quoted_key) {
  auto at = text.find(quoted_key);
  if (at == std::string_view::npos) return std::nullopt;
  at += quoted_key.size();
  while (at < text.size() && (text[at] == ' ' || text[at] == ':')) ++at;
  std::int64_t v = 0;
  auto const [end, ec] = std::from_chars(text.data() + at, text.data() + text.size(), v);
  if (ec != std::errc{}) return std::nullopt;
  return v;
}

/// The harness tags as append_chat writes them, closing the chat's object at the very end of `args`:
/// `,"k":K,"q":Q,"t":T,"a":A}`. The generator reads every delivery, and scanning the whole chat (its
/// message above all) to find them was a fifth of its CPU. In JSON text `,"k":` cannot come from
/// inside a string (a string's quote is escaped there), so the last one is a member of some object, and
/// the exact pattern up to the last byte makes it the outer object's: a relay that re-serialised the
/// chat in the same order (the Node peer) matches too; any other shape falls back to the decoder.
bool read_trailing_tags(std::string_view args, harness_tags& out) {
  auto at = args.rfind(R"(,"k":)");
  if (at == std::string_view::npos) return false;
  std::int64_t v[4];
  constexpr std::string_view keys[4] = {R"(,"k":)", R"(,"q":)", R"(,"t":)", R"(,"a":)"};
  for (int i = 0; i < 4; ++i) {
    if (args.substr(at, keys[i].size()) != keys[i]) return false;
    at += keys[i].size();
    auto const [end, ec] = std::from_chars(args.data() + at, args.data() + args.size(), v[i]);
    if (ec != std::errc{}) return false;
    at = static_cast<std::size_t>(end - args.data());
  }
  if (at + 1 != args.size() || args[at] != '}') return false;
  out = {v[0], v[1], v[2], v[3]};
  return true;
}

}  // namespace

std::optional<payload_template> payload_template::compile(std::string_view args_json, std::string& why) {
  payload_template t;
  t.source_ = std::string(args_json);
  std::string literal;
  for (std::size_t i = 0; i < args_json.size(); ++i) {
    if (args_json[i] == '{') {
      auto const close = args_json.find('}', i);
      auto const word = close == std::string_view::npos ? std::string_view{} : args_json.substr(i + 1, close - i - 1);
      std::optional<hole> h;
      if (word == "room") h = hole::room;
      if (word == "name") h = hole::name;
      if (word == "msg") h = hole::msg;
      if (h) {
        t.literals_.push_back(std::move(literal));
        literal.clear();
        t.holes_.push_back(*h);
        i = close;
        continue;
      }
      // `{` opening an object is JSON; `{word}` with a letter right after is a misspelt placeholder.
      if (close != std::string_view::npos && !word.empty() && word.find_first_of("\":,{ ") == std::string_view::npos) {
        why = "unknown placeholder {" + std::string(word) + "} (use {room}, {name} or {msg})";
        return std::nullopt;
      }
    }
    literal += args_json[i];
  }
  t.literals_.push_back(std::move(literal));
  return t;
}

void payload_template::render(std::string_view room, std::string_view name, std::string_view msg, std::string& out) const {
  for (std::size_t i = 0; i < holes_.size(); ++i) {
    out += literals_[i];
    append_escaped(holes_[i] == hole::room ? room : holes_[i] == hole::name ? name : msg, out);
  }
  out += literals_.back();
}

bool payload_template::uses_msg() const noexcept {
  for (auto h : holes_)
    if (h == hole::msg) return true;
  return false;
}

std::string_view to_string(tag_place p) noexcept { return p == tag_place::text ? "text" : "fields"; }

std::string_view to_string(join_confirm c) noexcept {
  switch (c) {
    case join_confirm::ack: return "ack";
    case join_confirm::echo: return "echo";
    case join_confirm::ack_or_echo: return "ack_or_echo";
    case join_confirm::settle: return "settle";
  }
  return "ack_or_echo";
}

bool event_mapping::is_default() const noexcept {
  event_mapping const d;
  return join_event == d.join_event && chat_event == d.chat_event && leave_event == d.leave_event && !join_args &&
         !chat_args && !leave_args && delivery_event == d.delivery_event && echo_event == d.echo_event && tag == d.tag &&
         chat_acked == d.chat_acked && confirm == d.confirm;
}

std::string event_mapping::confirm_text() const {
  switch (confirm) {
    case join_confirm::ack: return "an ack of '" + join_event + "'";
    case join_confirm::echo: return "the '" + echo_event + "' echo";
    case join_confirm::ack_or_echo: return "an ack or the '" + echo_event + "' echo";
    case join_confirm::settle: return "the settle time";
  }
  return {};
}

void append_join(event_mapping const& m, std::string_view room, std::string_view name, std::string& out) {
  if (m.join_args) return m.join_args->render(room, name, {}, out);
  append_membership(room, name, out);
}

void append_leave(event_mapping const& m, std::string_view room, std::string_view name, std::string& out) {
  if (m.leave_args) return m.leave_args->render(room, name, {}, out);
  append_membership(room, name, out);
}

void append_tagged_chat(event_mapping const& m, std::string_view room, std::string_view name, std::string_view filler,
                        harness_tags const& tags, std::string& out) {
  if (!m.chat_args && m.tag == tag_place::fields) return append_chat({room, name, filler, tags}, out);
  std::string text;
  std::string_view msg = filler;
  if (m.tag == tag_place::text) {
    text.reserve(filler.size() + 64);
    text += text_tag_prefix;
    for (auto v : {tags.stream, tags.seq, tags.intended_ns, tags.sent_ns}) {
      append_integer(v, text);
      text += ':';
    }
    text.back() = ';';
    text += filler;
    msg = text;
  }
  if (!m.chat_args) return append_chat({room, name, msg, std::nullopt}, out);
  auto const at = out.size();
  m.chat_args->render(room, name, msg, out);
  if (m.tag == tag_place::fields) {
    // Into the first argument (an object, checked when the mapping was read): before its last '}'
    // when it is the only argument.
    auto const close = out.rfind('}');
    if (close == std::string::npos || close < at) return;
    std::string fields;
    fields += R"(,"k":)";
    append_integer(tags.stream, fields);
    fields += R"(,"q":)";
    append_integer(tags.seq, fields);
    fields += R"(,"t":)";
    append_integer(tags.intended_ns, fields);
    fields += R"(,"a":)";
    append_integer(tags.sent_ns, fields);
    out.insert(close, fields);
  }
}

bool read_delivery_tags(event_mapping const& m, decoder& d, std::string_view args, harness_tags& out) {
  if (m.tag == tag_place::text) {
    // The tag's digits and colons need no escaping, so it reads the same inside any JSON string.
    auto at = args.find(text_tag_prefix);
    if (at == std::string_view::npos) return false;
    at += text_tag_prefix.size();
    std::int64_t v[4];
    for (int i = 0; i < 4; ++i) {
      auto const [end, ec] = std::from_chars(args.data() + at, args.data() + args.size(), v[i]);
      if (ec != std::errc{} || end == args.data() + args.size() || *end != (i < 3 ? ':' : ';')) return false;
      at = static_cast<std::size_t>(end - args.data()) + 1;
    }
    out = {v[0], v[1], v[2], v[3]};
    return out.stream >= 0 && out.seq >= 0;
  }
  if (!m.chat_args) {
    if (read_trailing_tags(args, out)) return out.stream >= 0 && out.seq >= 0;
    message chat;
    if (d.decode(event_kind::chat, args, chat) != decode_error::none || !chat.tags) return false;
    out = *chat.tags;
    return out.stream >= 0 && out.seq >= 0;
  }
  auto const k = find_field(args, R"("k")"), q = find_field(args, R"("q")"), t = find_field(args, R"("t")"),
             a = find_field(args, R"("a")");
  if (!k || !q || !t || !a) return false;
  out = {*k, *q, *t, *a};
  return out.stream >= 0 && out.seq >= 0;
}

bool is_join_echo(event_mapping const& m, decoder& d, std::string_view args, std::string_view room, std::string_view name) {
  if (!m.join_args) {
    message join;
    return d.decode(event_kind::join, args, join) == decode_error::none && join.room == room && join.name == name;
  }
  // A custom echo: its arguments hold the room and the name as JSON strings (the harness's names,
  // r<N> and c<N>, need no escaping).
  auto const has = [&](std::string_view s) {
    std::string quoted;
    quoted.reserve(s.size() + 2);
    quoted += '"';
    quoted += s;
    quoted += '"';
    return args.find(quoted) != std::string_view::npos;
  };
  return has(name) && has(room);
}

}  // namespace fallbench::chatproto
