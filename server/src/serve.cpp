#include "fallbench/chat/serve.hpp"

#include "fallbench/chat/chat_app.hpp"
#include "fallbench/chat/cluster.hpp"
#include "fallbench/chat/redis_link.hpp"
#include "fallbench/chat/sio_server.hpp"
#include "fallbench/chat/static_site.hpp"
#include "fallbench/cli/args.hpp"
#include "fallbench/transport/engine_server.hpp"
#include "fallbench/transport/tls.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fallbench::chat {

namespace net = boost::asio;

namespace {

cli::args make_args() {
  cli::args a("serve", "Run the chat server: Engine.IO v4 / Socket.IO v5 over HTTP long-polling and WebSocket,\n"
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
            std::to_string(default_max_rooms_per_client))
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

/// The cluster part of /metrics: the Redis link's counters and what the relay delivered.
struct cluster_view {
  std::string node_id;
  redis_link const* link = nullptr;
};

/// Counters of serve itself.
struct serve_counters {
  std::atomic<std::uint64_t> metrics_unauthorized{0};  ///< /metrics requests refused (401) by --metrics-token.
};

// Whether `authorization` is "Bearer <token>", compared in time independent of where they differ.
bool bearer_matches(std::string_view authorization, std::string_view token) {
  std::string const expected = "Bearer " + std::string(token);
  unsigned diff = authorization.size() == expected.size() ? 0u : 1u;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto const got = i < authorization.size() ? static_cast<unsigned char>(authorization[i]) : 0u;
    diff |= static_cast<unsigned char>(expected[i]) ^ got;
  }
  return diff == 0;
}

std::string metrics_json(transport::engine_server const& engine, sio_server const& sio, chat_app const* chat,
                         serve_counters const& own, cluster_view const& cluster = {}) {
  auto const e = engine.stats();
  auto const s = sio.stats();
  json j;
  j["engine"] = {{"sessions_opened", e.sessions_opened}, {"sessions_open", e.sessions_open},
                 {"upgrades", e.upgrades},               {"http_requests", e.http_requests},
                 {"http_errors", e.http_errors},         {"packets_in", e.packets_in},
                 {"packets_out", e.packets_out},         {"bytes_in", e.bytes_in},
                 {"bytes_out", e.bytes_out},             {"dropped_packets", e.dropped_packets},
                 {"tls_handshakes", e.tls_handshakes},   {"tls_handshake_failures", e.tls_handshake_failures},
                 {"connections_open", e.connections_open}};
  json closed = json::object();
  for (std::size_t i = 0; i < e.sessions_closed.size(); ++i)
    closed[std::string(transport::to_string(static_cast<transport::close_reason>(i)))] = e.sessions_closed[i];
  j["engine"]["sessions_closed"] = closed;
  j["socketio"] = {{"connects", s.connects}, {"connect_errors", s.connect_errors}, {"events", s.events},
                   {"parse_errors", s.parse_errors}};
  // What the limits against abuse refused (docs/hardening.md), in one place; the chat block keeps the
  // keys the reference peer reports too.
  j["limits"] = {{"origin_refused", e.origin_refused},
                 {"host_refused", e.host_refused},
                 {"connections_refused", e.connections_refused},
                 {"accept_backoffs", e.accept_backoffs},
                 {"sessions_refused_per_address", e.sessions_refused_per_address},
                 {"handshakes_rate_limited", e.handshakes_rate_limited},
                 {"no_first_poll", e.sessions_closed[static_cast<std::size_t>(transport::close_reason::no_first_poll)]},
                 {"stopped_polling", e.sessions_closed[static_cast<std::size_t>(transport::close_reason::stopped_polling)]},
                 {"bodies_refused", e.bodies_refused},
                 {"body_bytes_in_flight", e.body_bytes_in_flight},
                 {"truncated_namespaces", s.truncated_namespaces},
                 {"metrics_unauthorized", own.metrics_unauthorized.load()}};
  if (chat) {
    auto const c = chat->stats();
    j["chat"] = {{"joins", c.joins},       {"leaves", c.leaves},
                 {"chats", c.chats},       {"deliveries", c.deliveries},
                 {"invalid_events", c.invalid_events}, {"rejected_chats", c.rejected_chats},
                 {"rooms", c.rooms}};
    j["limits"]["refused_joins"] = c.refused_joins;
    if (auto const r = chat->recovery_counters()) {
      j["recovery"] = {{"buffered_packets", r->buffered_packets}, {"buffered_bytes", r->buffered_bytes},
                       {"evicted_packets", r->evicted_packets},   {"expired_packets", r->expired_packets},
                       {"sessions_kept", r->sessions_kept},       {"sessions_persisted", r->sessions_persisted},
                       {"recovered", r->recovered},               {"not_recovered", r->not_recovered},
                       {"replayed_packets", r->replayed_packets}};
    }
  }
  if (chat && cluster.link) {
    auto const l = cluster.link->stats();
    auto const r = chat->relay_counters();
    j["cluster"] = {{"node_id", cluster.node_id},       {"publisher_up", l.publisher_up},
                    {"subscribed", l.subscribed},       {"published", l.published},
                    {"received", l.received},           {"dropped", l.dropped},
                    {"reconnects", l.reconnects},       {"protocol_errors", l.protocol_errors},
                    {"relayed_in", r.relayed_in},       {"relayed_deliveries", r.relayed_deliveries},
                    {"own_skipped", r.own_skipped},     {"malformed", r.malformed}};
  }
  return j.dump();
}

// The default of --max-connections: below the descriptor limit, so that the server refuses a connection
// it can count rather than failing accept() (HAProxy likewise derives maxconn from `ulimit -n`). 64
// descriptors stay for the listener, the event loop, Redis and files.
std::size_t default_max_connections() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<std::size_t>(r.rlim_cur > 128 ? r.rlim_cur - 64 : r.rlim_cur / 2);
}

// The official browser client for the room page: --client-js, else found near the executable. Without
// it the server still runs (the Socket.IO endpoint does not need it) and says so once.
static_site make_site(cli::args const& args) {
  if (args.has("client-js")) {
    try {
      return static_site(read_client_js(args.str("client-js")));
    } catch (std::runtime_error const& e) {
      throw cli::usage_error(std::string("--client-js: ") + e.what());
    }
  }
  auto const dir = executable_dir();
  if (auto const path = find_client_js(dir)) {
    try {
      return static_site(read_client_js(*path));
    } catch (std::runtime_error const& e) {
      std::cerr << "fallbench serve: warning: " << e.what() << "; /socket.io/socket.io.js answers 404\n";
      return static_site();
    }
  }
  std::cerr << "fallbench serve: warning: no Socket.IO browser client (node_modules/socket.io-client/dist/"
               "socket.io.js) in "
            << (dir.empty() ? std::string("the executable's directory") : dir.string())
            << ", a directory above it, or the source tree; /socket.io/socket.io.js answers 404 "
               "(run npm ci, or pass --client-js PATH)\n";
  return static_site();
}

}  // namespace

int serve_main(std::vector<std::string_view> const& argv) {
  auto args = make_args();
  if (!args.parse(argv)) {
    std::cout << args.help();
    return 0;
  }
  bool const conformance = args.choice("profile", {"default", "conformance"}) == "conformance";

  transport::server_options options;
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
                            : default_max_connections();
  lim.accept_backoff = std::chrono::milliseconds{args.integer("accept-backoff", 1, 60'000)};
  lim.max_sessions_per_address = static_cast<std::size_t>(args.integer("max-sessions-per-address", 0, 100'000'000));
  lim.handshakes_per_second_per_address =
      static_cast<std::size_t>(args.integer("handshake-rate-per-address", 0, 1'000'000));
  lim.first_poll_timeout = std::chrono::milliseconds{args.integer("first-poll-timeout", 0, 3'600'000)};
  lim.poll_gap_timeout = std::chrono::milliseconds{args.integer("poll-gap-timeout", 0, 3'600'000)};
  lim.max_body_bytes_in_flight = static_cast<std::size_t>(args.integer("max-body-memory", 0, 1LL << 40));
  auto connect_timeout = std::chrono::milliseconds{args.integer("connect-timeout", 1, 3'600'000)};
  if (conformance && !args.has("connect-timeout")) connect_timeout = std::chrono::milliseconds{1000};

  options.allow_polling = options.allow_websocket = false;
  std::stringstream list(args.str("transports"));
  for (std::string t; std::getline(list, t, ',');) {
    if (t == "polling") {
      options.allow_polling = true;
    } else if (t == "websocket") {
      options.allow_websocket = true;
    } else {
      throw cli::usage_error("--transports: unknown transport '" + t + "' (polling, websocket)");
    }
  }
  if (!options.allow_polling && !options.allow_websocket) throw cli::usage_error("--transports: none given");
  options.cors_origins = args.all("cors-origin");
  options.allowed_hosts = args.all("allowed-host");
  for (auto const& h : options.allowed_hosts)
    if (h.empty() || h.find_first_of(":/ ") != std::string::npos)
      throw cli::usage_error("--allowed-host: a host name without port or scheme, got '" + h + "'");
  // The suites' reference server is one event loop, and one suite test races a new HTTP request against
  // a WebSocket frame sent before it: one thread keeps arrival order, as the reference does.
  auto const threads = conformance && !args.has("threads") ? 1 : static_cast<int>(args.integer("threads", 1, 256));
  auto const port = static_cast<unsigned short>(args.integer("port", 0, 65535));
  boost::system::error_code ec;
  auto const address = net::ip::make_address(args.str("host"), ec);
  if (ec) throw cli::usage_error("--host: not an IP address: '" + args.str("host") + "'");
  // DNS rebinding reaches what only this machine can reach: a loopback listener answers IP addresses
  // and localhost only, unless told its names. One listening beyond loopback is reached by the names
  // its operator gave it, so it answers any name unless --allowed-host lists them (docs/hardening.md).
  if (options.allowed_hosts.empty() && !address.is_loopback()) options.allowed_hosts = {"*"};

  if (args.has("tls-cert") != args.has("tls-key"))
    throw cli::usage_error("--tls-cert and --tls-key go together");
  if (args.has("tls-cert")) {
    try {
      options.tls = transport::make_server_tls_context(args.str("tls-cert"), args.str("tls-key"));
    } catch (transport::tls_config_error const& e) {
      throw cli::usage_error(std::string("TLS: ") + e.what());
    }
  }

  auto const site = make_site(args);

  net::io_context ioc{threads};
  chat_app chat;
  chat.set_max_rooms_per_client(static_cast<std::size_t>(args.integer("max-rooms-per-client", 1, 1'000'000)));
  recovery_options recovery;
  recovery.window = std::chrono::milliseconds{args.integer("recovery-window", 0, 86'400'000)};
  recovery.max_packets = static_cast<std::size_t>(args.integer("recovery-max-packets", 1, 100'000'000));
  recovery.max_bytes = static_cast<std::size_t>(args.integer("recovery-max-bytes", 1024, 1LL << 40));
  if (recovery.window.count() > 0) {
    if (conformance) throw cli::usage_error("--recovery-window: the conformance profile has no broadcasts to recover");
    chat.enable_recovery(recovery);
  }
  conformance_app conformance_handler(ioc);
  echo_engine echo;
  sio_handler& app = conformance ? static_cast<sio_handler&>(conformance_handler) : chat;
  // A cluster: broadcasts go to Redis too, and what other nodes publish reaches local members.
  std::unique_ptr<redis_link> link;
  cluster_view cluster;
  if (args.has("redis")) {
    if (conformance) throw cli::usage_error("--redis: the conformance profile has no rooms to share");
    redis_link_options ro;
    try {
      ro.address = parse_redis_url(args.str("redis"));
    } catch (std::invalid_argument const& e) {
      throw cli::usage_error(std::string("--redis: ") + e.what());
    }
    ro.channel = args.str("redis-channel");
    if (ro.channel.empty()) throw cli::usage_error("--redis-channel: empty");
    if (args.has("node-id")) {
      cluster.node_id = args.str("node-id");
      if (!valid_node_id(cluster.node_id))
        throw cli::usage_error("--node-id: 1-64 of [A-Za-z0-9._-], got '" + cluster.node_id + "'");
    } else {
      std::random_device rd;
      std::ostringstream id;
      id << "node-" << ::getpid() << "-" << std::hex << (rd() & 0xffffff);
      cluster.node_id = id.str();
    }
    link = std::make_unique<redis_link>(ioc.get_executor(), ro, [&chat](std::string_view m) { chat.deliver_relayed(m); });
    chat.set_relay(cluster.node_id, [l = link.get()](std::string_view m) { l->publish(m); });
    cluster.link = link.get();
    link->start();
    // Wait for both connections before taking clients, so the first broadcasts are not dropped. Only
    // this thread runs the loop until then.
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (!(link->stats().subscribed && link->stats().publisher_up) && std::chrono::steady_clock::now() < deadline)
      ioc.run_one_for(std::chrono::milliseconds{50});
    if (!(link->stats().subscribed && link->stats().publisher_up))
      throw std::runtime_error("--redis: no connection to Redis at " + args.str("redis") + " within 10 s");
    ioc.restart();
    std::cerr << "fallbench serve: node " << cluster.node_id << " in the cluster on " << args.str("redis")
              << ", channel " << ro.channel << "\n";
  }
  sio_server sio(ioc, app, connect_timeout);
  transport::engine_server engine(ioc, options, sio);
  if (conformance) engine.mount("/engine.io/", echo);
  serve_counters own;
  auto const metrics_token = args.str("metrics-token");
  if (args.has("metrics-token") && metrics_token.empty()) throw cli::usage_error("--metrics-token: empty");
  engine.set_fallback([&](transport::http_exchange& ex) {
    if (ex.method == "GET" && (ex.target == "/metrics" || ex.target.starts_with("/metrics?"))) {
      if (!metrics_token.empty() && !bearer_matches(ex.authorization, metrics_token)) {
        // RFC 6750 section 3: the scheme the client should use.
        own.metrics_unauthorized.fetch_add(1, std::memory_order_relaxed);
        ex.status = 401;
        ex.headers.emplace_back("WWW-Authenticate", "Bearer");
        ex.body = "Unauthorized\n";
        return;
      }
      ex.status = 200;
      ex.content_type = "application/json";
      ex.body = metrics_json(engine, sio, conformance ? nullptr : &chat, own, cluster);
      return;
    }
    site.answer(ex);
  });
  auto const bound = engine.listen({address, port});

  std::string host = bound.address().to_string();
  if (bound.address().is_v6()) host = "[" + host + "]";
  std::cout << (options.tls ? "https://" : "http://") << host << ":" << bound.port() << std::endl;
  std::cerr << "fallbench serve: profile " << args.str("profile") << ", " << threads << " thread(s), transports "
            << args.str("transports") << (options.tls ? " over TLS" : "") << "; Ctrl-C stops\n";

  // Graceful stop: close every session with a close packet, give clients a moment to take it, stop.
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  net::steady_timer drain(ioc);
  std::function<void(int)> wait_drained = [&](int left) {
    if (engine.stats().sessions_open == 0 || left == 0) {
      ioc.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds{20});
    drain.async_wait([&, left](boost::system::error_code e) {
      if (!e) wait_drained(left - 1);
    });
  };
  signals.async_wait([&](boost::system::error_code e, int) {
    if (e) return;
    engine.shutdown();
    if (link) link->stop();
    wait_drained(static_cast<int>(lim.close_timeout / std::chrono::milliseconds{20}));
  });

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  std::cerr << "fallbench serve: stopped; " << metrics_json(engine, sio, conformance ? nullptr : &chat, own, cluster) << "\n";
  return 0;
}

}  // namespace fallbench::chat
