// Kept apart: <linux/tcp.h> (which has the byte counters) and glibc's <netinet/tcp.h> (which Asio
// includes) both define struct tcp_info.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

namespace fallbench::transport::detail {

void read_tcp_bytes(int fd, std::uint64_t& sent, std::uint64_t& received) noexcept {
  struct tcp_info info {};
  socklen_t len = sizeof info;
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return;
  // tcpi_bytes_acked: payload bytes the peer acknowledged (RFC 4898 HCThruOctetsAcked), so what was
  // really delivered; tcpi_bytes_received: payload bytes received.
  sent += info.tcpi_bytes_acked;
  received += info.tcpi_bytes_received;
}

}  // namespace fallbench::transport::detail
