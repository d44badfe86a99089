#include "fallbench/bench/cpu_pin.hpp"

#include <sched.h>

#include <cerrno>
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>

namespace fallbench::bench {

namespace {

void set_cpus(std::vector<int> const& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int const cpu : cpus) CPU_SET(static_cast<std::size_t>(cpu), &set);
  if (::sched_setaffinity(0, sizeof set, &set) != 0) {
    std::string list;
    for (int const cpu : cpus) list += (list.empty() ? "" : ",") + std::to_string(cpu);
    throw std::runtime_error("cannot pin to CPUs " + list + ": " + std::strerror(errno));
  }
}

}  // namespace

scoped_cpu_pin::scoped_cpu_pin(std::vector<int> const& cpus) {
  if (cpus.empty()) return;
  previous_ = cpus_of(0);
  set_cpus(cpus);
}

scoped_cpu_pin::~scoped_cpu_pin() {
  if (previous_.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int const cpu : previous_) CPU_SET(static_cast<std::size_t>(cpu), &set);
  ::sched_setaffinity(0, sizeof set, &set);  // the mask we ran with a moment ago: nothing to report
}

std::vector<int> cpus_of(int pid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (::sched_getaffinity(pid, sizeof set, &set) != 0) return out;
  for (std::size_t cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) out.push_back(static_cast<int>(cpu));
  return out;
}

std::vector<int> cpus_of_threads(int pid) {
  std::set<int> all;
  std::error_code ec;
  for (auto const& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    int tid = 0;
    try {
      tid = std::stoi(task.path().filename().string());
    } catch (std::exception const&) {
      continue;
    }
    for (int const cpu : cpus_of(tid)) all.insert(cpu);  // a thread that just ended reads as none
  }
  return {all.begin(), all.end()};
}

}  // namespace fallbench::bench
