#include "fallbench/transport/url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace fallbench::transport {

namespace {

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

/// Why `text` is not even a URL, in the words a user needs: the most common slip is the port.
[[noreturn]] void not_a_url(std::string_view text, std::string_view why) {
  auto const scheme_end = text.find("://");
  if (scheme_end != std::string_view::npos) {
    auto authority = text.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    auto const bracket = authority.rfind(']');
    auto const colon = authority.rfind(':');
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
      auto const port = authority.substr(colon + 1);
      if (!std::all_of(port.begin(), port.end(), [](unsigned char ch) { return std::isdigit(ch) != 0; }))
        throw url_error("bad port " + quoted(port) + " in " + quoted(text) + " (want a number from 1 to 65535)");
    }
  }
  throw url_error("not a URL: " + quoted(text) + " (" + std::string(why) + "; want e.g. http://127.0.0.1:3000)");
}

}  // namespace

std::string server_url::authority() const {
  bool const v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string server_url::text() const {
  return scheme + "://" + authority() + path + (query.empty() ? "" : "?" + query);
}

server_url parse_server_url(std::string_view text) {
  if (text.empty()) throw url_error("empty URL (want e.g. http://127.0.0.1:3000)");
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) not_a_url(text, parsed.error().message());
  boost::urls::url_view const u = *parsed;
  server_url out;
  std::string scheme(u.scheme());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (scheme != "http" && scheme != "https" && scheme != "ws" && scheme != "wss")
    throw url_error("unsupported scheme " + quoted(scheme) + " in " + quoted(text) + " (http, https, ws or wss)");
  out.scheme = scheme;
  out.tls = scheme == "https" || scheme == "wss";
  if (!u.has_authority() || u.encoded_host().empty()) throw url_error("no host in " + quoted(text));
  if (u.has_userinfo())
    throw url_error("user information in " + quoted(text) + " is not supported (use --header 'Authorization: ...')");
  if (u.has_fragment()) throw url_error("a fragment (#...) in " + quoted(text) + " means nothing to a server");
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4: out.host = u.host_ipv4_address().to_string(); break;
    case boost::urls::host_type::ipv6: out.host = u.host_ipv6_address().to_string(); break;
    case boost::urls::host_type::name: out.host = u.host(); break;
    default: throw url_error("unsupported host " + quoted(u.encoded_host()) + " in " + quoted(text));
  }
  if (out.host.empty()) throw url_error("no host in " + quoted(text));
  if (u.has_port()) {
    // The port as written in the authority (Boost.URL 1.81 reads `:abc` as an empty port).
    auto authority = text.substr(text.find("://") + 3);
    authority = authority.substr(0, authority.find_first_of("/?#"));
    auto const bracket = authority.rfind(']');
    auto const colon = authority.rfind(':');
    std::string_view const port =
        colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket) ? authority.substr(colon + 1)
                                                                                                    : std::string_view{};
    unsigned long value = 0;
    auto const [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      throw url_error("bad port " + quoted(port) + " in " + quoted(text) + " (want a number from 1 to 65535)");
    out.port = static_cast<std::uint16_t>(value);
    out.port_given = true;
  } else {
    out.port = out.tls ? 443 : 80;
  }
  std::string path(u.encoded_path());
  if (!path.empty() && path != "/") {
    out.path_given = true;
    out.path = path.back() == '/' ? path : path + "/";
  }
  if (u.has_query()) out.query = std::string(u.encoded_query());
  return out;
}

}  // namespace fallbench::transport
