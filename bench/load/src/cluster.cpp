#include "fallbench/bench/cluster.hpp"

#include "fallbench/transport/url.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fallbench::bench {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// A socket closed when it goes out of scope.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

sockaddr_in loopback(std::string const& host, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) throw std::runtime_error("not an IPv4 address: " + host);
  return a;
}

/// Send `request` to host:port and read until `complete(reply)` or the peer closes, within `timeout`.
std::optional<std::string> exchange(std::string const& host, std::uint16_t port, std::string const& request,
                                    bool (*complete)(std::string const&), std::chrono::milliseconds timeout) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  auto left_ms = [&] {
    return static_cast<int>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count()));
  };
  fd_guard s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (s.fd < 0) return std::nullopt;
  auto const to = loopback(host, port);
  if (::connect(s.fd, reinterpret_cast<sockaddr const*>(&to), sizeof to) != 0 && errno != EINPROGRESS) return std::nullopt;
  pollfd p{s.fd, POLLOUT, 0};
  if (::poll(&p, 1, left_ms()) <= 0) return std::nullopt;
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return std::nullopt;
  for (std::size_t sent = 0; sent < request.size();) {
    auto const n = ::send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return std::nullopt;
    p = {s.fd, POLLOUT, 0};
    if (::poll(&p, 1, left_ms()) <= 0) return std::nullopt;
  }
  std::string reply;
  char buf[16384];
  while (!complete(reply)) {
    p = {s.fd, POLLIN, 0};
    if (::poll(&p, 1, left_ms()) <= 0) return std::nullopt;
    auto const n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return std::nullopt;
    }
    reply.append(buf, static_cast<std::size_t>(n));
  }
  return reply;
}

/// A RESP bulk string reply is complete once its announced length has arrived.
bool bulk_complete(std::string const& r) {
  auto const nl = r.find("\r\n");
  if (nl == std::string::npos) return false;
  if (r[0] != '$') return true;  // an error or another type: one line
  auto const n = std::strtoll(r.c_str() + 1, nullptr, 10);
  return n < 0 || r.size() >= nl + 2 + static_cast<std::size_t>(n) + 2;
}

bool never_complete(std::string const&) { return false; }

/// The pid of the Redis answering on `port` (INFO server's process_id), if one answers.
std::optional<int> redis_pid(std::uint16_t port) {
  auto const reply = exchange("127.0.0.1", port, "INFO server\r\n", bulk_complete, std::chrono::milliseconds{500});
  if (!reply) return std::nullopt;
  auto const at = reply->find("process_id:");
  if (at == std::string::npos) return std::nullopt;
  return std::atoi(reply->c_str() + at + 11);
}

std::string random_token() {
  std::random_device rd;
  std::ostringstream o;
  o << std::hex << rd() << rd();
  return o.str();
}

std::string safe(std::string name) {
  for (auto& ch : name)
    if (ch == '/' || ch == ' ' || ch == '?' || ch == '&') ch = '_';
  return name;
}

template <class Ready>
void wait_until(Ready ready, child_process& p, std::chrono::milliseconds timeout, std::string const& what) {
  auto const deadline = std::chrono::steady_clock::now() + timeout;
  while (!ready()) {
    if (auto const status = p.exited())
      throw std::runtime_error(what + " exited (status " + std::to_string(*status) + ") before it was ready");
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(what + " not ready within " + std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
}

}  // namespace

std::uint16_t pick_free_port() {
  fd_guard s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  auto a = loopback("127.0.0.1", 0);
  socklen_t len = sizeof a;
  if (::bind(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(errno));
  return ntohs(a.sin_port);
}

std::string haproxy_config(std::vector<endpoint> const& nodes, std::uint16_t port, topology_spec::sticky_kind sticky,
                           std::string const& health_uri, balancer_tls const* tls) {
  std::ostringstream c;
  c << "# Written by fallbench run for one cluster run (docs/cluster.md).\n"
       "global\n"
       "  nbthread 1\n"
       "defaults\n"
       "  mode http\n"
       "  timeout connect 5s\n"
       // Long-polling GETs are held up to pingInterval (25 s by default): the timeouts must outlast them.
       "  timeout client 60s\n"
       "  timeout server 60s\n"
       // A WebSocket is a tunnel once upgraded: it lives as long as the session.
       "  timeout tunnel 1h\n"
       "frontend clients\n"
       "  bind 127.0.0.1:"
    << port;
  if (tls) c << " ssl crt " << tls->bundle << "\n  bind 127.0.0.1:" << tls->health_port;
  c << "\n  monitor-uri " << health_uri
    << "\n"
       "  default_backend nodes\n"
       "backend nodes\n";
  switch (sticky) {
    case topology_spec::sticky_kind::cookie:
      // The first response sets the cookie naming the node; the client sends it back on every request.
      c << "  balance roundrobin\n  cookie fallbench-node insert indirect nocache\n";
      break;
    case topology_spec::sticky_kind::source:
      c << "  balance source\n  hash-type consistent\n";
      break;
    case topology_spec::sticky_kind::none: c << "  balance roundrobin\n"; break;
  }
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto const name = "node" + std::to_string(i + 1);
    c << "  server " << name << " " << nodes[i].host << ":" << nodes[i].port;
    if (sticky == topology_spec::sticky_kind::cookie) c << " cookie " << name;
    c << "\n";
  }
  return c.str();
}

std::optional<std::pair<int, std::string>> http_get(std::string const& host, std::uint16_t port, std::string const& target,
                                                    std::chrono::milliseconds timeout) {
  auto const reply = exchange(host, port,
                              "GET " + target + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                                  "\r\nConnection: close\r\n\r\n",
                              never_complete, timeout);
  if (!reply || !reply->starts_with("HTTP/1.")) return std::nullopt;
  auto const sp = reply->find(' ');
  auto const body = reply->find("\r\n\r\n");
  if (sp == std::string::npos || body == std::string::npos) return std::nullopt;
  return std::pair<int, std::string>{std::atoi(reply->c_str() + sp + 1), reply->substr(body + 4)};
}

redis_server start_redis(std::string const& log_path, std::uint16_t port) {
  // Redis cannot bind port 0 and report it: a port free a moment ago, another on a collision. Its pid
  // in INFO tells our redis-server from one that already had the port.
  redis_server r;
  for (int attempt = 0;; ++attempt) {
    r.port = port ? port : pick_free_port();
    r.process = std::make_unique<child_process>(
        std::vector<std::string>{"redis-server", "--port", std::to_string(r.port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", "--logfile", log_path},
        log_path);
    try {
      wait_until([&] { return redis_pid(r.port) == r.process->pid(); }, *r.process, std::chrono::seconds{10},
                 "redis-server");
      return r;
    } catch (std::runtime_error const& e) {
      r.process->stop();
      if (attempt == 4 || port) throw std::runtime_error(std::string("cluster: ") + e.what() + " (see " + log_path + ")");
    }
  }
}

cluster_target::cluster_target(node_kind kind, topology_spec const& topo, int server_threads,
                               std::vector<std::string> const& extra_args, std::string const& peer_script,
                               fs::path const& log_dir, std::string const& name, std::string const& tls_bundle)
    : topo_(topo), kind_(kind) {
  auto const log_of = [&](std::string const& part) { return (log_dir / safe(name + "-" + part + ".log")).string(); };
  redis_ = start_redis(log_of("redis"));
  std::string const redis_url = redis_.url();
  for (int i = 0; i < topo.nodes; ++i) {
    auto const id = "node" + std::to_string(i + 1);
    std::vector<std::string> argv;
    if (kind == node_kind::fallbench) {
      argv = {self_executable(), "serve", "--host", "127.0.0.1", "--port", "0", "--threads", std::to_string(server_threads),
              "--redis", redis_url, "--node-id", id};
    } else {
      argv = {"node", peer_script, "--host", "127.0.0.1", "--port", "0", "--redis", redis_url};
    }
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    auto& p = nodes_.emplace_back(std::make_unique<child_process>(argv, log_of(id)));
    std::string url;
    try {
      url = p->first_line(std::chrono::seconds{15});
    } catch (std::exception const& e) {
      throw std::runtime_error("cluster: " + id + " did not start (" + e.what() + "; see " + log_of(id) + ")");
    }
    endpoint at;
    try {
      auto const u = transport::parse_server_url(url);
      if (u.tls) throw transport::url_error("a node behind the balancer speaks plain HTTP");
      at.host = u.host;
      at.port = u.port;
    } catch (transport::url_error const& e) {
      throw std::runtime_error("cluster: " + id + " printed '" + url + "', not its URL (" + e.what() + ")");
    }
    node_at_.push_back(at);
  }
  // haproxy, in the foreground (-db), on a free port; its own health URI proves it is ours.
  std::string const health = "/fallbench-balancer-" + random_token();
  auto const config_path = log_dir / safe(name + "-haproxy.cfg");
  for (int attempt = 0;; ++attempt) {
    auto const port = pick_free_port();
    balancer_tls tls{tls_bundle, 0};
    if (!tls_bundle.empty()) {
      do tls.health_port = pick_free_port();
      while (tls.health_port == port);
    }
    {
      std::ofstream cfg(config_path);
      cfg << haproxy_config(node_at_, port, topo.sticky, health, tls_bundle.empty() ? nullptr : &tls);
      if (!cfg) throw std::runtime_error("cluster: cannot write " + config_path.string());
    }
    haproxy_ = std::make_unique<child_process>(std::vector<std::string>{"haproxy", "-db", "-f", config_path.string()},
                                               log_of("haproxy"));
    try {
      wait_until(
          [&] {
            auto const r = http_get("127.0.0.1", tls_bundle.empty() ? port : tls.health_port, health,
                                    std::chrono::milliseconds{500});
            return r && r->first == 200;
          },
          *haproxy_, std::chrono::seconds{10}, "haproxy");
      entry_.host = "127.0.0.1";
      entry_.port = port;
      entry_.tls = !tls_bundle.empty();
      break;
    } catch (std::runtime_error const& e) {
      haproxy_->stop();
      if (attempt == 4) throw std::runtime_error(std::string("cluster: ") + e.what() + " (see " + log_of("haproxy") + ")");
    }
  }
}

std::string cluster_target::description() const {
  return std::to_string(topo_.nodes) + " x " +
         (kind_ == node_kind::fallbench ? std::string("fallbench serve") : std::string("socket.io on Node.js")) +
         " sharing rooms through redis-server, behind haproxy (sticky: " + std::string(to_string(topo_.sticky)) + ")";
}

json cluster_target::topology_json() {
  json t = {{"kind", "cluster"},
            {"nodes", topo_.nodes},
            {"balancer", topo_.balancer},
            {"sticky", std::string(to_string(topo_.sticky))}};
  // Each node counts the deliveries it made from other nodes' messages (cluster.relayed_deliveries) and
  // all it made from its own clients' events (chat.deliveries): over the whole run, joins and leaves in.
  json per_node = json::array();
  double local = 0, relayed = 0;
  bool counted = true;
  for (std::size_t i = 0; i < node_at_.size(); ++i) {
    auto const r = http_get(node_at_[i].host, node_at_[i].port, "/metrics", std::chrono::seconds{2});
    json m = r && r->first == 200 ? json::parse(r->second, nullptr, false) : json();
    if (!m.is_object() || !m.contains("cluster") || !m.contains("chat")) {
      counted = false;
      continue;
    }
    auto const& c = m["cluster"];
    local += m["chat"].value("deliveries", 0.0);
    relayed += c.value("relayed_deliveries", 0.0);
    per_node.push_back({{"node", "node" + std::to_string(i + 1)},
                        {"published", c.value("published", 0)},
                        {"received", c.value("received", 0)},
                        {"dropped", c.value("dropped", 0)},
                        {"relayed_deliveries", c.value("relayed_deliveries", 0)},
                        {"local_deliveries", m["chat"].value("deliveries", 0)}});
  }
  if (counted && local + relayed > 0) {
    t["crossed_share"] = relayed / (local + relayed);
    t["per_node"] = per_node;
  }
  return t;
}

void cluster_target::stop() {
  if (haproxy_) haproxy_->stop();
  for (auto& n : nodes_) n->stop();
  if (redis_.process) redis_.process->stop();
}

}  // namespace fallbench::bench
