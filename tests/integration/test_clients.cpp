#include "test_clients.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <array>
#include <thread>
#include <utility>

namespace fallbench::integration {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

std::vector<std::string> split_payload(std::string_view body) {
  std::vector<std::string> out;
  if (body.empty()) return out;
  for (;;) {
    auto const sep = body.find('\x1e');
    out.emplace_back(body.substr(0, sep));
    if (sep == std::string_view::npos) return out;
    body.remove_prefix(sep + 1);
  }
}

bool wait_for_condition(std::function<bool()> const& done, std::chrono::milliseconds deadline) {
  auto const until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

// ---- HTTP ----

namespace {

httplib::Client make_client(unsigned short port) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(io_deadline);
  cli.set_read_timeout(io_deadline);
  cli.set_write_timeout(io_deadline);
  return cli;
}

}  // namespace

httplib::Result http_get(unsigned short port, std::string const& target, httplib::Headers const& headers) {
  return make_client(port).Get(target, headers);
}

httplib::Result http_post(unsigned short port, std::string const& target, std::string const& body) {
  return make_client(port).Post(target, body, "text/plain;charset=UTF-8");
}

httplib::Result http_put(unsigned short port, std::string const& target, std::string const& body) {
  return make_client(port).Put(target, body, "text/plain;charset=UTF-8");
}

std::string describe(httplib::Result const& res) {
  if (!res) return "HTTP client error: " + httplib::to_string(res.error());
  return "status " + std::to_string(res->status) + ", content-type '" + res->get_header_value("Content-Type") +
         "', body '" + res->body + "'";
}

namespace {

// Exactly {code, message} with `code` and a non-empty message.
bool is_error_body(std::string const& text, int code) {
  auto const body = json::parse(text, nullptr, false);
  return !body.is_discarded() && body.is_object() && body.size() == 2 && body.contains("code") &&
         body.contains("message") && body.at("code").is_number_integer() && body.at("code").get<int>() == code &&
         body.at("message").is_string() && !body.at("message").get_ref<std::string const&>().empty();
}

}  // namespace

testing::AssertionResult is_engine_error(httplib::Result const& res, int status, int code) {
  if (!res || res->status != status || res->get_header_value("Content-Type") != "application/json" ||
      !is_error_body(res->body, code))
    return testing::AssertionFailure() << "want " << status << " application/json {code:" << code
                                       << ", message}, got " << describe(res);
  return testing::AssertionSuccess();
}

testing::AssertionResult is_ok(httplib::Result const& res, std::string_view body) {
  if (!res || res->status != 200 || res->body != body)
    return testing::AssertionFailure() << "want 200 '" << body << "', got " << describe(res);
  return testing::AssertionSuccess();
}

std::string engine_target(std::string_view query) { return "/socket.io/?" + std::string(query); }

// ---- polling_client ----

polling_client::~polling_client() {
  if (!sid_.empty()) post("1");
}

json polling_client::open() {
  auto const res = http_get(port_, engine_target("EIO=4&transport=polling"));
  if (!res || res->status != 200 || res->body.empty() || res->body[0] != '0') {
    ADD_FAILURE() << "handshake: " << describe(res);
    return nullptr;
  }
  auto j = json::parse(res->body.substr(1), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("sid") || !j.at("sid").is_string()) {
    ADD_FAILURE() << "handshake: not an open packet: " << describe(res);
    return nullptr;
  }
  sid_ = j.at("sid").get<std::string>();
  return j;
}

testing::AssertionResult polling_client::connect() {
  if (open().is_null()) return testing::AssertionFailure() << "no session";
  if (auto r = send("40"); !r) return r;
  auto const packets = poll();
  if (packets.size() != 1 || !packets[0].starts_with(R"(40{"sid":")") || !packets[0].ends_with(R"("})"))
    return testing::AssertionFailure() << "want one 40{\"sid\":...}, got " << testing::PrintToString(packets);
  return testing::AssertionSuccess();
}

std::string polling_client::target() const { return engine_target("EIO=4&transport=polling&sid=" + sid_); }

httplib::Result polling_client::get(httplib::Headers const& headers) const {
  return http_get(port_, target(), headers);
}

httplib::Result polling_client::post(std::string const& body) const { return http_post(port_, target(), body); }

testing::AssertionResult polling_client::send(std::string const& body) const {
  auto const r = is_ok(post(body), "ok");
  if (!r) return testing::AssertionFailure() << "POST '" << body << "': " << r.message();
  return r;
}

std::vector<std::string> polling_client::poll() const {
  auto const res = get();
  if (!res || res->status != 200) {
    ADD_FAILURE() << "poll: " << describe(res);
    return {};
  }
  return split_payload(res->body);
}

// ---- ws_client ----

struct ws_client::impl {
  net::io_context ioc{1};
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  websocket::response_type response;

  // Run the operation started by `start` to completion; the tcp_stream's expiry bounds it.
  template <class Start>
  error_code run(std::chrono::milliseconds deadline, Start&& start) {
    error_code result = net::error::would_block;
    beast::get_lowest_layer(ws).expires_after(deadline);
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    beast::get_lowest_layer(ws).expires_never();
    return result;
  }
};

ws_client::ws_client() : impl_(std::make_unique<impl>()) {}

ws_client::~ws_client() {
  error_code ignored;
  beast::get_lowest_layer(impl_->ws).socket().close(ignored);
}

error_code ws_client::connect(unsigned short port, std::string const& target) {
  auto& s = *impl_;
  tcp::endpoint const endpoint{net::ip::address_v4::loopback(), port};
  auto& socket = beast::get_lowest_layer(s.ws);
  if (auto ec = s.run(io_deadline, [&](auto handler) { socket.async_connect(endpoint, handler); })) return ec;
  // As browsers do: without it, a frame sent right after another waits for the delayed ACK (40 ms).
  error_code ec;
  socket.socket().set_option(tcp::no_delay(true), ec);
  if (ec) return ec;
  return s.run(io_deadline, [&](auto handler) {
    s.ws.async_handshake(s.response, "127.0.0.1:" + std::to_string(port), target, handler);
  });
}

unsigned ws_client::declined_status() const { return impl_->response.result_int(); }

std::string ws_client::declined_body() const { return impl_->response.body(); }

error_code ws_client::send(std::string_view text) {
  auto& s = *impl_;
  s.ws.text(true);
  return s.run(io_deadline, [&](auto handler) { s.ws.async_write(net::buffer(text.data(), text.size()), handler); });
}

error_code ws_client::send_binary(std::string_view bytes) {
  auto& s = *impl_;
  s.ws.binary(true);
  return s.run(io_deadline, [&](auto handler) { s.ws.async_write(net::buffer(bytes.data(), bytes.size()), handler); });
}

error_code ws_client::read(std::string& message, std::chrono::milliseconds deadline) {
  auto& s = *impl_;
  auto const ec = s.run(deadline, [&](auto handler) { s.ws.async_read(s.buffer, handler); });
  message = beast::buffers_to_string(s.buffer.data());
  s.buffer.consume(s.buffer.size());
  return ec;
}

bool ws_client::got_binary() const { return impl_->ws.got_binary(); }

error_code ws_client::close() {
  auto& s = *impl_;
  return s.run(io_deadline, [&](auto handler) { s.ws.async_close(websocket::close_code::normal, handler); });
}

testing::AssertionResult is_declined(ws_client const& ws, error_code ec, int code) {
  if (!ec || ws.declined_status() != 400 || !is_error_body(ws.declined_body(), code))
    return testing::AssertionFailure() << "want the upgrade refused with 400 {code:" << code << ", message}, got '"
                                       << ec.message() << "', HTTP " << ws.declined_status() << " '"
                                       << ws.declined_body() << "'";
  return testing::AssertionSuccess();
}

testing::AssertionResult no_error(error_code ec) {
  if (ec) return testing::AssertionFailure() << ec.message();
  return testing::AssertionSuccess();
}

bool is_ws_closed(error_code ec) { return ec == websocket::error::closed; }

bool is_timeout(error_code ec) { return ec == beast::error::timeout; }

std::string ws_target(std::string_view sid) {
  std::string t = engine_target("EIO=4&transport=websocket");
  if (!sid.empty()) t += "&sid=" + std::string(sid);
  return t;
}

std::string next_message(ws_client& ws, std::chrono::milliseconds deadline) {
  std::string m;
  if (auto ec = ws.read(m, deadline)) {
    ADD_FAILURE() << "WebSocket read: " << ec.message();
    return "<read error: " + ec.message() + ">";
  }
  return m;
}

testing::AssertionResult expect_message(ws_client& ws, std::string_view expected) {
  std::string m;
  if (auto ec = ws.read(m)) return testing::AssertionFailure() << "want '" << expected << "', read: " << ec.message();
  if (m != expected) return testing::AssertionFailure() << "want '" << expected << "', got '" << m << "'";
  return testing::AssertionSuccess();
}

testing::AssertionResult expect_closed(ws_client& ws, std::vector<std::string> const& allowed_before,
                                       std::chrono::milliseconds deadline) {
  for (auto const& want : allowed_before) {
    if (auto r = expect_message(ws, want); !r) return r;
  }
  std::string m;
  auto const ec = ws.read(m, deadline);
  if (is_ws_closed(ec)) return testing::AssertionSuccess();
  if (!ec) return testing::AssertionFailure() << "want the close frame, got message '" << m << "'";
  return testing::AssertionFailure() << "want the close frame, read: " << ec.message();
}

json ws_open(ws_client& ws, unsigned short port) {
  if (auto ec = ws.connect(port, ws_target())) {
    ADD_FAILURE() << "WebSocket connect: " << ec.message() << " (HTTP " << ws.declined_status() << " "
                  << ws.declined_body() << ")";
    return nullptr;
  }
  auto const m = next_message(ws);
  auto j = m.starts_with('0') ? json::parse(m.substr(1), nullptr, false) : json(json::value_t::discarded);
  if (j.is_discarded() || !j.is_object() || !j.contains("sid") || !j.at("sid").is_string()) {
    ADD_FAILURE() << "want an open packet, got '" << m << "'";
    return nullptr;
  }
  return j;
}

testing::AssertionResult ws_connect(ws_client& ws, unsigned short port) {
  if (ws_open(ws, port).is_null()) return testing::AssertionFailure() << "no session";
  if (auto ec = ws.send("40")) return testing::AssertionFailure() << "send 40: " << ec.message();
  std::string m;
  if (auto ec = ws.read(m)) return testing::AssertionFailure() << "read CONNECT answer: " << ec.message();
  if (!m.starts_with(R"(40{"sid":")") || !m.ends_with(R"("})"))
    return testing::AssertionFailure() << "want 40{\"sid\":...}, got '" << m << "'";
  return testing::AssertionSuccess();
}

raw_result raw_exchange(unsigned short port, std::string_view bytes, bool half_close,
                        std::chrono::milliseconds deadline) {
  net::io_context ioc{1};
  beast::tcp_stream stream(ioc);
  raw_result out;
  auto const until = std::chrono::steady_clock::now() + deadline;
  // Run one operation to completion within what is left of the deadline.
  auto run = [&](auto start) {
    error_code result = net::error::would_block;
    std::size_t bytes_done = 0;
    stream.expires_at(until);
    start([&](error_code ec, auto... n) {
      result = ec;
      if constexpr (sizeof...(n) == 1) bytes_done = static_cast<std::size_t>((n, ...));
    });
    ioc.restart();
    ioc.run();
    return std::pair{result, bytes_done};
  };
  tcp::endpoint const endpoint{net::ip::address_v4::loopback(), port};
  if (out.ec = run([&](auto h) { stream.async_connect(endpoint, h); }).first; out.ec) return out;
  if (out.ec = run([&](auto h) { net::async_write(stream, net::buffer(bytes.data(), bytes.size()), h); }).first; out.ec)
    return out;
  if (half_close) stream.socket().shutdown(tcp::socket::shutdown_send, out.ec);
  std::array<char, 4096> chunk{};
  for (;;) {
    auto const [ec, n] = run([&](auto h) { stream.async_read_some(net::buffer(chunk), h); });
    out.received.append(chunk.data(), n);
    if (ec) {
      out.ec = ec;
      return out;
    }
  }
}

// ---- Chat protocol wire strings ----

namespace {

std::string with_ack(std::string_view ack) { return "42" + std::string(ack); }

}  // namespace

std::string join_event(std::string_view room, std::string_view name) {
  return R"(42["join",{"room":")" + std::string(room) + R"(","name":")" + std::string(name) + R"("}])";
}

std::string leave_event(std::string_view room, std::string_view name) {
  return R"(42["leave",{"room":")" + std::string(room) + R"(","name":")" + std::string(name) + R"("}])";
}

std::string chat_event(std::string_view room, std::string_view name, std::string_view msg) {
  return R"(42["chat",{"room":")" + std::string(room) + R"(","name":")" + std::string(name) + R"(","msg":")" +
         std::string(msg) + R"("}])";
}

std::string emit_join(std::string_view room, std::string_view name, std::string_view ack) {
  return with_ack(ack) + R"(["join",{"room":")" + std::string(room) + R"(","name":")" + std::string(name) + R"("}])";
}

std::string emit_leave(std::string_view room, std::string_view name, std::string_view ack) {
  return with_ack(ack) + R"(["leave",{"room":")" + std::string(room) + R"(","name":")" + std::string(name) +
         R"("}])";
}

std::string emit_chat(std::string_view room, std::string_view name, std::string_view msg, std::string_view ack) {
  return with_ack(ack) + R"(["chat",{"room":")" + std::string(room) + R"(","name":")" + std::string(name) +
         R"(","msg":")" + std::string(msg) + R"("}])";
}

std::string ok_ack(std::string_view id) { return "43" + std::string(id) + R"([{"ok":true}])"; }

testing::AssertionResult is_negative_ack(std::string_view message, std::string_view id) {
  auto const prefix = "43" + std::string(id) + "[";
  if (!message.starts_with(prefix))
    return testing::AssertionFailure() << "want an ack with id " << id << ", got '" << message << "'";
  auto const args = json::parse(message.substr(prefix.size() - 1), nullptr, false);
  if (args.is_discarded() || !args.is_array() || args.size() != 1 || !args[0].is_object() || args[0].size() != 2 ||
      !args[0].contains("ok") || args[0].at("ok") != false || !args[0].contains("error") ||
      !args[0].at("error").is_string() || args[0].at("error").get_ref<std::string const&>().empty())
    return testing::AssertionFailure() << "want [{ok:false, error:\"...\"}], got '" << message << "'";
  return testing::AssertionSuccess();
}

}  // namespace fallbench::integration
