#pragma once
/// A cluster as the target of one run (docs/cluster.md): a redis-server, N server processes sharing
/// rooms through it, and haproxy in front, all on 127.0.0.1, all stopped when the run ends (also on
/// an error, and on SIGINT through stop_children_on_signal()). Startup code: throws.

#include "fallbench/bench/child_process.hpp"
#include "fallbench/bench/driver.hpp"
#include "fallbench/bench/scenario.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fallbench::bench {

/// A port that was free a moment ago on 127.0.0.1 (bound to port 0, then closed), for programs that
/// cannot bind port 0 and report it (redis-server, haproxy). Callers retry on a collision.
std::uint16_t pick_free_port();

/// A balancer that terminates TLS: the chain and key in one PEM file, and a plain port beside the TLS
/// one where haproxy answers its health URI to the harness.
struct balancer_tls {
  std::string bundle;
  std::uint16_t health_port = 0;
};

/// The haproxy configuration: HTTP mode, tunnels (WebSocket) kept for an hour, the nodes behind
/// 127.0.0.1:`port`, balanced per `sticky` (cookie insert, source hash, or round robin), and
/// `health_uri` answered by haproxy itself (how the harness knows the balancer up is its own).
/// `tls`: `port` speaks https/wss to the clients (the nodes stay plain behind it).
std::string haproxy_config(std::vector<endpoint> const& nodes, std::uint16_t port, topology_spec::sticky_kind sticky,
                           std::string const& health_uri, balancer_tls const* tls = nullptr);

/// One request over a fresh connection to 127.0.0.1:`port`, HTTP/1.1 with Connection: close.
/// @return the status and body, or nothing when there was no answer within `timeout`.
std::optional<std::pair<int, std::string>> http_get(std::string const& host, std::uint16_t port, std::string const& target,
                                                    std::chrono::milliseconds timeout);

/// A redis-server of our own on 127.0.0.1 (no persistence), its log in `log_path`.
struct redis_server {
  std::unique_ptr<child_process> process;
  std::uint16_t port = 0;
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port); }
};

/// Start redis-server on a port found free, again on another when one collides (up to five times);
/// ready once the Redis answering there reports the pid we started. `port`: that port only (a restart).
/// @throws std::runtime_error naming why (redis-server missing, never ready).
redis_server start_redis(std::string const& log_path, std::uint16_t port = 0);

class cluster_target {
 public:
  /// What to run as each node: argv without the address flags, which the cluster adds.
  enum class node_kind { fallbench, socketio_node };

  /// Start redis-server, `topo.nodes` nodes (each `--redis` to it) and haproxy. `peer_script` is
  /// tools/peers/socketio-node/server.js for node_kind::socketio_node. Logs go to `log_dir`, named
  /// after `name`. `tls_bundle` (chain and key in one PEM file): haproxy terminates TLS with it; empty:
  /// plain. @throws std::runtime_error naming what did not start (what had started is stopped).
  cluster_target(node_kind kind, topology_spec const& topo, int server_threads, std::vector<std::string> const& extra_args,
                 std::string const& peer_script, std::filesystem::path const& log_dir, std::string const& name,
                 std::string const& tls_bundle = "");

  /// Where clients connect: the balancer.
  endpoint entry() const { return entry_; }
  std::string description() const;

  /// runs[].topology: kind, nodes, balancer, sticky, and (for our server, which counts what it relays)
  /// the share of deliveries that crossed nodes, read from every node's /metrics. Call before stop().
  nlohmann::json topology_json();

  /// Stop haproxy, the nodes, then redis-server.
  void stop();

 private:
  topology_spec topo_;
  node_kind kind_;
  redis_server redis_;
  std::vector<std::unique_ptr<child_process>> nodes_;
  std::vector<endpoint> node_at_;
  std::unique_ptr<child_process> haproxy_;
  endpoint entry_;
};

}  // namespace fallbench::bench
