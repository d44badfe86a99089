#pragma once
/// How to talk to a server besides its URL (docs/targets.md): the Engine.IO path, the Socket.IO
/// namespace, extra headers and cookies, the CONNECT auth payload and the TLS trust settings. Set by
/// a scenario's target and by the `--path`, `--namespace`, `--header`, `--cookie`, `--auth`,
/// `--insecure`, `--ca-file` and `--no-tls-resume` flags of `fallbench run` and `fallbench chat`;
/// checked here, once, so a bad value is refused at load time with its reason. No I/O.

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fallbench::transport {

/// A target setting that cannot be used; what() names the setting and why.
class target_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct target_settings {
  std::optional<std::string> path;  ///< The Engine.IO path (ends in '/'); unset: the URL's, else /socket.io/.
  std::string nsp = "/";             ///< The Socket.IO namespace.
  std::vector<std::pair<std::string, std::string>> headers;  ///< On every request and the WebSocket handshake.
  std::vector<std::pair<std::string, std::string>> cookies;  ///< Sent from the first request on.
  std::string auth_json;     ///< A JSON object sent with CONNECT; empty for none.
  bool insecure = false;     ///< TLS without certificate verification.
  std::string ca_file;       ///< TLS: a PEM file of authorities to trust.
  bool cookie_jar = true;    ///< Keep and send back the cookies the server sets.
  bool tls_resume = true;    ///< TLS: each client resumes its sessions on its later connections.
};

/// `Name: value` as a header. @throws target_error: no colon, a name that is not an HTTP token, a
/// control character in the value, or a header the transports own (Upgrade, Connection,
/// Sec-WebSocket-*, Content-Length, Transfer-Encoding).
std::pair<std::string, std::string> parse_header(std::string_view text);

/// `name=value` as a cookie. @throws target_error: no '=', an empty or non-token name, or a value
/// with ';', ',', a space, a quote or a backslash.
std::pair<std::string, std::string> parse_cookie(std::string_view text);

/// A Socket.IO namespace: starts with '/', no ',' or '?' or '#', at most 256 bytes. @throws target_error.
std::string check_namespace(std::string_view nsp);

/// An Engine.IO path: starts with '/', no '?' or '#'; returned ending in '/'. @throws target_error.
std::string check_path(std::string_view path);

/// The CONNECT auth payload: a JSON object, returned compact. @throws target_error.
std::string check_auth(std::string_view json_text);

}  // namespace fallbench::transport
