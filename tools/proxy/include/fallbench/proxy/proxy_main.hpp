#pragma once
/// `fallbench proxy`: the fault-injecting proxy from the command line.

#include <string_view>
#include <vector>

namespace fallbench::proxy {

/// Run `fallbench proxy` with `argv` (the arguments after the command name). Prints its URL as the
/// first line of stdout and each fault to stderr; SIGINT or SIGTERM stop it. Throws
/// cli::usage_error for a bad command line. @return the exit status.
int proxy_main(std::vector<std::string_view> const& argv);

}  // namespace fallbench::proxy
