#include "fallbench/codec/socketio.hpp"

#include "fallbench/codec/json_scan.hpp"

#include <charconv>

namespace fallbench::codec::sio {
namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Reads a run of digits as an unsigned integer; false on overflow. `text` must start with a digit.
bool read_number(std::string_view& text, std::uint64_t& value) {
  std::size_t n = 0;
  while (n < text.size() && is_digit(text[n])) ++n;
  auto const [ptr, ec] = std::from_chars(text.data(), text.data() + n, value);
  if (ec != std::errc{}) return false;
  text.remove_prefix(n);
  return true;
}

// Whether JSON text nests arrays and objects deeper than `limit`. Brackets inside strings do not count;
// nothing else is checked (the parser does that), so this only has to be exact for valid JSON.
bool nests_deeper_than(std::string_view json, std::size_t limit) noexcept {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char const c : json) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

bool payload_fits(packet_type type, nlohmann::json const& data) {
  switch (type) {
    case packet_type::connect: return data.is_null() || data.is_object();
    case packet_type::disconnect: return data.is_null();
    case packet_type::connect_error: return data.is_object() || data.is_string();
    case packet_type::event:
    case packet_type::binary_event:
      return data.is_array() && !data.empty() && (data.front().is_string() || data.front().is_number());
    case packet_type::ack:
    case packet_type::binary_ack: return data.is_array();
  }
  return false;
}

}  // namespace

error_code decode_header(std::string_view text, header& out) {
  if (text.empty()) return error::empty_packet;
  char const t = text.front();
  if (t < '0' || t > '6') return error::unknown_packet_type;
  header h;
  h.type = static_cast<packet_type>(t - '0');
  text.remove_prefix(1);

  if (is_binary(h.type)) {
    std::uint64_t count = 0;
    if (text.empty() || !is_digit(text.front()) || !read_number(text, count)) return error::invalid_attachments;
    if (text.empty() || text.front() != '-' || count > max_attachments) return error::invalid_attachments;
    text.remove_prefix(1);
    h.attachments = static_cast<std::size_t>(count);
  }

  // The namespace runs to the first comma, or to the end of the packet ("40/custom").
  if (!text.empty() && text.front() == '/') {
    auto const comma = text.find(',');
    if (comma == std::string_view::npos) {
      h.nsp = text;
      text = {};
    } else {
      h.nsp = text.substr(0, comma);
      text.remove_prefix(comma + 1);
    }
    if (h.nsp.size() < 2 && h.nsp != "/") return error::invalid_namespace;
  }

  if (!text.empty() && is_digit(text.front())) {
    std::uint64_t id = 0;
    if (!read_number(text, id)) return error::invalid_ack_id;
    h.id = id;
  }
  h.payload = text;
  out = h;
  return {};
}

error_code decode(std::string_view text, packet& out) {
  header h;
  if (auto ec = decode_header(text, h)) return ec;
  packet p;
  p.type = h.type;
  p.nsp.assign(h.nsp);
  p.id = h.id;
  p.attachments = h.attachments;
  if (!h.payload.empty()) {
    if (nests_deeper_than(h.payload, max_json_depth)) return error::json_too_deep;
    // nlohmann::json stops reading at a NUL byte outside a string, so `["a"]\0junk` would pass.
    // JSON never holds a raw NUL (RFC 8259: not whitespace, escaped in strings): refuse it first.
    // Found by fuzz/chatproto.cpp (docs/fuzzing.md).
    if (h.payload.find('\0') != std::string_view::npos) return error::invalid_json;
    p.data = nlohmann::json::parse(h.payload, nullptr, false);
    if (p.data.is_discarded()) return error::invalid_json;
    // A present payload of `null` would otherwise pass as "no payload" for CONNECT and DISCONNECT.
    if (p.data.is_null()) return error::invalid_payload;
  }
  if (!payload_fits(p.type, p.data)) return error::invalid_payload;
  // Acks answer a request: a CONNECT, DISCONNECT or CONNECT_ERROR never carries an id.
  if (p.id && (p.type == packet_type::connect || p.type == packet_type::disconnect ||
               p.type == packet_type::connect_error))
    return error::invalid_ack_id;
  out = std::move(p);
  return {};
}

void append(packet_type type, std::string_view nsp, std::optional<std::uint64_t> id, std::size_t attachments,
            std::string_view payload_json, std::string& out) {
  out += static_cast<char>('0' + static_cast<int>(type));
  if (is_binary(type)) {
    out += std::to_string(attachments);
    out += '-';
  }
  if (!nsp.empty() && nsp != "/") {
    out += nsp;
    out += ',';
  }
  if (id) out += std::to_string(*id);
  out += payload_json;
}

std::string encode(packet const& p) {
  std::string out;
  // Strings built by the application may hold invalid UTF-8: replace it rather than throw.
  std::string const payload =
      p.data.is_null() ? std::string{} : p.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  append(p.type, p.nsp, p.id, p.attachments, payload, out);
  return out;
}

void append_event_payload(std::string_view name, std::string_view args_json, std::string& out) {
  out += '[';
  json_scan::append_string(name, out);
  if (!args_json.empty()) {
    out += ',';
    out += args_json;
  }
  out += ']';
}

error_code split_event(std::string_view payload, event_parts& out, std::string& scratch) {
  namespace js = json_scan;
  std::size_t pos = 0;
  js::skip_space(payload, pos);
  if (pos >= payload.size() || payload[pos] != '[') return error::invalid_payload;
  ++pos;
  js::skip_space(payload, pos);
  if (pos >= payload.size()) return error::invalid_json;
  std::string_view name;
  if (payload[pos] == '"') {
    js::string_token token;
    if (js::scan_string(payload, pos, token) != js::scan_error::none) return error::invalid_json;
    name = js::string_value(token, scratch);
  } else {
    // The reference parser also accepts a number as the event name.
    std::size_t const start = pos;
    std::int64_t ignored = 0;
    bool is_integer = false;
    if (js::scan_number(payload, pos, ignored, is_integer) != js::scan_error::none) return error::invalid_payload;
    name = payload.substr(start, pos - start);
  }
  js::skip_space(payload, pos);
  // The arguments run to the last `]`, which must be the payload's last non-space character.
  std::size_t end = payload.size();
  while (end > pos && js::is_space(payload[end - 1])) --end;
  if (end == pos || payload[end - 1] != ']') return error::invalid_json;
  --end;
  std::string_view args;
  if (pos < end) {
    if (payload[pos] != ',') return error::invalid_json;
    args = payload.substr(pos + 1, end - pos - 1);
    std::size_t lead = 0;
    js::skip_space(args, lead);
    args.remove_prefix(lead);
    while (!args.empty() && js::is_space(args.back())) args.remove_suffix(1);
    if (args.empty()) return error::invalid_json;  // `["x",]`
  }
  out = {name, args};
  return {};
}

nlohmann::json placeholder(std::size_t num) { return {{"_placeholder", true}, {"num", num}}; }

void attachment_collector::start(packet p) {
  packet_ = std::move(p);
  buffers_.clear();
  total_bytes_ = 0;
  active_ = true;
}

error_code attachment_collector::add(std::string_view bytes) {
  if (!waiting()) return error::unexpected_binary;
  if (bytes.size() > max_total_bytes_ - total_bytes_) return error::payload_too_large;
  total_bytes_ += bytes.size();
  buffers_.emplace_back(bytes);
  return {};
}

std::pair<packet, std::vector<std::string>> attachment_collector::take() {
  active_ = false;
  return {std::move(packet_), std::move(buffers_)};
}

}  // namespace fallbench::codec::sio
