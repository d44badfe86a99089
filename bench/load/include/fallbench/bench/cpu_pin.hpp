#pragma once
/// Pinning to CPUs (sched_setaffinity): the generator's threads and the targets' processes, so the
/// server and the generator do not share a core. Startup code: throws.

#include <vector>

namespace fallbench::bench {

/// Pins the calling thread to `cpus` while it lives; every thread and process it starts meanwhile
/// inherits the mask (a child from fork, a thread from its creator). Restores the previous mask when
/// it ends. Empty `cpus`: changes nothing.
class scoped_cpu_pin {
 public:
  /// @throws std::runtime_error when the kernel refuses the mask (a CPU outside this cpuset).
  explicit scoped_cpu_pin(std::vector<int> const& cpus);
  ~scoped_cpu_pin();
  scoped_cpu_pin(scoped_cpu_pin const&) = delete;
  scoped_cpu_pin& operator=(scoped_cpu_pin const&) = delete;

 private:
  std::vector<int> previous_;
};

/// The CPUs thread or process `pid` may run on (0: the calling thread), ascending; empty if unknown.
std::vector<int> cpus_of(int pid);

/// The CPUs any thread of process `pid` may run on (the union over /proc/PID/task), ascending; empty
/// if unknown. What a pinned target's threads really got, those it started after the fork included.
std::vector<int> cpus_of_threads(int pid);

}  // namespace fallbench::bench
