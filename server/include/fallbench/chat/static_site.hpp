#pragma once
/// The pages `fallbench serve` answers besides Engine.IO: a fixed set of routes, nothing from disk at
/// request time.

#include "fallbench/transport/http_exchange.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace fallbench::chat {

/// Serves exactly three routes: `/` (the index page), `/room` (the chat page), both embedded in the
/// binary from server/web/, and `/socket.io/socket.io.js` (the official browser client, given at
/// construction). The path must match byte for byte (the query is ignored, nothing is decoded or
/// normalised), so no request can name any other file. Immutable after construction; thread-safe.
class static_site {
 public:
  /// `client_js`: the contents of socket.io-client's dist/socket.io.js; without it that route is a 404.
  explicit static_site(std::optional<std::string> client_js = std::nullopt);

  /// Answer `ex`: GET or HEAD of a route gets 200 with its content type, other methods on a route get
  /// 405 with Allow, any other path gets 404. Every answer carries X-Content-Type-Options: nosniff.
  void answer(transport::http_exchange& ex) const;

  bool has_client_js() const noexcept { return client_js_.has_value(); }

 private:
  std::optional<std::string> client_js_;
};

/// Where the official browser client is when no path is given: the first
/// `node_modules/socket.io-client/dist/socket.io.js` in `start` or a directory above it, else in the
/// source tree this binary was built from (where `npm ci` installs it). nullopt when none exists.
std::optional<std::filesystem::path> find_client_js(std::filesystem::path const& start);

/// The directory of the running executable (from /proc/self/exe), or empty when unknown.
std::filesystem::path executable_dir();

/// Read the browser client at `path`. Throws std::runtime_error when it cannot be read, or when it is
/// larger than any plausible client (16 MiB).
std::string read_client_js(std::filesystem::path const& path);

}  // namespace fallbench::chat
