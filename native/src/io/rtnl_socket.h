// A netlink socket subscribed to multicast groups (rtnetlink change notifications, conntrack
// events). The receive buffer
// is what decides whether a burst of changes overflows (ENOBUFS): SO_RCVBUF is capped by the node's
// net.core.rmem_max, which a Pod cannot raise, so SO_RCVBUFFORCE (CAP_NET_ADMIN) is tried first.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/rtnl_batch.h"

namespace rtnl {

struct Socket {
  int fd = -1;
  uint32_t port_id = 0;
  int receive_buffer = 0;  // getsockopt(SO_RCVBUF): bytes the kernel will queue (twice the request)
  bool forced = false;     // SO_RCVBUFFORCE was allowed; otherwise SO_RCVBUF, capped by rmem_max
};

// Non-blocking, close-on-exec, of netlink `protocol` (NETLINK_ROUTE, NETLINK_NETFILTER). Returns
// false with `err` naming the step that failed (errno text included).
bool open_socket(int protocol, const std::vector<uint32_t>& groups, int receive_buffer, Socket& out, std::string& err);

// The kernel's count of messages it could not queue on this socket (sk_drops, through SO_MEMINFO):
// exact, where ENOBUFS only says that some were lost. -1 if the kernel does not tell.
int64_t socket_drops(int fd);

// fill() from the socket.
Batch read_batch(int fd, uint8_t* buf, size_t cap);

}  // namespace rtnl
