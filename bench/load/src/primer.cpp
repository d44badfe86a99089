#include "primer.hpp"

#include "sim_clients.hpp"

#include "fallbench/chatproto/mapping.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <memory>
#include <string>

namespace fallbench::bench {

std::size_t prime_server(endpoint const& at, case_spec const& c, std::vector<transport::strategy> strategies,
                         std::chrono::milliseconds bound) {
  std::sort(strategies.begin(), strategies.end());
  strategies.erase(std::unique(strategies.begin(), strategies.end()), strategies.end());
  std::size_t connected = 0;
  for (auto const strat : strategies) {
    boost::asio::io_context ioc;
    auto const client = transport::client::create(ioc.get_executor(), client_options_for(at, c, strat));
    client->on_connect([&] {
      ++connected;
      std::string args;
      chatproto::append_join(at.events, "fallbench-primer", "primer", args);
      client->emit(at.events.join_event, args);
      args.clear();
      chatproto::append_leave(at.events, "fallbench-primer", "primer", args);
      client->emit(at.events.leave_event, args);
      client->close();
    });
    // Once it has closed (or failed: the primer does not reconnect) the loop runs dry and returns.
    client->connect();
    ioc.run_for(bound);
    if (!ioc.stopped()) {
      // Overran its bound: close it, and give the close packet a moment to leave.
      client->close();
      ioc.run_for(std::chrono::milliseconds{200});
    }
  }
  return connected;
}

}  // namespace fallbench::bench
