#pragma once
// `fallbench chat`: the terminal chat client.

#include <string_view>
#include <vector>

namespace fallbench::cli {

int chat_main(std::vector<std::string_view> const& args);

}  // namespace fallbench::cli
