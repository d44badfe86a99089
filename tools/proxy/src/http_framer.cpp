#include "http_framer.hpp"

#include <algorithm>
#include <charconv>

namespace fallbench::proxy::detail {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

// Calls f(element) for each element of a comma-separated list, trimmed, empty ones skipped.
template <class F>
void for_each_element(std::string_view list, F&& f) {
  while (!list.empty()) {
    auto const comma = list.find(',');
    auto const item = trim(list.substr(0, comma));
    if (!item.empty()) f(item);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
  }
}

// Longest chunk-size line (size and extensions) accepted; real ones are a few bytes.
constexpr std::size_t max_chunk_line_bytes = 1024;

}  // namespace

std::optional<std::string_view> http_head::field(std::string_view name) const {
  for (auto const& [n, v] : fields)
    if (iequals(n, name)) return std::string_view(v);
  return std::nullopt;
}

bool http_head::has_token(std::string_view name, std::string_view token) const {
  bool found = false;
  for (auto const& [n, v] : fields) {
    if (!iequals(n, name)) continue;
    for_each_element(v, [&](std::string_view item) { found = found || iequals(item, token); });
  }
  return found;
}

std::size_t http_head::erase(std::string_view name) {
  auto const before = fields.size();
  std::erase_if(fields, [&](auto const& f) { return iequals(f.first, name); });
  return before - fields.size();
}

std::size_t http_head::erase_prefix(std::string_view prefix) {
  auto const before = fields.size();
  std::erase_if(fields, [&](auto const& f) { return istarts_with(f.first, prefix); });
  return before - fields.size();
}

void http_head::erase_token(std::string_view name, std::string_view token) {
  for (auto& [n, v] : fields) {
    if (!iequals(n, name)) continue;
    std::string kept;
    for_each_element(v, [&](std::string_view item) {
      if (iequals(item, token)) return;
      if (!kept.empty()) kept += ", ";
      kept += item;
    });
    v = std::move(kept);
  }
  std::erase_if(fields, [&](auto const& f) { return iequals(f.first, name) && f.second.empty(); });
}

std::string http_head::serialize() const {
  std::string out = start_line + "\r\n";
  for (auto const& [n, v] : fields) out += n + ": " + v + "\r\n";
  out += "\r\n";
  return out;
}

http_framer::result http_framer::fail(std::string why) {
  state_ = state::failed;
  error_ = std::move(why);
  return {event::error, 0};
}

http_framer::result http_framer::step(std::string_view in) {
  switch (state_) {
    case state::head: {
      if (in.empty()) return {event::need_more, 0};
      // RFC 9112 §2.2: a server should ignore empty lines before a request line (some clients send
      // a CRLF after a POST body). They are relayed as they are.
      if (role_ == role::request && in.starts_with("\r\n")) return {event::body, 2};
      auto const end = in.substr(0, max_head_bytes_ + 4).find("\r\n\r\n");
      if (end == std::string_view::npos) {
        if (in.size() > max_head_bytes_) return fail("head larger than " + std::to_string(max_head_bytes_) + " bytes");
        return {event::need_more, 0};
      }
      if (!parse_head(in.substr(0, end + 2))) return {event::error, 0};
      if (!frame_body()) return {event::error, 0};
      return {event::head, end + 4};
    }
    case state::length: {
      if (in.empty()) return {event::need_more, 0};
      auto const n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
      remaining_ -= n;
      if (remaining_ == 0) state_ = state::end;
      return {event::body, n};
    }
    case state::chunk_size: {
      auto const eol = in.substr(0, max_chunk_line_bytes + 2).find("\r\n");
      if (eol == std::string_view::npos) {
        if (in.size() > max_chunk_line_bytes) return fail("chunk size line too long");
        return {event::need_more, 0};
      }
      auto const line = in.substr(0, eol);
      auto const digits = line.substr(0, line.find_first_of("; \t"));
      // 15 hex digits: up to 2^60 bytes, so the size cannot overflow.
      if (digits.empty() || digits.size() > 15) return fail("bad chunk size '" + std::string(line) + "'");
      std::uint64_t size = 0;
      auto const [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
      if (ec != std::errc{} || ptr != digits.data() + digits.size())
        return fail("bad chunk size '" + std::string(line) + "'");
      remaining_ = size;
      state_ = size == 0 ? state::trailer : state::chunk_data;
      return {event::body, eol + 2};
    }
    case state::chunk_data: {
      if (in.empty()) return {event::need_more, 0};
      auto const n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
      remaining_ -= n;
      if (remaining_ == 0) state_ = state::chunk_crlf;
      return {event::body, n};
    }
    case state::chunk_crlf:
      if (in.size() < 2) return {event::need_more, 0};
      if (!in.starts_with("\r\n")) return fail("chunk data not followed by CRLF");
      state_ = state::chunk_size;
      return {event::body, 2};
    case state::trailer: {
      auto const eol = in.substr(0, max_head_bytes_ + 2).find("\r\n");
      if (eol == std::string_view::npos) {
        if (in.size() > max_head_bytes_) return fail("trailer line too long");
        return {event::need_more, 0};
      }
      if (eol == 0) state_ = state::end;
      return {event::body, eol + 2};
    }
    case state::end:
      state_ = state::head;
      return {event::end, 0};
    case state::until_close:
    case state::tunnel:
      if (in.empty()) return {event::need_more, 0};
      return {event::body, in.size()};
    case state::failed:
      return {event::error, 0};
  }
  return {event::error, 0};
}

bool http_framer::parse_head(std::string_view text) {
  head_ = http_head{};
  auto const first_eol = text.find("\r\n");
  head_.start_line = std::string(text.substr(0, first_eol));
  std::string_view const line = head_.start_line;
  auto const sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) {
    fail("bad start line '" + head_.start_line + "'");
    return false;
  }
  if (role_ == role::request) {
    auto const sp2 = line.find(' ', sp1 + 1);
    auto const version = sp2 == std::string_view::npos ? std::string_view{} : line.substr(sp2 + 1);
    head_.method = std::string(line.substr(0, sp1));
    head_.target = std::string(line.substr(sp1 + 1, sp2 == std::string_view::npos ? 0 : sp2 - sp1 - 1));
    if (!is_token(head_.method) || head_.target.empty() || (version != "HTTP/1.1" && version != "HTTP/1.0")) {
      fail("bad request line '" + head_.start_line + "'");
      return false;
    }
  } else {
    auto const version = line.substr(0, sp1);
    auto const code = line.substr(sp1 + 1, 3);
    unsigned status = 0;
    auto const [ptr, ec] = std::from_chars(code.data(), code.data() + code.size(), status);
    // A status line shorter than the code ("HTTP/1.1 96") must not be read past its end (found by
    // fuzz/proxy_http.cpp, docs/fuzzing.md).
    bool const reason_ok = line.size() == sp1 + 4 || (line.size() > sp1 + 4 && line[sp1 + 4] == ' ');
    if ((version != "HTTP/1.1" && version != "HTTP/1.0") || code.size() != 3 || ec != std::errc{} ||
        ptr != code.data() + 3 || status < 100 || !reason_ok) {
      fail("bad status line '" + head_.start_line + "'");
      return false;
    }
    head_.status = status;
  }
  std::string_view rest = text.substr(first_eol + 2);
  while (!rest.empty()) {
    auto const eol = rest.find("\r\n");
    auto const field_line = rest.substr(0, eol);
    rest = rest.substr(eol + 2);
    // RFC 9112 §5.2: obsolete line folding may be rejected; a relay must not pass it on unparsed.
    if (field_line.starts_with(' ') || field_line.starts_with('\t')) {
      fail("folded header line");
      return false;
    }
    auto const colon = field_line.find(':');
    if (colon == std::string_view::npos || !is_token(field_line.substr(0, colon))) {
      fail("bad header line '" + std::string(field_line) + "'");
      return false;
    }
    head_.fields.emplace_back(std::string(field_line.substr(0, colon)), std::string(trim(field_line.substr(colon + 1))));
  }
  return true;
}

// RFC 9112 §6.3: how the body of the message just parsed is delimited.
bool http_framer::frame_body() {
  bool const response = role_ == role::response;
  if (response && (head_.status < 200 || head_.status == 204 || head_.status == 304)) {
    state_ = state::end;
    return true;
  }
  bool has_te = false;
  bool chunked_last = false;
  for (auto const& [n, v] : head_.fields) {
    if (!iequals(n, "transfer-encoding")) continue;
    has_te = true;
    for_each_element(v, [&](std::string_view item) { chunked_last = iequals(item, "chunked"); });
  }
  std::optional<std::uint64_t> length;
  for (auto const& [n, v] : head_.fields) {
    if (!iequals(n, "content-length")) continue;
    std::uint64_t value = 0;
    auto const [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
    if (v.empty() || ec != std::errc{} || ptr != v.data() + v.size() || (length && *length != value)) {
      fail("bad Content-Length '" + v + "'");
      return false;
    }
    length = value;
  }
  if (has_te) {
    // §6.1: both framings at once is how requests are smuggled; a request must end in chunked.
    if (length && !response) {
      fail("both Transfer-Encoding and Content-Length");
      return false;
    }
    if (chunked_last) {
      state_ = state::chunk_size;
    } else if (response) {
      state_ = state::until_close;
    } else {
      fail("request Transfer-Encoding does not end in chunked");
      return false;
    }
    return true;
  }
  if (length) {
    remaining_ = *length;
    state_ = remaining_ == 0 ? state::end : state::length;
    return true;
  }
  state_ = response ? state::until_close : state::end;
  return true;
}

void http_framer::no_body() {
  if (state_ != state::failed) state_ = state::end;
}

void http_framer::tunnel() {
  if (state_ != state::failed) state_ = state::tunnel;
}

bool http_framer::finish() {
  if (state_ != state::until_close) return false;
  state_ = state::head;
  return true;
}

}  // namespace fallbench::proxy::detail
