// The static pages of `fallbench serve` (server/src/static_site.cpp) over real HTTP: the server in
// process on 127.0.0.1:0, the client a raw TCP socket, so request targets such as `/../` reach the
// server byte for byte (HTTP client libraries normalise them away).

#include "fallbench/chat/static_site.hpp"
#include "fallbench/transport/engine_server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using fallbench::chat::static_site;
namespace fs = std::filesystem;
namespace transport = fallbench::transport;

// What the test serves as the browser client: a marker, so the test does not depend on node_modules.
constexpr std::string_view client_marker = "/* socket.io.js stand-in for static_test */\n";

/// A session handler for a server that only serves pages: these tests open no Engine.IO session.
struct no_sessions final : transport::session_handler {
  void on_open(transport::session_ptr const&) override {}
  void on_message(transport::session_ptr const&, fallbench::codec::eio::packet&&) override {}
  void on_close(transport::session_ptr const&, transport::close_reason) override {}
};

/// engine_server with a static_site as its fallback, as `fallbench serve` wires them, on 127.0.0.1:0.
/// The destructor stops it and joins its thread (the scope guard of every test).
class site_server {
 public:
  explicit site_server(std::optional<std::string> client_js)
      : site_(std::move(client_js)), engine_(ioc_, {}, handler_), work_(boost::asio::make_work_guard(ioc_)) {
    engine_.set_fallback([this](transport::http_exchange& ex) { site_.answer(ex); });
    // Listening when listen() returns: connections made from now on wait in the backlog.
    port_ = engine_.listen({boost::asio::ip::address_v4::loopback(), 0}).port();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~site_server() {
    engine_.shutdown();
    work_.reset();
    ioc_.stop();
    thread_.join();
  }
  site_server(site_server const&) = delete;
  site_server& operator=(site_server const&) = delete;

  unsigned short port() const noexcept { return port_; }

 private:
  static_site site_;
  no_sessions handler_;
  boost::asio::io_context ioc_{1};
  transport::engine_server engine_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  unsigned short port_ = 0;
};

/// One parsed response. Header names are lower-cased.
struct reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;

  std::string header(std::string const& name) const {
    auto const it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// Writes `request` bytes as they are to a new connection, reads until the server closes it (every
/// request ends with `Connection: close`), each read bounded by a 5 s timeout. Empty on failure.
std::string round_trip(unsigned short port, std::string const& request) {
  int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return {};
  timeval timeout{};
  timeout.tv_sec = 5;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string received;
  if (::connect(fd, reinterpret_cast<sockaddr const*>(&addr), sizeof addr) == 0) {
    std::size_t sent = 0;
    while (sent < request.size()) {
      auto const n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    char buf[16384];
    for (;;) {
      auto const n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;  // 0: the server closed; < 0: error or the 5 s timeout
      received.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return received;
}

/// Splits `bytes` into the responses it holds, in order, using Content-Length. `head`: the responses
/// answer HEAD requests, so they carry no body whatever their Content-Length says.
std::vector<reply> parse(std::string_view bytes, bool head = false) {
  std::vector<reply> out;
  while (!bytes.empty()) {
    auto const end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      ADD_FAILURE() << "incomplete response head: " << bytes;
      break;
    }
    std::string_view head_text = bytes.substr(0, end);
    bytes.remove_prefix(end + 4);
    reply r;
    auto line_end = head_text.find("\r\n");
    std::string_view const status_line = head_text.substr(0, line_end);
    if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.1 ")) {
      ADD_FAILURE() << "bad status line: " << status_line;
      break;
    }
    r.status = std::stoi(std::string(status_line.substr(9, 3)));
    while (line_end != std::string_view::npos) {
      head_text.remove_prefix(line_end + 2);
      line_end = head_text.find("\r\n");
      std::string_view const line = head_text.substr(0, line_end);
      auto const colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      r.headers[lower(std::string(line.substr(0, colon)))] = std::string(value);
    }
    if (!head) {
      auto const length = static_cast<std::size_t>(std::stoul(r.header("content-length").empty() ? "0" : r.header("content-length")));
      if (length > bytes.size()) {
        ADD_FAILURE() << "body shorter than Content-Length " << length;
        break;
      }
      r.body = std::string(bytes.substr(0, length));
      bytes.remove_prefix(length);
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string request_bytes(std::string_view method, std::string_view target, bool close = true) {
  std::string r = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (method == "POST" || method == "PUT") r += "Content-Type: text/plain\r\nContent-Length: 2\r\n";
  if (close) r += "Connection: close\r\n";
  r += "\r\n";
  if (method == "POST" || method == "PUT") r += "hi";
  return r;
}

/// One request on its own connection, and its one response.
reply request(unsigned short port, std::string_view method, std::string_view target) {
  auto replies = parse(round_trip(port, request_bytes(method, target)), method == "HEAD");
  if (replies.size() != 1) {
    ADD_FAILURE() << method << " " << target << ": " << replies.size() << " responses instead of 1";
    return {};
  }
  return replies.front();
}

constexpr std::string_view html_type = "text/html; charset=utf-8";
constexpr std::string_view js_type = "application/javascript; charset=utf-8";

class StaticSiteTest : public ::testing::Test {
 protected:
  site_server server_{std::string(client_marker)};
};

TEST_F(StaticSiteTest, ServesIndexPageLinkingToRoom) {
  auto const r = request(server_.port(), "GET", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), html_type);
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_EQ(r.header("cache-control"), "no-cache");
  EXPECT_NE(r.header("content-security-policy").find("default-src 'none'"), std::string::npos);
  EXPECT_TRUE(r.body.starts_with("<!doctype html>")) << r.body.substr(0, 80);
  EXPECT_NE(r.body.find("href=\"/room\""), std::string::npos);
}

TEST_F(StaticSiteTest, ServesRoomPageLoadingOnlyTheOwnClient) {
  auto const r = request(server_.port(), "GET", "/room");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), html_type);
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_NE(r.body.find("<script src=\"/socket.io/socket.io.js\"></script>"), std::string::npos);
  EXPECT_NE(r.body.find("id=\"transport\""), std::string::npos);
  EXPECT_NE(r.body.find("id=\"out\""), std::string::npos);
  // Self-contained: nothing from another origin.
  EXPECT_EQ(r.body.find("http://"), std::string::npos);
  EXPECT_EQ(r.body.find("https://"), std::string::npos);
  EXPECT_EQ(r.body.find("src=\"//"), std::string::npos);
}

TEST_F(StaticSiteTest, IgnoresTheQuery) {
  auto const r = request(server_.port(), "GET", "/room?name=ada&room=lobby");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), html_type);
  EXPECT_EQ(request(server_.port(), "GET", "/?x").status, 200);
}

TEST_F(StaticSiteTest, ServesTheBrowserClientGivenAtStartup) {
  auto const r = request(server_.port(), "GET", "/socket.io/socket.io.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), js_type);
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_NE(r.header("cache-control").find("max-age="), std::string::npos);
  EXPECT_EQ(r.body, client_marker);
}

TEST(StaticSiteWithoutClientTest, AnswersClientScriptWith404AndStillServesPages) {
  site_server server(std::nullopt);
  EXPECT_EQ(request(server.port(), "GET", "/socket.io/socket.io.js").status, 404);
  EXPECT_EQ(request(server.port(), "GET", "/room").status, 200);
}

TEST_F(StaticSiteTest, HeadSendsTheHeadersOfGetWithoutBody) {
  for (std::string_view const target : {"/", "/room", "/socket.io/socket.io.js"}) {
    auto const get = request(server_.port(), "GET", target);
    auto const raw = round_trip(server_.port(), request_bytes("HEAD", target));
    auto const head = parse(raw, true);
    ASSERT_EQ(head.size(), 1u) << target;
    EXPECT_EQ(head[0].status, 200) << target;
    EXPECT_EQ(head[0].header("content-type"), get.header("content-type")) << target;
    EXPECT_EQ(head[0].header("content-length"), std::to_string(get.body.size())) << target;
    EXPECT_EQ(head[0].header("x-content-type-options"), "nosniff") << target;
    // Nothing after the blank line: the server closed the connection after the head alone.
    EXPECT_TRUE(raw.ends_with("\r\n\r\n")) << target;
  }
}

TEST_F(StaticSiteTest, OtherMethodsOnARouteGet405WithAllow) {
  for (std::string_view const method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    for (std::string_view const target : {"/", "/room", "/socket.io/socket.io.js"}) {
      auto const r = request(server_.port(), method, target);
      EXPECT_EQ(r.status, 405) << method << " " << target;
      EXPECT_EQ(r.header("allow"), "GET, HEAD") << method << " " << target;
      EXPECT_EQ(r.body.find("<html"), std::string::npos) << method << " " << target;
    }
  }
}

TEST_F(StaticSiteTest, TraversalAndUnknownPathsGet404) {
  // Each target goes out byte for byte. None names a route exactly, so none may be served, whatever a
  // decoder or a path normaliser would make of it.
  std::vector<std::string_view> const targets = {
      "/../",
      "/..",
      "/../etc/passwd",
      "/../../../../etc/passwd",
      "/%2e%2e/",
      "/%2E%2E/etc/passwd",
      "/%2e%2e%2fetc%2fpasswd",
      "/%252e%252e/%252e%252e/etc/passwd",
      "/..%2f..%2fetc%2fpasswd",
      "/..%5c..%5cetc%5cpasswd",
      "/..\\..\\etc\\passwd",
      "/%c0%ae%c0%ae/etc/passwd",
      "/room/../etc/passwd",
      "/room/..%2f..%2fetc%2fpasswd",
      "/room/../room",
      "/./room",
      "//room",
      "/room/",
      "/room%00",
      "/ro%6fm",
      "/ROOM",
      "/room.html",
      "/index.html",
      "/web/room.html",
      "/server/web/room.html",
      "/socket.io/socket.io.js.map",
      "/socket.io/../room",
      "/socket.io/socket.io.js/../../etc/passwd",
      "/CMakeLists.txt",
      "/favicon.ico",
      "http://127.0.0.1/../etc/passwd",
      "*",
  };
  for (auto const target : targets) {
    auto const r = request(server_.port(), "GET", target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.body, "Not Found\n") << target;
    EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8") << target;
    EXPECT_EQ(r.header("x-content-type-options"), "nosniff") << target;
  }
  // And the server keeps serving.
  auto const after = request(server_.port(), "GET", "/room");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.header("content-type"), html_type);
}

TEST_F(StaticSiteTest, KeepsTheConnectionAfterA404) {
  // Three pipelined requests on one connection: a traversal, an unknown path, then a page.
  auto const raw = round_trip(server_.port(), request_bytes("GET", "/../etc/passwd", false) +
                                                request_bytes("GET", "/%2e%2e/%2e%2e/etc/passwd", false) +
                                                request_bytes("GET", "/room"));
  auto const replies = parse(raw);
  ASSERT_EQ(replies.size(), 3u) << raw.substr(0, 400);
  EXPECT_EQ(replies[0].status, 404);
  EXPECT_EQ(replies[1].status, 404);
  EXPECT_EQ(replies[2].status, 200);
  EXPECT_NE(replies[2].body.find("id=\"messages\""), std::string::npos);
}

/// A fresh directory under the system's temporary directory, removed with the object.
class temp_dir {
 public:
  temp_dir() {
    auto const* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("fallbench-static-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "." + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(temp_dir const&) = delete;
  temp_dir& operator=(temp_dir const&) = delete;
  fs::path const& path() const noexcept { return path_; }

 private:
  fs::path path_;
};

TEST(ClientScriptLookupTest, FindsTheClientInADirectoryAboveTheStart) {
  temp_dir root;
  auto const client = root.path() / "node_modules/socket.io-client/dist/socket.io.js";
  fs::create_directories(client.parent_path());
  std::ofstream(client) << client_marker;
  auto const start = root.path() / "build/ci";
  fs::create_directories(start);

  auto const found = fallbench::chat::find_client_js(start);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(fs::canonical(*found), fs::canonical(client));
  EXPECT_EQ(fallbench::chat::read_client_js(*found), client_marker);
}

TEST(ClientScriptLookupTest, ReadingAMissingOrEmptyClientThrows) {
  temp_dir root;
  EXPECT_THROW(fallbench::chat::read_client_js(root.path() / "socket.io.js"), std::runtime_error);
  std::ofstream(root.path() / "empty.js").close();
  EXPECT_THROW(fallbench::chat::read_client_js(root.path() / "empty.js"), std::runtime_error);
}

}  // namespace
