#include "fallbench/transport/cookie_jar.hpp"

#include "text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>

namespace fallbench::transport {

namespace {

using detail::trim_ows;
using detail::iequals;

/// An HTTP date (RFC 7231 IMF-fixdate, and the RFC 850 and asctime forms browsers also take).
std::optional<cookie_jar::clock::time_point> parse_http_date(std::string_view text) {
  std::string const s(text);
  for (char const* format : {"%a, %d %b %Y %H:%M:%S", "%A, %d-%b-%y %H:%M:%S", "%a, %d-%b-%Y %H:%M:%S", "%a %b %d %H:%M:%S %Y"}) {
    std::tm tm{};
    if (::strptime(s.c_str(), format, &tm) != nullptr) return cookie_jar::clock::from_time_t(::timegm(&tm));
  }
  return std::nullopt;
}

/// RFC 6265 5.1.4: the directory of the request path.
std::string default_path(std::string_view request_path) {
  request_path = request_path.substr(0, request_path.find('?'));
  if (request_path.empty() || request_path.front() != '/') return "/";
  auto const last = request_path.rfind('/');
  return last == 0 ? "/" : std::string(request_path.substr(0, last));
}

/// RFC 6265 5.1.4: does `cookie_path` cover `path`?
bool path_matches(std::string_view cookie_path, std::string_view path) {
  if (path == cookie_path) return true;
  if (!path.starts_with(cookie_path)) return false;
  return cookie_path.back() == '/' || path[cookie_path.size()] == '/';
}

}  // namespace

void cookie_jar::store(std::string_view set_cookie, std::string_view request_path, clock::time_point now) {
  auto const first = set_cookie.find(';');
  auto const pair = set_cookie.substr(0, first);
  auto const eq = pair.find('=');
  if (eq == std::string_view::npos) return;
  cookie c;
  c.name = std::string(trim_ows(pair.substr(0, eq)));
  c.value = std::string(trim_ows(pair.substr(eq + 1)));
  if (c.name.empty()) return;
  c.path = default_path(request_path);
  std::optional<clock::time_point> max_age, expires;
  for (auto rest = first == std::string_view::npos ? std::string_view{} : set_cookie.substr(first + 1); !rest.empty();) {
    auto const end = rest.find(';');
    auto const attr = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    auto const aeq = attr.find('=');
    auto const key = trim_ows(attr.substr(0, aeq));
    auto const value = aeq == std::string_view::npos ? std::string_view{} : trim_ows(attr.substr(aeq + 1));
    if (iequals(key, "path")) {
      if (!value.empty() && value.front() == '/') c.path = std::string(value);
    } else if (iequals(key, "max-age")) {
      long long seconds = 0;
      auto const [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (ec == std::errc{} && ptr == value.data() + value.size())
        max_age = seconds <= 0 ? clock::time_point::min() : now + std::chrono::seconds{seconds};
    } else if (iequals(key, "expires")) {
      expires = parse_http_date(value);
    } else if (iequals(key, "secure")) {
      c.secure = true;
    }
  }
  c.expires = max_age ? max_age : expires;
  std::erase_if(cookies_, [&](cookie const& old) { return old.name == c.name && old.path == c.path; });
  if (c.expires && *c.expires <= now) return;  // an expired cookie only deletes
  cookies_.push_back(std::move(c));
}

std::string cookie_jar::header(std::string_view path, bool secure_channel, clock::time_point now) const {
  path = path.substr(0, path.find('?'));
  std::vector<cookie const*> matching;
  for (auto const& c : cookies_)
    if ((!c.expires || *c.expires > now) && (!c.secure || secure_channel) && path_matches(c.path, path))
      matching.push_back(&c);
  // RFC 6265 5.4: longer paths first; equal ones in the order they were set.
  std::stable_sort(matching.begin(), matching.end(), [](auto* a, auto* b) { return a->path.size() > b->path.size(); });
  std::string out;
  for (auto const* c : matching) out += (out.empty() ? "" : "; ") + c->name + "=" + c->value;
  return out;
}

std::string merge_cookie_header(std::vector<std::pair<std::string, std::string>> const& fixed, std::string_view jar_header) {
  std::vector<std::string_view> jar_names;
  for (auto rest = jar_header; !rest.empty();) {
    auto const end = rest.find("; ");
    auto const item = rest.substr(0, end);
    jar_names.push_back(item.substr(0, item.find('=')));
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 2);
  }
  std::string out;
  for (auto const& [name, value] : fixed)
    if (std::find(jar_names.begin(), jar_names.end(), name) == jar_names.end())
      out += (out.empty() ? "" : "; ") + name + "=" + value;
  if (!jar_header.empty()) out += (out.empty() ? "" : "; ") + std::string(jar_header);
  return out;
}

}  // namespace fallbench::transport
