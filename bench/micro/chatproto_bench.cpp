// The server's per-chat cost: what happens between a chat's Socket.IO text arriving and its
// relay frame's text being ready, before fan-out. The DOM path is what server/ did before the chat
// protocol module (sio::decode into a nlohmann DOM, checks on the DOM, a dump of the first argument);
// the raw path is what it does now (header, split_event, the DOM-free decoder, the original bytes
// appended into a reused buffer). Also each decode alone.

#include "chat_event.hpp"

#include "fallbench/chatproto/chat.hpp"
#include "fallbench/codec/socketio.hpp"

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace fallbench::micro {
namespace {

namespace sio = codec::sio;
using json = nlohmann::json;

bool dom_valid_name(json const& obj, char const* key) {
  auto const it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return false;
  auto const& s = it->get_ref<std::string const&>();
  return !s.empty() && s.size() <= chatproto::max_name_bytes;
}

/// Before: decode into a DOM, check room/name/msg on it, dump the argument into the relayed EVENT.
void chat_relay_dom(benchmark::State& state) {
  std::string const text = chat_event_text(state.range(0));
  std::size_t bytes = 0;
  for (auto _ : state) {
    sio::packet p;
    if (sio::decode(text, p)) {
      state.SkipWithError("sio::decode failed");
      break;
    }
    std::string const event = p.data.front().get<std::string>();
    p.data.erase(p.data.begin());
    json const& arg = p.data.front();
    auto const msg = arg.find("msg");
    if (event != "chat" || !arg.is_object() || !dom_valid_name(arg, "name") || msg == arg.end() ||
        !msg->is_string() || !dom_valid_name(arg, "room")) {
      state.SkipWithError("invalid chat");
      break;
    }
    std::string payload = "[";
    payload += json(event).dump();
    payload += ',';
    payload += arg.dump(-1, ' ', false, json::error_handler_t::replace);
    payload += ']';
    std::string out;
    out.reserve(payload.size() + 8);
    sio::append(sio::packet_type::event, "/", std::nullopt, 0, payload, out);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}
BENCHMARK(chat_relay_dom)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

/// Now: header, split_event, the DOM-free decoder, the original arguments into a reused buffer.
void chat_relay_raw(benchmark::State& state) {
  std::string const text = chat_event_text(state.range(0));
  chatproto::decoder decoder;
  std::string name_scratch;
  std::string out;
  for (auto _ : state) {
    sio::header h;
    sio::event_parts ev;
    chatproto::message m;
    if (sio::decode_header(text, h) || sio::split_event(h.payload, ev, name_scratch) ||
        chatproto::event_of(ev.name) != chatproto::event_kind::chat ||
        decoder.decode(chatproto::event_kind::chat, ev.args, m) != chatproto::decode_error::none) {
      state.SkipWithError("invalid chat");
      break;
    }
    out.clear();
    chatproto::append_event_packet(m.kind, m.payload, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  if (!state.error_occurred() && out != text) state.SkipWithError("the relayed text differs from the input");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(chat_relay_raw)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

/// The chat's arguments into a nlohmann DOM, alone.
void chat_decode_dom(benchmark::State& state) {
  std::string const args = chat_args_text(state.range(0));
  for (auto _ : state) {
    auto j = json::parse(args, nullptr, false);
    if (j.is_discarded()) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(&j);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(args.size()));
}
BENCHMARK(chat_decode_dom)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

/// The chat's arguments through the DOM-free decoder (validation and the harness tags), alone.
void chat_decode_scan(benchmark::State& state) {
  std::string const args = chat_args_text(state.range(0));
  chatproto::decoder decoder;
  for (auto _ : state) {
    chatproto::message m;
    if (decoder.decode(chatproto::event_kind::chat, args, m) != chatproto::decode_error::none || !m.tags) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(&m);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(args.size()));
}
BENCHMARK(chat_decode_scan)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

}  // namespace
}  // namespace fallbench::micro
