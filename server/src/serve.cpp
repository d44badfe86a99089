#include "fallbench/chat/serve.hpp"

#include "fallbench/chat/chat_app.hpp"
#include "fallbench/chat/cluster.hpp"
#include "fallbench/chat/redis_link.hpp"
#include "fallbench/chat/sio_server.hpp"
#include "fallbench/chat/static_site.hpp"
#include "fallbench/transport/engine_server.hpp"

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

// The official browser client for the room page: the one given, else found near the executable.
// Without it the server still runs (the Socket.IO endpoint does not need it) and says so once.
static_site make_site(std::optional<std::string> const& client_js) {
  if (client_js) return static_site(*client_js);
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

// The default of --max-connections: below the descriptor limit, so that the server refuses a connection
// it can count rather than failing accept() (HAProxy likewise derives maxconn from `ulimit -n`). 64
// descriptors stay for the listener, the event loop, Redis and files.
std::size_t default_max_connections() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<std::size_t>(r.rlim_cur > 128 ? r.rlim_cur - 64 : r.rlim_cur / 2);
}

int serve(serve_options const& given) {
  transport::server_options options = given.server;
  auto const& lim = options.lim;
  auto const conformance = given.conformance;
  auto const threads = given.threads;
  options.io_threads = threads;
  // DNS rebinding reaches what only this machine can reach: a loopback listener answers IP addresses
  // and localhost only, unless told its names. One listening beyond loopback is reached by the names
  // its operator gave it, so it answers any name unless --allowed-host lists them (docs/hardening.md).
  if (options.allowed_hosts.empty() && !given.host.is_loopback()) options.allowed_hosts = {"*"};

  auto const site = make_site(given.client_js);

  net::io_context ioc{threads};
  chat_app chat;
  chat.set_max_rooms_per_client(given.max_rooms_per_client);
  if (given.recovery.window.count() > 0) chat.enable_recovery(given.recovery);
  conformance_app conformance_handler(ioc);
  echo_engine echo;
  sio_handler& app = conformance ? static_cast<sio_handler&>(conformance_handler) : chat;
  // A cluster: broadcasts go to Redis too, and what other nodes publish reaches local members.
  std::unique_ptr<redis_link> link;
  cluster_view cluster;
  if (given.cluster) {
    auto const& ro = given.cluster->link;
    cluster.node_id = given.cluster->node_id;
    if (cluster.node_id.empty()) {
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
      throw std::runtime_error("--redis: no connection to Redis at " + given.cluster->url + " within 10 s");
    ioc.restart();
    std::cerr << "fallbench serve: node " << cluster.node_id << " in the cluster on " << given.cluster->url
              << ", channel " << ro.channel << "\n";
  }
  sio_server sio(ioc, app, given.connect_timeout);
  transport::engine_server engine(ioc, options, sio);
  if (conformance) engine.mount("/engine.io/", echo);
  serve_counters own;
  auto const& metrics_token = given.metrics_token;
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
  auto const bound = engine.listen({given.host, given.port});

  std::string host = bound.address().to_string();
  if (bound.address().is_v6()) host = "[" + host + "]";
  std::cout << (options.tls ? "https://" : "http://") << host << ":" << bound.port() << std::endl;
  std::cerr << "fallbench serve: profile " << (conformance ? "conformance" : "default") << ", " << threads
            << " thread(s), transports "
            << (options.allow_polling && options.allow_websocket ? "polling,websocket"
                : options.allow_polling                          ? "polling"
                                                                 : "websocket")
            << (options.tls ? " over TLS" : "") << "; Ctrl-C stops\n";

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
