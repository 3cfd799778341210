// libFuzzer harness: the packet decoder, then the whole receive path of a session table (plain and
// authenticated sessions, IPv4 and IPv6) driven by a script of receive / time / config / admin ops.
// Invariants checked on every packet we emit: it decodes, never P and F together, never Demand.
#include <cstdlib>
#include <cstring>

#include "core/table.h"

using namespace bfd;

namespace {

class CheckingSink final : public PacketSink {
 public:
  bool send(Session&, const uint8_t* pkt, size_t len) override {
    Packet p;
    Drop why;
    if (!decode(pkt, len, p, why) || (p.poll && p.final) || p.demand || p.desired_min_tx < kMinIntervalUs) abort();
    return true;
  }
};

struct Peer {
  Addr local, remote;
  AuthType auth;
};

Addr v4(uint8_t last) { const uint8_t b[4] = {10, 0, 0, last}; return Addr::v4(b); }
Addr v6(uint8_t last) { uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8}; b[15] = last; return Addr::v6(b); }

const Peer kPeers[] = {
    {v4(1), v4(2), AuthType::None},          {v4(1), v4(3), AuthType::Simple},
    {v4(1), v4(4), AuthType::MeticulousMd5}, {v4(1), v4(5), AuthType::KeyedSha1},
    {v6(1), v6(2), AuthType::None},          {v4(1), v4(9), AuthType::None},  // .9 is not configured
};
constexpr size_t kConfigured = 5;

SessionConfig config_for(size_t i) {
  SessionConfig c;
  c.local = kPeers[i].local;
  c.remote = kPeers[i].remote;
  c.local_discr = uint32_t(i + 1);
  c.min_tx_us = c.min_rx_us = 50000;
  c.min_ttl = 254;
  c.auth.type = kPeers[i].auth;
  if (c.auth.type != AuthType::None) {
    c.auth.key_id = 1;
    c.auth.key_len = 4;
    std::memcpy(c.auth.key, "fuzz", 4);
  }
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    Packet p;
    Drop why;
    decode(data, size, p, why);
  }
  if (size < 1) return 0;
  XorShiftRandom rng(data[0] + 1);
  Table t(rng);
  CheckingSink sink;
  Micros now = 1000000;
  for (size_t i = 0; i < kConfigured; i++)
    if (t.add(config_for(i), now) != nullptr) abort();
  size_t pos = 1;
  auto next = [&]() -> uint8_t { return pos < size ? data[pos++] : 0; };
  while (pos < size) {
    const uint8_t op = next();
    const size_t peer = (op >> 2) % (sizeof kPeers / sizeof kPeers[0]);
    switch (op & 3) {
      case 0: {  // receive a datagram, optionally patched to reach deeper states
        const size_t len = next() % 80;
        uint8_t buf[80] = {};
        for (size_t k = 0; k < len && pos < size; k++) buf[k] = data[pos++];
        if ((op & 0x40) && len >= 12) {
          buf[0] = uint8_t(0x20 | (buf[0] & 0x1f));  // version 1
          buf[3] = uint8_t(len < 24 ? len : (buf[1] & 0x04) ? len : 24);
          const uint32_t your = (op & 0x80) ? uint32_t(peer + 1) : 0;
          put32(buf + 8, your);
        }
        t.receive(RxMeta{kPeers[peer].local, kPeers[peer].remote, uint8_t(next() | 0xf0)}, buf, len, now);
        break;
      }
      case 1:  // time passes
        now += Micros(next()) * 2000 + next();
        break;
      case 2: {  // live configuration change (timers, multiplier, role)
        if (peer >= kConfigured) break;
        SessionConfig c = config_for(peer);
        c.min_tx_us = 1000u + uint32_t(next()) * 1000u;
        c.min_rx_us = 1000u + uint32_t(next()) * 1000u;
        c.mult = uint8_t(1 + next() % 5);
        c.passive = op & 0x80;
        if (t.change(c, now) != nullptr) abort();
        break;
      }
      case 3: {  // admin operations
        if (peer >= kConfigured) break;
        const uint8_t what = next() % 4;
        if (what == 0) t.admin_down(kPeers[peer].local, kPeers[peer].remote, Diag::AdminDown, now);
        else if (what == 1) t.admin_up(kPeers[peer].local, kPeers[peer].remote, now);
        else if (what == 2) t.drain(now);
        else if (t.remove(kPeers[peer].local, kPeers[peer].remote, sink, now) && t.add(config_for(peer), now)) abort();
        break;
      }
    }
    t.run(now, sink);
    if (t.wake_time() <= now) abort();  // every deadline at or before now has been handled
  }
  return 0;
}
