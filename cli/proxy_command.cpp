// `fallbench proxy`: the fault proxy's flags, read into proxy::proxy_run_options.

#include "proxy_command.hpp"

#include "fallbench/cli/args.hpp"
#include "fallbench/proxy/run_proxy.hpp"
#include "fallbench/transport/url.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace fallbench::cli {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using proxy::all_parameters;
using proxy::all_presets;
using proxy::describe;
using proxy::describe_effective;
using proxy::has_parameter;
using proxy::needs_http;
using proxy::parameter_value;
using proxy::parse_profile;
using proxy::parse_schedule;
using proxy::profile;
using proxy::proxy_options;
using proxy::schedule_entry;
using proxy::set_parameter;

namespace {

std::string profiles_help() {
  std::string text =
      "Profiles (docs/design.md §7, docs/faults.md; the flags below set their parameters):\n"
      "  pass                  relay everything unchanged\n"
      "  strip-upgrade         remove Upgrade, the Connection upgrade token and Sec-WebSocket-* from\n"
      "                        requests, as an old proxy does; the server sees a plain GET\n"
      "  refuse-upgrade        answer WebSocket upgrade requests with --refuse-status, never forwarding them\n"
      "  blackhole-upgrade     swallow upgrade requests, never answer; close after --hold-ms\n"
      "  kill-websocket-after  cut upgraded connections --kill-after-ms after the upgrade; HTTP untouched\n"
      "  idle-timeout          cut a connection without activity for --idle-ms; --idle-counts says which\n"
      "                        side's bytes count, --idle-pings whether WebSocket/Engine.IO heartbeats do\n"
      "  buffer-responses      hold each response until its body has ended, then send it at once\n"
      "  latency               delay bytes by --up-ms / --down-ms plus up to --jitter-ms (order kept)\n"
      "  bandwidth             cap each direction of each connection (token bucket)\n"
      "  reset                 reset (RST) a connection with --reset-probability, after a random\n"
      "                        number of bytes or time\n"
      "  request-deadline      answer a request without a response head after --deadline-ms with\n"
      "                        --deadline-status (long-polls hit it)\n"
      "  max-lifetime          close a connection --lifetime-ms after it opened (--lifetime-of upgraded:\n"
      "                        after its upgrade), busy or not\n"
      "  upgrade-then-stall    let the 101 through, then hold the frames both ways or drop one direction\n"
      "                        (--stall-mode) from --stall-after-ms for --stall-ms\n"
      "  rewrite-headers       set or remove request and response fields (--request-set, --response-set,\n"
      "                        --request-remove, --response-remove; a 101 is left alone)\n"
      "Presets (middleboxes seen in the field; NAME?scale=F multiplies every time in the preset by F,\n"
      "further key=value pairs apply on top):\n";
  for (auto const& preset : all_presets()) {
    std::string name(preset.name);
    name.resize(std::max<std::size_t>(name.size() + 1, 28), ' ');
    text += "  " + name + std::string(preset.help) + "\n  " + std::string(30, ' ') + "= " + std::string(preset.spec) + "\n";
  }
  text +=
      "A profile spec is NAME or NAME?key=value&key=value (keys as the flags without --), e.g.\n"
      "'latency?up-ms=100&down-ms=100' or 'envoy-route-timeout?scale=0.1'. A schedule is OFFSET:SPEC entries\n"
      "separated by commas or newlines, e.g. '0s:pass,5s:refuse-upgrade,15s:pass'; --schedule takes it or\n"
      "a file holding it. Header lists are NAME:VALUE;NAME:VALUE (';' since ',' separates entries).";
  return text;
}

args make_args() {
  args a("proxy",
       "Relay HTTP and WebSocket traffic to --upstream, applying a fault profile. Prints its URL as\n"
       "the first line, logs each fault it applies to stderr; Ctrl-C or SIGTERM stop it.\n\n" +
           profiles_help());
  profile const defaults;
  a.flag("listen", "ADDR:PORT", "Address and port to listen on; port 0 picks a free one", "127.0.0.1:0")
      .flag("upstream", "URL", "Server to relay to: http://HOST:PORT (ws:// works too; https:// with --tls-passthrough); required")
      .flag("profile", "SPEC", "Fault profile applied from the start", "pass")
      .flag("schedule", "FILE_OR_SPEC", "Profiles to switch to during the run, by offset from the start")
      .flag("schedule-origin", "NS",
            "Count the schedule's offsets from this CLOCK_MONOTONIC instant (nanoseconds since boot)\n"
            "instead of the proxy's start: a harness that starts the proxy ahead of its run passes\n"
            "its run's start, so both share t = 0")
      .toggle("check", "Validate --profile and --schedule, print the timeline they make (one line per\n"
                       "change: milliseconds from the start, a tab, the profile with all its parameters)\n"
                       "and exit without listening; --upstream is then optional")
      .flag("threads", "N", "I/O threads", "1")
      .flag("connect-timeout", "MS", "Time allowed to connect to the upstream before answering 502",
            std::to_string(proxy_options{}.connect_timeout.count()))
      .flag("max-idle", "MS", "Close any connection idle this long, whatever the profile",
            std::to_string(proxy_options{}.max_idle.count()))
      .flag("header-timeout", "MS", "Answer 408 and close when a request head is not whole this long after its\n"
                                    "first byte (nginx's client_header_timeout)",
            std::to_string(proxy_options{}.header_timeout.count()))
      .flag("tls-cert", "PEM", "Terminate TLS with this certificate chain (https, wss toward the clients; the\n"
                          "upstream stays plain http); needs --tls-key")
      .flag("tls-key", "PEM", "The private key of --tls-cert")
      .toggle("tls-passthrough", "Relay TLS as it is to an https:// --upstream: the proxy reads no byte, so\n"
                                 "only pass, latency, bandwidth, reset, idle-timeout (idle-pings=count) and\n"
                                 "max-lifetime (lifetime-of=all) apply; other profiles are refused");
  for (auto const& info : all_parameters())
    a.flag(std::string(info.key), std::string(info.meta), std::string(info.help),
           parameter_value(defaults, info.key));
  return a;
}

tcp::endpoint parse_listen(std::string const& text) {
  auto const colon = text.rfind(':');
  if (colon == std::string::npos) throw usage_error("--listen: want ADDR:PORT, got '" + text + "'");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto const port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto const [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535)
    throw usage_error("--listen: bad port in '" + text + "'");
  boost::system::error_code bad;
  auto const address = net::ip::make_address(host, bad);
  if (bad) throw usage_error("--listen: not an IP address: '" + host + "'");
  return {address, static_cast<unsigned short>(port)};
}

tcp::endpoint resolve_upstream(std::string const& url, bool passthrough) {
  transport::server_url u;
  try {
    u = transport::parse_server_url(url);
  } catch (transport::url_error const& e) {
    throw usage_error(std::string("--upstream: ") + e.what());
  }
  if (passthrough && !u.tls)
    throw usage_error("--upstream: --tls-passthrough relays TLS, so it wants https://HOST:PORT, got '" + url + "'");
  if (!passthrough && u.tls)
    throw usage_error("--upstream: the proxy speaks plain HTTP to its upstream, got '" + url +
                      "' (--tls-passthrough relays TLS as it is)");
  if (u.path_given || !u.query.empty())
    throw usage_error("--upstream: a URL without a path, got '" + url + "' (the proxy relays every path)");
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  auto const results = resolver.resolve(u.host, std::to_string(u.port), ec);
  if (ec || results.empty()) throw std::runtime_error("--upstream: cannot resolve '" + url + "': " + ec.message());
  return results.begin()->endpoint();
}

std::string read_schedule(std::string const& arg) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(arg, ec)) return arg;
  std::ifstream in(arg);
  std::stringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw std::runtime_error("--schedule: cannot read '" + arg + "'");
  return text.str();
}

}  // namespace

int proxy_main(std::vector<std::string_view> const& argv) {
  auto args = make_args();
  if (!args.parse(argv)) {
    std::cout << args.help();
    return 0;
  }
  bool const check = args.has("check");
  if (!check && !args.has("upstream")) throw usage_error("--upstream is required");

  // Profile parameters given as flags are the base of --profile and of every schedule entry.
  profile base;
  for (auto const& info : all_parameters()) {
    std::string const key(info.key);
    if (!args.has(key)) continue;
    try {
      set_parameter(base, key, args.str(key));
    } catch (std::invalid_argument const& e) {
      throw usage_error("--" + std::string(e.what()));
    }
  }
  profile initial;
  try {
    initial = parse_profile(args.str("profile"), base);
  } catch (std::invalid_argument const& e) {
    throw usage_error(std::string("--profile: ") + e.what());
  }
  std::vector<schedule_entry> schedule;
  if (args.has("schedule")) {
    try {
      schedule = parse_schedule(read_schedule(args.str("schedule")), base);
    } catch (std::invalid_argument const& e) {
      throw usage_error(std::string("--schedule: ") + e.what());
    }
  }
  for (auto const& info : all_parameters()) {
    std::string const key(info.key);
    if (!args.has(key)) continue;
    bool used = has_parameter(initial.kind, key);
    for (auto const& e : schedule) used = used || has_parameter(e.prof.kind, key);
    if (!used)
      throw usage_error("--" + key + " is not a parameter of the profile(s) in use (" + std::string(info.help) + ")");
  }

  bool const passthrough = args.has("tls-passthrough");
  if (passthrough && (args.has("tls-cert") || args.has("tls-key")))
    throw usage_error("--tls-passthrough relays TLS as it is: it takes no --tls-cert or --tls-key");
  if (args.has("tls-cert") != args.has("tls-key")) throw usage_error("--tls-cert and --tls-key go together");
  if (passthrough) {
    // Refused here, before listening: a profile that needs HTTP would silently do nothing.
    for (auto const* p : {&initial}) {
      if (needs_http(*p))
        throw usage_error("--profile " + describe_effective(*p) +
                          ": needs to read HTTP, which --tls-passthrough never sees (there: pass, latency, "
                          "bandwidth, reset, idle-timeout with idle-pings=count, max-lifetime with lifetime-of=all)");
    }
    for (auto const& e : schedule)
      if (needs_http(e.prof))
        throw usage_error("--schedule: " + describe_effective(e.prof) +
                          " needs to read HTTP, which --tls-passthrough never sees");
  }

  if (check) {
    if (schedule.empty() || schedule.front().at.count() > 0) std::cout << "0\t" << describe(initial) << "\n";
    for (auto const& e : schedule) std::cout << e.at.count() << "\t" << describe(e.prof) << "\n";
    std::cout << std::flush;
    return 0;
  }
  proxy::proxy_run_options run;
  if (args.has("schedule-origin")) {
    if (schedule.empty()) throw usage_error("--schedule-origin needs --schedule");
    run.schedule_origin = std::chrono::steady_clock::time_point{
        std::chrono::nanoseconds{args.integer("schedule-origin", 0, std::numeric_limits<std::int64_t>::max())}};
  }

  run.threads = static_cast<int>(args.integer("threads", 1, 256));
  auto& options = run.proxy;
  options.connect_timeout = std::chrono::milliseconds{args.integer("connect-timeout", 1, 3'600'000)};
  options.max_idle = std::chrono::milliseconds{args.integer("max-idle", 1, 86'400'000)};
  options.header_timeout = std::chrono::milliseconds{args.integer("header-timeout", 1, 86'400'000)};
  options.tls_passthrough = passthrough;
  if (args.has("tls-cert")) {
    options.tls_cert_file = args.str("tls-cert");
    options.tls_key_file = args.str("tls-key");
  }
  run.listen = parse_listen(args.str("listen"));
  run.upstream_name = args.str("upstream");
  options.upstream = resolve_upstream(run.upstream_name, passthrough);
  run.initial = initial;
  run.schedule = std::move(schedule);
  try {
    return proxy::run_proxy(std::move(run));
  } catch (proxy::tls_setup_error const& e) {
    // A certificate or key that cannot be used is a bad command line: exit 2 with OpenSSL's reason.
    throw usage_error(std::string("--tls-cert/--tls-key: ") + e.what());
  }
}

}  // namespace fallbench::cli
