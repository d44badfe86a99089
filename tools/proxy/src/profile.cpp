#include "fallbench/proxy/profile.hpp"

#include <array>
#include <charconv>
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
                           profile_kind::reset};

constexpr std::array<std::string_view, kinds.size()> kind_names{
    "pass",         "strip-upgrade",    "refuse-upgrade", "blackhole-upgrade", "kill-websocket-after",
    "idle-timeout", "buffer-responses", "latency",        "bandwidth",         "reset"};

constexpr unsigned bit(profile_kind k) { return 1u << static_cast<unsigned>(k); }

constexpr std::array<parameter_info, 15> parameter_infos{{
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
}};

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
  } else {
    throw std::invalid_argument("unknown profile parameter '" + std::string(key) + "'");
  }
}

profile parse_profile(std::string_view spec, profile const& base) {
  auto const q = spec.find('?');
  auto const name = spec.substr(0, q);
  auto const kind = profile_kind_from_string(name);
  if (!kind) {
    std::string list;
    for (auto n : kind_names) list += (list.empty() ? "" : ", ") + std::string(n);
    throw std::invalid_argument("unknown profile '" + std::string(name) + "' (profiles: " + list + ")");
  }
  profile p = base;
  p.kind = *kind;
  if (q == std::string_view::npos) return p;
  std::string_view rest = spec.substr(q + 1);
  while (!rest.empty()) {
    auto const amp = rest.find('&');
    auto const pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto const eq = pair.find('=');
    if (eq == std::string_view::npos)
      throw std::invalid_argument("profile parameter '" + std::string(pair) + "' has no value (key=value)");
    auto const key = pair.substr(0, eq);
    if (!has_parameter(*kind, key))
      throw std::invalid_argument(std::string(name) + " has no parameter '" + std::string(key) +
                                  "' (its parameters: " + parameters_of(*kind) + ")");
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

}  // namespace fallbench::proxy
