#include "fallbench/proxy/run_proxy.hpp"

#include <boost/asio/signal_set.hpp>

#include <iostream>
#include <optional>
#include <thread>

namespace fallbench::proxy {

namespace net = boost::asio;

int run_proxy(proxy_run_options run) {
  auto const threads = run.threads;
  auto const& options = run.proxy;
  auto const& initial = run.initial;
  auto& schedule = run.schedule;
  bool const passthrough = options.tls_passthrough;
  net::io_context ioc{threads};
  std::optional<proxy> made;
  try {
    made.emplace(ioc, options, initial);
  } catch (std::exception const& e) {
    // The options come checked but for the certificate and key, read here: OpenSSL's reason.
    throw tls_setup_error(e.what());
  }
  auto& relay = *made;
  relay.on_event([](fault_event const& e) { std::cerr << "fallbench proxy: " << to_string(e) << "\n"; });
  auto const bound = relay.listen(run.listen);

  std::string host = bound.address().to_string();
  if (bound.address().is_v6()) host = "[" + host + "]";
  bool const tls = passthrough || !options.tls_cert_file.empty();
  std::cout << (tls ? "https://" : "http://") << host << ":" << bound.port() << std::endl;
  std::cerr << "fallbench proxy: relaying to " << run.upstream_name
            << (passthrough ? " (TLS passed through)" : tls ? " (TLS terminated here)" : "") << " with profile "
            << describe_effective(initial)
            << (schedule.empty() ? "" : " and a schedule of " + std::to_string(schedule.size()) + " entries")
            << "; Ctrl-C stops\n";
  for (auto const& e : schedule)
    std::cerr << "fallbench proxy: schedule: at " << e.at.count() << " ms " << describe_effective(e.prof) << "\n";
  if (run.schedule_origin) {
    relay.run_schedule(std::move(schedule), *run.schedule_origin);
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
            << s.protocol_errors << " (" << s.bad_requests << " answered), header timeouts " << s.header_timeouts
            << ", truncated requests " << s.truncated_requests << ", TLS failures " << s.tls_failures << "\n";
  return 0;
}

}  // namespace fallbench::proxy
