// The chat protocol's decoder (transports/chatproto/chat.hpp). The first byte picks join, chat, leave
// or an ack; the rest is the arguments' JSON text. Oracles: what the decoder accepts, or refuses for
// a protocol reason, is JSON for nlohmann::json too; a refusal for malformed JSON is not; views point
// into the text; an accepted message re-encoded with append_chat / append_membership decodes again;
// the tags the generator reads from a chat's end (read_delivery_tags) are the decoder's.

#include "fallbench/chatproto/chat.hpp"
#include "fallbench/chatproto/mapping.hpp"
#include "fuzz_check.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cp = fallbench::chatproto;

namespace {

bool within(std::string_view inner, std::string_view outer) {
  return inner.empty() || (inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

enum class verdict : std::uint8_t { json, not_json, cannot_tell };

/// What nlohmann::json thinks of `[args]`. It refuses a number beyond a double's range
/// (out_of_range 406), which RFC 8259's grammar allows and section 6 leaves to the reader; the chat
/// decoder does not read numbers it does not need, so it accepts them. Such text is no test of the
/// decoder's grammar: cannot_tell.
verdict json_array(std::string_view args, std::size_t& values) {
  std::string text = "[";
  text.append(args);
  text.push_back(']');
  try {
    values = nlohmann::json::parse(text).size();
    return verdict::json;
  } catch (nlohmann::json::out_of_range const&) {
    return verdict::cannot_tell;
  } catch (nlohmann::json::parse_error const&) {
    return verdict::not_json;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view const args(reinterpret_cast<char const*>(data) + 1, size - 1);
  auto const selector = data[0] % 4;

  if (selector == 3) {
    cp::ack a;
    auto const e = cp::decode_ack(args, a);
    if (e == cp::decode_error::none) FUZZ_CHECK(within(a.error, args));
    return 0;
  }

  auto const kind = static_cast<cp::event_kind>(selector);
  static cp::decoder decoder;  // One per thread, reused as the server does.
  cp::message m;
  auto const e = decoder.decode(kind, args, m);
  if (e == cp::decode_error::too_deep) return 0;  // nlohmann has no depth bound to compare with.
  // The decoder and nlohmann::json must agree on what is JSON (RFC 8259: no lone surrogates, no raw
  // control characters, UTF-8 only), whatever the protocol then thinks of it.
  // nlohmann::json stops at a NUL byte outside strings (and ignores what follows), so it is no oracle
  // for text holding one.
  std::size_t values = 0;
  if (args.find('\0') == std::string_view::npos) {
    auto const v = json_array(args, values);
    if (v != verdict::cannot_tell) FUZZ_CHECK(cp::is_malformed(e) == (v == verdict::not_json));
  }
  if (e != cp::decode_error::none) return 0;

  // A chat of one argument whose tags the decoder found: read from the end, they are the same (a
  // second argument is the sender's business; the generator's chats have one).
  if (kind == cp::event_kind::chat && m.tags && m.tags->stream >= 0 && m.tags->seq >= 0 && values == 1) {
    auto const decoded = *m.tags;
    static cp::decoder fallback;
    cp::harness_tags read;
    FUZZ_CHECK(cp::read_delivery_tags(cp::event_mapping{}, fallback, args, read));
    FUZZ_CHECK(read.stream == decoded.stream && read.seq == decoded.seq && read.intended_ns == decoded.intended_ns &&
               read.sent_ns == decoded.sent_ns);
  }

  FUZZ_CHECK(m.kind == kind);
  FUZZ_CHECK(within(m.payload, args) && within(m.msg, args));
  FUZZ_CHECK(!m.name.empty() && m.name.size() <= cp::max_name_bytes);
  FUZZ_CHECK(m.room.size() <= cp::max_name_bytes);
  FUZZ_CHECK(m.legacy || !m.room.empty());

  // Copy the views out before the decoder is reused.
  std::string const room(m.room), name(m.name), msg(m.msg);
  std::string out;
  if (kind == cp::event_kind::chat && !m.legacy && !m.msg_escaped) {
    cp::append_chat({room, name, msg, m.tags}, out);
  } else if (kind != cp::event_kind::chat && !m.legacy) {
    cp::append_membership(room, name, out);
  } else {
    return 0;
  }
  cp::message again;
  FUZZ_CHECK(decoder.decode(kind, out, again) == cp::decode_error::none);
  FUZZ_CHECK(again.room == room && again.name == name);
  if (kind == cp::event_kind::chat) FUZZ_CHECK(again.msg == msg && again.tags.has_value() == m.tags.has_value());
  return 0;
}
