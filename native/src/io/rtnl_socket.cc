#include "rtnl_socket.h"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace rtnl {
namespace {

std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }

bool fail(int fd, std::string& err, std::string msg) {
  err = std::move(msg);
  close(fd);
  return false;
}

}  // namespace

bool open_socket(int protocol, const std::vector<uint32_t>& groups, int receive_buffer, Socket& out, std::string& err) {
  const int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    err = sys_error("socket(AF_NETLINK, protocol " + std::to_string(protocol) + ")");
    return false;
  }
  bool forced = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer) == 0;
  if (!forced && errno != EPERM)
    return fail(fd, err, sys_error("setsockopt SO_RCVBUFFORCE " + std::to_string(receive_buffer)));
  if (!forced && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) != 0)
    return fail(fd, err, sys_error("setsockopt SO_RCVBUF " + std::to_string(receive_buffer)));
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;  // nl_pid 0: the kernel assigns a unique port id
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return fail(fd, err, sys_error("bind netlink socket"));
  for (uint32_t g : groups)
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) != 0)
      return fail(fd, err, sys_error("join netlink multicast group " + std::to_string(g)));
  socklen_t len = sizeof addr;
  int size = 0;
  socklen_t size_len = sizeof size;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return fail(fd, err, sys_error("getsockname netlink socket"));
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &size_len) != 0) return fail(fd, err, sys_error("getsockopt SO_RCVBUF"));
  out = Socket{fd, addr.nl_pid, size, forced};
  return true;
}

int64_t socket_drops(int fd) {
  uint32_t mem[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof mem;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 || len < sizeof(uint32_t) * (SK_MEMINFO_DROPS + 1)) return -1;
  return mem[SK_MEMINFO_DROPS];
}

Batch read_batch(int fd, uint8_t* buf, size_t cap) {
  return fill(
      [fd](uint8_t* dst, size_t room) {
        iovec iov{dst, room};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        // MSG_TRUNC: the real length even when it exceeds `room`, so fill() can tell.
        const ssize_t n = recvmsg(fd, &msg, MSG_TRUNC | MSG_DONTWAIT);
        return ReadResult{n, n < 0 ? errno : 0};
      },
      buf, cap);
}

}  // namespace rtnl
