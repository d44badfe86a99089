// The codec (transports/codec): Engine.IO frames per packet type, polling payload split and join, and
// a Socket.IO chat event encoded and decoded, with and without the JSON DOM.

#include "chat_event.hpp"

#include "fallbench/codec/engineio.hpp"
#include "fallbench/codec/socketio.hpp"

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fallbench::micro {
namespace {

namespace eio = codec::eio;
namespace sio = codec::sio;

/// A representative packet of each type: the open packet's handshake, an empty heartbeat, a chat.
eio::packet sample_packet(eio::packet_type type) {
  switch (type) {
    case eio::packet_type::open:
      return {type, false,
              eio::encode_handshake({"Hq3GJ8Pv0Rk2XQn4AAAB", {"websocket"}, std::chrono::milliseconds{25000},
                                     std::chrono::milliseconds{20000}, 1'000'000})};
    case eio::packet_type::message: return {type, false, chat_event_text(256)};
    default: return {type, false, {}};
  }
}

void eio_encode_frame(benchmark::State& state, eio::packet_type type) {
  auto const p = sample_packet(type);
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string frame = eio::encode_frame(p);
    bytes = frame.size();
    benchmark::DoNotOptimize(frame.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

void eio_decode_frame(benchmark::State& state, eio::packet_type type) {
  std::string const frame = eio::encode_frame(sample_packet(type));
  eio::packet p;
  for (auto _ : state) {
    if (eio::decode_frame(frame, false, p)) {
      state.SkipWithError("decode_frame failed");
      break;
    }
    benchmark::DoNotOptimize(p.data.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(frame.size()));
}

// One benchmark per packet type, named after it: eio_encode_frame/open, ...
int const packet_type_benchmarks = [] {
  std::pair<eio::packet_type, char const*> const types[] = {
      {eio::packet_type::open, "open"},       {eio::packet_type::close, "close"}, {eio::packet_type::ping, "ping"},
      {eio::packet_type::pong, "pong"},       {eio::packet_type::message, "message"},
      {eio::packet_type::upgrade, "upgrade"}, {eio::packet_type::noop, "noop"}};
  for (auto const& [type, name] : types) {
    benchmark::RegisterBenchmark((std::string("eio_encode_frame/") + name).c_str(), eio_encode_frame, type);
  }
  for (auto const& [type, name] : types) {
    benchmark::RegisterBenchmark((std::string("eio_decode_frame/") + name).c_str(), eio_decode_frame, type);
  }
  return 0;
}();

// ---- polling payloads: N chat messages joined with 0x1E, as one GET response carries them ----------

std::vector<std::string> chat_frames(std::int64_t n) {
  std::vector<std::string> frames;
  for (std::int64_t i = 0; i < n; ++i) frames.push_back(eio::encode_frame({eio::packet_type::message, false, chat_event_text(256)}));
  return frames;
}

void eio_payload_join(benchmark::State& state) {
  auto const frames = chat_frames(state.range(0));
  std::string body;
  for (auto _ : state) {
    body.clear();
    for (auto const& f : frames) eio::append_payload_frame(f, false, body);
    benchmark::DoNotOptimize(body.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK(eio_payload_join)->Arg(1)->Arg(10)->Arg(100)->ArgName("packets");

void eio_payload_split(benchmark::State& state) {
  std::string body;
  for (auto const& f : chat_frames(state.range(0))) eio::append_payload_frame(f, false, body);
  std::vector<eio::packet> packets;
  for (auto _ : state) {
    packets.clear();
    if (eio::decode_payload(body, packets) || packets.size() != static_cast<std::size_t>(state.range(0))) {
      state.SkipWithError("decode_payload failed");
      break;
    }
    benchmark::DoNotOptimize(packets.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}
BENCHMARK(eio_payload_split)->Arg(1)->Arg(10)->Arg(100)->ArgName("packets");

// ---- Socket.IO: 42["chat",{"room":"r0","name":"c7","msg":"...","k":3,"q":123,"t":...,"a":...}] -------

/// From a JSON DOM, as a server that parsed the chat re-encodes it (sio::encode dumps the data).
void sio_encode_chat_dom(benchmark::State& state) {
  sio::packet const p{sio::packet_type::event, "/", std::nullopt, 0, chat_event_json(state.range(0))};
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text = sio::encode(p);
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}
BENCHMARK(sio_encode_chat_dom)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

/// From JSON text already encoded (no DOM), appended into a reused buffer.
void sio_append_chat_text(benchmark::State& state) {
  std::string const payload = chat_payload_text(state.range(0));
  std::string text;
  for (auto _ : state) {
    text.clear();
    sio::append(sio::packet_type::event, "/", std::nullopt, 0, payload, text);
    benchmark::DoNotOptimize(text.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(sio_append_chat_text)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

/// Header and JSON payload into a DOM, checked against the packet type.
void sio_decode_chat(benchmark::State& state) {
  std::string const text = chat_event_text(state.range(0));
  sio::packet p;
  for (auto _ : state) {
    if (sio::decode(text, p)) {
      state.SkipWithError("sio::decode failed");
      break;
    }
    benchmark::DoNotOptimize(&p.data);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(sio_decode_chat)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

/// The zero-allocation path: type, namespace, ack id and a view of the payload, no JSON parsing.
void sio_decode_header_chat(benchmark::State& state) {
  std::string const text = chat_event_text(state.range(0));
  sio::header h;
  for (auto _ : state) {
    if (sio::decode_header(text, h)) {
      state.SkipWithError("sio::decode_header failed");
      break;
    }
    benchmark::DoNotOptimize(h.payload.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}
BENCHMARK(sio_decode_header_chat)->Arg(16)->Arg(256)->Arg(4096)->ArgName("msg_bytes");

}  // namespace
}  // namespace fallbench::micro
