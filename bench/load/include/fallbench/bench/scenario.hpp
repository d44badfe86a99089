#pragma once
/// A benchmark scenario: who connects how, into which rooms, sending what at which rate, for how long,
/// against which servers. Read from JSON (bench/scenarios/*.json; the format is in bench/README.md).

#include "fallbench/chatproto/mapping.hpp"
#include "fallbench/bench/thresholds.hpp"
#include "fallbench/transport/client.hpp"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::bench {

/// A scenario that does not validate; what() names the field and why, e.g.
/// `cases[1].clients: must be an integer from 1 to 100000, got "many"`.
class scenario_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One line of a trace: what a client does, and when (from the end of the connect ramp).
struct trace_event {
  enum class kind : std::uint8_t { join, chat, leave };
  std::chrono::microseconds at{0};
  std::uint32_t client = 0;
  kind what = kind::chat;
  std::uint32_t room = 0;    ///< index into case_spec::trace_rooms
  std::uint32_t bytes = 16;  ///< chat message size
};

/// Where a run sends its traffic.
struct target {
  enum class kind { embedded, node_peer, url };
  std::string name;
  kind type = kind::embedded;
  std::string url;              ///< For url targets: http(s)://host[:port][/path][?query] (url.hpp).
  int server_threads = 2;       ///< Embedded server: --threads.
  std::vector<std::string> extra_args;  ///< Embedded server / peer: more flags.
  /// CPUs the target's process runs on (sched_setaffinity; every thread it starts inherits them).
  /// Empty: not pinned. Not for url targets (another process, perhaps another machine).
  std::vector<int> cpus;
  /// How to talk to it besides its URL: path, namespace, headers, cookies, auth, TLS trust
  /// (docs/targets.md).
  transport::target_settings settings;
  /// The target's own event mapping, over the scenario's `events`.
  std::optional<chatproto::event_mapping> events;
  /// Embedded or Node peer: served over https/wss with a throwaway PKI the run makes (docs/tls.md,
  /// "TLS in a study"); behind a cluster's balancer or the fault proxy, they terminate it instead, as
  /// a TLS-terminating load balancer does. A url target's scheme says it.
  bool tls = false;
};

/// A capacity ladder: one run per step at a rising rate per client, until the knee (bench/README.md,
/// "Capacity ladders"). Either listed rates or a start and a factor.
struct ladder_spec {
  /// Listed steps (`ladder_rates_per_client_hz`), rising; empty: a rising ladder from `start`.
  std::vector<double> rates_per_client_hz;
  double start_rate_per_client_hz = 0;  ///< Rising: the first step's rate.
  double factor = 2;                    ///< Rising: each step's rate over the previous one's.
  int max_steps = 10;                   ///< Rising: steps before the ladder gives up ("knee not found").
  /// Bisection steps (geometric midpoints) between the last good and the first step over the bound,
  /// once the server's knee is found; 0: the knee is the last good step of the rise.
  int refine_steps = 0;
  /// A step whose fan-out p99 (corrected) passes this is over the server's knee.
  double stop_p99_ms = 250;
};

/// How clients spread over rooms.
struct room_layout {
  int count = 1;
  double zipf_exponent = 0;  ///< 0: uniform; s > 0: room k has weight 1/k^s.
};

/// What the clients talk to: one server, or a cluster of servers sharing rooms through Redis behind a
/// load balancer the harness starts (docs/cluster.md).
struct topology_spec {
  enum class kind { single, cluster };
  /// How the balancer keeps a client's requests on one node: a cookie it inserts, a hash of the
  /// client's address, or not at all (round robin: only WebSocket-only clients can work).
  enum class sticky_kind { cookie, source, none };
  kind type = kind::single;
  int nodes = 1;
  std::string balancer = "haproxy";
  sticky_kind sticky = sticky_kind::cookie;
};

std::string_view to_string(topology_spec::sticky_kind s) noexcept;

/// Phases of a run: connect ramp, warm-up (not recorded), measure, drain.
struct phases {
  std::chrono::milliseconds connect_ramp{1000};
  std::chrono::milliseconds warmup{1000};
  std::chrono::milliseconds measure{5000};
  std::chrono::milliseconds drain{1000};
  /// Before the server's baseline sample, one throwaway session per strategy of the case connects,
  /// joins, leaves and closes, so what every session runs (code paged in, the allocator's first
  /// pools) is resident in the baseline and a per-client figure counts what a session holds.
  bool prime = false;
};

/// The traffic of one case (one run per target).
struct case_spec {
  std::string name;
  int clients = 10;
  /// Relative weights of the strategies among clients, e.g. {upgrade: 3, polling: 1}.
  std::map<transport::strategy, double> mix;
  room_layout rooms;
  /// Chats each client sends per second (open loop, constant rate with a random phase per client).
  double rate_per_client_hz = 1.0;
  std::uint32_t message_bytes_min = 16;
  std::uint32_t message_bytes_max = 16;
  /// Each client leaves its room and joins another this many times per minute (0: no churn).
  double churn_per_client_per_min = 0;
  /// A capacity ladder: run the case at rising rates (replacing rate_per_client_hz) until the knee.
  std::optional<ladder_spec> ladder;
  /// A fault profile between the clients and the server (docs/design.md section 7), applied by a
  /// `fallbench proxy` the harness starts for the run: a spec such as "refuse-upgrade" or
  /// "latency?up-ms=50&down-ms=50". Empty: no proxy, clients talk to the server directly.
  std::string fault;
  /// Profiles to switch to during the run, "OFFSET:SPEC,..." counted from the run's start (the
  /// proxy's schedule syntax), e.g. "0s:pass,4s:kill-websocket-after,8s:pass".
  std::string fault_schedule;
  /// Clients reconnect (backoff from 200 ms) when their session ends, and re-join their room.
  bool reconnect = false;
  /// Connection state recovery (docs/recovery.md), recovery_window_ms; 0: off. On, the servers the
  /// harness starts for the case get `--recovery-window` and every client asks to recover its session
  /// when it reconnects (reconnect is then on): a recovered client does not join again.
  std::chrono::milliseconds recovery_window{0};
  /// Each client's limits (transport::client_options): connect to the namespace within
  /// connect_timeout; a WebSocket (connect and handshake) within websocket_timeout, or it counts as
  /// failed (fallback falls back, an upgrade is abandoned). A fault that swallows the handshake
  /// (blackhole-upgrade) costs a fallback client websocket_timeout before it tries polling.
  std::chrono::milliseconds connect_timeout{20'000};
  std::chrono::milliseconds websocket_timeout{10'000};
  /// The race strategy's head start for the WebSocket before polling opens too (race_stagger_ms).
  std::chrono::milliseconds race_stagger{250};
  /// A trace replayed instead of rate-driven traffic: its JSON-lines file (relative to the scenario's
  /// folder), its events sorted by time, and the names of its rooms. Clients then join, chat and leave
  /// only as the trace says.
  std::string trace_file;
  std::vector<trace_event> trace;
  std::vector<std::string> trace_rooms;
  /// One server (default) or a cluster; a scenario's top-level "topology" is every case's default.
  topology_spec topology;
  /// Limits its results must meet (the scenario's `thresholds`, then the case's), checked after each run.
  std::vector<threshold> thresholds;
  /// Its phases: the scenario's, with any of them the case's own "phases" sets (a case of many
  /// clients that needs a longer connect ramp, say).
  phases timing;
};

/// The generator's own limits: beyond them a run is marked invalid rather than reported.
struct generator_spec {
  int threads = 1;
  /// The largest lag of a send behind its intended time before the run is invalid.
  std::chrono::milliseconds max_lag{100};
  /// Generator CPU utilisation per thread above which it counts as saturated.
  double max_cpu_utilisation = 0.9;
  /// Fraction of operations (connects, acks) allowed to fail before the run is invalid.
  double error_budget = 0.01;
  /// CPUs the generator's threads run on (sched_setaffinity); empty: not pinned.
  std::vector<int> cpus;
};

struct scenario {
  std::string name;
  std::string description;
  std::uint64_t seed = 1;
  std::vector<target> targets;
  /// Which events and payloads stand for join/chat/leave (docs/targets.md); default: our protocol.
  chatproto::event_mapping events;
  std::vector<case_spec> cases;
  /// The scenario's phases: every case's, except those a case sets itself (case_spec::timing is
  /// what a case runs with).
  phases timing;
  generator_spec generator;
  std::string canonical_json;  ///< The validated scenario as canonical JSON (what the hash covers).
  std::uint64_t hash = 0;      ///< FNV-1a 64 of canonical_json.
};

/**
 * Parse and validate a scenario. Unknown keys are errors (a typo must not silently become a default).
 * @throws scenario_error naming the field and the reason.
 */
scenario parse_scenario(std::string_view json_text, std::string const& base_dir = ".");

/**
 * Read a trace: one JSON object a line, {"t_ms": 120, "client": 3, "event": "join"|"chat"|"leave",
 * "room": "lobby", "bytes": 64 (chats only, default 16)}; blank lines and lines starting with # are
 * skipped. Events are sorted by time; rooms are numbered in order of first appearance.
 * @throws scenario_error naming the file, line and field.
 */
void load_trace(std::string const& path, case_spec& c);

/**
 * Parse a trace's text (the format of load_trace) into `c`; `name` (the file's path) starts every
 * error message. What load_trace does once it has read the file; the fuzz target calls it directly.
 * @throws scenario_error naming `name`, the line and the field.
 */
void parse_trace(std::string_view text, std::string const& name, case_spec& c);

/**
 * Check that every CPU a scenario pins to is one of `available` (this machine's: cpus_of(0) in
 * cpu_pin.hpp). Kept out of parse_scenario so a scenario parses on any machine.
 * @throws scenario_error naming the field, e.g. `targets[0].cpus: CPU 7 is not available here (CPUs 0-1)`.
 */
void check_cpus(scenario const& s, std::vector<int> const& available);

/**
 * Read an event mapping (a scenario's or a target's `events`, or `fallbench run --events`): JSON text,
 * or the name of a file holding it. `where` prefixes the error, e.g. `events.chat.args`.
 * @throws scenario_error naming the field and the reason.
 */
chatproto::event_mapping parse_events(std::string_view json_text, std::string const& where = "events");

/// The settings of a target as its result records them (`runs[].target_settings`): header, cookie
/// and auth values redacted, so a result can be shared without its secrets.
nlohmann::json redacted_settings(target const& t, chatproto::event_mapping const& events);

/// Read and parse a scenario file. @throws scenario_error (also for an unreadable file).
scenario load_scenario(std::string const& path);

}  // namespace fallbench::bench
