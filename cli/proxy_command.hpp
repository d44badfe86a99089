#pragma once
// `fallbench proxy`: the fault proxy's flags, over proxy::run_proxy.

#include <string_view>
#include <vector>

namespace fallbench::cli {

/// Parse the flags into proxy::proxy_run_options and run the proxy (or, with --check, print the
/// timeline). @throws usage_error on a bad flag.
int proxy_main(std::vector<std::string_view> const& args);

}  // namespace fallbench::cli
