#include "fallbench/chat/static_site.hpp"

#include "web_assets.hpp"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

namespace fallbench::chat {

namespace {

constexpr std::string_view html_type = "text/html; charset=utf-8";
constexpr std::string_view js_type = "application/javascript; charset=utf-8";
// The pages change with the binary: revalidate every time (they are small). The client library is
// fixed for the life of the process, so a browser may keep it for an hour.
constexpr std::string_view page_cache = "no-cache";
constexpr std::string_view client_cache = "public, max-age=3600";
// The pages use only themselves, their inline style and script, the client library and the Socket.IO
// endpoint of this origin (connect-src 'self' covers ws: to the same host and port): nothing from
// elsewhere can load.
constexpr std::string_view page_policy =
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
constexpr std::string_view client_js_relative = "node_modules/socket.io-client/dist/socket.io.js";
// socket.io.js of socket.io-client 4.8 is 150 KB; anything past this is not the client.
constexpr std::uintmax_t max_client_js_bytes = 16u << 20;

std::string_view embedded(std::string_view name) {
  for (auto const& f : detail::embedded_files())
    if (f.name == name) return f.bytes;
  throw std::logic_error("static_site: no embedded file " + std::string(name));
}

}  // namespace

static_site::static_site(std::optional<std::string> client_js) : client_js_(std::move(client_js)) {}

void static_site::answer(transport::http_exchange& ex) const {
  std::string_view const target = ex.target;
  std::string_view const path = target.substr(0, target.find('?'));

  std::string_view body;
  bool page = true;
  if (path == "/") {
    body = embedded("index.html");
  } else if (path == "/room") {
    body = embedded("room.html");
  } else if (path == "/socket.io/socket.io.js" && client_js_) {
    body = *client_js_;
    page = false;
  } else {
    ex.status = 404;
    ex.content_type = "text/plain; charset=utf-8";
    ex.body = "Not Found\n";
    ex.headers = {{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}};
    return;
  }

  ex.headers = {{"X-Content-Type-Options", "nosniff"}};
  if (ex.method != "GET" && ex.method != "HEAD") {
    ex.status = 405;
    ex.content_type = "text/plain; charset=utf-8";
    ex.body = "Method Not Allowed\n";
    ex.headers.emplace_back("Allow", "GET, HEAD");
    return;
  }
  ex.status = 200;
  ex.content_type = std::string(page ? html_type : js_type);
  ex.body = std::string(body);
  ex.headers.emplace_back("Cache-Control", std::string(page ? page_cache : client_cache));
  if (page) ex.headers.emplace_back("Content-Security-Policy", std::string(page_policy));
}

std::optional<std::filesystem::path> find_client_js(std::filesystem::path const& start) {
  std::error_code ec;
  auto const found = [&](std::filesystem::path const& dir) {
    return std::filesystem::is_regular_file(dir / client_js_relative, ec);
  };
  if (!start.empty()) {
    for (auto dir = start;; dir = dir.parent_path()) {
      if (found(dir)) return dir / client_js_relative;
      if (dir == dir.parent_path()) break;
    }
  }
#ifdef FALLBENCH_SOURCE_DIR
  if (std::filesystem::path const source = FALLBENCH_SOURCE_DIR; found(source)) return source / client_js_relative;
#endif
  return std::nullopt;
}

std::filesystem::path executable_dir() {
  std::error_code ec;
  auto const exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path{} : exe.parent_path();
}

std::string read_client_js(std::filesystem::path const& path) {
  std::error_code ec;
  auto const size = std::filesystem::file_size(path, ec);
  if (ec) throw std::runtime_error("cannot read " + path.string() + ": " + ec.message());
  if (size > max_client_js_bytes)
    throw std::runtime_error(path.string() + " is " + std::to_string(size) + " bytes, more than any Socket.IO client");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (bytes.empty()) throw std::runtime_error(path.string() + " is empty");
  return bytes;
}

}  // namespace fallbench::chat
