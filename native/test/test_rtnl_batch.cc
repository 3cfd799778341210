// rtnl::fill: how one batch is read from an rtnetlink multicast socket (scripted reads, so every
// errno path and the buffer boundaries run under ASan/UBSan).
#include <cstring>
#include <deque>
#include <vector>

#include "check.h"
#include "io/rtnl_batch.h"

namespace {

// A scripted socket: each step is a datagram (its bytes) or an errno; an empty script is EAGAIN.
struct Step {
  std::vector<uint8_t> bytes;
  int err = 0;
};

struct ScriptedSocket {
  std::deque<Step> script;
  std::vector<size_t> rooms;  // the room offered to each read

  rtnl::ReadResult operator()(uint8_t* dst, size_t room) {
    rooms.push_back(room);
    if (script.empty()) return {-1, EAGAIN};
    Step s = script.front();
    script.pop_front();
    if (s.err) return {-1, s.err};
    // As recvmsg(MSG_TRUNC): copy what fits, return the real length.
    std::memcpy(dst, s.bytes.data(), std::min(room, s.bytes.size()));
    return {ssize_t(s.bytes.size()), 0};
  }
};

Step datagram(size_t len, uint8_t fill) { return {std::vector<uint8_t>(len, fill), 0}; }
Step error(int err) { return {{}, err}; }

}  // namespace

TEST("rtnl: datagrams are stored back to back until the socket is empty") {
  ScriptedSocket s;
  s.script = {datagram(20, 0xA1), datagram(36, 0xB2), datagram(4, 0xC3)};
  std::vector<uint8_t> buf(rtnl::kMaxDatagram * 2);
  const rtnl::Batch b = rtnl::fill(s, buf.data(), buf.size());
  CHECK_EQ(b.bytes, size_t(60));
  CHECK_EQ(b.datagrams, size_t(3));
  CHECK_EQ(b.overflows, 0u);
  CHECK_EQ(b.truncated, 0u);
  CHECK_EQ(b.fatal, 0);
  CHECK_EQ(buf[0], uint8_t(0xA1));
  CHECK_EQ(buf[19], uint8_t(0xA1));
  CHECK_EQ(buf[20], uint8_t(0xB2));
  CHECK_EQ(buf[55], uint8_t(0xB2));
  CHECK_EQ(buf[56], uint8_t(0xC3));
  CHECK_EQ(s.rooms.size(), size_t(4));  // three datagrams, then EAGAIN
  CHECK_EQ(s.rooms[1], buf.size() - 20);
}

TEST("rtnl: ENOBUFS is counted and reading goes on; EINTR is retried") {
  ScriptedSocket s;
  s.script = {error(ENOBUFS), datagram(16, 1), error(EINTR), datagram(16, 2), error(ENOBUFS), datagram(16, 3)};
  std::vector<uint8_t> buf(rtnl::kMaxDatagram * 2);
  const rtnl::Batch b = rtnl::fill(s, buf.data(), buf.size());
  CHECK_EQ(b.overflows, 2u);
  CHECK_EQ(b.datagrams, size_t(3));
  CHECK_EQ(b.bytes, size_t(48));
  CHECK_EQ(b.fatal, 0);
  CHECK_EQ(buf[47], uint8_t(3));
}

TEST("rtnl: an error other than EAGAIN, EINTR or ENOBUFS ends the batch as fatal, keeping what was read") {
  ScriptedSocket s;
  s.script = {datagram(16, 7), error(EBADF), datagram(16, 8)};
  std::vector<uint8_t> buf(rtnl::kMaxDatagram * 2);
  const rtnl::Batch b = rtnl::fill(s, buf.data(), buf.size());
  CHECK_EQ(b.fatal, EBADF);
  CHECK_EQ(b.datagrams, size_t(1));
  CHECK_EQ(b.bytes, size_t(16));
  CHECK_EQ(s.script.size(), size_t(1));  // nothing read after the fatal error
}

TEST("rtnl: a datagram longer than the room left is counted as truncated, not stored") {
  ScriptedSocket s;
  s.script = {datagram(16, 1), datagram(rtnl::kMaxDatagram, 2), datagram(8, 3)};
  std::vector<uint8_t> buf(rtnl::kMaxDatagram + 16);
  const rtnl::Batch b = rtnl::fill(s, buf.data(), buf.size());
  // After the first datagram only kMaxDatagram bytes are left: the 64 KiB one fits exactly.
  CHECK_EQ(b.truncated, 0u);
  CHECK_EQ(b.datagrams, size_t(2));
  CHECK_EQ(b.bytes, rtnl::kMaxDatagram + 16);
  CHECK_EQ(s.script.size(), size_t(1));  // no room for another maximum-size datagram: the batch ends

  ScriptedSocket t;
  t.script = {datagram(rtnl::kMaxDatagram + 1, 9), datagram(8, 4)};
  std::vector<uint8_t> small(rtnl::kMaxDatagram);
  const rtnl::Batch c = rtnl::fill(t, small.data(), small.size());
  CHECK_EQ(c.truncated, 1u);
  CHECK_EQ(c.datagrams, size_t(1));
  CHECK_EQ(c.bytes, size_t(8));
  CHECK_EQ(small[0], uint8_t(4));  // the truncated bytes were overwritten by the next datagram
}

TEST("rtnl: a datagram whose length is not a multiple of 4 is padded with zeros") {
  ScriptedSocket s;
  s.script = {datagram(18, 0xEE), datagram(4, 0xDD)};
  std::vector<uint8_t> buf(rtnl::kMaxDatagram * 2, 0x55);
  const rtnl::Batch b = rtnl::fill(s, buf.data(), buf.size());
  CHECK_EQ(b.bytes, size_t(24));
  CHECK_EQ(buf[17], uint8_t(0xEE));
  CHECK_EQ(buf[18], uint8_t(0));
  CHECK_EQ(buf[19], uint8_t(0));
  CHECK_EQ(buf[20], uint8_t(0xDD));
  CHECK_EQ(s.rooms[1], buf.size() - 20);

  // Padding that fits exactly; and a datagram that fits only without its padding, which is not
  // stored (the padding would be written past the end of the buffer).
  ScriptedSocket t;
  t.script = {datagram(rtnl::kMaxDatagram - 1, 1)};
  std::vector<uint8_t> exact(rtnl::kMaxDatagram);
  const rtnl::Batch c = rtnl::fill(t, exact.data(), exact.size());
  CHECK_EQ(c.bytes, rtnl::kMaxDatagram);
  CHECK_EQ(exact[rtnl::kMaxDatagram - 1], uint8_t(0));
  ScriptedSocket u;
  u.script = {datagram(rtnl::kMaxDatagram + 1, 2)};
  std::vector<uint8_t> odd(rtnl::kMaxDatagram + 1);
  const rtnl::Batch d = rtnl::fill(u, odd.data(), odd.size());
  CHECK_EQ(d.truncated, 1u);
  CHECK_EQ(d.bytes, size_t(0));
}

TEST("rtnl: a buffer smaller than one maximum-size datagram reads nothing") {
  ScriptedSocket s;
  s.script = {datagram(16, 1)};
  std::vector<uint8_t> buf(rtnl::kMaxDatagram - 1);
  const rtnl::Batch b = rtnl::fill(s, buf.data(), buf.size());
  CHECK_EQ(b.bytes, size_t(0));
  CHECK(s.rooms.empty());
}
