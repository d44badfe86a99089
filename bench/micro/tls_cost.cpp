// What TLS costs per strategy (docs/tls.md): for polling, websocket and upgrade, plain and over TLS
// (every connection a full handshake; a new client per session whose later connections resume its
// session; one returning client whose every connection after its first resumes), sessions one after
// another against the chat server in this process, each one connect, join, one chat with its ack
// (and, for upgrade, the upgrade), leave, close. Per cell it prints the connect time (connect() to
// the namespace connected: TCP, TLS, Engine.IO and Socket.IO handshakes) at p50 and p90, the bytes on
// the wire per session (TCP payload both ways, TLS records included, counted by the client from
// TCP_INFO), the server's CPU time per session (its one I/O thread's clock), and the TLS handshakes
// per session with how many of them resumed.
//
// usage: tls_cost PKI_DIR [SESSIONS]   PKI_DIR as tests/support/make-test-pki writes it.

#include "fallbench/chat/chat_app.hpp"
#include "fallbench/chat/sio_server.hpp"
#include "fallbench/transport/client.hpp"
#include "fallbench/transport/engine_server.hpp"
#include "fallbench/transport/tls.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/post.hpp>

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace transport = fallbench::transport;
using namespace std::chrono_literals;
using transport::strategy;

double thread_cpu_seconds(pthread_t t) {
  clockid_t id;
  timespec ts{};
  if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// The chat server as serve wires it, on one I/O thread whose CPU clock is the server's cost.
class server {
 public:
  explicit server(std::shared_ptr<net::ssl::context> tls)
      : sio_(ioc_, chat_, 45s), engine_(ioc_, options(std::move(tls)), sio_), work_(net::make_work_guard(ioc_)) {
    port_ = engine_.listen({net::ip::address_v4::loopback(), 0}).port();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~server() {
    engine_.shutdown();
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
  unsigned short port() const { return port_; }
  double cpu() { return thread_cpu_seconds(thread_.native_handle()); }
  std::uint64_t open() const { return engine_.stats().sessions_open; }

 private:
  static transport::server_options options(std::shared_ptr<net::ssl::context> tls) {
    transport::server_options o;
    o.tls = std::move(tls);
    return o;
  }
  net::io_context ioc_{1};
  fallbench::chat::chat_app chat_;
  fallbench::chat::sio_server sio_;
  transport::engine_server engine_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::thread thread_;
  unsigned short port_ = 0;
};

struct session_cost {
  double connect_ms = 0;
  std::uint64_t wire_bytes = 0;
  std::uint64_t tls_handshakes = 0;
  std::uint64_t tls_resumed = 0;
  bool ok = false;
};

/// One session, start to end, on the client thread's io_context: of a new client, or of `returning`
/// (made by the first session, kept for the next: a browser coming back to the same server).
session_cost run_session(net::io_context& ioc, transport::client_options const& o,
                         std::shared_ptr<transport::client>* returning = nullptr) {
  session_cost cost;
  transport::wire_counters before;
  std::promise<void> done;
  auto future = done.get_future();
  std::shared_ptr<transport::client> c;
  std::chrono::steady_clock::time_point start;
  bool acked = false, upgraded = o.strat != strategy::upgrade, finished = false;
  auto maybe_leave = [&] {
    if (!acked || !upgraded || finished) return;
    finished = true;
    c->emit("leave", R"({"room":"r","name":"n"})");
    c->close();
  };
  net::post(ioc, [&] {
    if (returning && *returning) {
      c = *returning;
      before = c->counters();
    } else {
      c = transport::client::create(ioc.get_executor(), o);
    }
    c->on_transition([&](transport::transition const& t) {
      if (t.event == transport::client_event::upgraded) {
        upgraded = true;
        maybe_leave();
      }
    });
    c->on_connect([&] {
      cost.connect_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      c->emit("join", R"({"room":"r","name":"n"})");
      c->emit("chat", R"({"room":"r","name":"n","msg":"hello"})", [&](boost::system::error_code ec, std::string_view) {
        acked = !ec;
        cost.ok = acked;
        maybe_leave();
      });
    });
    c->on_disconnect([&](boost::system::error_code) {
      auto const w = c->counters();
      cost.wire_bytes = w.bytes_sent + w.bytes_received - before.bytes_sent - before.bytes_received;
      cost.tls_handshakes = w.tls_handshakes - before.tls_handshakes;
      cost.tls_resumed = w.tls_resumed - before.tls_resumed;
      done.set_value();
    });
    start = std::chrono::steady_clock::now();
    c->connect();
  });
  if (future.wait_for(20s) != std::future_status::ready) {
    std::cerr << "tls_cost: a session did not end within 20 s\n";
    std::exit(1);
  }
  std::promise<void> released;
  net::post(ioc, [&] {
    // Nothing of this session may call back into this frame once it returns.
    c->on_transition({});
    c->on_connect({});
    c->on_disconnect({});
    if (returning) *returning = c;
    c.reset();
    released.set_value();
  });
  released.get_future().wait();
  return cost;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: tls_cost PKI_DIR [SESSIONS]   (PKI_DIR from tests/support/make-test-pki)\n";
    return 2;
  }
  std::string const dir = argv[1];
  int const sessions = argc == 3 ? std::atoi(argv[2]) : 200;
  if (sessions < 10) {
    std::cerr << "tls_cost: SESSIONS must be at least 10\n";
    return 2;
  }
  std::shared_ptr<net::ssl::context> server_tls;
  try {
    server_tls = transport::make_server_tls_context(dir + "/server.pem", dir + "/server-key.pem");
  } catch (transport::tls_config_error const& e) {
    std::cerr << "tls_cost: " << e.what() << "\n";
    return 2;
  }

  net::io_context client_ioc;
  auto work = net::make_work_guard(client_ioc);
  std::thread client_thread([&] { client_ioc.run(); });

  // How each row's clients speak: plain; TLS with a full handshake per connection; TLS resuming, a
  // new client per session; TLS resuming, one client for every session.
  enum class mode { plain, full, resume, returning };
  auto const mode_name = [](mode m) {
    switch (m) {
      case mode::plain: return "no";
      case mode::full: return "full";
      case mode::resume: return "resume";
      case mode::returning: return "resume, returning";
    }
    return "?";
  };
  std::printf("| strategy | TLS | connect p50 (ms) | connect p90 (ms) | wire bytes/session | server CPU/session (us) | "
              "TLS handshakes/session (resumed) |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|\n");
  int status = 0;
  for (auto strat : {strategy::polling, strategy::websocket, strategy::upgrade}) {
    for (mode m : {mode::plain, mode::full, mode::resume, mode::returning}) {
      bool const tls = m != mode::plain;
      server srv(tls ? server_tls : nullptr);
      transport::client_options o;
      o.port = srv.port();
      o.strat = strat;
      o.tls = tls;
      o.tls_ca_file = dir + "/ca.pem";
      o.tls_resume = m != mode::full;
      std::shared_ptr<transport::client> client;
      auto* const returning = m == mode::returning ? &client : nullptr;
      // Warm-up: the first sessions load the CA file and fill the allocators (and make the returning
      // client's first, full, handshakes).
      for (int i = 0; i < 5; ++i) run_session(client_ioc, o, returning);
      while (srv.open() != 0) std::this_thread::sleep_for(1ms);
      std::vector<double> connect;
      std::uint64_t bytes = 0, handshakes = 0, resumed = 0;
      int failed = 0;
      double const cpu_before = srv.cpu();
      for (int i = 0; i < sessions; ++i) {
        auto const cost = run_session(client_ioc, o, returning);
        if (!cost.ok) ++failed;
        connect.push_back(cost.connect_ms);
        bytes += cost.wire_bytes;
        handshakes += cost.tls_handshakes;
        resumed += cost.tls_resumed;
        // The server's part of the session ends when it has closed it.
        while (srv.open() != 0) std::this_thread::sleep_for(100us);
      }
      double const cpu = srv.cpu() - cpu_before;
      std::promise<void> released;
      net::post(client_ioc, [&] {
        client.reset();  // the returning client, on its own thread
        released.set_value();
      });
      released.get_future().wait();
      std::printf("| %s | %s | %.3f | %.3f | %llu | %.0f | %.2f (%.2f) |\n",
                  std::string(transport::to_string(strat)).c_str(), mode_name(m), percentile(connect, 0.5),
                  percentile(connect, 0.9),
                  static_cast<unsigned long long>(bytes / static_cast<std::uint64_t>(sessions)), cpu * 1e6 / sessions, static_cast<double>(handshakes) / sessions,
                  static_cast<double>(resumed) / sessions);
      std::fflush(stdout);
      if (failed) {
        std::cerr << "tls_cost: " << failed << " session(s) of " << transport::to_string(strat)
                  << (tls ? " over TLS" : "") << " (" << mode_name(m) << ") failed\n";
        status = 1;
      }
    }
  }
  work.reset();
  client_thread.join();
  return status;
}
