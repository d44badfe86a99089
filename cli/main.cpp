// fallbench: the one front door. Each subcommand is a thin layer over a library.

#include "chat_command.hpp"
#include "compare_command.hpp"
#include "proxy_command.hpp"
#include "report_command.hpp"
#include "result_inputs.hpp"
#include "run_command.hpp"
#include "serve_command.hpp"
#include "fallbench/cli/args.hpp"
#include "fallbench/report/report.hpp"

#include "build_info.hpp"

#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

/// `fallbench run`, able to render its result (`--report DIR`) as `fallbench report` does.
int run_with_report(std::vector<std::string_view> const& args) {
  return fallbench::cli::run_main(args, [](std::string const& result, std::string const& dir) {
    fallbench::report::write_report(fallbench::cli::read_results({result}), {}, dir);
  });
}

struct command {
  std::string_view name;
  std::string_view summary;
  int (*run)(std::vector<std::string_view> const&);
};

constexpr command commands[] = {
    {"serve", "run the chat server (Engine.IO v4 / Socket.IO v5, polling and WebSocket)", fallbench::cli::serve_main},
    {"chat", "a terminal chat client (polling, websocket, upgrade or fallback)", fallbench::cli::chat_main},
    {"run", "replay a scenario against its servers, open loop, and write a result", run_with_report},
    {"proxy", "the fault-injecting proxy: relay to a server, applying a fault profile", fallbench::cli::proxy_main},
    {"report", "render results as one self-contained HTML page and a Markdown summary", fallbench::cli::report_main},
    {"compare", "compare a candidate with a baseline of repeated runs: the regression gate", fallbench::cli::compare_main},
};

int usage(std::ostream& out) {
  out << "usage: fallbench <command> [flags]   (fallbench <command> --help for its flags)\n"
         "       fallbench --version\n\ncommands:\n";
  for (auto const& c : commands) out << "  " << c.name << std::string(10 - c.name.size(), ' ') << c.summary << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(std::cerr);
  std::string_view const name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(std::cout);
    return 0;
  }
  if (name == "--version" || name == "version") {
    namespace info = fallbench::build_info;
    std::cout << "fallbench " << info::version << "\ncommit " << info::git_commit << "\nbuild " << info::build_type
              << " (" << info::compiler << ")\n";
    return 0;
  }
  std::vector<std::string_view> rest(argv + 2, argv + argc);
  for (auto const& c : commands) {
    if (c.name != name) continue;
    try {
      return c.run(rest);
    } catch (fallbench::cli::usage_error const& e) {
      std::cerr << "fallbench " << name << ": " << e.what() << "\n(see fallbench " << name << " --help)\n";
      return 2;
    } catch (fallbench::cli::exit_error const& e) {
      std::cerr << "fallbench " << name << ": " << e.what() << "\n";
      return e.status();
    } catch (std::exception const& e) {
      std::cerr << "fallbench " << name << ": " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "fallbench: unknown command '" << name << "'\n";
  return usage(std::cerr);
}
