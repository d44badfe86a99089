// What the kernel alone costs per TCP segment over loopback on this machine: its part of a
// server's and a generator's cost per delivery while every delivery is its own segment (a relay
// that is not saturated writes each broadcast frame as soon as it has it). No Asio, no Beast, no
// framing: raw non-blocking sockets and epoll, doing nothing with the bytes.
//
//   loopback_send/N/G   the benchmark thread writes one 70-byte segment (a 64-byte chat and its
//                       WebSocket header) to each of N connections in turn, then sleeps G µs; a
//                       second thread reads them. Over loopback the receiver's TCP processing runs
//                       inside the sender's send, so this is what a relay's sendmsg costs per
//                       delivery. G=0: back to back, the reader always busy; N=10/G=200,
//                       N=100/G=2000 and N=1000/G=20000 are cpu-50k.json's rooms of 10, 100 and
//                       1000 (50,000 deliveries/s: a broadcast every 0.2, 2 or 20 ms), the reader
//                       idle in between, so that each segment wakes it.
//   loopback_receive/N/M  a second thread writes a segment to each of N connections, waits until
//                       they have been read, and writes the next round; the benchmark thread waits
//                       with edge-triggered epoll and reads. M=0 reads each ready socket until
//                       EAGAIN (what a reactor that cannot tell a drained socket does: Asio 1.81's
//                       speculative reads), M=1 stops at the first short read (a reactor that
//                       knows the socket is drained).
//
// Times are the benchmark thread's CPU time, so items_per_second is segments per CPU-second of one
// thread: the most one thread could move with nothing else to do. segments_per_read says how much
// the reads batched (the sender's kernel may coalesce segments written back to back: autocorking),
// segments_per_wake how many a wake of epoll_wait found.
// The two threads are pinned to two different CPUs of the process's set when it has two or more.
// bench/README.md has the command; docs/relay.md reads the figures.

#include "fallbench/bench/cpu_pin.hpp"

#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

constexpr std::size_t segment_bytes = 70;

[[noreturn]] void fail(char const* what) { throw std::runtime_error(std::string(what) + ": " + std::strerror(errno)); }

struct fd_guard {
  int fd = -1;
  explicit fd_guard(int f) : fd(f) {}
  fd_guard(fd_guard&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  fd_guard& operator=(fd_guard&&) = delete;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

void set_nonblocking(int fd) {
  if (::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) fail("fcntl");
}

/// N connected TCP pairs on 127.0.0.1 (an ephemeral port), both ends non-blocking, Nagle off on the
/// writing end as every relay and client here sets it.
struct loopback_pairs {
  std::vector<fd_guard> writers, readers;

  explicit loopback_pairs(std::size_t n) {
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < 2 * n + 64) {
      files.rlim_cur = std::min<rlim_t>(files.rlim_max, 2 * n + 64);
      if (::setrlimit(RLIMIT_NOFILE, &files) != 0) fail("setrlimit");
    }
    fd_guard listener(::socket(AF_INET, SOCK_STREAM, 0));
    if (listener.fd < 0) fail("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) fail("bind");
    socklen_t len = sizeof addr;
    if (::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) fail("getsockname");
    if (::listen(listener.fd, 128) < 0) fail("listen");
    for (std::size_t i = 0; i < n; ++i) {
      fd_guard w(::socket(AF_INET, SOCK_STREAM, 0));
      if (w.fd < 0) fail("socket");
      if (::connect(w.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) fail("connect");
      fd_guard r(::accept(listener.fd, nullptr, nullptr));
      if (r.fd < 0) fail("accept");
      int one = 1;
      ::setsockopt(w.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      set_nonblocking(w.fd);
      set_nonblocking(r.fd);
      writers.push_back(std::move(w));
      readers.push_back(std::move(r));
    }
  }
};

/// Two CPUs of the process's set, one for each thread (each empty, pinning nothing, when the set
/// has fewer than two). Read before the benchmark thread pins itself: a thread starts with its
/// creator's mask.
struct cpu_pair {
  std::vector<int> measured, helper;
  cpu_pair() {
    auto const allowed = fallbench::bench::cpus_of(0);
    if (allowed.size() < 2) return;
    measured = {allowed[0]};
    helper = {allowed[1]};
  }
};

/// The second thread: runs `body(stop)` pinned to `cpus` until destroyed.
class helper_thread {
 public:
  template <class Body>
  helper_thread(std::vector<int> cpus, Body body)
      : thread_([this, cpus = std::move(cpus), body] {
          fallbench::bench::scoped_cpu_pin pin(cpus);
          body(stop_);
        }) {}
  ~helper_thread() {
    stop_.store(true, std::memory_order_relaxed);
    thread_.join();
  }
  helper_thread(helper_thread const&) = delete;
  helper_thread& operator=(helper_thread const&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// An edge-triggered epoll set over `fds`.
fd_guard make_epoll(std::vector<fd_guard> const& fds) {
  fd_guard ep(::epoll_create1(0));
  if (ep.fd < 0) fail("epoll_create1");
  for (std::size_t i = 0; i < fds.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = i;
    if (::epoll_ctl(ep.fd, EPOLL_CTL_ADD, fds[i].fd, &ev) < 0) fail("epoll_ctl");
  }
  return ep;
}

/// N connections and an epoll set over their reading ends.
struct fixture {
  loopback_pairs pairs;
  fd_guard ep;
  explicit fixture(std::size_t n) : pairs(n), ep(make_epoll(pairs.readers)) {}
};

/// The fixture for `state.range(0)` connections, or null with the benchmark skipped saying why.
std::unique_ptr<fixture> set_up(benchmark::State& state) {
  try {
    return std::make_unique<fixture>(static_cast<std::size_t>(state.range(0)));
  } catch (std::exception const& e) {
    state.SkipWithError(e.what());
    return nullptr;
  }
}

/// Reads every socket epoll reports until EAGAIN; for the sending benchmark's other end.
void drain_until_stopped(fixture const& f, std::atomic<bool> const& stop) {
  auto const& readers = f.pairs.readers;
  std::array<epoll_event, 256> events{};
  std::vector<char> buffer(64 * 1024);
  while (!stop.load(std::memory_order_relaxed)) {
    int const n = ::epoll_wait(f.ep.fd, events.data(), static_cast<int>(events.size()), 20);
    for (int i = 0; i < n; ++i) {
      int const fd = readers[events[static_cast<std::size_t>(i)].data.u64].fd;
      while (::recv(fd, buffer.data(), buffer.size(), 0) > 0) {
      }
    }
  }
}

void loopback_send(benchmark::State& state) {
  auto const n = static_cast<std::size_t>(state.range(0));
  auto const gap = std::chrono::microseconds(state.range(1));
  auto const f = set_up(state);
  if (!f) return;
  auto const& pairs = f->pairs;
  cpu_pair const cpus;
  fallbench::bench::scoped_cpu_pin pin(cpus.measured);
  helper_thread reader(cpus.helper, [&f](std::atomic<bool> const& stop) { drain_until_stopped(*f, stop); });
  std::array<char, segment_bytes> segment{};
  segment.fill('x');
  std::int64_t full = 0;
  for (auto _ : state) {
    for (auto const& w : pairs.writers) {
      // A full send buffer means the reader fell behind: try again (counted) rather than drop.
      while (::send(w.fd, segment.data(), segment.size(), MSG_NOSIGNAL) < 0) {
        if (errno != EAGAIN) {
          state.SkipWithError("send failed");
          return;
        }
        ++full;
      }
    }
    // A pause between rounds leaves the reader idle, as a relay's receivers are between broadcasts:
    // then each segment's arrival has to wake it, and that wake is part of the sender's send.
    if (gap.count() > 0) std::this_thread::sleep_for(gap);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.counters["send_buffer_full"] = static_cast<double>(full);
}

void loopback_receive(benchmark::State& state) {
  auto const n = static_cast<std::size_t>(state.range(0));
  bool const stop_at_short_read = state.range(1) != 0;
  auto const f = set_up(state);
  if (!f) return;
  auto const& pairs = f->pairs;
  cpu_pair const cpus;
  fallbench::bench::scoped_cpu_pin pin(cpus.measured);
  // The writer sends one round (a segment to each connection) and waits until the reader has read
  // it before the next: every socket holds one segment when it is read, as in a generator that
  // keeps up with its server (a writer that ran ahead would fill the buffers, and one read would take
  // hundreds of segments).
  std::atomic<std::int64_t> consumed{0};
  helper_thread writer(cpus.helper, [&pairs, &consumed, n](std::atomic<bool> const& stop) {
    std::array<char, segment_bytes> segment{};
    segment.fill('x');
    auto const round_bytes = static_cast<std::int64_t>(n * segment_bytes);
    for (std::int64_t sent = 0; !stop.load(std::memory_order_relaxed);) {
      for (auto const& w : pairs.writers) {
        if (::send(w.fd, segment.data(), segment.size(), MSG_NOSIGNAL) < 0) return;
      }
      sent += round_bytes;
      while (consumed.load(std::memory_order_acquire) < sent && !stop.load(std::memory_order_relaxed)) {
      }
    }
  });
  std::array<epoll_event, 256> events{};
  std::vector<char> buffer(64 * 1024);
  std::int64_t bytes = 0, reads = 0, failed_reads = 0, wakes = 0;
  // One iteration is at least `per_iteration` segments, so that its cost does not swing with how
  // many segments one wake happens to find.
  constexpr std::int64_t per_iteration = 64;
  for (auto _ : state) {
    std::int64_t const until = bytes + per_iteration * static_cast<std::int64_t>(segment_bytes);
    while (bytes < until) {
      int const ready = ::epoll_wait(f->ep.fd, events.data(), static_cast<int>(events.size()), 1000);
      if (ready <= 0) {
        // The writer stopped (its send failed) or epoll did: end rather than wait forever.
        state.SkipWithError(ready == 0 ? "no segment arrived within 1 s" : "epoll_wait failed");
        return;
      }
      ++wakes;
      for (int i = 0; i < ready; ++i) {
        int const fd = pairs.readers[events[static_cast<std::size_t>(i)].data.u64].fd;
        for (;;) {
          auto const got = ::recv(fd, buffer.data(), buffer.size(), 0);
          if (got <= 0) {
            ++failed_reads;
            break;
          }
          ++reads;
          bytes += got;
          consumed.store(bytes, std::memory_order_release);
          if (stop_at_short_read && static_cast<std::size_t>(got) < buffer.size()) break;
        }
      }
    }
  }
  auto const segments = bytes / static_cast<std::int64_t>(segment_bytes);
  state.SetItemsProcessed(segments);
  state.counters["segments_per_read"] = reads > 0 ? static_cast<double>(segments) / static_cast<double>(reads) : 0;
  state.counters["failed_reads_per_segment"] =
      segments > 0 ? static_cast<double>(failed_reads) / static_cast<double>(segments) : 0;
  state.counters["segments_per_wake"] = wakes > 0 ? static_cast<double>(segments) / static_cast<double>(wakes) : 0;
}

}  // namespace

BENCHMARK(loopback_send)->ArgsProduct({{1, 100, 1000}, {0}})->Args({10, 200})->Args({100, 2000})->Args({1000, 20000});
BENCHMARK(loopback_receive)->ArgsProduct({{1, 100, 1000}, {0, 1}});
