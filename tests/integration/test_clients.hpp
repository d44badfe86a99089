#pragma once
/// Clients for the integration tests, written against the wire and not against fallbench's codec:
/// tests write and compare raw Engine.IO / Socket.IO strings. HTTP goes through cpp-httplib, WebSocket
/// through a Beast client whose every operation has a deadline, so no test can hang.

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::integration {

using json = nlohmann::json;
using error_code = boost::system::error_code;

/// The deadline of every read and connect in the suite: a test that waits longer has failed.
inline constexpr std::chrono::milliseconds io_deadline{5'000};

/// Split a polling payload on the record separator (0x1E).
std::vector<std::string> split_payload(std::string_view body);

/// Wait until `done()` holds or `deadline` passes; for state with no event to wait on (server
/// counters). @return whether it holds.
bool wait_for_condition(std::function<bool()> const& done, std::chrono::milliseconds deadline = io_deadline);

// ---- HTTP: one connection per request, so threads share nothing ----

httplib::Result http_get(unsigned short port, std::string const& target, httplib::Headers const& headers = {});
httplib::Result http_post(unsigned short port, std::string const& target, std::string const& body);
httplib::Result http_put(unsigned short port, std::string const& target, std::string const& body);
/// "status 400, content-type ..., body ..." or the client error, for assertion messages.
std::string describe(httplib::Result const& res);
/// An Engine.IO error answer: `status`, content type application/json, body exactly {code, message}
/// with `code` and a non-empty message.
testing::AssertionResult is_engine_error(httplib::Result const& res, int status, int code);
/// A 200 answer with exactly `body`.
testing::AssertionResult is_ok(httplib::Result const& res, std::string_view body);

/// The Engine.IO endpoint with `query`: "/socket.io/?" + query.
std::string engine_target(std::string_view query);

/// One Engine.IO session over HTTP long-polling. Methods may be called from several threads at once
/// (each request has its own connection).
class polling_client {
 public:
  explicit polling_client(unsigned short port) : port_(port) {}
  /// Sends the close packet if the session may still be open, so the server need not time it out.
  ~polling_client();
  polling_client(polling_client const&) = delete;
  polling_client& operator=(polling_client const&) = delete;

  /// The handshake GET. @return the open packet's JSON (after the leading "0"); null with a failure
  /// added when the answer is not a 200 open packet.
  json open();
  /// open(), then Socket.IO CONNECT to "/" and its answer `40{"sid":...}`.
  testing::AssertionResult connect();

  std::string const& sid() const noexcept { return sid_; }
  /// The session's URL: "/socket.io/?EIO=4&transport=polling&sid=...".
  std::string target() const;
  httplib::Result get(httplib::Headers const& headers = {}) const;
  httplib::Result post(std::string const& body) const;
  /// POST `body` and expect "ok".
  testing::AssertionResult send(std::string const& body) const;
  /// GET and split the payload; empty with a failure added unless the answer is 200.
  std::vector<std::string> poll() const;
  /// Do not send a close packet at destruction (the test closes or abandons the session itself).
  void forget() noexcept { sid_.clear(); }

 private:
  unsigned short port_;
  std::string sid_;
};

/// A WebSocket client on its own io_context. One thread uses it at a time.
class ws_client {
 public:
  ws_client();
  ~ws_client();
  ws_client(ws_client const&) = delete;
  ws_client& operator=(ws_client const&) = delete;

  /// TCP connect and WebSocket handshake to `target` on 127.0.0.1:`port`. When the server answers
  /// without upgrading, declined_status()/declined_body() hold its answer.
  error_code connect(unsigned short port, std::string const& target);
  unsigned declined_status() const;
  std::string declined_body() const;

  error_code send(std::string_view text);
  error_code send_binary(std::string_view bytes);
  /// The next message, within `deadline` (beast::error::timeout after it).
  error_code read(std::string& message, std::chrono::milliseconds deadline = io_deadline);
  /// Whether the last message read was binary.
  bool got_binary() const;
  /// A close handshake from the client side.
  error_code close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Success, or a failure that prints `ec.message()`: ASSERT_TRUE(no_error(ws.send("40"))).
testing::AssertionResult no_error(error_code ec);
/// A WebSocket handshake the server refused (`ec` set) with an Engine.IO error: 400 and {code, message}.
testing::AssertionResult is_declined(ws_client const& ws, error_code ec, int code);
/// The server ended the WebSocket with a close frame.
bool is_ws_closed(error_code ec);
/// A read ran past its deadline.
bool is_timeout(error_code ec);

/// "/socket.io/?EIO=4&transport=websocket", with "&sid=" `sid` when given.
std::string ws_target(std::string_view sid = {});

/// The next message or, with a failure added, the error text.
std::string next_message(ws_client& ws, std::chrono::milliseconds deadline = io_deadline);
/// The next message is exactly `expected`.
testing::AssertionResult expect_message(ws_client& ws, std::string_view expected);
/// The next read ends with the server's close frame (after `allowed_before` messages, in order, if any).
testing::AssertionResult expect_closed(ws_client& ws, std::vector<std::string> const& allowed_before = {},
                                       std::chrono::milliseconds deadline = io_deadline);
/// Connect a WebSocket-only session and read its open packet. @return the open packet's JSON, null
/// with a failure added on error.
json ws_open(ws_client& ws, unsigned short port);
/// ws_open, then Socket.IO CONNECT to "/" and its answer.
testing::AssertionResult ws_connect(ws_client& ws, unsigned short port);

/// What a raw TCP exchange got back.
struct raw_result {
  error_code ec;            ///< The error that ended reading (eof when the server closed cleanly).
  std::string received;     ///< Everything the server sent.
};
/// Connect, send `bytes`, half-close when `half_close`, then read until the server closes or the deadline.
raw_result raw_exchange(unsigned short port, std::string_view bytes, bool half_close,
                        std::chrono::milliseconds deadline = io_deadline);

// ---- Expected wire strings of the chat protocol (the server relays a payload byte for byte, so an
// event comes back exactly as emit_* below sent it) ----

/// 42["join",{"room":...,"name":...}]
std::string join_event(std::string_view room, std::string_view name);
/// 42["leave",{"room":...,"name":...}]
std::string leave_event(std::string_view room, std::string_view name);
/// 42["chat",{"room":...,"name":...,"msg":...}]
std::string chat_event(std::string_view room, std::string_view name, std::string_view msg);
/// What a client emits: 42["join",{"room":...,"name":...}] etc., with the ack id when given.
std::string emit_join(std::string_view room, std::string_view name, std::string_view ack = {});
std::string emit_leave(std::string_view room, std::string_view name, std::string_view ack = {});
std::string emit_chat(std::string_view room, std::string_view name, std::string_view msg, std::string_view ack = {});
/// 43<id>[{"ok":true}]
std::string ok_ack(std::string_view id);
/// A negative ack `43<id>[{"error":"...","ok":false}]` with a non-empty error.
testing::AssertionResult is_negative_ack(std::string_view message, std::string_view id);

}  // namespace fallbench::integration
