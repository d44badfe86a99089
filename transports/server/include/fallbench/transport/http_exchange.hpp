#pragma once
/// A plain HTTP request that is not for an Engine.IO path, and the answer to it. No Asio or Beast
/// types, so the pages above the transport build without them.

#include <string>
#include <utility>
#include <vector>

namespace fallbench::transport {

/// One request handed to engine_server's fallback, and the response it fills in. For HEAD the server
/// sends the headers of the filled-in response (Content-Length included) and no body, so a handler
/// answers HEAD as it answers GET.
struct http_exchange {
  std::string method;
  std::string target;  ///< Path and query as received, not decoded.
  std::string authorization;  ///< The request's Authorization header, empty when absent.
  unsigned status = 404;
  std::string content_type = "text/plain; charset=utf-8";
  /// Further response headers (name, value), e.g. Cache-Control. Set after the server's own
  /// (Server, CORS), so a name given here replaces the server's.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body = "Not Found\n";
};

}  // namespace fallbench::transport
