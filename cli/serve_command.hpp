#pragma once
// `fallbench serve`: the chat server's flags, over chat::serve.

#include <string_view>
#include <vector>

namespace fallbench::cli {

/// Parse the flags into chat::serve_options and run the server. @throws usage_error on a bad flag.
int serve_main(std::vector<std::string_view> const& args);

}  // namespace fallbench::cli
