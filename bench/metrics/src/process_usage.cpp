#include "fallbench/metrics/process_usage.hpp"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>

namespace fallbench::metrics {
namespace {

std::optional<std::string> read_file(std::string const& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return text;
}

/// The value of a "Name:   123 kB" line of /proc/<pid>/status, in bytes.
std::optional<std::int64_t> status_kib_field(std::string_view status, std::string_view name) {
  std::size_t pos = 0;
  while (pos < status.size()) {
    std::size_t const eol = std::min(status.find('\n', pos), status.size());
    std::string_view line = status.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() <= name.size() || line.substr(0, name.size()) != name || line[name.size()] != ':') continue;
    line.remove_prefix(name.size() + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    std::int64_t kib = 0;
    auto const [end, ec] = std::from_chars(line.data(), line.data() + line.size(), kib);
    if (ec != std::errc{}) return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

struct memory {
  std::int64_t rss_bytes = 0;
  std::int64_t peak_rss_bytes = 0;
  std::int64_t anon_rss_bytes = 0;
};

std::optional<memory> read_memory(std::string const& status_path) {
  auto const status = read_file(status_path);
  if (!status) return std::nullopt;
  auto const rss = status_kib_field(*status, "VmRSS");
  auto const peak = status_kib_field(*status, "VmHWM");
  if (!rss || !peak) return std::nullopt;
  return memory{*rss, *peak, status_kib_field(*status, "RssAnon").value_or(0)};
}

std::chrono::nanoseconds from_timeval(timeval const& tv) {
  return std::chrono::seconds{tv.tv_sec} + std::chrono::microseconds{tv.tv_usec};
}

}  // namespace

std::optional<process_usage> sample_process(pid_t pid) {
  process_usage u;
  u.at = now();
  std::string const dir = "/proc/" + std::to_string(pid);
  auto const stat = read_file(dir + "/stat");
  if (!stat) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields count from the last
  // ')'. After it, field 3 (state) is token 0, utime (14) token 11, stime (15) token 12 (proc(5)).
  auto const close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat->substr(close + 1));
  std::string token;
  long long utime = -1;
  long long stime = -1;
  for (int i = 0; i <= 12 && fields >> token; ++i) {
    long long* into = i == 11 ? &utime : i == 12 ? &stime : nullptr;
    if (into == nullptr) continue;
    auto const [end, ec] = std::from_chars(token.data(), token.data() + token.size(), *into);
    if (ec != std::errc{} || end != token.data() + token.size()) return std::nullopt;
  }
  if (utime < 0 || stime < 0) return std::nullopt;
  long const ticks_per_second = sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0) return std::nullopt;
  auto const tick = std::chrono::nanoseconds{1'000'000'000 / ticks_per_second};
  u.user_cpu = tick * utime;
  u.system_cpu = tick * stime;

  auto const mem = read_memory(dir + "/status");
  if (!mem) return std::nullopt;
  u.rss_bytes = mem->rss_bytes;
  u.peak_rss_bytes = mem->peak_rss_bytes;
  u.anon_rss_bytes = mem->anon_rss_bytes;
  return u;
}

process_usage sample_self() {
  process_usage u;
  u.at = now();
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    u.user_cpu = from_timeval(ru.ru_utime);
    u.system_cpu = from_timeval(ru.ru_stime);
    u.peak_rss_bytes = std::int64_t{ru.ru_maxrss} * 1024;  // kilobytes on Linux
  }
  if (auto const mem = read_memory("/proc/self/status")) {
    u.rss_bytes = mem->rss_bytes;
    u.peak_rss_bytes = mem->peak_rss_bytes;
    u.anon_rss_bytes = mem->anon_rss_bytes;
  }
  return u;
}

std::chrono::nanoseconds thread_cpu_time() noexcept {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return std::chrono::nanoseconds{0};
  return std::chrono::seconds{ts.tv_sec} + std::chrono::nanoseconds{ts.tv_nsec};
}

double cpu_utilisation(process_usage const& earlier, process_usage const& later) noexcept {
  auto const wall = later.at - earlier.at;
  if (wall <= duration::zero()) return 0.0;
  return to_seconds(later.cpu() - earlier.cpu()) / to_seconds(wall);
}

cpu_meter::cpu_meter(std::optional<pid_t> pid) : pid_(pid) {
  if (auto const s = sample()) last_ = *s;
}

std::optional<process_usage> cpu_meter::sample() const {
  if (!pid_) return sample_self();
  return sample_process(*pid_);
}

std::optional<double> cpu_meter::next() {
  auto const s = sample();
  if (!s) return std::nullopt;
  double const used = last_.at == time_point{} ? 0.0 : cpu_utilisation(last_, *s);
  last_ = *s;
  return used;
}

}  // namespace fallbench::metrics
