#pragma once
/// The flags that say how to talk to a server, shared by `fallbench run` and `fallbench chat`
/// (docs/targets.md): declared once so both commands' --help lists them alike, read once so a bad
/// value is the same exit 2 with the same reason in both.

#include "fallbench/cli/args.hpp"
#include "fallbench/transport/target.hpp"
#include "fallbench/transport/url.hpp"

#include <fstream>
#include <sstream>

namespace fallbench::cli {

inline args& declare_target_flags(args& a) {
  return a.flag("path", "PATH", "The server's Engine.IO path, over the URL's (default /socket.io/)")
      .flag("namespace", "NSP", "The Socket.IO namespace to connect to (default /)")
      .flag("header", "'NAME: VALUE'", "Send this header with every request and the WebSocket handshake (repeatable)")
      .flag("cookie", "NAME=VALUE", "Send this cookie from the first request on (repeatable)")
      .toggle("no-cookie-jar", "Do not keep the cookies the server sets (by default each client keeps and returns them)")
      .flag("auth", "JSON|@FILE", "A JSON object sent with the namespace CONNECT (socket.io-client's auth)")
      .toggle("insecure", "https/wss: do not verify the server's certificate")
      .flag("ca-file", "PEM", "https/wss: trust the authorities in this PEM file instead of the system's")
      .toggle("no-tls-resume",
              "https/wss: a full TLS handshake on every connection (by default each client resumes its session)");
}

/// The text of a flag value that may be `@FILE` (read from the file).
inline std::string inline_or_file(std::string const& flag, std::string const& value) {
  if (!value.starts_with("@")) return value;
  std::ifstream in(value.substr(1));
  if (!in) throw usage_error("--" + flag + ": cannot read " + value.substr(1));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// The target flags given, over `base` (a scenario target's settings). @throws usage_error.
inline transport::target_settings read_target_flags(args const& a, transport::target_settings base = {}) {
  try {
    if (a.has("path")) base.path = transport::check_path(a.str("path"));
    if (a.has("namespace")) base.nsp = transport::check_namespace(a.str("namespace"));
    for (auto const& h : a.all("header")) base.headers.push_back(transport::parse_header(h));
    for (auto const& c : a.all("cookie")) base.cookies.push_back(transport::parse_cookie(c));
    if (a.has("no-cookie-jar")) base.cookie_jar = false;
    if (a.has("auth")) base.auth_json = transport::check_auth(inline_or_file("auth", a.str("auth")));
    if (a.has("insecure")) base.insecure = true;
    if (a.has("ca-file")) base.ca_file = a.str("ca-file");
    if (a.has("no-tls-resume")) base.tls_resume = false;
  } catch (transport::target_error const& e) {
    throw usage_error(e.what());
  }
  return base;
}

/// A URL flag or argument. @throws usage_error with the parser's reason.
inline transport::server_url read_url(std::string const& what, std::string const& text) {
  try {
    return transport::parse_server_url(text);
  } catch (transport::url_error const& e) {
    throw usage_error(what + ": " + e.what());
  }
}

}  // namespace fallbench::cli
