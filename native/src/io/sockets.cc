#include "sockets.h"

#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bfd::io {
namespace {

std::string sys_error(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool set_int(int fd, int level, int opt, int v) { return setsockopt(fd, level, opt, &v, sizeof v) == 0; }

int fail(int fd, std::string& err, std::string msg) {
  err = std::move(msg);
  close(fd);
  return -1;
}

// Options shared by RX and TX sockets: bind to an address that may not be configured yet
// (the Pod's IP can appear after us), optionally to a device.
int base_socket(const Addr& local, const std::string& device, std::string& err) {
  const int af = local.family == 4 ? AF_INET : AF_INET6;
  int fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { err = sys_error("socket"); return -1; }
  if (!set_int(fd, SOL_IP, IP_FREEBIND, 1)) return fail(fd, err, sys_error("setsockopt IP_FREEBIND"));
  if (af == AF_INET6 && !set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1))
    return fail(fd, err, sys_error("setsockopt IPV6_V6ONLY"));
  if (!device.empty() &&
      setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device.c_str(), socklen_t(device.size())) != 0)
    return fail(fd, err, sys_error(("SO_BINDTODEVICE " + device).c_str()));
  return fd;
}

}  // namespace

bool parse_addr(const std::string& text, Addr& out) {
  uint8_t b[16];
  if (inet_pton(AF_INET, text.c_str(), b) == 1) { out = Addr::v4(b); return true; }
  if (inet_pton(AF_INET6, text.c_str(), b) == 1) { out = Addr::v6(b); return true; }
  return false;
}

std::string format_addr(const Addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.family == 4 ? AF_INET : AF_INET6, a.b, buf, sizeof buf);
  return buf;
}

SockAddr to_sockaddr(const Addr& a, uint16_t port, const std::string& device) {
  SockAddr r;
  if (a.family == 4) {
    auto* s = reinterpret_cast<sockaddr_in*>(&r.ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    std::memcpy(&s->sin_addr, a.b, 4);
    r.len = sizeof *s;
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&r.ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    std::memcpy(&s->sin6_addr, a.b, 16);
    if (IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr) && !device.empty()) s->sin6_scope_id = if_nametoindex(device.c_str());
    r.len = sizeof *s;
  }
  return r;
}

int open_rx_socket(const Addr& local, const std::string& device, std::string& err) {
  int fd = base_socket(local, device, err);
  if (fd < 0) return -1;
  const bool ok = local.family == 4
                      ? set_int(fd, SOL_IP, IP_RECVTTL, 1) && set_int(fd, SOL_IP, IP_PKTINFO, 1)
                      : set_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) && set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
  if (!ok) return fail(fd, err, sys_error("setsockopt RECVTTL/PKTINFO"));
  // Arrival time stamped by the kernel: a Detection Time runs from when the packet arrived, not
  // from when the engine thread got round to reading it.
  if (!set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1)) return fail(fd, err, sys_error("setsockopt SO_TIMESTAMPNS"));
  SockAddr sa = to_sockaddr(local, kControlPort, device);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa.ss), sa.len) != 0)
    return fail(fd, err, sys_error(("bind " + format_addr(local) + " port 3784").c_str()));
  return fd;
}

int open_tx_socket(const Addr& local, const std::string& device, uint16_t& port, std::string& err) {
  int fd = base_socket(local, device, err);
  if (fd < 0) return -1;
  const bool ok = local.family == 4
                      ? set_int(fd, SOL_IP, IP_TTL, 255) && set_int(fd, SOL_IP, IP_TOS, 0xc0)  // S-03, CS6
                      : set_int(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 255) && set_int(fd, IPPROTO_IPV6, IPV6_TCLASS, 0xc0);
  if (!ok) return fail(fd, err, sys_error("setsockopt TTL/TOS"));
  // S-02: a source port in 49152-65535, searched from `port` (the caller's rotating cursor).
  const int span = kSourcePortMax - kSourcePortMin + 1;
  if (port < kSourcePortMin) port = kSourcePortMin;
  for (int i = 0; i < span; i++) {
    const uint16_t p = uint16_t(kSourcePortMin + (port - kSourcePortMin + i) % span);
    SockAddr sa = to_sockaddr(local, p, device);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa.ss), sa.len) == 0) {
      port = p;
      // Never read (the peer sends to port 3784): the smallest buffer the kernel allows, so a
      // stray datagram to the source port pins ~4.6 KiB instead of net.core.rmem_default per
      // session. A connected socket's ICMP errors travel in sk_err, not in this buffer.
      if (!set_int(fd, SOL_SOCKET, SO_RCVBUF, 0)) return fail(fd, err, sys_error("setsockopt SO_RCVBUF"));
      return fd;
    }
    if (errno != EADDRINUSE) return fail(fd, err, sys_error(("bind " + format_addr(local)).c_str()));
  }
  return fail(fd, err, "no free source port in 49152-65535 on " + format_addr(local));
}

int set_receive_buffer(int fd, int bytes) {
  if (!set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes)) set_int(fd, SOL_SOCKET, SO_RCVBUF, bytes);
  int got = 0;
  socklen_t len = sizeof got;
  return getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0 ? got : -1;
}

bool receive_queue(int fd, ReceiveQueue& out) {
  uint32_t mem[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof mem;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 || len < sizeof mem) return false;
  out.rcvbuf = mem[SK_MEMINFO_RCVBUF];
  out.queued = mem[SK_MEMINFO_RMEM_ALLOC];
  out.drops = mem[SK_MEMINFO_DROPS];
  return true;
}

RxBatch::RxBatch() {
  for (size_t i = 0; i < kMax; i++) {
    iov_[i] = iovec{data_[i], kBytes};
    msgs_[i].msg_hdr = msghdr{};
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
}

size_t RxBatch::read(int fd) {
  for (size_t i = 0; i < kMax; i++) {  // recvmmsg overwrites the lengths
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_name = &from_[i];
    h.msg_namelen = sizeof from_[i];
    h.msg_control = control_[i];
    h.msg_controllen = sizeof control_[i];
  }
  const int n = recvmmsg(fd, msgs_, kMax, MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;
  for (int i = 0; i < n; i++) {
    msghdr& h = msgs_[i].msg_hdr;
    ttl_[i] = 0;
    arrival_[i] = 0;
    ifindex_[i] = 0;
    dst_[i] = Addr{};
    if (from_[i].ss_family == AF_INET)
      src_[i] = Addr::v4(reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(&from_[i])->sin_addr));
    else
      src_[i] = Addr::v6(reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in6*>(&from_[i])->sin6_addr));
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
      if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
        int v;
        std::memcpy(&v, CMSG_DATA(c), sizeof v);
        ttl_[i] = uint8_t(v);
      } else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        dst_[i] = Addr::v4(reinterpret_cast<const uint8_t*>(&pi.ipi_addr));
        ifindex_[i] = uint32_t(pi.ipi_ifindex);
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        dst_[i] = Addr::v6(reinterpret_cast<const uint8_t*>(&pi.ipi6_addr));
        ifindex_[i] = pi.ipi6_ifindex;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        arrival_[i] = Micros(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
      }
    }
  }
  return size_t(n);
}

}  // namespace bfd::io
