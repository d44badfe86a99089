// `fallbench serve`: the flags of the chat server, read into chat::serve_options.

#include "serve_command.hpp"

#include "fallbench/chat/cluster.hpp"
#include "fallbench/chat/serve.hpp"
#include "fallbench/chat/static_site.hpp"
#include "fallbench/cli/args.hpp"
#include "fallbench/transport/tls.hpp"

#include <algorithm>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace fallbench::cli {

namespace {

args make_args() {
  args a("serve", "Run the chat server: Engine.IO v4 / Socket.IO v5 over HTTP long-polling and WebSocket,\n"
                       "with the join/chat/leave protocol of docs/design.md. Prints its URL as the first line.");
  a.flag("host", "ADDR", "Address to listen on", "127.0.0.1")
      .flag("port", "PORT", "Port to listen on; 0 picks a free one", "3000")
      .flag("tls-cert", "PEM",
            "Serve https and wss (instead of http and ws) on the port, with this certificate chain "
            "(PEM, the server's certificate first); needs --tls-key")
      .flag("tls-key", "PEM", "The private key of --tls-cert (PEM, unencrypted)")
      .flag("transports", "LIST", "Transports offered: polling, websocket or both, comma-separated", "polling,websocket")
      .flag("ping-interval", "MS", "Heartbeat interval in milliseconds", "25000")
      .flag("ping-timeout", "MS", "How long a pong may take, in milliseconds", "20000")
      .flag("max-payload", "BYTES", "Largest polling body or WebSocket frame accepted", "1000000")
      .flag("max-queued", "BYTES", "Outbound bytes queued per session before --overflow applies", "4194304")
      .flag("overflow", "POLICY", "What a full outbound queue does: close the session or drop the packet", "close")
      .flag("connect-timeout", "MS", "Close sessions that join no namespace within this time", "45000")
      .flag("cors-origin", "ORIGIN",
            "Origin (scheme://host[:port]) allowed to use Socket.IO from a browser, answered with CORS headers "
            "and credentials (repeatable; * for any origin, never with credentials). Requests whose Origin is "
            "neither listed nor this server's own host get 403; requests without Origin always pass")
      .flag("allowed-host", "NAME",
            "A host name requests may name in Host besides IP addresses and localhost (repeatable; * for any). "
            "Any other name gets 403 (DNS rebinding). Default: none on a loopback --host, any name otherwise")
      .flag("max-connections", "N",
            "TCP connections open at once; one beyond gets 503 and is closed (0: no bound; default: the "
            "descriptor limit, ulimit -n, less 64 kept for files and the listener)")
      .flag("accept-backoff", "MS",
            "After an accept fails for want of descriptors or memory, wait this long before accepting again", "50")
      .flag("max-sessions-per-address", "N",
            "Sessions one client address may hold at once, beyond which handshakes get 503; 0: no bound", "0")
      .flag("handshake-rate-per-address", "N",
            "New sessions one client address may open per second (a burst of N, then N per second); "
            "beyond, handshakes get 429; 0: no bound",
            "0")
      .flag("first-poll-timeout", "MS",
            "Close a polling session that sends no GET this long after its handshake; 0, or not below "
            "--ping-interval: only the heartbeat finds it",
            "10000")
      .flag("poll-gap-timeout", "MS",
            "Close a polling session that has had no GET outstanding this long (the last one answered, "
            "no next one; the pause of an upgrade excepted); 0, or not below --ping-interval + "
            "--ping-timeout: only the heartbeat finds it",
            "10000")
      .flag("max-body-memory", "BYTES",
            "Request body bytes read or handled at once over all connections (each body's Content-Length "
            "is reserved up front, a chunked one's --max-payload); a body beyond gets 503 and its "
            "connection is closed; 0: no bound",
            std::to_string(transport::limits{}.max_body_bytes_in_flight))
      .flag("max-rooms-per-client", "N",
            "Rooms one client may be in at once; a join beyond gets the negative ack 'too many rooms'",
            std::to_string(chat::default_max_rooms_per_client))
      .flag("recovery-window", "MS",
            "Connection state recovery (Socket.IO 4.6's connectionStateRecovery; the reference's example "
            "uses 120000, 2 minutes): a client whose connection was lost (not one that disconnected) and "
            "that comes back within this time with its private id gets its socket id, its rooms and the "
            "broadcasts it missed; every broadcast then carries its offset as a last argument. 0: off "
            "(docs/recovery.md)",
            "0")
      .flag("recovery-max-packets", "N", "With --recovery-window: broadcasts kept at most (oldest evicted first)",
            "10000")
      .flag("recovery-max-bytes", "BYTES", "With --recovery-window: bytes of broadcasts kept at most", "8388608")
      .flag("metrics-token", "TOKEN",
            "Require 'Authorization: Bearer TOKEN' for /metrics (401 otherwise); default: /metrics is open")
      .flag("threads", "N", "I/O threads", std::to_string(std::max(1u, std::thread::hardware_concurrency())))
      .flag("profile", "NAME",
            "default: the chat protocol on /socket.io/. conformance: what the official Engine.IO and "
            "Socket.IO protocol test suites expect (echo on /engine.io/, namespaces / and /custom, "
            "ping 300/200 ms, connect timeout 1000 ms)",
            "default")
      .flag("client-js", "PATH",
            "The official Socket.IO browser client, served at /socket.io/socket.io.js (default: "
            "node_modules/socket.io-client/dist/socket.io.js in the executable's directory or one above it, "
            "else in the source tree; when none is found that URL answers 404)")
      .flag("redis", "URL",
            "Join a cluster: share rooms with the other servers on this Redis (redis://HOST:PORT) through "
            "pub/sub; the server waits up to 10 s for Redis at startup and reconnects after (docs/cluster.md)")
      .flag("redis-channel", "NAME", "The cluster's pub/sub channel (with --redis)", "fallbench")
      .flag("node-id", "ID",
            "This server's name in the cluster, 1-64 of [A-Za-z0-9._-] (with --redis; default: node-PID-RANDOM)");
  return a;
}

}  // namespace

int serve_main(std::vector<std::string_view> const& argv) {
  auto args = make_args();
  if (!args.parse(argv)) {
    std::cout << args.help();
    return 0;
  }
  chat::serve_options serve;
  bool const conformance = args.choice("profile", {"default", "conformance"}) == "conformance";
  serve.conformance = conformance;

  auto& options = serve.server;
  auto& lim = options.lim;
  if (conformance) {
    lim.ping_interval = std::chrono::milliseconds{300};
    lim.ping_timeout = std::chrono::milliseconds{200};
  }
  if (args.has("ping-interval") || !conformance)
    lim.ping_interval = std::chrono::milliseconds{args.integer("ping-interval", 1, 3'600'000)};
  if (args.has("ping-timeout") || !conformance)
    lim.ping_timeout = std::chrono::milliseconds{args.integer("ping-timeout", 1, 3'600'000)};
  lim.max_payload_bytes = static_cast<std::size_t>(args.integer("max-payload", 64, 1'000'000'000));
  lim.max_queued_bytes = static_cast<std::size_t>(args.integer("max-queued", 1024, 1LL << 40));
  lim.on_overflow = args.choice("overflow", {"close", "drop"}) == "drop" ? transport::overflow_policy::drop
                                                                         : transport::overflow_policy::close;
  lim.max_connections = args.has("max-connections")
                            ? static_cast<std::size_t>(args.integer("max-connections", 0, 100'000'000))
                            : chat::default_max_connections();
  lim.accept_backoff = std::chrono::milliseconds{args.integer("accept-backoff", 1, 60'000)};
  lim.max_sessions_per_address = static_cast<std::size_t>(args.integer("max-sessions-per-address", 0, 100'000'000));
  lim.handshakes_per_second_per_address =
      static_cast<std::size_t>(args.integer("handshake-rate-per-address", 0, 1'000'000));
  lim.first_poll_timeout = std::chrono::milliseconds{args.integer("first-poll-timeout", 0, 3'600'000)};
  lim.poll_gap_timeout = std::chrono::milliseconds{args.integer("poll-gap-timeout", 0, 3'600'000)};
  lim.max_body_bytes_in_flight = static_cast<std::size_t>(args.integer("max-body-memory", 0, 1LL << 40));
  serve.connect_timeout = std::chrono::milliseconds{args.integer("connect-timeout", 1, 3'600'000)};
  if (conformance && !args.has("connect-timeout")) serve.connect_timeout = std::chrono::milliseconds{1000};

  options.allow_polling = options.allow_websocket = false;
  std::stringstream list(args.str("transports"));
  for (std::string t; std::getline(list, t, ',');) {
    if (t == "polling") {
      options.allow_polling = true;
    } else if (t == "websocket") {
      options.allow_websocket = true;
    } else {
      throw usage_error("--transports: unknown transport '" + t + "' (polling, websocket)");
    }
  }
  if (!options.allow_polling && !options.allow_websocket) throw usage_error("--transports: none given");
  options.cors_origins = args.all("cors-origin");
  options.allowed_hosts = args.all("allowed-host");
  for (auto const& h : options.allowed_hosts)
    if (h.empty() || h.find_first_of(":/ ") != std::string::npos)
      throw usage_error("--allowed-host: a host name without port or scheme, got '" + h + "'");
  // The suites' reference server is one event loop, and one suite test races a new HTTP request against
  // a WebSocket frame sent before it: one thread keeps arrival order, as the reference does.
  serve.threads = conformance && !args.has("threads") ? 1 : static_cast<int>(args.integer("threads", 1, 256));
  serve.port = static_cast<unsigned short>(args.integer("port", 0, 65535));
  boost::system::error_code ec;
  serve.host = boost::asio::ip::make_address(args.str("host"), ec);
  if (ec) throw usage_error("--host: not an IP address: '" + args.str("host") + "'");

  if (args.has("tls-cert") != args.has("tls-key")) throw usage_error("--tls-cert and --tls-key go together");
  if (args.has("tls-cert")) {
    try {
      options.tls = transport::make_server_tls_context(args.str("tls-cert"), args.str("tls-key"));
    } catch (transport::tls_config_error const& e) {
      throw usage_error(std::string("TLS: ") + e.what());
    }
  }
  if (args.has("client-js")) {
    try {
      serve.client_js = chat::read_client_js(args.str("client-js"));
    } catch (std::runtime_error const& e) {
      throw usage_error(std::string("--client-js: ") + e.what());
    }
  }

  serve.max_rooms_per_client = static_cast<std::size_t>(args.integer("max-rooms-per-client", 1, 1'000'000));
  auto& recovery = serve.recovery;
  recovery.window = std::chrono::milliseconds{args.integer("recovery-window", 0, 86'400'000)};
  recovery.max_packets = static_cast<std::size_t>(args.integer("recovery-max-packets", 1, 100'000'000));
  recovery.max_bytes = static_cast<std::size_t>(args.integer("recovery-max-bytes", 1024, 1LL << 40));
  if (recovery.window.count() > 0 && conformance)
    throw usage_error("--recovery-window: the conformance profile has no broadcasts to recover");
  if (args.has("redis")) {
    if (conformance) throw usage_error("--redis: the conformance profile has no rooms to share");
    auto& cluster = serve.cluster.emplace();
    cluster.url = args.str("redis");
    try {
      cluster.link.address = chat::parse_redis_url(cluster.url);
    } catch (std::invalid_argument const& e) {
      throw usage_error(std::string("--redis: ") + e.what());
    }
    cluster.link.channel = args.str("redis-channel");
    if (cluster.link.channel.empty()) throw usage_error("--redis-channel: empty");
    if (args.has("node-id")) {
      cluster.node_id = args.str("node-id");
      if (!chat::valid_node_id(cluster.node_id))
        throw usage_error("--node-id: 1-64 of [A-Za-z0-9._-], got '" + cluster.node_id + "'");
    }
  }
  serve.metrics_token = args.str("metrics-token");
  if (args.has("metrics-token") && serve.metrics_token.empty()) throw usage_error("--metrics-token: empty");
  return chat::serve(serve);
}

}  // namespace fallbench::cli
