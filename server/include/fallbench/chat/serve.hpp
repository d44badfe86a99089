#pragma once
/// `fallbench serve`: the chat server's command line.

#include <string_view>
#include <vector>

namespace fallbench::chat {

/// Run the server until SIGINT/SIGTERM. Prints the URL it listens on as the first line of stdout.
/// Throws cli::usage_error on a bad flag. @return the process exit code.
int serve_main(std::vector<std::string_view> const& args);

}  // namespace fallbench::chat
