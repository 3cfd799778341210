// UDP sockets for single-hop BFD (RFC 5881): a receive socket on port 3784 per local address and
// a transmit socket per session (TTL 255, DSCP CS6, fixed source port in 49152-65535).
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "core/types.h"

namespace bfd::io {

constexpr uint16_t kControlPort = 3784;
constexpr uint16_t kSourcePortMin = 49152;
constexpr uint16_t kSourcePortMax = 65535;

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
};

// Parses "192.0.2.1" / "2001:db8::1"; false if neither.
bool parse_addr(const std::string& text, Addr& out);
std::string format_addr(const Addr& a);
SockAddr to_sockaddr(const Addr& a, uint16_t port, const std::string& device);

// Each returns the fd, or -1 with `err` naming what failed (errno text included).
int open_rx_socket(const Addr& local, const std::string& device, std::string& err);
int open_tx_socket(const Addr& local, const std::string& device, uint16_t& port_inout, std::string& err);

// Receive buffer: asks for `bytes` (SO_RCVBUFFORCE with CAP_NET_ADMIN, else SO_RCVBUF, which the
// kernel caps at net.core.rmem_max) and returns what the socket got (the kernel doubles the
// request for its bookkeeping), or -1.
int set_receive_buffer(int fd, int bytes);

// The kernel's own view of a socket's receive side (SO_MEMINFO): the buffer, what is queued in it
// and how many datagrams it dropped since it was opened (the per-socket count behind UDP's
// RcvbufErrors). False if the kernel would not say.
struct ReceiveQueue {
  uint32_t rcvbuf = 0, queued = 0, drops = 0;
};
bool receive_queue(int fd, ReceiveQueue& out);

// Datagrams read with one recvmmsg, each with its source, destination and ingress interface
// (IP_PKTINFO), TTL and the kernel's arrival timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME µs; 0 when absent).
class RxBatch {
 public:
  static constexpr size_t kMax = 32;
  static constexpr size_t kBytes = 512;  // longer datagrams are truncated: no BFD packet is that long
  RxBatch();
  // Reads up to kMax queued datagrams; returns how many (0 when none are queued or on error).
  size_t read(int fd);
  const uint8_t* data(size_t i) const { return data_[i]; }
  size_t len(size_t i) const { return msgs_[i].msg_len; }
  const Addr& src(size_t i) const { return src_[i]; }
  const Addr& dst(size_t i) const { return dst_[i]; }
  uint8_t ttl(size_t i) const { return ttl_[i]; }
  Micros arrival(size_t i) const { return arrival_[i]; }
  uint32_t ifindex(size_t i) const { return ifindex_[i]; }  // ingress interface, 0 if not reported

 private:
  mmsghdr msgs_[kMax];
  iovec iov_[kMax];
  sockaddr_storage from_[kMax];
  alignas(cmsghdr) uint8_t control_[kMax][128];
  uint8_t data_[kMax][kBytes];
  Addr src_[kMax], dst_[kMax];
  uint8_t ttl_[kMax];
  Micros arrival_[kMax];
  uint32_t ifindex_[kMax];
};

}  // namespace bfd::io
