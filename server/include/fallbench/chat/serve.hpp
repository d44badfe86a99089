#pragma once
/// `fallbench serve`'s server: the chat (or conformance) application behind an Engine.IO server, with
/// /metrics, the static pages and an optional Redis cluster, run until SIGINT/SIGTERM. Typed options
/// only: the flags that fill them are parsed in cli/ (cli/serve_command.cpp).

#include "fallbench/chat/chat_app.hpp"
#include "fallbench/chat/recovery.hpp"
#include "fallbench/chat/redis_link.hpp"
#include "fallbench/transport/engine_server.hpp"

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace fallbench::chat {

/// Joining a cluster through Redis pub/sub (docs/cluster.md).
struct serve_cluster_options {
  std::string url;           ///< The Redis URL as given, named in messages.
  redis_link_options link;   ///< Its parsed address and the pub/sub channel.
  std::string node_id;       ///< This server's name in the cluster; empty: node-PID-RANDOM.
};

/// What `serve` runs. The defaults are those of `fallbench serve` without flags, except where noted.
struct serve_options {
  boost::asio::ip::address host = boost::asio::ip::address_v4::loopback();
  unsigned short port = 3000;  ///< 0 picks a free one.
  /// The Engine.IO server: transports, limits, origins, TLS. Empty allowed_hosts on a host beyond
  /// loopback means any name (one listening there is reached by the names its operator gave it).
  /// The command sets lim.max_connections to default_max_connections().
  transport::server_options server;
  std::chrono::milliseconds connect_timeout{45'000};  ///< Sessions that join no namespace are closed.
  /// What the official Engine.IO and Socket.IO protocol suites expect instead of the chat protocol:
  /// echo on /engine.io/, namespaces / and /custom. No recovery and no cluster with it.
  bool conformance = false;
  int threads = 1;                                        ///< I/O threads (the command's default: one per core).
  std::optional<std::string> client_js;                   ///< The browser client's text; else found near the executable.
  std::size_t max_rooms_per_client = default_max_rooms_per_client;
  recovery_options recovery;                              ///< Connection state recovery; window 0: off.
  std::optional<serve_cluster_options> cluster;           ///< Share rooms with other servers.
  std::string metrics_token;                              ///< Bearer token /metrics requires; empty: open.
};

/// The default connection limit: the descriptor limit (ulimit -n) less 64 kept for files and the
/// listener; 0 (no bound) when it is unlimited.
std::size_t default_max_connections();

/// Run the server until SIGINT/SIGTERM. Prints the URL it listens on as the first line of stdout.
/// Throws std::runtime_error when it cannot start (the port is taken, Redis does not answer).
/// @return the process exit code.
int serve(serve_options const& options);

}  // namespace fallbench::chat
