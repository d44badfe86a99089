#pragma once
// Counts heap allocations (every replaceable global operator new) so that a benchmark can assert a hot
// path allocates nothing, not only time it. alloc_counter.cpp replaces the global operators; link it
// into a benchmark executable that wants the count.

#include <cstdint>

namespace fallbench::micro {

/// Allocations made so far by the calling thread.
std::uint64_t allocations() noexcept;

}  // namespace fallbench::micro
