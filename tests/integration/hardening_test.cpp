// The server's answers to abuse (docs/hardening.md): every limit is hit by an attacker, counted, and
// a legitimate client keeps chatting meanwhile where it could be hurt. Attackers that per-address
// limits must tell apart connect from another loopback address (127.0.0.2) than the legit client.

#include "test_clients.hpp"
#include "test_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <regex>
#include <set>
#include <thread>
#include <vector>

namespace fallbench::integration {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------------
// Raw HTTP from a chosen source address: the client socket binds `source` (port 0) before it
// connects, so the server sees another peer address than 127.0.0.1. Every read has io_deadline.

class raw_http {
 public:
  raw_http(unsigned short port, char const* source = "127.0.0.1") : port_(port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    timeval tv{static_cast<time_t>(io_deadline.count() / 1000), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~raw_http() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_http(raw_http const&) = delete;
  raw_http& operator=(raw_http const&) = delete;

  bool connected() const noexcept { return fd_ >= 0; }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      auto const n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  /// One response: headers, then Content-Length bytes of body. Empty when the server closed first or
  /// the deadline passed.
  std::string response() {
    for (;;) {
      if (auto const end = buffer_.find("\r\n\r\n"); end != std::string::npos) {
        std::size_t length = 0;
        std::smatch m;
        std::string const head = buffer_.substr(0, end);
        if (std::regex_search(head, m, std::regex("[Cc]ontent-[Ll]ength: *([0-9]+)"))) length = std::stoul(m[1]);
        if (buffer_.size() >= end + 4 + length) {
          auto out = buffer_.substr(0, end + 4 + length);
          buffer_.erase(0, end + 4 + length);
          return out;
        }
      }
      char chunk[65536];
      auto const n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return {};
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  /// Whether the server closed the connection (end of stream or reset) within the deadline.
  bool closed_by_server() {
    char c;
    auto const n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  /// `method` `target` with Host 127.0.0.1:port and extra header lines ("Name: value\r\n"); the response.
  std::string request(std::string const& method, std::string const& target, std::string const& headers = {}) {
    if (!send(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n" + headers +
              "\r\n"))
      return {};
    return response();
  }
  std::string get(std::string const& target, std::string const& headers = {}) { return request("GET", target, headers); }

 private:
  unsigned short port_;
  int fd_ = -1;
  std::string buffer_;
};

/// The status code of a raw response ("HTTP/1.1 403 Forbidden..." -> 403), 0 when there is none.
int status_of(std::string const& response) {
  if (response.size() < 12 || !response.starts_with("HTTP/1.1 ")) return 0;
  return std::atoi(response.c_str() + 9);
}

/// The body of a raw response.
std::string body_of(std::string const& response) {
  auto const end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string{} : response.substr(end + 4);
}

/// The value of header `name` (exact case as the server writes it), empty when absent.
std::string header_of(std::string const& response, std::string const& name) {
  auto const at = response.find("\r\n" + name + ": ");
  if (at == std::string::npos || at > response.find("\r\n\r\n")) return {};
  auto const from = at + 4 + name.size();
  return response.substr(from, response.find("\r\n", from) - from);
}

/// Over `c`: a polling session that connects, takes the answer of one GET and then never polls again,
/// so the server reaps it (stopped_polling) one poll gap later. Its reaping is the tests' clock for
/// "a gap has passed": a session paused since before it was opened would have been reaped first.
/// `session`: the session's polling target.
testing::AssertionResult open_session_that_stops_polling(raw_http& c, unsigned short port, std::string& session) {
  auto const open = c.get(engine_target("EIO=4&transport=polling"));
  if (status_of(open) != 200) return testing::AssertionFailure() << "handshake: " << open;
  auto const sid = json::parse(body_of(open).substr(1)).at("sid").get<std::string>();
  session = engine_target("EIO=4&transport=polling&sid=" + sid);
  if (!c.send("POST " + session + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
              "\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 2\r\n\r\n40"))
    return testing::AssertionFailure() << "CONNECT not sent";
  if (auto const res = c.response(); status_of(res) != 200) return testing::AssertionFailure() << "CONNECT: " << res;
  auto const answer = c.get(session);
  if (status_of(answer) != 200 || !body_of(answer).starts_with("40{")) return testing::AssertionFailure() << "GET: " << answer;
  return testing::AssertionSuccess();
}

// A legit client that must keep chatting during a probe: connected over WebSocket, in room "legit".
testing::AssertionResult legit_joins(ws_client& ws, unsigned short port) {
  if (auto r = ws_connect(ws, port); !r) return r;
  if (auto ec = ws.send(emit_join("legit", "alice", "1"))) return testing::AssertionFailure() << ec.message();
  if (auto r = expect_message(ws, join_event("legit", "alice")); !r) return r;
  return expect_message(ws, ok_ack("1"));
}

testing::AssertionResult legit_chats(ws_client& ws, std::string_view msg, std::string_view id) {
  if (auto ec = ws.send(emit_chat("legit", "alice", msg, id))) return testing::AssertionFailure() << ec.message();
  if (auto r = expect_message(ws, chat_event("legit", "alice", msg)); !r) return r;
  return expect_message(ws, ok_ack(id));
}

// ---------------------------------------------------------------------------------------------------
// 1. Session ids from the CSPRNG

TEST(HardeningTest, SessionAndSocketIdsAre120BitBase64urlAndUnique) {
  test_server srv;
  std::regex const id_form("[A-Za-z0-9_-]{20}");  // 20 base64url characters: 120 bits
  std::set<std::string> ids;
  constexpr int handshakes = 1000;
  for (int i = 0; i < handshakes; ++i) {
    auto const res = http_get(srv.port(), engine_target("EIO=4&transport=polling"));
    ASSERT_TRUE(res && res->status == 200 && res->body.starts_with("0{")) << describe(res);
    auto const sid = json::parse(res->body.substr(1)).at("sid").get<std::string>();
    ASSERT_TRUE(std::regex_match(sid, id_form)) << sid;
    ids.insert(sid);
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(handshakes));
  // The Socket.IO id of a connection has the same form, and is not the session id.
  for (int i = 0; i < 50; ++i) {
    polling_client c(srv.port());
    ASSERT_FALSE(c.open().is_null());
    ASSERT_TRUE(c.send("40"));
    auto const packets = c.poll();
    ASSERT_EQ(packets.size(), 1u);
    auto const socket_id = json::parse(packets[0].substr(2)).at("sid").get<std::string>();
    EXPECT_TRUE(std::regex_match(socket_id, id_form)) << socket_id;
    EXPECT_NE(socket_id, c.sid());
    ids.insert(socket_id);
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(handshakes + 50));
}

// ---------------------------------------------------------------------------------------------------
// 2. An unknown namespace is echoed bounded

TEST(HardeningTest, InvalidNamespaceIsEchoedBoundedOverWebSocket) {
  test_server srv;
  ws_client legit;
  ASSERT_TRUE(legit_joins(legit, srv.port()));
  ws_client ws;
  ASSERT_FALSE(ws_open(ws, srv.port()).is_null());
  std::string const nsp = "/" + std::string(900'000, 'x');
  ASSERT_TRUE(no_error(ws.send("40" + nsp + ",")));
  auto const answer = next_message(ws);
  EXPECT_EQ(answer, "44/" + std::string(99, 'x') + R"(...,{"message":"Invalid namespace"})");
  // A short unknown namespace is still echoed whole, as the official suite expects.
  ASSERT_TRUE(no_error(ws.send("40/random,")));
  EXPECT_TRUE(expect_message(ws, R"(44/random,{"message":"Invalid namespace"})"));
  EXPECT_EQ(srv.sio().stats().truncated_namespaces, 1u);
  EXPECT_EQ(srv.sio().stats().connect_errors, 2u);
  EXPECT_TRUE(legit_chats(legit, "still here", "2"));
}

TEST(HardeningTest, InvalidNamespaceIsEchoedBoundedOverPollingAndCutOnACharacter) {
  test_server srv;
  polling_client c(srv.port());
  ASSERT_FALSE(c.open().is_null());
  // 99 bytes of '/' and 'a', then a 2-byte character across byte 100: the cut leaves it out whole.
  std::string const nsp = "/" + std::string(98, 'a') + "\xC3\xA9" + std::string(500'000, 'b');
  ASSERT_TRUE(c.send("40" + nsp + ","));
  auto const packets = c.poll();
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(packets[0], "44/" + std::string(98, 'a') + R"(...,{"message":"Invalid namespace"})");
  EXPECT_EQ(srv.sio().stats().truncated_namespaces, 1u);
}

// ---------------------------------------------------------------------------------------------------
// 3. Origin policy

std::string const ws_upgrade_headers =
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n";

TEST(HardeningTest, ForeignOriginIsRefusedOnPollingAndWebSocketAndCounted) {
  test_server srv;
  ws_client legit;
  ASSERT_TRUE(legit_joins(legit, srv.port()));
  auto const handshake = engine_target("EIO=4&transport=polling");
  {
    raw_http evil(srv.port());
    auto const res = evil.get(handshake, "Origin: http://evil.example\r\n");
    EXPECT_EQ(status_of(res), 403) << res;
    EXPECT_EQ(json::parse(body_of(res), nullptr, false), json({{"code", 4}, {"message", "Forbidden"}})) << res;
  }
  {
    raw_http evil(srv.port());
    auto const res = evil.get(ws_target(), ws_upgrade_headers + "Origin: http://evil.example\r\n");
    EXPECT_EQ(status_of(res), 403) << res;
  }
  {
    // Another port of the same host is another origin.
    raw_http evil(srv.port());
    auto const res = evil.get(handshake, "Origin: http://127.0.0.1:" + std::to_string(srv.port() + 1) + "\r\n");
    EXPECT_EQ(status_of(res), 403) << res;
  }
  EXPECT_EQ(srv.engine().stats().origin_refused, 3u);
  EXPECT_EQ(srv.engine().stats().sessions_opened, 1u);  // only the legit client's
  EXPECT_TRUE(legit_chats(legit, "unharmed", "2"));
}

TEST(HardeningTest, SameOriginAndNoOriginPass) {
  test_server_config config;
  config.options.allowed_hosts = {"chat.example"};  // the server's public name (a Host check applies first)
  test_server srv(config);
  auto const own = "Origin: http://127.0.0.1:" + std::to_string(srv.port()) + "\r\n";
  {
    raw_http page(srv.port());
    auto const res = page.get(engine_target("EIO=4&transport=polling"), own);
    EXPECT_EQ(status_of(res), 200) << res;
    // Same origin needs no CORS headers.
    EXPECT_EQ(header_of(res, "Access-Control-Allow-Origin"), "") << res;
  }
  {
    raw_http page(srv.port());
    auto const res = page.get(ws_target(), ws_upgrade_headers + own);
    EXPECT_EQ(status_of(res), 101) << res;
  }
  {
    raw_http tool(srv.port());
    EXPECT_EQ(status_of(tool.get(engine_target("EIO=4&transport=polling"))), 200);
  }
  // Host names compare without case, and a default port written out is the same origin.
  {
    raw_http page(srv.port());
    ASSERT_TRUE(page.send("GET " + engine_target("EIO=4&transport=polling") +
                          " HTTP/1.1\r\nHost: Chat.Example\r\nOrigin: http://chat.example:80\r\n\r\n"));
    auto const res = page.response();
    EXPECT_EQ(status_of(res), 200) << res;
  }
  {
    raw_http page(srv.port());
    auto const res = page.get(engine_target("EIO=4&transport=polling"), "Origin: http://chat.example\r\n");
    EXPECT_EQ(status_of(res), 403) << res;  // Host is 127.0.0.1:port
  }
  EXPECT_EQ(srv.engine().stats().origin_refused, 1u);
}

// DNS rebinding: a page of evil.example whose name now resolves to this server is same-origin with
// it, so only Host tells it apart. IP literals and localhost pass; a name passes when it is allowed.
TEST(HardeningTest, AHostNameNotAllowedIsRefusedOnEveryPath) {
  test_server_config config;
  config.options.allowed_hosts = {"chat.example"};
  test_server srv(config);
  ws_client legit;
  ASSERT_TRUE(legit_joins(legit, srv.port()));
  auto const port = std::to_string(srv.port());
  auto const request = [&](std::string const& target, std::string const& host, std::string const& extra = {}) {
    raw_http c(srv.port());
    if (!c.send("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n")) return std::string{};
    return c.response();
  };
  auto const handshake = engine_target("EIO=4&transport=polling");
  std::string const rebound = "evil.example:" + port;
  EXPECT_EQ(status_of(request(handshake, rebound, "Origin: http://" + rebound + "\r\n")), 403);
  EXPECT_EQ(status_of(request(ws_target(), rebound, ws_upgrade_headers + "Origin: http://" + rebound + "\r\n")), 403);
  EXPECT_EQ(status_of(request("/", rebound)), 403);
  EXPECT_EQ(srv.engine().stats().host_refused, 3u);
  for (auto const& host : std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST",
                                                  "Chat.Example:" + port, "[::1]:" + port})
    EXPECT_EQ(status_of(request(handshake, host)), 200) << host;
  EXPECT_EQ(srv.engine().stats().host_refused, 3u);
  EXPECT_EQ(srv.engine().stats().sessions_opened, 6u);  // the legit client's and the five allowed
  EXPECT_TRUE(legit_chats(legit, "unharmed", "2"));
}

TEST(HardeningTest, WildcardOriginNeverAnswersWithCredentials) {
  test_server_config config;
  config.options.cors_origins = {"*"};
  test_server srv(config);
  raw_http page(srv.port());
  auto const res = page.get(engine_target("EIO=4&transport=polling"), "Origin: http://anywhere.example\r\n");
  EXPECT_EQ(status_of(res), 200) << res;
  EXPECT_EQ(header_of(res, "Access-Control-Allow-Origin"), "*") << res;
  EXPECT_EQ(header_of(res, "Access-Control-Allow-Credentials"), "") << res;
  EXPECT_EQ(srv.engine().stats().origin_refused, 0u);
}

TEST(HardeningTest, NamedOriginGetsCredentialsAndPreflightAllowsAFixedHeaderList) {
  test_server_config config;
  config.options.cors_origins = {"https://chat.example"};
  test_server srv(config);
  raw_http page(srv.port());
  auto res = page.get(engine_target("EIO=4&transport=polling"), "Origin: https://chat.example\r\n");
  EXPECT_EQ(status_of(res), 200) << res;
  EXPECT_EQ(header_of(res, "Access-Control-Allow-Origin"), "https://chat.example") << res;
  EXPECT_EQ(header_of(res, "Access-Control-Allow-Credentials"), "true") << res;
  EXPECT_EQ(header_of(res, "Vary"), "Origin") << res;
  res = page.request("OPTIONS", engine_target("EIO=4&transport=polling"),
                     "Origin: https://chat.example\r\nAccess-Control-Request-Method: POST\r\n"
                     "Access-Control-Request-Headers: x-evil, cookie\r\n");
  EXPECT_EQ(status_of(res), 204) << res;
  EXPECT_EQ(header_of(res, "Access-Control-Allow-Headers"), "Content-Type") << res;
  EXPECT_EQ(header_of(res, "Access-Control-Allow-Methods"), "GET, POST") << res;
  // A preflight from an origin not listed is refused like the request it announces.
  raw_http other(srv.port());
  res = other.request("OPTIONS", engine_target("EIO=4&transport=polling"),
                      "Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n");
  EXPECT_EQ(status_of(res), 403) << res;
  EXPECT_EQ(header_of(res, "Access-Control-Allow-Origin"), "") << res;
}

// ---------------------------------------------------------------------------------------------------
// 4. Rooms per client

TEST(HardeningTest, JoinBeyondMaxRoomsPerClientGetsNegativeAck) {
  test_server_config config;
  config.max_rooms_per_client = 5;
  test_server srv(config);
  ws_client ws;
  ASSERT_TRUE(ws_connect(ws, srv.port()));
  for (int i = 0; i < 5; ++i) {
    auto const room = "r" + std::to_string(i);
    ASSERT_TRUE(no_error(ws.send(emit_join(room, "a", std::to_string(10 + i)))));
    ASSERT_TRUE(expect_message(ws, join_event(room, "a")));
    ASSERT_TRUE(expect_message(ws, ok_ack(std::to_string(10 + i))));
  }
  ASSERT_TRUE(no_error(ws.send(emit_join("r5", "a", "20"))));
  auto const refusal = next_message(ws);
  EXPECT_TRUE(is_negative_ack(refusal, "20"));
  EXPECT_NE(refusal.find("too many rooms"), std::string::npos) << refusal;
  EXPECT_EQ(srv.chat().stats().refused_joins, 1u);
  EXPECT_EQ(srv.chat().stats().rooms, 5u);
  // Joining a room it is in already is not a new room; chatting goes on; a leave makes room for a join.
  ASSERT_TRUE(no_error(ws.send(emit_join("r0", "a", "21"))));
  EXPECT_TRUE(expect_message(ws, join_event("r0", "a")));
  EXPECT_TRUE(expect_message(ws, ok_ack("21")));
  ASSERT_TRUE(no_error(ws.send(emit_chat("r4", "a", "hello", "22"))));
  EXPECT_TRUE(expect_message(ws, chat_event("r4", "a", "hello")));
  EXPECT_TRUE(expect_message(ws, ok_ack("22")));
  ASSERT_TRUE(no_error(ws.send(emit_leave("r1", "a", "23"))));
  EXPECT_TRUE(expect_message(ws, leave_event("r1", "a")));
  EXPECT_TRUE(expect_message(ws, ok_ack("23")));
  ASSERT_TRUE(no_error(ws.send(emit_join("r5", "a", "24"))));
  EXPECT_TRUE(expect_message(ws, join_event("r5", "a")));
  EXPECT_TRUE(expect_message(ws, ok_ack("24")));
  EXPECT_EQ(srv.chat().stats().refused_joins, 1u);
  // The limit is per client: another client joins freely.
  ws_client other;
  ASSERT_TRUE(ws_connect(other, srv.port()));
  ASSERT_TRUE(no_error(other.send(emit_join("r9", "b", "1"))));
  EXPECT_TRUE(expect_message(other, join_event("r9", "b")));
  EXPECT_TRUE(expect_message(other, ok_ack("1")));
}

// ---------------------------------------------------------------------------------------------------
// 5. Accept backs off when descriptors run out

// UBSan's vptr check (preset asan) asks whether an object's vtable is readable by writing it to a
// pipe: with every descriptor taken the pipe cannot be made, and the accept backoff's timer queue is
// reported as having an invalid vptr. The report is about the sanitizer's own probe, so the test
// does not run there; every other build runs it (TSan included).
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FALLBENCH_UBSAN_VPTR_PROBE_NEEDS_A_DESCRIPTOR 1
#endif
#endif

TEST(HardeningTest, AcceptBacksOffWhenDescriptorsRunOutAndServesOnceTheyFreeUp) {
#ifdef FALLBENCH_UBSAN_VPTR_PROBE_NEEDS_A_DESCRIPTOR
  GTEST_SKIP() << "UBSan's vptr probe needs a free descriptor, which this test takes away";
#endif
  test_server srv;
  // The client's socket exists before the descriptors run out: connect() needs none.
  int const client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(client, 0);
  // Lower this process's descriptor limit just above what is open, then take every descriptor left.
  // (Each test runs in its own process under ctest; the limit is restored below anyway.)
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  int highest = client;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) != -1) highest = std::max(highest, fd);
  rlimit lowered = saved;
  lowered.rlim_cur = static_cast<rlim_t>(highest + 16);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  std::vector<int> hogs;
  for (int fd; (fd = ::dup(client)) >= 0;) hogs.push_back(fd);
  ASSERT_EQ(errno, EMFILE);
  auto release = [&] {
    for (int fd : hogs) ::close(fd);
    hogs.clear();
    ::setrlimit(RLIMIT_NOFILE, &saved);
  };

  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(srv.port());
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to), 0) << std::strerror(errno);
  // The connection waits in the backlog; the server's accept fails with EMFILE and waits.
  bool const backed_off = wait_for_condition([&] { return srv.engine().stats().accept_backoffs >= 2; });
  auto const before = srv.engine().stats().accept_backoffs;
  auto const watched_from = std::chrono::steady_clock::now();
  bool const retried = wait_for_condition([&] { return srv.engine().stats().accept_backoffs >= before + 3; });
  auto const took = std::chrono::steady_clock::now() - watched_from;
  release();
  ASSERT_TRUE(backed_off) << "accept never failed for want of descriptors";
  ASSERT_TRUE(retried) << "accept stopped trying again";
  // Three more failures with 50 ms waited after each: two whole waits lie between the first and the
  // third, so at least 100 ms. A loop that spins makes them in microseconds.
  EXPECT_GE(took, 100ms);

  // Once descriptors are back, the waiting connection is served.
  timeval tv{static_cast<time_t>(io_deadline.count() / 1000), 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string const request =
      "GET " + engine_target("EIO=4&transport=polling") + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(client, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  std::string response;
  char chunk[4096];
  for (ssize_t n; (n = ::recv(client, chunk, sizeof chunk, 0)) > 0;) response.append(chunk, static_cast<std::size_t>(n));
  ::close(client);
  EXPECT_EQ(status_of(response), 200) << response.substr(0, 200);
}

// ---------------------------------------------------------------------------------------------------
// 6. Total connections, sessions and handshakes per address, the first poll

TEST(HardeningTest, ConnectionsBeyondMaxConnectionsGet503AndLegitKeepsChatting) {
  test_server_config config;
  config.options.lim.max_connections = 4;
  test_server srv(config);
  ws_client legit;
  ASSERT_TRUE(legit_joins(legit, srv.port()));
  // The attacker holds the other three places with idle connections.
  std::vector<std::unique_ptr<raw_http>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<raw_http>(srv.port(), "127.0.0.2"));
    ASSERT_TRUE(held.back()->connected());
  }
  ASSERT_TRUE(wait_for_condition([&] { return srv.engine().stats().connections_open == 4; }))
      << srv.engine().stats().connections_open;
  raw_http refused(srv.port(), "127.0.0.2");
  ASSERT_TRUE(refused.connected());
  auto const res = refused.get("/");
  EXPECT_TRUE(status_of(res) == 503 || (res.empty() && refused.closed_by_server())) << res;
  EXPECT_TRUE(wait_for_condition([&] { return srv.engine().stats().connections_refused >= 1; }));
  EXPECT_TRUE(legit_chats(legit, "over the limit", "2"));
  // The places free up when the attacker lets go.
  held.clear();
  ASSERT_TRUE(wait_for_condition([&] { return srv.engine().stats().connections_open <= 1; }))
      << srv.engine().stats().connections_open;
  raw_http later(srv.port(), "127.0.0.2");
  EXPECT_EQ(status_of(later.get(engine_target("EIO=4&transport=polling"))), 200);
}

// A keep-alive connection whose requests keep coming outlives many HTTP deadlines: each request moves
// its deadline on (the server re-arms it lazily, without restarting its timer, and the wait that wakes
// at the first deadline finds it moved).
TEST(HardeningTest, AKeepAliveConnectionInUseOutlivesTheHttpDeadline) {
  test_server_config config;
  config.options.lim.http_timeout = 300ms;
  test_server srv(config);
  raw_http c(srv.port());
  ASSERT_TRUE(c.connected());
  // Requests back to back for five deadlines; a path outside the endpoint, so no session is opened.
  auto const until = std::chrono::steady_clock::now() + 1500ms;
  int answered = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto const res = c.get("/not-the-endpoint");
    ASSERT_NE(status_of(res), 0) << "request " << answered << " on the one connection got no answer";
    ++answered;
  }
  EXPECT_GE(answered, 5);
  // Left idle, it is closed at its deadline all the same.
  EXPECT_TRUE(c.closed_by_server());
}

// A connection that ends (the client's Connection: close, or its end of stream) gives its place back
// at once, not when the deadline its last request armed would have passed.
TEST(HardeningTest, AConnectionThatEndsLetsGoOfItsPlaceAtOnce) {
  test_server_config config;
  config.options.lim.max_connections = 1;
  config.options.lim.http_timeout = 60s;
  test_server srv(config);
  auto const handshake = engine_target("EIO=4&transport=polling");
  for (int i = 0; i < 3; ++i) {
    {
      raw_http closing(srv.port());
      ASSERT_TRUE(closing.connected());
      EXPECT_EQ(status_of(closing.get(handshake, "Connection: close\r\n")), 200) << i;
      EXPECT_TRUE(closing.closed_by_server()) << i;
    }
    ASSERT_TRUE(wait_for_condition([&] { return srv.engine().stats().connections_open == 0; }))
        << "after Connection: close " << i;
    {
      raw_http ending(srv.port());
      ASSERT_TRUE(ending.connected());
      EXPECT_EQ(status_of(ending.get(handshake)), 200) << i;
    }  // the client closes its end
    ASSERT_TRUE(wait_for_condition([&] { return srv.engine().stats().connections_open == 0; }))
        << "after the client's end of stream " << i;
  }
  EXPECT_EQ(srv.engine().stats().connections_refused, 0u);
}

TEST(HardeningTest, SessionsPerAddressAreBoundedAndOtherAddressesAreNot) {
  test_server_config config;
  config.options.lim.max_sessions_per_address = 3;
  test_server srv(config);
  ws_client legit;
  ASSERT_TRUE(legit_joins(legit, srv.port()));
  auto const handshake = engine_target("EIO=4&transport=polling");
  std::vector<std::string> sids;
  for (int i = 0; i < 3; ++i) {
    raw_http attacker(srv.port(), "127.0.0.2");
    auto const res = attacker.get(handshake);
    ASSERT_EQ(status_of(res), 200) << res;
  }
  {
    raw_http attacker(srv.port(), "127.0.0.2");
    auto const res = attacker.get(handshake);
    EXPECT_EQ(status_of(res), 503) << res;
  }
  EXPECT_EQ(srv.engine().stats().sessions_refused_per_address, 1u);
  // 127.0.0.1 holds one session (the legit client): it may open more.
  raw_http friendly(srv.port());
  EXPECT_EQ(status_of(friendly.get(handshake)), 200);
  EXPECT_TRUE(legit_chats(legit, "still fine", "2"));
}

TEST(HardeningTest, HandshakeRatePerAddressGets429AndOtherAddressesAreNotLimited) {
  test_server_config config;
  config.options.lim.handshakes_per_second_per_address = 5;
  test_server srv(config);
  ws_client legit;
  ASSERT_TRUE(legit_joins(legit, srv.port()));
  auto const handshake = engine_target("EIO=4&transport=polling");
  int ok = 0, limited = 0;
  raw_http attacker(srv.port(), "127.0.0.2");
  for (int i = 0; i < 30; ++i) {
    auto const res = attacker.get(handshake);
    if (status_of(res) == 200) ++ok;
    if (status_of(res) == 429) ++limited;
  }
  EXPECT_EQ(ok + limited, 30);
  EXPECT_GE(ok, 5);      // the burst
  EXPECT_GE(limited, 1);  // 30 handshakes in well under 5 s
  EXPECT_EQ(srv.engine().stats().handshakes_rate_limited, static_cast<std::uint64_t>(limited));
  // A WebSocket handshake from the limited address is refused before the upgrade, too.
  {
    raw_http ws(srv.port(), "127.0.0.2");
    auto const res = ws.get(ws_target(), ws_upgrade_headers);
    EXPECT_TRUE(status_of(res) == 429 || status_of(res) == 101) << res;  // 101 only if a token came back meanwhile
  }
  raw_http friendly(srv.port());
  EXPECT_EQ(status_of(friendly.get(handshake)), 200);
  EXPECT_TRUE(legit_chats(legit, "not limited", "2"));
}

TEST(HardeningTest, PollingSessionWithoutFirstGetIsReaped) {
  test_server_config config;
  config.options.lim.first_poll_timeout = 300ms;
  test_server srv(config);
  ws_client legit;
  ASSERT_TRUE(legit_joins(legit, srv.port()));
  // A polling client that polls as it should, opened first: its check comes due before the idle one's.
  polling_client c(srv.port());
  ASSERT_TRUE(c.connect());
  // A handshake and nothing after it.
  raw_http idle(srv.port(), "127.0.0.2");
  ASSERT_EQ(status_of(idle.get(engine_target("EIO=4&transport=polling"))), 200);
  // The idle session's reaping is the signal that c's earlier check has run too: only one was reaped.
  EXPECT_TRUE(wait_for_condition([&] { return srv.closed(transport::close_reason::no_first_poll) >= 1; }));
  EXPECT_EQ(srv.closed(transport::close_reason::no_first_poll), 1u);
  EXPECT_TRUE(c.send(emit_join("p", "c")));
  auto const packets = c.poll();
  EXPECT_EQ(packets, std::vector<std::string>{join_event("p", "c")});
  EXPECT_TRUE(legit_chats(legit, "unaffected", "2"));
}

TEST(HardeningTest, PollingSessionThatStopsPollingIsReapedAndLegitKeepsChatting) {
  test_server_config config;
  config.options.lim.poll_gap_timeout = 300ms;
  test_server srv(config);
  ws_client legit;
  ASSERT_TRUE(legit_joins(legit, srv.port()));
  auto const reaped = [&] { return srv.closed(transport::close_reason::stopped_polling); };
  // A polling client that re-polls well within the gap (as fast as its round trips go).
  polling_client c(srv.port());
  ASSERT_TRUE(c.connect());
  ASSERT_TRUE(c.send(emit_join("p", "c", "1")));
  EXPECT_EQ(c.poll(), (std::vector<std::string>{join_event("p", "c"), ok_ack("1")}));
  // The attacker: a handshake, a CONNECT, one GET that takes its answer, and then no GET; once it is
  // reaped, a second one like it. c chats and polls meanwhile, so it keeps its session through at
  // least two gaps, told by the two reapings rather than by sleeping.
  raw_http attacker(srv.port(), "127.0.0.2");
  raw_http second(srv.port(), "127.0.0.2");
  std::string attacker_session, second_session;
  ASSERT_TRUE(open_session_that_stops_polling(attacker, srv.port(), attacker_session));
  bool second_opened = false;
  auto const deadline = std::chrono::steady_clock::now() + 10s;
  for (int i = 2; reaped() < 2 && std::chrono::steady_clock::now() < deadline; ++i) {
    if (!second_opened && reaped() == 1) {
      ASSERT_TRUE(open_session_that_stops_polling(second, srv.port(), second_session));
      second_opened = true;
    }
    auto const id = std::to_string(i);
    ASSERT_TRUE(c.send(emit_chat("p", "c", "m" + id, id)));
    ASSERT_EQ(c.poll(), (std::vector<std::string>{chat_event("p", "c", "m" + id), ok_ack(id)}));
  }
  EXPECT_EQ(reaped(), 2u) << "the two stalled sessions, and not the legit polling client";
  EXPECT_EQ(srv.closed(transport::close_reason::no_first_poll), 0u);
  // The attackers' sessions are gone; both legit clients chat on.
  EXPECT_EQ(status_of(attacker.get(attacker_session)), 400);
  EXPECT_EQ(status_of(second.get(second_session)), 400);
  ASSERT_TRUE(c.send(emit_chat("p", "c", "still", "20")));
  EXPECT_EQ(c.poll(), (std::vector<std::string>{chat_event("p", "c", "still"), ok_ack("20")}));
  EXPECT_TRUE(legit_chats(legit, "unaffected", "2"));
}

TEST(HardeningTest, PollingPausedForAnUpgradeIsNotReapedButAFailedProbeResumesTheCheck) {
  test_server_config config;
  config.options.lim.poll_gap_timeout = 200ms;
  test_server srv(config);
  auto const reaped = [&] { return srv.closed(transport::close_reason::stopped_polling); };
  {
    // The official client's upgrade: the probe releases the parked GET, the client pauses polling
    // and sends the upgrade packet when it likes; here after several gaps.
    polling_client c(srv.port());
    ASSERT_TRUE(c.connect());
    auto parked = park_poll(srv, c);
    ws_client ws;
    ASSERT_TRUE(no_error(ws.connect(srv.port(), ws_target(c.sid()))));
    ASSERT_TRUE(no_error(ws.send("2probe")));
    EXPECT_TRUE(expect_message(ws, "3probe"));
    EXPECT_TRUE(is_ok(parked.get(), "6"));
    // The pause outlasts a gap: a session opened now that stops polling is reaped a gap later, and
    // c, unpolled since before it, would have been reaped first were it checked while upgrading.
    raw_http witness(srv.port(), "127.0.0.2");
    std::string witness_session;
    ASSERT_TRUE(open_session_that_stops_polling(witness, srv.port(), witness_session));
    ASSERT_TRUE(wait_for_condition([&] { return reaped() >= 1; }));
    ASSERT_TRUE(no_error(ws.send("5")));
    ASSERT_TRUE(no_error(ws.send(emit_join("u", "w", "1"))));
    EXPECT_TRUE(expect_message(ws, join_event("u", "w")));
    EXPECT_TRUE(expect_message(ws, ok_ack("1")));
    EXPECT_EQ(srv.engine().stats().upgrades, 1u);
    // Over the WebSocket there is no GET to wait for: another gap, told the same way, leaves it alone.
    raw_http witness2(srv.port(), "127.0.0.2");
    std::string witness2_session;
    ASSERT_TRUE(open_session_that_stops_polling(witness2, srv.port(), witness2_session));
    ASSERT_TRUE(wait_for_condition([&] { return reaped() >= 2; }));
    ASSERT_TRUE(no_error(ws.send(emit_chat("u", "w", "later", "2"))));
    EXPECT_TRUE(expect_message(ws, chat_event("u", "w", "later")));
    EXPECT_TRUE(expect_message(ws, ok_ack("2")));
    EXPECT_EQ(reaped(), 2u) << "only the two witnesses were reaped";
    c.forget();
  }
  {
    // A probe that fails after the pause: the session is back on polling, and one that does not
    // poll again is reaped.
    polling_client c(srv.port());
    ASSERT_TRUE(c.connect());
    auto parked = park_poll(srv, c);
    {
      ws_client ws;
      ASSERT_TRUE(no_error(ws.connect(srv.port(), ws_target(c.sid()))));
      ASSERT_TRUE(no_error(ws.send("2probe")));
      EXPECT_TRUE(expect_message(ws, "3probe"));
      EXPECT_TRUE(is_ok(parked.get(), "6"));
      ASSERT_TRUE(no_error(ws.close()));
    }
    EXPECT_TRUE(wait_for_condition([&] { return reaped() == 3; }));
    EXPECT_TRUE(is_engine_error(c.get(), 400, 1));
    c.forget();
  }
}

TEST(HardeningTest, BodiesInFlightAreBoundedIn503AndReleasedOnEveryPath) {
  constexpr std::size_t body_bytes = 100'000;
  test_server_config config;
  config.options.lim.max_body_bytes_in_flight = 3 * body_bytes;
  test_server srv(config);
  ws_client legit;
  ASSERT_TRUE(legit_joins(legit, srv.port()));
  auto const in_flight = [&] { return srv.engine().stats().body_bytes_in_flight; };
  // An attacker's connection: a session, then a POST announcing a large body of which a part comes.
  auto const start_post = [&](raw_http& c) -> testing::AssertionResult {
    auto const open = c.get(engine_target("EIO=4&transport=polling"));
    if (status_of(open) != 200) return testing::AssertionFailure() << "handshake: " << open;
    auto const sid = json::parse(body_of(open).substr(1)).at("sid").get<std::string>();
    if (!c.send("POST " + engine_target("EIO=4&transport=polling&sid=" + sid) + " HTTP/1.1\r\nHost: 127.0.0.1:" +
                std::to_string(srv.port()) + "\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: " +
                std::to_string(body_bytes) + "\r\n\r\n6" + std::string(999, 'x')))
      return testing::AssertionFailure() << "send failed";
    return testing::AssertionSuccess();
  };
  std::vector<std::unique_ptr<raw_http>> attackers;
  for (std::size_t i = 1; i <= 3; ++i) {
    attackers.push_back(std::make_unique<raw_http>(srv.port(), "127.0.0.2"));
    ASSERT_TRUE(start_post(*attackers.back()));
    ASSERT_TRUE(wait_for_condition([&] { return in_flight() == i * body_bytes; })) << in_flight();
  }
  {
    raw_http beyond(srv.port(), "127.0.0.2");
    ASSERT_TRUE(start_post(beyond));
    auto const res = beyond.response();
    EXPECT_EQ(status_of(res), 503) << res;
    EXPECT_TRUE(body_of(res).starts_with(R"({"code":3,)")) << res;
    EXPECT_TRUE(beyond.closed_by_server());
  }
  EXPECT_EQ(srv.engine().stats().bodies_refused, 1u);
  EXPECT_EQ(in_flight(), 3 * body_bytes) << "a refused body reserved nothing";
  EXPECT_TRUE(legit_chats(legit, "while bodies stall", "2"));
  // A body that completes gives its bytes back once its request is handled.
  ASSERT_TRUE(attackers[0]->send(std::string(body_bytes - 1000, 'x')));
  auto const done = attackers[0]->response();
  EXPECT_EQ(status_of(done), 200) << done;
  EXPECT_TRUE(wait_for_condition([&] { return in_flight() == 2 * body_bytes; })) << in_flight();
  // Connections that die with their bodies half read give theirs back too.
  attackers.clear();
  EXPECT_TRUE(wait_for_condition([&] { return in_flight() == 0; })) << in_flight();
  // A body refused after its head (unknown session) is released with its request.
  {
    raw_http stranger(srv.port());
    ASSERT_TRUE(stranger.send("POST " + engine_target("EIO=4&transport=polling&sid=nope") +
                              " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(srv.port()) +
                              "\r\nContent-Length: 5000\r\n\r\n6" + std::string(4999, 'x')));
    EXPECT_EQ(status_of(stranger.response()), 400);
    // Released once handle() returns, which may be just after the response left on another thread.
    EXPECT_TRUE(wait_for_condition([&] { return in_flight() == 0; })) << in_flight();
  }
  // With the attackers gone, a large body is accepted again.
  raw_http again(srv.port(), "127.0.0.2");
  ASSERT_TRUE(start_post(again));
  ASSERT_TRUE(again.send(std::string(body_bytes - 1000, 'x')));
  auto const res = again.response();
  EXPECT_EQ(status_of(res), 200) << res;
  EXPECT_EQ(body_of(res), "ok");
  EXPECT_TRUE(wait_for_condition([&] { return in_flight() == 0; })) << in_flight();
  EXPECT_EQ(srv.engine().stats().bodies_refused, 1u);
  EXPECT_TRUE(legit_chats(legit, "after the attack", "3"));
}

#ifdef FALLBENCH_BIN
/// `fallbench serve --port 0` with `flags` as a child process; port() is parsed from the URL it prints.
/// The destructor stops it (SIGTERM, then SIGKILL) and reaps it.
class serve_process {
 public:
  explicit serve_process(std::vector<std::string> flags) {
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      if (int const null = ::open("/dev/null", O_WRONLY); null >= 0) ::dup2(null, 2);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<std::string> argv{FALLBENCH_BIN, "serve", "--port", "0", "--threads", "1"};
      argv.insert(argv.end(), flags.begin(), flags.end());
      std::vector<char*> c_argv;
      for (auto& a : argv) c_argv.push_back(a.data());
      c_argv.push_back(nullptr);
      ::execv(FALLBENCH_BIN, c_argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    pollfd p{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&p, 1, static_cast<int>(io_deadline.count())) > 0) {
      char c[256];
      auto const n = ::read(out[0], c, sizeof c);
      if (n <= 0) break;
      line.append(c, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    std::smatch m;
    if (std::regex_search(line, m, std::regex(R"(^http://127\.0\.0\.1:([0-9]+))"))) port_ = static_cast<unsigned short>(std::stoi(m[1]));
  }
  ~serve_process() {
    if (pid_ <= 0) return;
    // A pidfd becomes readable when the process exits: wait for that, 5 s at most, then SIGKILL.
    int const exited = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    ::kill(pid_, SIGTERM);
    if (exited >= 0) {
      pollfd p{exited, POLLIN, 0};
      ::poll(&p, 1, 5000);
      ::close(exited);
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  serve_process(serve_process const&) = delete;
  serve_process& operator=(serve_process const&) = delete;

  unsigned short port() const noexcept { return port_; }

 private:
  pid_t pid_ = -1;
  unsigned short port_ = 0;
};

TEST(HardeningTest, MetricsTokenRequiresBearer) {
  serve_process serve({"--metrics-token", "s3cret"});
  ASSERT_NE(serve.port(), 0) << "fallbench serve did not print its URL";
  {
    raw_http anyone(serve.port());
    auto const res = anyone.get("/metrics");
    EXPECT_EQ(status_of(res), 401) << res;
    EXPECT_EQ(header_of(res, "WWW-Authenticate"), "Bearer") << res;
    EXPECT_EQ(body_of(res).find("sessions_opened"), std::string::npos) << res;
  }
  {
    raw_http wrong(serve.port());
    EXPECT_EQ(status_of(wrong.get("/metrics", "Authorization: Bearer s3cre\r\n")), 401);
  }
  raw_http owner(serve.port());
  auto const res = owner.get("/metrics", "Authorization: Bearer s3cret\r\n");
  ASSERT_EQ(status_of(res), 200) << res;
  auto const m = json::parse(body_of(res), nullptr, false);
  ASSERT_TRUE(m.is_object()) << res;
  EXPECT_EQ(m["limits"]["metrics_unauthorized"], 2) << m.dump();
  // The counters of every limit are in one block; the chat block keeps the reference peer's keys.
  for (auto const* key : {"origin_refused", "host_refused", "connections_refused", "accept_backoffs", "sessions_refused_per_address",
                          "handshakes_rate_limited", "no_first_poll", "stopped_polling", "truncated_namespaces", "refused_joins",
                          "metrics_unauthorized", "bodies_refused"})
    EXPECT_TRUE(m["limits"].contains(key)) << key << " in " << m.dump();
  EXPECT_TRUE(m["engine"].contains("connections_open")) << m.dump();
  EXPECT_TRUE(m["engine"]["sessions_closed"].contains("no first poll")) << m.dump();
  EXPECT_TRUE(m["engine"]["sessions_closed"].contains("stopped polling")) << m.dump();
  EXPECT_FALSE(m["chat"].contains("refused_joins")) << m.dump();
}

TEST(HardeningTest, ServeHelpListsEveryLimit) {
  std::string help;
  if (FILE* p = ::popen("'" FALLBENCH_BIN "' serve --help", "r")) {
    char chunk[4096];
    for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, p)) > 0;) help.append(chunk, n);
    ::pclose(p);
  }
  for (auto const* flag : {"--cors-origin", "--allowed-host", "--metrics-token", "--max-rooms-per-client", "--max-connections",
                           "--accept-backoff", "--max-sessions-per-address", "--handshake-rate-per-address",
                           "--first-poll-timeout", "--poll-gap-timeout", "--max-body-memory"})
    EXPECT_NE(help.find(flag), std::string::npos) << flag << " missing from:\n" << help;
}

TEST(HardeningTest, BadLimitValuesAreUsageErrors) {
  for (auto const* flags : {"--max-rooms-per-client 0", "--max-connections -1", "--accept-backoff x",
                            "--handshake-rate-per-address -5", "--first-poll-timeout 1.5", "--poll-gap-timeout -1",
                            "--metrics-token ''", "--allowed-host evil.example:80",
                            "--max-body-memory -1", "--max-body-memory 1MB"}) {
    std::string const cmd = "timeout 10 '" FALLBENCH_BIN "' serve --port 0 " + std::string(flags) + " >/dev/null 2>&1";
    int const status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status)) << flags;
    EXPECT_NE(WEXITSTATUS(status), 0) << flags;
    EXPECT_NE(WEXITSTATUS(status), 124) << flags << ": still running after 10 s";
  }
}

TEST(HardeningTest, MetricsAreOpenWithoutToken) {
  serve_process serve({});
  ASSERT_NE(serve.port(), 0) << "fallbench serve did not print its URL";
  raw_http anyone(serve.port());
  EXPECT_EQ(status_of(anyone.get("/metrics")), 200);
}
#endif

}  // namespace
}  // namespace fallbench::integration
