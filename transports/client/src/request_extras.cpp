// The user's headers and cookies on every request, the cookie jar, and HTTP errors as users read them.

#include "eio_transport.hpp"

#include <boost/beast/core/string.hpp>

#include <nlohmann/json.hpp>

namespace fallbench::transport::detail {

namespace http = boost::beast::http;

void request_extras::decorate(http::fields& request, std::string_view path) const {
  std::string user_cookie;
  for (auto const& [name, value] : headers) {
    // A Cookie header given as a header joins the cookies (one Cookie header per request, RFC 6265 5.4).
    if (boost::beast::iequals(name, "cookie")) {
      user_cookie += (user_cookie.empty() ? "" : "; ") + value;
      continue;
    }
    request.set(name, value);
  }
  auto cookie = merge_cookie_header(cookies, use_jar ? jar.header(path, tls) : std::string{});
  if (!user_cookie.empty()) cookie = user_cookie + (cookie.empty() ? "" : "; " + cookie);
  if (!cookie.empty()) request.set(http::field::cookie, cookie);
}

void request_extras::absorb(http::fields const& response, std::string_view path) {
  if (!use_jar) return;
  auto const [first, last] = response.equal_range(http::field::set_cookie);
  for (auto it = first; it != last; ++it) jar.store(it->value(), path);
}

std::string http_error_text(unsigned status, std::string_view body) {
  std::string text = "HTTP " + std::to_string(status);
  auto const j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("message") && j["message"].is_string())
    text += ": " + j["message"].get<std::string>();
  return text;
}

}  // namespace fallbench::transport::detail
