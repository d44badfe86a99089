// `fallbench chat URL`: a terminal chat client on the transport client library, the quickest way for a
// person to try a server. Lines typed are sent as chats; events received are printed with the transport.

#include "chat_command.hpp"

#include "fallbench/chatproto/chat.hpp"
#include "fallbench/cli/args.hpp"
#include "fallbench/cli/target_flags.hpp"
#include "fallbench/codec/json_scan.hpp"
#include "fallbench/transport/client.hpp"
#include "fallbench/transport/tls.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <deque>
#include <iostream>
#include <thread>

namespace fallbench::cli {

namespace net = boost::asio;

namespace {

// What a received join/chat/leave says, as one line (empty when it is not a valid one).
std::string describe(chatproto::decoder& d, chatproto::event_kind kind, std::string_view args_json) {
  chatproto::message m;
  if (d.decode(kind, args_json, m) != chatproto::decode_error::none) return {};
  if (kind != chatproto::event_kind::chat)
    return "* " + std::string(m.name) + (kind == chatproto::event_kind::join ? " joined" : " left");
  std::string buffer;
  return "<" + std::string(m.name) + "> " + std::string(codec::json_scan::string_value({m.msg, m.msg_escaped}, buffer));
}

}  // namespace

int chat_main(std::vector<std::string_view> const& argv) {
  args a("chat", "A terminal chat client: joins ROOM as NAME on the server at URL, sends each line typed as a chat,\n"
                 "prints every event received with the transport in use. End with Ctrl-D or Ctrl-C.");
  a.positional("URL", "The server, e.g. http://127.0.0.1:3000 or https://chat.example.com/socket.io/ (http, https,\n"
                      "      ws or wss; the path defaults to /socket.io/, the port to 80 or 443)")
      .flag("strategy", "S",
            "polling, websocket, upgrade (Socket.IO's default), fallback (WebSocket, polling after an error or\n      "
            "the WebSocket timeout), race (both, polling --race-stagger behind; the first connected wins),\n      "
            "tryall (Socket.IO 4.8's tryAllTransports: polling after a WebSocket error or the connect timeout)\n      "
            "or remember (fallback, and start on polling next time after a fallback)",
            "upgrade")
      .flag("race-stagger", "MS", "race: milliseconds the WebSocket opens ahead of polling (0: together)", "250")
      .flag("room", "ROOM", "Room to join", "lobby")
      .flag("name", "NAME", "Your name", "guest")
      .toggle("reconnect", "Reconnect with backoff when the connection is lost")
      .toggle("timeline", "Print the client's transitions (handshake, probe, upgrade, fallback...)");
  declare_target_flags(a);
  if (!a.parse(argv)) {
    std::cout << a.help();
    return 0;
  }
  if (a.positionals().size() != 1) throw usage_error("expected exactly one URL");
  auto const url = read_url("URL", a.positionals().front());
  auto const settings = read_target_flags(a);
  auto const strat = transport::parse_strategy(a.str("strategy"));
  if (!strat) {
    std::string names;
    for (auto const s : transport::all_strategies) names += (names.empty() ? "" : ", ") + std::string(transport::to_string(s));
    throw usage_error("--strategy must be one of " + names + ", got '" + a.str("strategy") + "'");
  }
  auto const race_stagger = std::chrono::milliseconds{a.integer("race-stagger", 0, 600'000)};
  std::string const room = a.str("room");
  std::string const name = a.str("name");

  net::io_context ioc;
  transport::client_options options;
  transport::apply_target(url, settings, options);
  options.strat = *strat;
  options.race_stagger = race_stagger;
  options.reconnect = a.has("reconnect");
  if (options.tls) {
    try {
      transport::client_tls_context(options);  // a bad CA file is a usage error, found before connecting
    } catch (transport::tls_config_error const& e) {
      throw usage_error(std::string("--ca-file: ") + e.what());
    }
  }
  auto c = transport::client::create(ioc.get_executor(), options);
  auto const transport_name = [&] {
    auto t = c->transport();
    return t ? std::string(transport::to_string(*t)) : std::string("-");
  };
  bool const timeline = a.has("timeline");
  c->on_transition([&](transport::transition const& t) {
    if (timeline) std::cerr << "[" << transport::to_string(t.event) << "] " << t.detail << "\n";
  });
  std::string membership;
  chatproto::append_membership(room, name, membership);

  // Lines typed before the join is confirmed (by its ack or by the room's echo of it) wait for it: a
  // chat sent earlier would be refused as "not a member of room". At the end of input the client
  // leaves only once every line has been sent and answered, so `echo hi | fallbench chat` delivers.
  bool joined = false;
  bool input_ended = false;
  bool quitting = false;
  std::size_t unanswered = 0;
  std::deque<std::string> held;
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  auto const quit = [&] {
    if (quitting) return;
    quitting = true;
    if (c->connected()) c->emit("leave", membership);
    c->close();
    signals.cancel();
  };
  auto const quit_when_done = [&] {
    if (input_ended && held.empty() && unanswered == 0) quit();
  };
  auto const send = [&](std::string const& line) {
    std::string text;
    chatproto::append_chat({room, name, line, std::nullopt}, text);
    ++unanswered;
    c->emit("chat", text, [&](error_code ec, std::string_view ack) {
      chatproto::ack answer;
      if (ec) {
        std::cout << "* not sent: " << ec.message() << std::endl;
      } else if (chatproto::decode_ack(ack, answer) != chatproto::decode_error::none || !answer.ok) {
        std::cout << "* refused: " << ack << std::endl;
      }
      --unanswered;
      quit_when_done();
    });
  };
  auto const joined_now = [&] {
    if (joined) return;
    joined = true;
    for (; !held.empty(); held.pop_front()) send(held.front());
    quit_when_done();
  };
  c->on_connect([&] {
    std::cout << "* connected over " << transport_name() << "; joining " << room << " as " << name << std::endl;
    joined = false;
    c->emit("join", membership, [&](error_code ec, std::string_view) {
      if (!ec) joined_now();
    });
  });
  c->on_disconnect([&](error_code ec) {
    // The last transition's detail says more than the code ("TLS handshake failed: certificate verify failed").
    auto const& t = c->transitions();
    // The name results use says more for HTTP errors and refused namespaces ("HTTP 400: Session ID unknown").
    std::string detail = !t.empty() && t.back().event == transport::client_event::disconnected ? t.back().detail : "";
    if (detail.empty() || c->last_error_name() != ec.message()) detail = c->last_error_name();
    std::cout << "* disconnected: " << (detail.empty() ? ec.message() : detail) << std::endl;
    joined = false;
    // Without --reconnect nothing more can be sent: lines still held are reported, not silently lost.
    if (!options.reconnect) {
      if (!held.empty()) std::cout << "* not sent: " << held.size() << " line(s) typed before the join" << std::endl;
      held.clear();
      quit();
    }
  });
  chatproto::decoder decoder;
  c->on_event([&](std::string_view event, std::string_view args_json) {
    auto const kind = chatproto::event_of(event);
    if (kind == chatproto::event_kind::join) {
      chatproto::message m;
      if (decoder.decode(*kind, args_json, m) == chatproto::decode_error::none && m.room == room && m.name == name)
        joined_now();
    }
    std::string line = kind ? describe(decoder, *kind, args_json) : std::string{};
    if (line.empty()) line = "* " + std::string(event) + " " + std::string(args_json);
    std::cout << "[" << transport_name() << "] " << line << std::endl;
  });

  signals.async_wait([&](error_code ec, int) {
    if (!ec) quit();
  });
  c->connect();

  // stdin is read on its own thread; each line is handed to the client's thread.
  std::thread reader([&] {
    for (std::string line; std::getline(std::cin, line);) {
      if (line.empty()) continue;
      net::post(ioc, [&, line] {
        if (quitting) return;
        if (joined) {
          send(line);
        } else {
          held.push_back(line);
        }
      });
    }
    net::post(ioc, [&] {
      input_ended = true;
      quit_when_done();
    });
  });
  reader.detach();  // a blocked getline cannot be interrupted; the process exits with the io_context
  ioc.run();
  return 0;
}

}  // namespace fallbench::cli
