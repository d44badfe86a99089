#include "fallbench/transport/target.hpp"

#include "text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>

namespace fallbench::transport {

namespace {

using detail::trim_ows;

/// RFC 7230 3.2.6 tchar.
bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char ch) {
    return std::isalnum(ch) != 0 || std::strchr("!#$%&'*+-.^_`|~", ch) != nullptr;
  });
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return out;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

std::pair<std::string, std::string> parse_header(std::string_view text) {
  auto const colon = text.find(':');
  if (colon == std::string_view::npos) throw target_error("header " + quoted(text) + ": want 'Name: value'");
  auto const name = trim_ows(text.substr(0, colon));
  auto const value = trim_ows(text.substr(colon + 1));
  if (!is_token(name)) throw target_error("header " + quoted(text) + ": " + quoted(name) + " is not a header name");
  if (std::any_of(value.begin(), value.end(), [](unsigned char ch) { return ch < 0x20 && ch != '\t'; }))
    throw target_error("header " + quoted(name) + ": a control character in its value");
  auto const key = lower(name);
  static constexpr std::array<std::string_view, 4> owned = {"upgrade", "connection", "content-length", "transfer-encoding"};
  if (std::find(owned.begin(), owned.end(), key) != owned.end() || key.starts_with("sec-websocket-"))
    throw target_error("header " + quoted(name) + ": set by the transports themselves, it cannot be overridden");
  return {std::string(name), std::string(value)};
}

std::pair<std::string, std::string> parse_cookie(std::string_view text) {
  auto const eq = text.find('=');
  if (eq == std::string_view::npos) throw target_error("cookie " + quoted(text) + ": want 'name=value'");
  auto const name = trim_ows(text.substr(0, eq));
  auto const value = trim_ows(text.substr(eq + 1));
  if (!is_token(name)) throw target_error("cookie " + quoted(text) + ": " + quoted(name) + " is not a cookie name");
  // RFC 6265 4.1.1 cookie-octet.
  if (std::any_of(value.begin(), value.end(), [](unsigned char ch) {
        return ch <= 0x20 || ch == 0x7F || ch == '"' || ch == ',' || ch == ';' || ch == '\\';
      }))
    throw target_error("cookie " + quoted(name) + ": its value may not hold a space, a quote, ',', ';' or '\\'");
  return {std::string(name), std::string(value)};
}

std::string check_namespace(std::string_view nsp) {
  if (nsp.empty() || nsp.front() != '/' || nsp.size() > 256 || nsp.find_first_of(",?#") != std::string_view::npos ||
      std::any_of(nsp.begin(), nsp.end(), [](unsigned char ch) { return ch < 0x20; }))
    throw target_error("namespace " + quoted(nsp) + ": want '/' or a name such as '/chat' (no ',', '?' or '#')");
  return std::string(nsp);
}

std::string check_path(std::string_view path) {
  if (path.empty() || path.front() != '/' || path.find_first_of("?# ") != std::string_view::npos)
    throw target_error("path " + quoted(path) + ": want an absolute path such as /socket.io/ (no query)");
  std::string out(path);
  if (out.back() != '/') out += '/';
  return out;
}

std::string check_auth(std::string_view json_text) {
  auto const j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw target_error("auth " + quoted(json_text.substr(0, 60)) + ": want a JSON object, e.g. {\"token\":\"abc\"}");
  return j.dump();
}

}  // namespace fallbench::transport
