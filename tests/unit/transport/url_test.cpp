// The one URL parser (url.hpp), the cookie jar (cookie_jar.hpp) and the target settings' checks
// (target.hpp): every user-facing bad value is refused with its reason; no sockets.

#include "fallbench/transport/cookie_jar.hpp"
#include "fallbench/transport/target.hpp"
#include "fallbench/transport/url.hpp"

#include <gtest/gtest.h>

namespace fallbench::transport {
namespace {

void expect_url_error(std::string const& url, std::string const& needle) {
  try {
    auto const u = parse_server_url(url);
    ADD_FAILURE() << "accepted '" << url << "' as " << u.text();
  } catch (url_error const& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what() << "\nwanted: " << needle;
  }
}

TEST(UrlTest, ReadsSchemesHostsPortsPathsAndQueries) {
  auto u = parse_server_url("http://127.0.0.1:3000");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 3000);
  EXPECT_EQ(u.path, "/socket.io/");
  EXPECT_FALSE(u.path_given);
  EXPECT_EQ(u.query, "");

  u = parse_server_url("https://chat.example.com/app/socket.io?token=a%20b&x=1");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "chat.example.com");
  EXPECT_EQ(u.port, 443);
  EXPECT_FALSE(u.port_given);
  EXPECT_EQ(u.path, "/app/socket.io/");
  EXPECT_TRUE(u.path_given);
  EXPECT_EQ(u.query, "token=a%20b&x=1");
  EXPECT_EQ(u.text(), "https://chat.example.com:443/app/socket.io/?token=a%20b&x=1");

  u = parse_server_url("WSS://[::1]:8443/");
  EXPECT_EQ(u.scheme, "wss");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.authority(), "[::1]:8443");
  EXPECT_EQ(u.path, "/socket.io/");
  EXPECT_FALSE(u.path_given);

  u = parse_server_url("ws://localhost");
  EXPECT_EQ(u.port, 80);
}

TEST(UrlTest, DefaultPortsFollowTheScheme) {
  // The issue: `http://localhost/socket.io/` passed validation and then failed "URL without a port".
  auto const u = parse_server_url("http://localhost/socket.io/");
  EXPECT_EQ(u.host, "localhost");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.path, "/socket.io/");
  EXPECT_EQ(parse_server_url("https://localhost").port, 443);
}

TEST(UrlTest, RefusesEveryBadUrlWithItsReason) {
  // The issue: `:abc` printed `stoi`, `:99999` wrapped to 16 bits.
  expect_url_error("http://127.0.0.1:abc", "bad port 'abc'");
  expect_url_error("http://127.0.0.1:99999", "bad port '99999'");
  expect_url_error("http://127.0.0.1:0", "bad port '0'");
  expect_url_error("http://127.0.0.1:", "bad port ''");
  expect_url_error("ftp://127.0.0.1:21", "unsupported scheme 'ftp'");
  expect_url_error("localhost:3000", "unsupported scheme 'localhost'");
  expect_url_error("127.0.0.1:3000", "not a URL");
  expect_url_error("", "empty URL");
  expect_url_error("http://", "no host");
  expect_url_error("http:///socket.io/", "no host");
  expect_url_error("http://user:pw@127.0.0.1:3000", "user information");
  expect_url_error("http://127.0.0.1:3000/#x", "fragment");
  expect_url_error("http://127.0.0.1 :3000", "not a URL");
}

TEST(CookieJarTest, KeepsAndReturnsWhatTheServerSets) {
  cookie_jar jar;
  auto const now = cookie_jar::clock::now();
  jar.store("SERVERID=s1; path=/", "/socket.io/", now);  // haproxy `cookie SERVERID insert`
  jar.store("lb=a", "/socket.io/?EIO=4&transport=polling", now);  // default path: /socket.io
  EXPECT_EQ(jar.size(), 2u);
  EXPECT_EQ(jar.header("/socket.io/", false, now), "lb=a; SERVERID=s1");  // longer path first
  EXPECT_EQ(jar.header("/other/", false, now), "SERVERID=s1");
  EXPECT_EQ(jar.header("/socket.iox/", false, now), "SERVERID=s1");  // a path prefix that is not a segment
  jar.store("SERVERID=s2; Path=/", "/socket.io/", now);  // replaced, not added
  EXPECT_EQ(jar.header("/", false, now), "SERVERID=s2");
}

TEST(CookieJarTest, HonoursExpiryAndSecure) {
  cookie_jar jar;
  auto const now = cookie_jar::clock::now();
  jar.store("a=1; Max-Age=10; Path=/", "/", now);
  jar.store("b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/", "/", now);  // already expired: not kept
  jar.store("c=3; Secure; Path=/", "/", now);
  jar.store("not a cookie", "/", now);
  EXPECT_EQ(jar.header("/", false, now), "a=1");
  EXPECT_EQ(jar.header("/", true, now), "a=1; c=3");
  EXPECT_EQ(jar.header("/", false, now + std::chrono::seconds{11}), "");
  jar.store("c=0; Max-Age=0; Path=/", "/", now);  // deletes
  EXPECT_EQ(jar.header("/", true, now), "a=1");
  jar.store("d=4; Expires=Fri, 01 Jan 2100 00:00:00 GMT; Path=/", "/", now);
  EXPECT_EQ(jar.header("/", false, now), "a=1; d=4");
}

TEST(CookieJarTest, MergesStaticCookiesUnderTheServersWord) {
  std::vector<std::pair<std::string, std::string>> const fixed = {{"session", "abc"}, {"SERVERID", "old"}};
  EXPECT_EQ(merge_cookie_header(fixed, ""), "session=abc; SERVERID=old");
  EXPECT_EQ(merge_cookie_header(fixed, "SERVERID=s1"), "session=abc; SERVERID=s1");
  EXPECT_EQ(merge_cookie_header({}, "a=1; b=2"), "a=1; b=2");
}

TEST(TargetSettingsTest, ChecksHeadersCookiesNamespacesPathsAndAuth) {
  EXPECT_EQ(parse_header("X-Api-Key:  secret "), (std::pair<std::string, std::string>{"X-Api-Key", "secret"}));
  EXPECT_EQ(parse_header("Authorization: Bearer a:b").second, "Bearer a:b");
  EXPECT_THROW(parse_header("no colon"), target_error);
  EXPECT_THROW(parse_header("Bad Name: x"), target_error);
  EXPECT_THROW(parse_header("Upgrade: h2c"), target_error);
  EXPECT_THROW(parse_header("Sec-WebSocket-Key: x"), target_error);
  EXPECT_THROW(parse_header("X: a\r\nInjected: b"), target_error);
  EXPECT_EQ(parse_cookie("session=abc"), (std::pair<std::string, std::string>{"session", "abc"}));
  EXPECT_THROW(parse_cookie("session"), target_error);
  EXPECT_THROW(parse_cookie("=abc"), target_error);
  EXPECT_THROW(parse_cookie("a=b;c=d"), target_error);
  EXPECT_EQ(check_namespace("/chat"), "/chat");
  EXPECT_THROW(check_namespace("chat"), target_error);
  EXPECT_THROW(check_namespace("/a,b"), target_error);
  EXPECT_EQ(check_path("/app/socket.io"), "/app/socket.io/");
  EXPECT_THROW(check_path("socket.io"), target_error);
  EXPECT_THROW(check_path("/socket.io/?x=1"), target_error);
  EXPECT_EQ(check_auth(R"({ "token" : "t" })"), R"({"token":"t"})");
  EXPECT_THROW(check_auth("[1]"), target_error);
  EXPECT_THROW(check_auth("{nope"), target_error);
}

}  // namespace
}  // namespace fallbench::transport
