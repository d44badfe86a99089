#pragma once
/// The fault profiles of docs/design.md §7 and their parameters: what the proxy does to the traffic
/// it relays. Plain data and parsing, no I/O.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fallbench::proxy {

/// Which fault the proxy applies (docs/design.md §7).
enum class profile_kind {
  pass,                  ///< Relay everything unchanged.
  strip_upgrade,         ///< Drop Upgrade, the `upgrade` Connection token and Sec-WebSocket-* from requests.
  refuse_upgrade,        ///< Answer WebSocket upgrade requests with 403 (or 400) without forwarding them.
  blackhole_upgrade,     ///< Swallow upgrade requests and never answer them.
  kill_websocket_after,  ///< Cut upgraded connections some time after the upgrade.
  idle_timeout,          ///< Cut any connection without a byte either way for some time.
  buffer_responses,      ///< Hold each HTTP response until its body has ended, then send it at once.
  latency,               ///< Delay bytes per direction, with jitter; byte order is kept.
  bandwidth,             ///< Cap bytes per second per direction per connection (token bucket).
  reset,                 ///< Reset connections (TCP RST) at random, after some bytes or some time.
  request_deadline,      ///< Answer an HTTP request still unanswered after some time with 504 (or another status).
  max_lifetime,          ///< Close a connection some time after it opened, whatever its traffic.
  upgrade_then_stall,    ///< Let the 101 pass, then hold the frames (both ways) or drop one direction.
  rewrite_headers,       ///< Set or remove header fields of requests and responses.
};

/// idle-timeout `idle-counts`: which bytes count as activity.
enum class idle_counting {
  both,  ///< bytes read from either side
  up,    ///< only bytes read from the client (client -> upstream)
  down,  ///< only bytes read from the upstream (upstream -> client), as nginx's proxy_read_timeout
};

/// upgrade-then-stall `stall-mode`: what happens to the frames after the upgrade.
enum class stall_mode {
  hold,       ///< both directions are held (not lost) while the stall lasts
  drop_up,    ///< client -> upstream bytes are discarded while the stall lasts
  drop_down,  ///< upstream -> client bytes are discarded while the stall lasts
};

/// One header field to set: name and value.
using header_field = std::pair<std::string, std::string>;

/// The profile's name on the command line and in logs: "strip-upgrade", "kill-websocket-after", ...
std::string_view to_string(profile_kind kind) noexcept;
/// The kind named `name`, if there is one.
std::optional<profile_kind> profile_kind_from_string(std::string_view name) noexcept;
/// Every kind, in declaration order.
std::span<profile_kind const> all_profile_kinds() noexcept;

/// A profile and its parameters. Each parameter belongs to the profile(s) named in its comment and
/// is ignored by the others; the name in backquotes is its key in specs and its CLI flag.
struct profile {
  profile_kind kind = profile_kind::pass;

  /// refuse-upgrade `refuse-status`: the status answered to an upgrade request (400-499). 403 is
  /// what corporate proxies that forbid WebSocket answer.
  int refuse_status = 403;
  /// blackhole-upgrade `hold-ms`: how long a swallowed upgrade request's connection is held before
  /// the proxy closes it. Bounded so that a client that never gives up cannot pin a connection forever.
  std::chrono::milliseconds hold{30'000};
  /// kill-websocket-after `kill-after-ms`: time from the upgrade (or from the profile becoming
  /// active, whichever is later) to the cut.
  std::chrono::milliseconds kill_after{1'000};
  /// idle-timeout `idle-ms`: how long a connection may see no byte either way before it is cut.
  std::chrono::milliseconds idle{5'000};
  /// buffer-responses `max-buffer-bytes`: a response holding more than this is sent in pieces of
  /// this size (a buffering proxy has finite memory too).
  std::uint64_t max_buffer_bytes = 8u << 20;
  /// latency `up-ms`: delay added to bytes going from the client to the upstream.
  std::chrono::milliseconds up_delay{50};
  /// latency `down-ms`: delay added to bytes going from the upstream to the client.
  std::chrono::milliseconds down_delay{50};
  /// latency `jitter-ms`: a further delay drawn uniformly from [0, jitter] per read (seeded); byte
  /// order is kept, so jitter only ever delays.
  std::chrono::milliseconds jitter{0};
  /// bandwidth `up-bytes-per-s`: cap on client-to-upstream bytes per second per connection.
  /// The default, 125 000 B/s, is 1 Mbit/s: a poor mobile link.
  std::uint64_t up_rate = 125'000;
  /// bandwidth `down-bytes-per-s`: cap on upstream-to-client bytes per second per connection.
  std::uint64_t down_rate = 125'000;
  /// bandwidth `burst-bytes`: the token bucket's depth, what may go out at once after a pause.
  std::uint64_t burst_bytes = 16'384;
  /// reset `reset-probability`: the chance that a connection is reset, drawn once per connection
  /// (and again when the profile is switched on while it is open).
  double reset_probability = 0.5;
  /// reset `reset-max-bytes`: a doomed connection is reset once the bytes it carried (both ways)
  /// reach a number drawn uniformly from [1, reset-max-bytes]; 0 turns the byte trigger off.
  std::uint64_t reset_max_bytes = 65'536;
  /// reset `reset-max-ms`: ... or after a time drawn uniformly from [0, reset-max-ms], whichever
  /// comes first; 0 turns the time trigger off (with both off, the reset is immediate).
  std::chrono::milliseconds reset_max{5'000};
  /// latency, reset `seed`: seeds the per-connection random draws (with the connection's id), so a
  /// run with the same seed and the same connection order draws the same faults.
  std::uint64_t seed = 1;

  /// request-deadline `deadline-ms`: how long a forwarded request may wait for its response head.
  /// Envoy's route timeout is 15 s, under Socket.IO's 25 s pingInterval: long-polls hit it.
  std::chrono::milliseconds deadline{15'000};
  /// request-deadline `deadline-status`: the status answered when the deadline passes (400-599).
  int deadline_status = 504;
  /// max-lifetime `lifetime-ms`: time from a connection's start (or the profile's, whichever is
  /// later) to its close, busy or not.
  std::chrono::milliseconds lifetime{30'000};
  /// max-lifetime `lifetime-of`: `all` connections, or only `upgraded` ones (counted from the 101).
  bool lifetime_upgraded_only = false;
  /// idle-timeout `idle-counts`: which direction's bytes keep a connection alive.
  idle_counting idle_counts = idle_counting::both;
  /// idle-timeout `idle-pings`: whether WebSocket ping/pong frames and Engine.IO heartbeats ("2",
  /// "3") on an upgraded connection count as activity (`count`) or not (`ignore`).
  bool idle_pings_count = true;
  /// upgrade-then-stall `stall-mode`: hold both directions, or drop one.
  stall_mode stall = stall_mode::hold;
  /// upgrade-then-stall `stall-after-ms`: time from the 101 to the start of the stall.
  std::chrono::milliseconds stall_after{0};
  /// upgrade-then-stall `stall-ms`: how long the stall lasts; 0: for the rest of the connection.
  std::chrono::milliseconds stall_for{25'000};
  /// rewrite-headers `request-set` / `response-set`: fields replacing every field of their name
  /// (written "Name:value;Name:value").
  std::vector<header_field> request_set, response_set;
  /// rewrite-headers `request-remove` / `response-remove`: field names removed ("Name;Name").
  std::vector<std::string> request_remove, response_remove;

  /// The preset this profile was made from, as it was written ("envoy-route-timeout?scale=0.1");
  /// empty when it was not. For logs only: the parameters above are what the proxy applies.
  std::string preset;
};

/// The description of one parameter, for --help and error messages.
struct parameter_info {
  std::string_view key;   ///< e.g. "up-ms"
  std::string_view meta;  ///< e.g. "MS"
  std::string_view help;
};

/// A named profile with the parameters of a middlebox seen in the field (docs/faults.md).
struct preset_info {
  std::string_view name;    ///< e.g. "envoy-route-timeout"
  std::string_view spec;    ///< the profile it stands for, e.g. "request-deadline?deadline-ms=15000&deadline-status=504"
  std::string_view help;    ///< one line for --help
};

/// Every preset, in a stable order.
std::span<preset_info const> all_presets() noexcept;

/// Whether applying `p` needs the HTTP heads or the WebSocket frames of the traffic (so it cannot
/// run over bytes the proxy does not read, as with TLS passed through).
bool needs_http(profile const& p) noexcept;

/// Every parameter key, in a stable order.
std::span<parameter_info const> all_parameters() noexcept;
/// Whether `key` is a parameter of `kind`.
bool has_parameter(profile_kind kind, std::string_view key) noexcept;
/// `key`'s value in `p`, as text ("403", "50", "0.5"); empty for an unknown key.
std::string parameter_value(profile const& p, std::string_view key);
/// Set the parameter `key` of `p` from text. Throws std::invalid_argument naming the key for an
/// unknown key or a bad or out-of-range value.
void set_parameter(profile& p, std::string_view key, std::string_view value);

/// Parse a profile spec: "NAME" or "NAME?key=value&key=value" (e.g. "latency?up-ms=20&jitter-ms=5").
/// Parameters not given keep `base`'s values; a key that is not a parameter of NAME is an error.
/// NAME may be a preset (all_presets()): its profile, every time in it multiplied by the key
/// `scale` (default 1; "envoy-route-timeout?scale=0.1"), then any other keys on top.
/// Throws std::invalid_argument with a message naming the bad part.
profile parse_profile(std::string_view spec, profile const& base = {});
/// The spec of `p` with every parameter of its kind, e.g. "refuse-upgrade?refuse-status=403";
/// parse_profile(describe(p)) gives `p` back (for its kind's parameters).
std::string describe(profile const& p);
/// describe(p), preceded by the preset it came from when there is one:
/// "envoy-route-timeout?scale=0.1 = request-deadline?deadline-ms=1500&deadline-status=504".
std::string describe_effective(profile const& p);

}  // namespace fallbench::proxy
