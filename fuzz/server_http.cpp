// The server's HTTP request handling: `fallbench serve`'s stack (engine_server, sio_server, chat_app,
// the static pages) in this process, fed each input as the bytes of one client connection.
//
// Why a loopback socket and not an in-memory stream: transport::detail::http_connection owns a
// beast::tcp_stream and hands its TCP socket to the WebSocket connection on an upgrade, so feeding it
// another stream type would mean templating the connection classes on their stream (a restructuring
// of transports/server, not done for the fuzzer). The socket is 127.0.0.1 with an ephemeral port, as
// every test's; libFuzzer still sees the server threads' coverage, as it is one process.
//
// An input is sent whole, then the write side is shut down and the answer read until the server
// closes or 200 ms pass. `@SID@` in an input is replaced by the sid of a session the harness opens
// first by a polling handshake, so the fuzzer reaches the paths of an open session (POST, GET, upgrade)
// without guessing a random sid. Timings are short so that sessions the inputs leave end quickly.

#include "fallbench/chat/chat_app.hpp"
#include "fallbench/chat/sio_server.hpp"
#include "fallbench/chat/static_site.hpp"
#include "fallbench/transport/engine_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

namespace net = boost::asio;
namespace chat = fallbench::chat;
namespace transport = fallbench::transport;

namespace {

transport::server_options options() {
  transport::server_options o;
  o.lim.ping_interval = std::chrono::milliseconds{100};
  o.lim.ping_timeout = std::chrono::milliseconds{100};
  o.lim.max_payload_bytes = 64 * 1024;
  o.cors_origins = {"*"};
  return o;
}

/// The server, started once and left running for the process's life (libFuzzer exits the process).
struct server {
  net::io_context ioc{2};
  chat::chat_app app;
  chat::sio_server sio{ioc, app, std::chrono::milliseconds{200}};
  transport::engine_server engine{ioc, options(), sio};
  chat::static_site site;
  unsigned short port = 0;
  std::thread threads[2];

  server() {
    engine.set_fallback([this](transport::http_exchange& ex) { site.answer(ex); });
    port = engine.listen({net::ip::make_address_v4("127.0.0.1"), 0}).port();
    for (auto& t : threads) t = std::thread([this] { ioc.run(); });
    for (auto& t : threads) t.detach();
  }
};

/// A blocking loopback connection with a receive deadline.
int connect_to(unsigned short port) {
  int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval deadline{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof deadline);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &deadline, sizeof deadline);
  if (::connect(fd, reinterpret_cast<sockaddr const*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Send `request` on a new connection and return what came back before the close or the deadline.
std::string exchange(unsigned short port, std::string_view request, bool half_close) {
  std::string answer;
  int const fd = connect_to(port);
  if (fd < 0) return answer;
  for (std::size_t sent = 0; sent < request.size();) {
    auto const n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  char buffer[4096];
  for (;;) {
    auto const n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
    if (answer.size() > 1'000'000) break;
  }
  ::close(fd);
  return answer;
}

/// Open a polling session and return its sid (empty when the handshake failed).
std::string open_session(unsigned short port) {
  auto const answer = exchange(port, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", false);
  auto const at = answer.find("\"sid\":\"");
  if (at == std::string::npos) return {};
  auto const end = answer.find('"', at + 7);
  return end == std::string::npos ? std::string{} : answer.substr(at + 7, end - at - 7);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  // Never destroyed: its threads run until the process exits.
  static server& s = *new server;
  std::string request(reinterpret_cast<char const*>(data), size);
  constexpr std::string_view marker = "@SID@";
  if (request.find(marker) != std::string::npos) {
    auto const sid = open_session(s.port);
    for (auto at = request.find(marker); at != std::string::npos; at = request.find(marker, at + sid.size()))
      request.replace(at, marker.size(), sid);
  }
  (void)exchange(s.port, request, true);
  return 0;
}
