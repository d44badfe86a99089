#pragma once
/// The one reader of server URLs (docs/targets.md): `fallbench chat URL`, `fallbench run --url`, a
/// scenario's url targets and `fallbench proxy --upstream` all parse here, on Boost.URL, so a URL
/// means the same thing everywhere and every bad one is refused with its reason before anything runs.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fallbench::transport {

/// A URL that is not a usable server address; what() says why, quoting the URL, e.g.
/// `bad port 'abc' in 'http://127.0.0.1:abc' (want a number from 1 to 65535)`.
class url_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A server's address as a Socket.IO client needs it.
struct server_url {
  std::string scheme;        ///< http, https, ws or wss, lower case
  bool tls = false;          ///< https or wss
  std::string host;          ///< a name, an IPv4 address or an IPv6 address (without brackets)
  std::uint16_t port = 0;    ///< as written, else 80 (http, ws) or 443 (https, wss)
  bool port_given = false;
  /// The Engine.IO path, ending in '/': the URL's path, or /socket.io/ when it has none (or only "/").
  std::string path = "/socket.io/";
  bool path_given = false;   ///< whether the URL had a path other than "" or "/"
  /// Extra query parameters sent with every Engine.IO request (percent-encoded, without the '?'), as
  /// socket.io-client's `query` option; empty for none.
  std::string query;

  /// host:port as a Host header says it (IPv6 in brackets).
  std::string authority() const;
  /// The URL written back in its normal form, e.g. `https://example.com:443/socket.io/?token=x`.
  std::string text() const;
};

/// Parse `text`. @throws url_error naming what is wrong: not a URL, a scheme other than
/// http/https/ws/wss, no host, a port that is not a number from 1 to 65535, user information or a
/// fragment (never sent by a client, so they would be silently ignored).
server_url parse_server_url(std::string_view text);

}  // namespace fallbench::transport
