// Filling one batch from an rtnetlink multicast socket: datagrams back to back in one buffer, with
// the socket's loss reports counted instead of treated as failures. Kept free of syscalls (the read
// is injected) so the buffer arithmetic and the errno handling run under ASan/UBSan in unit tests.
#pragma once
#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace rtnl {

// No rtnetlink notification comes near this (the kernel sizes them to NLMSG_GOODSIZE, at most 8 KiB);
// a datagram is only read while at least this much room is left, so none is cut short by our buffer.
constexpr size_t kMaxDatagram = 64 * 1024;

// One recvmsg(2) with MSG_TRUNC: the datagram's real length (longer than the room given when the
// kernel truncated it), or -1 and the errno.
struct ReadResult {
  ssize_t len;
  int err;
};

struct Batch {
  size_t bytes = 0;       // datagrams in buf[0, bytes), each starting at a multiple of 4 (NLMSG_ALIGNTO)
  size_t datagrams = 0;
  uint32_t overflows = 0; // ENOBUFS: the receive queue overflowed, notifications were lost
  uint32_t truncated = 0; // datagrams longer than the room left (lost too)
  int fatal = 0;          // an errno other than EAGAIN/EINTR/ENOBUFS: the socket is not usable
};

constexpr size_t align4(size_t n) { return (n + 3) & ~size_t(3); }

// Reads until the socket has nothing queued (EAGAIN), fewer than kMaxDatagram bytes are left in
// buf[0, cap), or a fatal error. `read(dst, room)` receives one datagram into dst[0, room). A
// datagram whose length is not a multiple of 4 is padded with zeros, so that a reader stepping
// from message to message by NLMSG_ALIGN(nlmsg_len) lands on the next datagram's first header.
template <class Read>
Batch fill(Read&& read, uint8_t* buf, size_t cap) {
  Batch b;
  while (cap - b.bytes >= kMaxDatagram) {
    const size_t room = cap - b.bytes;
    const ReadResult r = read(buf + b.bytes, room);
    if (r.len < 0) {
      if (r.err == EINTR) continue;
      if (r.err == ENOBUFS) {  // reported once per overflow; the queued datagrams are still there
        b.overflows++;
        continue;
      }
      if (r.err != EAGAIN && r.err != EWOULDBLOCK) b.fatal = r.err;
      break;
    }
    const size_t len = size_t(r.len);
    if (align4(len) > room) {
      b.truncated++;
      continue;
    }
    for (size_t i = len; i < align4(len); i++) buf[b.bytes + i] = 0;
    b.bytes += align4(len);
    b.datagrams++;
  }
  return b;
}

}  // namespace rtnl
