#include "fallbench/proxy/profile.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace fallbench::proxy {

namespace {

constexpr std::array kinds{profile_kind::pass,
                           profile_kind::strip_upgrade,
                           profile_kind::refuse_upgrade,
                           profile_kind::blackhole_upgrade,
                           profile_kind::kill_websocket_after,
                           profile_kind::idle_timeout,
                           profile_kind::buffer_responses,
                           profile_kind::latency,
                           profile_kind::bandwidth,
                           profile_kind::reset,
                           profile_kind::request_deadline,
                           profile_kind::max_lifetime,
                           profile_kind::upgrade_then_stall,
                           profile_kind::rewrite_headers};

constexpr std::array<std::string_view, kinds.size()> kind_names{
    "pass",         "strip-upgrade",    "refuse-upgrade", "blackhole-upgrade", "kill-websocket-after",
    "idle-timeout", "buffer-responses", "latency",        "bandwidth",         "reset",
    "request-deadline", "max-lifetime", "upgrade-then-stall", "rewrite-headers"};

constexpr unsigned bit(profile_kind k) { return 1u << static_cast<unsigned>(k); }

constexpr std::array<parameter_info, 28> parameter_infos{{
    {"refuse-status", "STATUS", "refuse-upgrade: status answered to WebSocket upgrade requests (400-499)"},
    {"hold-ms", "MS", "blackhole-upgrade: how long a swallowed upgrade's connection is held before it is closed"},
    {"kill-after-ms", "MS", "kill-websocket-after: time from the upgrade to the cut"},
    {"idle-ms", "MS", "idle-timeout: a connection without a byte either way for this long is cut"},
    {"max-buffer-bytes", "BYTES", "buffer-responses: most bytes of one response held; more go out in pieces"},
    {"up-ms", "MS", "latency: delay added client -> upstream"},
    {"down-ms", "MS", "latency: delay added upstream -> client"},
    {"jitter-ms", "MS", "latency: extra delay drawn from [0, jitter] per read (byte order is kept)"},
    {"up-bytes-per-s", "RATE", "bandwidth: cap client -> upstream, bytes per second per connection"},
    {"down-bytes-per-s", "RATE", "bandwidth: cap upstream -> client, bytes per second per connection"},
    {"burst-bytes", "BYTES", "bandwidth: token bucket depth"},
    {"reset-probability", "P", "reset: chance in [0, 1] that a connection is reset"},
    {"reset-max-bytes", "BYTES", "reset: reset after a uniform number of bytes in [1, N] (0: no byte trigger)"},
    {"reset-max-ms", "MS", "reset: or after a uniform time in [0, T] ms, whichever first (0: no time trigger)"},
    {"seed", "N", "latency, reset: seed of the per-connection random draws"},
    {"deadline-ms", "MS", "request-deadline: a request without a response head for this long is answered itself"},
    {"deadline-status", "STATUS", "request-deadline: the status it is answered with (400-599)"},
    {"lifetime-ms", "MS", "max-lifetime: a connection is closed this long after it opened, busy or not"},
    {"lifetime-of", "all|upgraded", "max-lifetime: every connection, or upgraded ones only (counted from the 101)"},
    {"idle-counts", "both|up|down", "idle-timeout: bytes read from which side count as activity"},
    {"idle-pings", "count|ignore", "idle-timeout: whether WebSocket ping/pong and Engine.IO heartbeats count"},
    {"stall-mode", "hold|drop-up|drop-down", "upgrade-then-stall: hold both directions, or drop one"},
    {"stall-after-ms", "MS", "upgrade-then-stall: time from the 101 to the stall"},
    {"stall-ms", "MS", "upgrade-then-stall: how long the stall lasts (0: until the connection ends)"},
    {"request-set", "NAME:VALUE;...", "rewrite-headers: fields set on every request (replacing that name)"},
    {"request-remove", "NAME;...", "rewrite-headers: fields removed from every request"},
    {"response-set", "NAME:VALUE;...", "rewrite-headers: fields set on every response but a 101"},
    {"response-remove", "NAME;...", "rewrite-headers: fields removed from every response but a 101"},
}};

// The presets: field middleboxes (docs/faults.md has the vendors' documents for each figure).
constexpr std::array preset_infos{
    preset_info{"envoy-route-timeout", "request-deadline?deadline-ms=15000&deadline-status=504",
                "Envoy's default route timeout: 504 after 15 s without a response"},
    preset_info{"heroku-router-timeout", "request-deadline?deadline-ms=30000&deadline-status=503",
                "Heroku's router: 503 (H12) after 30 s without a response"},
    preset_info{"cloudflare-origin-timeout", "request-deadline?deadline-ms=100000&deadline-status=524",
                "Cloudflare: 524 after 100 s without a response from the origin"},
    preset_info{"gcp-backend-timeout", "max-lifetime?lifetime-ms=30000&lifetime-of=upgraded",
                "Google Cloud load balancer backend timeout: a WebSocket is closed 30 s after it opened"},
    preset_info{"aws-alb-idle", "idle-timeout?idle-ms=60000&idle-counts=both&idle-pings=count",
                "AWS Application Load Balancer: closed after 60 s without a byte either way"},
    preset_info{"nginx-read-timeout", "idle-timeout?idle-ms=60000&idle-counts=down&idle-pings=count",
                "nginx proxy_read_timeout: closed after 60 s without a byte from the upstream"},
    preset_info{"heroku-idle", "idle-timeout?idle-ms=55000&idle-counts=both&idle-pings=count",
                "Heroku's router: closed after a 55 s window without a byte"},
    preset_info{"cloudflare-idle", "idle-timeout?idle-ms=100000&idle-counts=both&idle-pings=count",
                "Cloudflare: a WebSocket closed after 100 s without a byte"},
    preset_info{"antivirus-stall", "upgrade-then-stall?stall-mode=hold&stall-after-ms=0&stall-ms=25000",
                "HTTPS-inspecting antivirus: the upgrade passes, then frames are held 25 s"},
    preset_info{"antivirus-one-way", "upgrade-then-stall?stall-mode=drop-up&stall-after-ms=0&stall-ms=0",
                "HTTPS-inspecting antivirus: the upgrade passes, then client frames never arrive"},
    preset_info{"force-close", "rewrite-headers?response-set=Connection:close",
                "a proxy that answers every response with Connection: close (and closes)"},
};

// Which kinds use each parameter, in the order of parameter_infos.
constexpr std::array<unsigned, parameter_infos.size()> parameter_kinds{
    bit(profile_kind::refuse_upgrade),
    bit(profile_kind::blackhole_upgrade),
    bit(profile_kind::kill_websocket_after),
    bit(profile_kind::idle_timeout),
    bit(profile_kind::buffer_responses),
    bit(profile_kind::latency),
    bit(profile_kind::latency),
    bit(profile_kind::latency),
    bit(profile_kind::bandwidth),
    bit(profile_kind::bandwidth),
    bit(profile_kind::bandwidth),
    bit(profile_kind::reset),
    bit(profile_kind::reset),
    bit(profile_kind::reset),
    bit(profile_kind::latency) | bit(profile_kind::reset),
    bit(profile_kind::request_deadline),
    bit(profile_kind::request_deadline),
    bit(profile_kind::max_lifetime),
    bit(profile_kind::max_lifetime),
    bit(profile_kind::idle_timeout),
    bit(profile_kind::idle_timeout),
    bit(profile_kind::upgrade_then_stall),
    bit(profile_kind::upgrade_then_stall),
    bit(profile_kind::upgrade_then_stall),
    bit(profile_kind::rewrite_headers),
    bit(profile_kind::rewrite_headers),
    bit(profile_kind::rewrite_headers),
    bit(profile_kind::rewrite_headers),
};

// A day: far beyond any run, small enough that time arithmetic cannot overflow.
constexpr std::uint64_t max_ms = 86'400'000;

std::uint64_t to_unsigned(std::string_view key, std::string_view value, std::uint64_t lo, std::uint64_t hi) {
  std::uint64_t v = 0;
  auto const [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size())
    throw std::invalid_argument(std::string(key) + " must be a non-negative integer, got '" + std::string(value) + "'");
  if (v < lo || v > hi)
    throw std::invalid_argument(std::string(key) + " must be between " + std::to_string(lo) + " and " +
                                std::to_string(hi) + ", got " + std::string(value));
  return v;
}

std::chrono::milliseconds to_ms(std::string_view key, std::string_view value, std::uint64_t lo = 0) {
  return std::chrono::milliseconds{static_cast<std::int64_t>(to_unsigned(key, value, lo, max_ms))};
}

double to_probability(std::string_view key, std::string_view value) {
  double v = 0;
  auto const [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size() || !(v >= 0.0 && v <= 1.0))
    throw std::invalid_argument(std::string(key) + " must be a number in [0, 1], got '" + std::string(value) + "'");
  return v;
}

std::string ms_text(std::chrono::milliseconds ms) { return std::to_string(ms.count()); }

std::string probability_text(double p) {
  std::array<char, 32> text{};
  auto const [ptr, ec] = std::to_chars(text.data(), text.data() + text.size(), p);
  return ec == std::errc{} ? std::string(text.data(), ptr) : std::string("?");
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 section 5.6.2: a field name is a token.
bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

// A rewritten name must not change how the proxy frames the message it has already framed.
std::string checked_name(std::string_view key, std::string_view name) {
  if (!is_token(name)) throw std::invalid_argument(std::string(key) + ": '" + std::string(name) + "' is not a field name");
  if (iequals(name, "content-length") || iequals(name, "transfer-encoding"))
    throw std::invalid_argument(std::string(key) + ": " + std::string(name) +
                                " frames the body and cannot be rewritten");
  return std::string(name);
}

// "Name:value;Name:value" (';' because ',' separates schedule entries and '&' spec parameters).
std::vector<header_field> to_fields(std::string_view key, std::string_view value) {
  std::vector<header_field> out;
  while (!value.empty()) {
    auto const semi = value.find(';');
    auto const item = trim(value.substr(0, semi));
    value = semi == std::string_view::npos ? std::string_view{} : value.substr(semi + 1);
    if (item.empty()) continue;
    auto const colon = item.find(':');
    if (colon == std::string_view::npos)
      throw std::invalid_argument(std::string(key) + ": want NAME:VALUE, got '" + std::string(item) + "'");
    auto const field_value = trim(item.substr(colon + 1));
    if (std::any_of(field_value.begin(), field_value.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; }))
      throw std::invalid_argument(std::string(key) + ": a field value cannot hold CR, LF or NUL");
    out.emplace_back(checked_name(key, trim(item.substr(0, colon))), std::string(field_value));
  }
  return out;
}

std::vector<std::string> to_names(std::string_view key, std::string_view value) {
  std::vector<std::string> out;
  while (!value.empty()) {
    auto const semi = value.find(';');
    auto const item = trim(value.substr(0, semi));
    value = semi == std::string_view::npos ? std::string_view{} : value.substr(semi + 1);
    if (!item.empty()) out.push_back(checked_name(key, item));
  }
  return out;
}

std::string fields_text(std::vector<header_field> const& fields) {
  std::string out;
  for (auto const& [n, v] : fields) out += (out.empty() ? "" : ";") + n + ":" + v;
  return out;
}

std::string names_text(std::vector<std::string> const& names) {
  std::string out;
  for (auto const& n : names) out += (out.empty() ? "" : ";") + n;
  return out;
}

template <std::size_t N>
std::size_t choice(std::string_view key, std::string_view value, std::array<std::string_view, N> const& names) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == value) return i;
  std::string list;
  for (auto n : names) list += (list.empty() ? "" : "|") + std::string(n);
  throw std::invalid_argument(std::string(key) + " must be one of " + list + ", got '" + std::string(value) + "'");
}

constexpr std::array<std::string_view, 2> lifetime_names{"all", "upgraded"};
constexpr std::array<std::string_view, 3> counting_names{"both", "up", "down"};
constexpr std::array<std::string_view, 2> ping_names{"count", "ignore"};
constexpr std::array<std::string_view, 3> stall_names{"hold", "drop-up", "drop-down"};

// Every time parameter of `p`'s kind multiplied by `scale` (a preset's "?scale="), rounded to the
// millisecond; a time that must be positive stays at least 1 ms.
void scale_times(profile& p, double scale) {
  auto const scaled = [&](std::chrono::milliseconds& ms, std::int64_t floor) {
    auto v = static_cast<std::int64_t>(std::llround(static_cast<double>(ms.count()) * scale));
    if (ms.count() > 0) v = std::max(v, floor);
    ms = std::chrono::milliseconds{std::min<std::int64_t>(v, 86'400'000)};
  };
  switch (p.kind) {
    case profile_kind::blackhole_upgrade: scaled(p.hold, 1); break;
    case profile_kind::kill_websocket_after: scaled(p.kill_after, 0); break;
    case profile_kind::idle_timeout: scaled(p.idle, 1); break;
    case profile_kind::latency:
      scaled(p.up_delay, 0);
      scaled(p.down_delay, 0);
      scaled(p.jitter, 0);
      break;
    case profile_kind::reset: scaled(p.reset_max, 0); break;
    case profile_kind::request_deadline: scaled(p.deadline, 1); break;
    case profile_kind::max_lifetime: scaled(p.lifetime, 1); break;
    case profile_kind::upgrade_then_stall:
      scaled(p.stall_after, 0);
      scaled(p.stall_for, 1);  // 0 (for ever) stays 0
      break;
    default: break;
  }
}

double to_scale(std::string_view value) {
  double v = 0;
  auto const [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size() || !(v > 0.0 && v <= 100.0))
    throw std::invalid_argument("scale must be a number in (0, 100], got '" + std::string(value) + "'");
  return v;
}

std::size_t parameter_index(std::string_view key) {
  for (std::size_t i = 0; i < parameter_infos.size(); ++i)
    if (parameter_infos[i].key == key) return i;
  return parameter_infos.size();
}

std::string parameters_of(profile_kind kind) {
  std::string list;
  for (std::size_t i = 0; i < parameter_infos.size(); ++i)
    if (parameter_kinds[i] & bit(kind)) list += (list.empty() ? "" : ", ") + std::string(parameter_infos[i].key);
  return list.empty() ? "none" : list;
}

}  // namespace

std::string_view to_string(profile_kind kind) noexcept { return kind_names[static_cast<std::size_t>(kind)]; }

std::optional<profile_kind> profile_kind_from_string(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kinds.size(); ++i)
    if (kind_names[i] == name) return kinds[i];
  return std::nullopt;
}

std::span<profile_kind const> all_profile_kinds() noexcept { return kinds; }

std::span<parameter_info const> all_parameters() noexcept { return parameter_infos; }

std::span<preset_info const> all_presets() noexcept { return preset_infos; }

bool needs_http(profile const& p) noexcept {
  switch (p.kind) {
    case profile_kind::pass:
    case profile_kind::latency:
    case profile_kind::bandwidth:
    case profile_kind::reset:
      return false;
    case profile_kind::idle_timeout:
      return !p.idle_pings_count;  // telling heartbeats from data reads the WebSocket frames
    case profile_kind::max_lifetime:
      return p.lifetime_upgraded_only;  // knowing which connections upgraded reads the 101
    default:
      return true;
  }
}

bool has_parameter(profile_kind kind, std::string_view key) noexcept {
  auto const i = parameter_index(key);
  return i < parameter_infos.size() && (parameter_kinds[i] & bit(kind)) != 0;
}

std::string parameter_value(profile const& p, std::string_view key) {
  if (key == "refuse-status") return std::to_string(p.refuse_status);
  if (key == "hold-ms") return ms_text(p.hold);
  if (key == "kill-after-ms") return ms_text(p.kill_after);
  if (key == "idle-ms") return ms_text(p.idle);
  if (key == "max-buffer-bytes") return std::to_string(p.max_buffer_bytes);
  if (key == "up-ms") return ms_text(p.up_delay);
  if (key == "down-ms") return ms_text(p.down_delay);
  if (key == "jitter-ms") return ms_text(p.jitter);
  if (key == "up-bytes-per-s") return std::to_string(p.up_rate);
  if (key == "down-bytes-per-s") return std::to_string(p.down_rate);
  if (key == "burst-bytes") return std::to_string(p.burst_bytes);
  if (key == "reset-probability") return probability_text(p.reset_probability);
  if (key == "reset-max-bytes") return std::to_string(p.reset_max_bytes);
  if (key == "reset-max-ms") return ms_text(p.reset_max);
  if (key == "seed") return std::to_string(p.seed);
  if (key == "deadline-ms") return ms_text(p.deadline);
  if (key == "deadline-status") return std::to_string(p.deadline_status);
  if (key == "lifetime-ms") return ms_text(p.lifetime);
  if (key == "lifetime-of") return std::string(lifetime_names[p.lifetime_upgraded_only ? 1 : 0]);
  if (key == "idle-counts") return std::string(counting_names[static_cast<std::size_t>(p.idle_counts)]);
  if (key == "idle-pings") return std::string(ping_names[p.idle_pings_count ? 0 : 1]);
  if (key == "stall-mode") return std::string(stall_names[static_cast<std::size_t>(p.stall)]);
  if (key == "stall-after-ms") return ms_text(p.stall_after);
  if (key == "stall-ms") return ms_text(p.stall_for);
  if (key == "request-set") return fields_text(p.request_set);
  if (key == "request-remove") return names_text(p.request_remove);
  if (key == "response-set") return fields_text(p.response_set);
  if (key == "response-remove") return names_text(p.response_remove);
  return {};
}

void set_parameter(profile& p, std::string_view key, std::string_view value) {
  // Byte sizes and rates stop at 1 TiB: beyond any test, and no overflow in bucket arithmetic.
  constexpr std::uint64_t max_bytes = 1ull << 40;
  if (key == "refuse-status") {
    p.refuse_status = static_cast<int>(to_unsigned(key, value, 400, 499));
  } else if (key == "hold-ms") {
    p.hold = to_ms(key, value, 1);
  } else if (key == "kill-after-ms") {
    p.kill_after = to_ms(key, value);
  } else if (key == "idle-ms") {
    p.idle = to_ms(key, value, 1);
  } else if (key == "max-buffer-bytes") {
    p.max_buffer_bytes = to_unsigned(key, value, 1, max_bytes);
  } else if (key == "up-ms") {
    p.up_delay = to_ms(key, value);
  } else if (key == "down-ms") {
    p.down_delay = to_ms(key, value);
  } else if (key == "jitter-ms") {
    p.jitter = to_ms(key, value);
  } else if (key == "up-bytes-per-s") {
    p.up_rate = to_unsigned(key, value, 1, max_bytes);
  } else if (key == "down-bytes-per-s") {
    p.down_rate = to_unsigned(key, value, 1, max_bytes);
  } else if (key == "burst-bytes") {
    p.burst_bytes = to_unsigned(key, value, 1, max_bytes);
  } else if (key == "reset-probability") {
    p.reset_probability = to_probability(key, value);
  } else if (key == "reset-max-bytes") {
    p.reset_max_bytes = to_unsigned(key, value, 0, max_bytes);
  } else if (key == "reset-max-ms") {
    p.reset_max = to_ms(key, value);
  } else if (key == "seed") {
    p.seed = to_unsigned(key, value, 0, UINT64_MAX);
  } else if (key == "deadline-ms") {
    p.deadline = to_ms(key, value, 1);
  } else if (key == "deadline-status") {
    p.deadline_status = static_cast<int>(to_unsigned(key, value, 400, 599));
  } else if (key == "lifetime-ms") {
    p.lifetime = to_ms(key, value, 1);
  } else if (key == "lifetime-of") {
    p.lifetime_upgraded_only = choice(key, value, lifetime_names) == 1;
  } else if (key == "idle-counts") {
    p.idle_counts = static_cast<idle_counting>(choice(key, value, counting_names));
  } else if (key == "idle-pings") {
    p.idle_pings_count = choice(key, value, ping_names) == 0;
  } else if (key == "stall-mode") {
    p.stall = static_cast<stall_mode>(choice(key, value, stall_names));
  } else if (key == "stall-after-ms") {
    p.stall_after = to_ms(key, value);
  } else if (key == "stall-ms") {
    p.stall_for = to_ms(key, value);
  } else if (key == "request-set") {
    p.request_set = to_fields(key, value);
  } else if (key == "request-remove") {
    p.request_remove = to_names(key, value);
  } else if (key == "response-set") {
    p.response_set = to_fields(key, value);
  } else if (key == "response-remove") {
    p.response_remove = to_names(key, value);
  } else {
    throw std::invalid_argument("unknown profile parameter '" + std::string(key) + "'");
  }
}

profile parse_profile(std::string_view spec, profile const& base) {
  auto const q = spec.find('?');
  auto const name = spec.substr(0, q);
  std::string_view rest = q == std::string_view::npos ? std::string_view{} : spec.substr(q + 1);
  auto const preset = std::find_if(preset_infos.begin(), preset_infos.end(), [&](auto const& i) { return i.name == name; });
  profile p = base;
  std::optional<profile_kind> kind;
  if (preset != preset_infos.end()) {
    p = parse_profile(preset->spec, base);
    kind = p.kind;
    // The scale applies to the preset's times, before any parameter given next to it.
    double scale = 1.0;
    for (std::string_view r = rest; !r.empty();) {
      auto const amp = r.find('&');
      auto const pair = r.substr(0, amp);
      r = amp == std::string_view::npos ? std::string_view{} : r.substr(amp + 1);
      if (pair.starts_with("scale=")) scale = to_scale(pair.substr(6));
    }
    scale_times(p, scale);
    p.preset = std::string(spec);
  } else {
    kind = profile_kind_from_string(name);
    if (!kind) {
      std::string list, presets;
      for (auto n : kind_names) list += (list.empty() ? "" : ", ") + std::string(n);
      for (auto const& i : preset_infos) presets += (presets.empty() ? "" : ", ") + std::string(i.name);
      throw std::invalid_argument("unknown profile '" + std::string(name) + "' (profiles: " + list +
                                  "; presets: " + presets + ")");
    }
    p.kind = *kind;
    p.preset.clear();
  }
  while (!rest.empty()) {
    auto const amp = rest.find('&');
    auto const pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto const eq = pair.find('=');
    if (eq == std::string_view::npos)
      throw std::invalid_argument("profile parameter '" + std::string(pair) + "' has no value (key=value)");
    auto const key = pair.substr(0, eq);
    if (key == "scale") {
      if (preset == preset_infos.end())
        throw std::invalid_argument("scale is a parameter of the presets, not of " + std::string(name));
      continue;
    }
    if (!has_parameter(*kind, key))
      throw std::invalid_argument(std::string(name) + " has no parameter '" + std::string(key) +
                                  "' (its parameters: " + parameters_of(*kind) +
                                  (preset != preset_infos.end() ? ", scale" : "") + ")");
    set_parameter(p, key, pair.substr(eq + 1));
  }
  return p;
}

std::string describe(profile const& p) {
  std::string out(to_string(p.kind));
  char sep = '?';
  for (std::size_t i = 0; i < parameter_infos.size(); ++i) {
    if (!(parameter_kinds[i] & bit(p.kind))) continue;
    out += sep;
    out += parameter_infos[i].key;
    out += '=';
    out += parameter_value(p, parameter_infos[i].key);
    sep = '&';
  }
  return out;
}

std::string describe_effective(profile const& p) {
  return p.preset.empty() ? describe(p) : p.preset + " = " + describe(p);
}

}  // namespace fallbench::proxy
