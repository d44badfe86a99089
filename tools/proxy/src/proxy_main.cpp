#include "fallbench/proxy/proxy_main.hpp"

#include "fallbench/cli/args.hpp"
#include "fallbench/transport/url.hpp"
#include "fallbench/proxy/proxy.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fallbench::proxy {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string profiles_help() {
  return "Profiles (docs/design.md §7; the flags below set their parameters):\n"
         "  pass                  relay everything unchanged\n"
         "  strip-upgrade         remove Upgrade, the Connection upgrade token and Sec-WebSocket-* from\n"
         "                        requests, as an old proxy does; the server sees a plain GET\n"
         "  refuse-upgrade        answer WebSocket upgrade requests with --refuse-status, never forwarding them\n"
         "  blackhole-upgrade     swallow upgrade requests, never answer; close after --hold-ms\n"
         "  kill-websocket-after  cut upgraded connections --kill-after-ms after the upgrade; HTTP untouched\n"
         "  idle-timeout          cut any connection without a byte either way for --idle-ms\n"
         "  buffer-responses      hold each response until its body has ended, then send it at once\n"
         "  latency               delay bytes by --up-ms / --down-ms plus up to --jitter-ms (order kept)\n"
         "  bandwidth             cap each direction of each connection (token bucket)\n"
         "  reset                 reset (RST) a connection with --reset-probability, after a random\n"
         "                        number of bytes or time\n"
         "A profile spec is NAME or NAME?key=value&key=value (keys as the flags without --), e.g.\n"
         "'latency?up-ms=100&down-ms=100'. A schedule is OFFSET:SPEC entries separated by commas or\n"
         "newlines, e.g. '0s:pass,5s:refuse-upgrade,15s:pass'; --schedule takes it or a file holding it.";
}

cli::args make_args() {
  cli::args a("proxy",
              "Relay HTTP and WebSocket traffic to --upstream, applying a fault profile. Prints its URL as\n"
              "the first line, logs each fault it applies to stderr; Ctrl-C or SIGTERM stop it.\n\n" +
                  profiles_help());
  profile const defaults;
  a.flag("listen", "ADDR:PORT", "Address and port to listen on; port 0 picks a free one", "127.0.0.1:0")
      .flag("upstream", "URL", "Server to relay to: http://HOST:PORT (ws:// works too); required")
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
            std::to_string(proxy_options{}.max_idle.count()));
  for (auto const& info : all_parameters())
    a.flag(std::string(info.key), std::string(info.meta), std::string(info.help),
           parameter_value(defaults, info.key));
  return a;
}

tcp::endpoint parse_listen(std::string const& text) {
  auto const colon = text.rfind(':');
  if (colon == std::string::npos) throw cli::usage_error("--listen: want ADDR:PORT, got '" + text + "'");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto const port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto const [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535)
    throw cli::usage_error("--listen: bad port in '" + text + "'");
  boost::system::error_code bad;
  auto const address = net::ip::make_address(host, bad);
  if (bad) throw cli::usage_error("--listen: not an IP address: '" + host + "'");
  return {address, static_cast<unsigned short>(port)};
}

tcp::endpoint resolve_upstream(net::io_context& ioc, std::string const& url) {
  transport::server_url u;
  try {
    u = transport::parse_server_url(url);
  } catch (transport::url_error const& e) {
    throw cli::usage_error(std::string("--upstream: ") + e.what());
  }
  if (u.tls) throw cli::usage_error("--upstream: want http:// or ws://, got '" + url + "' (the proxy relays plain HTTP only)");
  if (u.path_given || !u.query.empty())
    throw cli::usage_error("--upstream: a URL without a path, got '" + url + "' (the proxy relays every path)");
  std::string const host = u.host;
  std::string const port = std::to_string(u.port);
  tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  auto const results = resolver.resolve(host, port, ec);
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
  if (!check && !args.has("upstream")) throw cli::usage_error("--upstream is required");

  // Profile parameters given as flags are the base of --profile and of every schedule entry.
  profile base;
  for (auto const& info : all_parameters()) {
    std::string const key(info.key);
    if (!args.has(key)) continue;
    try {
      set_parameter(base, key, args.str(key));
    } catch (std::invalid_argument const& e) {
      throw cli::usage_error("--" + std::string(e.what()));
    }
  }
  profile initial;
  try {
    initial = parse_profile(args.str("profile"), base);
  } catch (std::invalid_argument const& e) {
    throw cli::usage_error(std::string("--profile: ") + e.what());
  }
  std::vector<schedule_entry> schedule;
  if (args.has("schedule")) {
    try {
      schedule = parse_schedule(read_schedule(args.str("schedule")), base);
    } catch (std::invalid_argument const& e) {
      throw cli::usage_error(std::string("--schedule: ") + e.what());
    }
  }
  for (auto const& info : all_parameters()) {
    std::string const key(info.key);
    if (!args.has(key)) continue;
    bool used = has_parameter(initial.kind, key);
    for (auto const& e : schedule) used = used || has_parameter(e.prof.kind, key);
    if (!used)
      throw cli::usage_error("--" + key + " is not a parameter of the profile(s) in use (" + std::string(info.help) + ")");
  }

  if (check) {
    if (schedule.empty() || schedule.front().at.count() > 0) std::cout << "0\t" << describe(initial) << "\n";
    for (auto const& e : schedule) std::cout << e.at.count() << "\t" << describe(e.prof) << "\n";
    std::cout << std::flush;
    return 0;
  }
  std::optional<std::chrono::steady_clock::time_point> origin;
  if (args.has("schedule-origin")) {
    if (schedule.empty()) throw cli::usage_error("--schedule-origin needs --schedule");
    origin = std::chrono::steady_clock::time_point{
        std::chrono::nanoseconds{args.integer("schedule-origin", 0, std::numeric_limits<std::int64_t>::max())}};
  }

  auto const threads = static_cast<int>(args.integer("threads", 1, 256));
  proxy_options options;
  options.connect_timeout = std::chrono::milliseconds{args.integer("connect-timeout", 1, 3'600'000)};
  options.max_idle = std::chrono::milliseconds{args.integer("max-idle", 1, 86'400'000)};
  auto const listen_at = parse_listen(args.str("listen"));

  net::io_context ioc{threads};
  options.upstream = resolve_upstream(ioc, args.str("upstream"));
  proxy relay(ioc, options, initial);
  relay.on_event([](fault_event const& e) { std::cerr << "fallbench proxy: " << to_string(e) << "\n"; });
  auto const bound = relay.listen(listen_at);

  std::string host = bound.address().to_string();
  if (bound.address().is_v6()) host = "[" + host + "]";
  std::cout << "http://" << host << ":" << bound.port() << std::endl;
  std::cerr << "fallbench proxy: relaying to " << args.str("upstream") << " with profile " << describe(initial)
            << (schedule.empty() ? "" : " and a schedule of " + std::to_string(schedule.size()) + " entries")
            << "; Ctrl-C stops\n";
  if (origin) {
    relay.run_schedule(std::move(schedule), *origin);
  } else if (!schedule.empty()) {
    relay.run_schedule(std::move(schedule));
  }

  // stop() closes the acceptor, the schedule and every connection; run() returns once their
  // handlers have run.
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) relay.stop();
  });

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();

  auto const s = relay.stats();
  std::cerr << "fallbench proxy: stopped; connections " << s.connections_accepted << ", bytes up " << s.bytes_up
            << ", bytes down " << s.bytes_down << ", requests " << s.http_requests << ", responses "
            << s.http_responses << ", upgrades " << s.upgrades_completed << "/" << s.upgrades_seen << ", faults "
            << s.faults << ", upstream failures " << s.upstream_failures << ", protocol errors "
            << s.protocol_errors << "\n";
  return 0;
}

}  // namespace fallbench::proxy
