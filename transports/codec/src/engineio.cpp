#include "fallbench/codec/engineio.hpp"

#include "fallbench/codec/base64.hpp"

#include <nlohmann/json.hpp>

namespace fallbench::codec::eio {
namespace {

// The heartbeat durations feed steady_clock timers: larger values would overflow when converted to
// steady_clock::duration (and past INT64_MAX they would not even fit in std::chrono::milliseconds).
constexpr auto max_heartbeat_ms = static_cast<std::uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::duration::max()).count());

error_code decode_text(std::string_view text, packet& out) {
  if (text.empty()) return error::empty_packet;
  char const c = text.front();
  if (c < '0' || c > '6') return error::unknown_packet_type;
  out.type = static_cast<packet_type>(c - '0');
  out.binary = false;
  out.data.assign(text.substr(1));
  return {};
}

}  // namespace

void append_frame(packet const& p, std::string& out) {
  if (!p.binary) out += type_char(p.type);
  out += p.data;
}

std::string encode_frame(packet const& p) {
  std::string out;
  out.reserve(p.data.size() + 1);
  append_frame(p, out);
  return out;
}

error_code decode_frame(std::string_view frame, bool binary, packet& out, std::size_t max_bytes) {
  if (frame.size() > max_bytes) return error::payload_too_large;
  if (binary) {
    out.type = packet_type::message;
    out.binary = true;
    out.data.assign(frame);
    return {};
  }
  return decode_text(frame, out);
}

void append_payload_frame(std::string_view frame, bool binary, std::string& body) {
  if (!body.empty()) body += record_separator;
  if (binary) {
    body += 'b';
    base64_encode(frame, body);
  } else {
    body += frame;
  }
}

void append_payload(packet const& p, std::string& body) {
  if (p.binary) {
    append_payload_frame(p.data, true, body);
    return;
  }
  if (!body.empty()) body += record_separator;
  append_frame(p, body);
}

error_code decode_payload(std::string_view body, std::vector<packet>& out, std::size_t max_bytes) {
  if (body.size() > max_bytes) return error::payload_too_large;
  // An empty body is not an empty list: every payload holds at least one packet.
  while (true) {
    auto const end = body.find(record_separator);
    std::string_view const part = body.substr(0, end);
    packet p;
    if (!part.empty() && part.front() == 'b') {
      p.type = packet_type::message;
      p.binary = true;
      if (!base64_decode(part.substr(1), p.data)) return error::invalid_base64;
    } else if (auto ec = decode_text(part, p)) {
      return ec;
    }
    out.push_back(std::move(p));
    if (end == std::string_view::npos) return {};
    body.remove_prefix(end + 1);
  }
}

std::string encode_handshake(handshake const& h) {
  nlohmann::ordered_json j;
  j["sid"] = h.sid;
  j["upgrades"] = h.upgrades;
  j["pingInterval"] = h.ping_interval.count();
  j["pingTimeout"] = h.ping_timeout.count();
  j["maxPayload"] = h.max_payload_bytes;
  // The codec never throws: a sid or upgrade name that is not UTF-8 is replaced, not thrown on.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

error_code decode_handshake(std::string_view data, handshake& out) {
  // A raw NUL is never JSON, and nlohmann::json would stop reading at it (see socketio.cpp).
  if (data.find('\0') != std::string_view::npos) return error::invalid_handshake;
  auto const j = nlohmann::json::parse(data, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error::invalid_handshake;
  auto const sid = j.find("sid");
  auto const upgrades = j.find("upgrades");
  auto const interval = j.find("pingInterval");
  auto const timeout = j.find("pingTimeout");
  auto const max_payload = j.find("maxPayload");
  if (sid == j.end() || !sid->is_string() || sid->get_ref<std::string const&>().empty()) return error::invalid_handshake;
  if (upgrades == j.end() || !upgrades->is_array()) return error::invalid_handshake;
  if (interval == j.end() || !interval->is_number_unsigned()) return error::invalid_handshake;
  if (timeout == j.end() || !timeout->is_number_unsigned()) return error::invalid_handshake;
  if (max_payload == j.end() || !max_payload->is_number_unsigned()) return error::invalid_handshake;
  if (interval->get<std::uint64_t>() > max_heartbeat_ms || timeout->get<std::uint64_t>() > max_heartbeat_ms)
    return error::invalid_handshake;
  handshake h;
  h.sid = sid->get<std::string>();
  for (auto const& u : *upgrades) {
    if (!u.is_string()) return error::invalid_handshake;
    h.upgrades.push_back(u.get<std::string>());
  }
  h.ping_interval = std::chrono::milliseconds{interval->get<std::int64_t>()};
  h.ping_timeout = std::chrono::milliseconds{timeout->get<std::int64_t>()};
  h.max_payload_bytes = max_payload->get<std::uint64_t>();
  out = std::move(h);
  return {};
}

}  // namespace fallbench::codec::eio
