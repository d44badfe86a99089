#pragma once
// Tests that need a program this machine may not have (redis-server, haproxy, node) skip themselves:
// exit 77, which their ctest registration reads as skipped (SKIP_RETURN_CODE 77), saying why.

#include <cstdlib>
#include <iostream>
#include <string>

namespace fallbench::integration {

/// Exit 77 (SKIP_RETURN_CODE) unless `program` is on PATH: the test needs it and cannot run without.
inline void need(char const* program) {
  std::string const probe = std::string("command -v ") + program + " >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0) {
    std::cerr << "SKIP: " << program << " is not installed (Debian package " << program << "); this test needs it\n";
    std::exit(77);
  }
}

}  // namespace fallbench::integration
