#pragma once
// What every fuzz target uses to state an oracle: a broken invariant aborts with a message, so
// libFuzzer records the input as a crash (assert() would vanish in a build with NDEBUG).

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)
