#pragma once
/// A client's cookie jar (RFC 6265, the part a load balancer's stickiness needs): keeps what the
/// server sets with `Set-Cookie` (name, value, Path, Max-Age or Expires, Secure) and gives the
/// `Cookie` header for a later request, as a browser does for socket.io-client. One jar per client,
/// used on that client's executor only; no I/O.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fallbench::transport {

class cookie_jar {
 public:
  using clock = std::chrono::system_clock;

  /// Remember the cookie one `Set-Cookie` header value sets, in answer to a request for
  /// `request_path` (the default Path). Max-Age wins over Expires; a cookie already expired (Max-Age
  /// <= 0, Expires in the past) removes its namesake. A header without `name=` is ignored, as
  /// browsers do. Domain is ignored: a jar serves one server.
  void store(std::string_view set_cookie, std::string_view request_path, clock::time_point now = clock::now());

  /// The `Cookie` header value for a request to `path` ("a=1; b=2"): the cookies whose Path matches
  /// and which have not expired, longer paths first; Secure ones only when `secure_channel`.
  /// Empty when none.
  std::string header(std::string_view path, bool secure_channel, clock::time_point now = clock::now()) const;

  std::size_t size() const noexcept { return cookies_.size(); }

 private:
  struct cookie {
    std::string name, value, path;
    std::optional<clock::time_point> expires;
    bool secure = false;
  };
  std::vector<cookie> cookies_;
};

/// Join static cookies (name, value) and a jar's header into one `Cookie` value; a jar cookie
/// replaces a static one of the same name (the server's word is the later one).
std::string merge_cookie_header(std::vector<std::pair<std::string, std::string>> const& fixed, std::string_view jar_header);

}  // namespace fallbench::transport
