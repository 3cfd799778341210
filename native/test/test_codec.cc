// Packet codec: C-01..C-11 contents, R-01..R-06 reception checks in RFC order.
#include "harness.h"

using namespace bfdtest;

namespace {
Drop decode_fails(const std::vector<uint8_t>& b) {
  Packet p;
  Drop why = Drop::Count;
  CHECK(!decode(b.data(), b.size(), p, why));
  return why;
}
}  // namespace

TEST("codec: encode/decode round trip of every field") {
  Packet p = pkt(State::Init, 0x01020304, 0xA0B0C0D0, 123456, 654321, 7);
  p.diag = Diag::PathDown;
  p.poll = true;
  p.cpi = true;
  p.required_min_echo_rx = 99;
  auto b = raw(p);
  CHECK_EQ(b.size(), size_t(24));
  Packet q;
  Drop why;
  CHECK(decode(b.data(), b.size(), q, why));
  CHECK_EQ(q.version, uint8_t(1));
  CHECK(q.diag == Diag::PathDown);
  CHECK(q.state == State::Init);
  CHECK(q.poll && !q.final && q.cpi && !q.auth && !q.demand && !q.multipoint);
  CHECK_EQ(q.mult, uint8_t(7));
  CHECK_EQ(q.length, uint8_t(24));
  CHECK_EQ(q.my_discr, 0x01020304u);
  CHECK_EQ(q.your_discr, 0xA0B0C0D0u);
  CHECK_EQ(q.desired_min_tx, 123456u);
  CHECK_EQ(q.required_min_rx, 654321u);
  CHECK_EQ(q.required_min_echo_rx, 99u);
  CHECK_EQ(b[0], uint8_t(0x25));  // version 1 << 5 | diag 5
  CHECK_EQ(b[1], uint8_t(0xA8));  // Init << 6 | P | C
}

TEST("R-01 version other than 1 is discarded") {
  auto b = raw(pkt(State::Down, 1, 0));
  b[0] = uint8_t((2 << 5));
  CHECK(decode_fails(b) == Drop::BadVersion);
  b[0] = 0;
  CHECK(decode_fails(b) == Drop::BadVersion);
}

TEST("R-02 Length below 24 (A clear) or 26 (A set) is discarded") {
  auto b = raw(pkt(State::Down, 1, 0));
  b[3] = 23;
  CHECK(decode_fails(b) == Drop::BadLength);
  b[3] = 24;
  b[1] |= 0x04;  // A set: 24 is too short
  CHECK(decode_fails(b) == Drop::BadLength);
  b.resize(26);
  b[3] = 26;
  Packet p;
  Drop why;
  CHECK(decode(b.data(), b.size(), p, why));
  CHECK(p.auth && p.auth_section_len == 2);
}

TEST("R-03 Length greater than the payload is discarded; shorter payloads are truncated") {
  auto b = raw(pkt(State::Down, 1, 0));
  b[3] = 25;
  CHECK(decode_fails(b) == Drop::Truncated);
  CHECK(decode_fails({}) == Drop::Truncated);
  CHECK(decode_fails({0x20, 0x40, 3}) == Drop::Truncated);
  auto longer = raw(pkt(State::Down, 1, 0));
  longer.resize(40, 0xEE);  // trailing bytes beyond Length are ignored
  Packet p;
  Drop why;
  CHECK(decode(longer.data(), longer.size(), p, why));
}

TEST("R-04 Detect Mult 0 is discarded") {
  auto b = raw(pkt(State::Down, 1, 0, 1000, 1000, 0));
  CHECK(decode_fails(b) == Drop::BadMult);
}

TEST("R-05 Multipoint bit set is discarded") {
  auto b = raw(pkt(State::Down, 1, 0));
  b[1] |= 0x01;
  CHECK(decode_fails(b) == Drop::Multipoint);
}

TEST("R-06 My Discriminator 0 is discarded") {
  CHECK(decode_fails(raw(pkt(State::Down, 0, 0))) == Drop::ZeroMyDiscr);
}

TEST("R-01..R-06 apply in RFC order: the first failing check is the one counted") {
  auto b = raw(pkt(State::Down, 0, 0, 1, 1, 0));  // my discr 0 and mult 0
  b[1] |= 0x01;                                    // and M
  CHECK(decode_fails(b) == Drop::BadMult);         // R-04 before
  b[2] = 3;
  CHECK(decode_fails(b) == Drop::Multipoint);      // R-05 before R-06
  b[3] = 30;
  CHECK(decode_fails(b) == Drop::Truncated);       // R-03 before R-04
  b[3] = 10;
  CHECK(decode_fails(b) == Drop::BadLength);       // R-02 before R-03
  b[0] = 0xE0;
  CHECK(decode_fails(b) == Drop::BadVersion);      // R-01 first
}

TEST("C-01 C-02 C-03 C-04 C-05 C-06 C-07 C-08 C-09 C-10 transmitted packet contents") {
  Solo x;
  x.t.run(x.now, x.out);
  const Packet& p = x.last().p;
  CHECK_EQ(p.version, uint8_t(1));                   // C-01
  CHECK(p.diag == Diag::None && p.state == State::Down);  // C-02
  CHECK(p.poll && !p.final);                         // C-03 (the start-up Poll, never with F)
  CHECK(!p.multipoint);                              // C-04
  CHECK(!p.auth);                                    // C-05
  CHECK(!p.demand);                                  // C-06
  CHECK_EQ(p.mult, uint8_t(3));                      // C-07
  CHECK_EQ(p.length, uint8_t(24));                   // C-08
  CHECK_EQ(x.last().bytes.size(), size_t(24));
  CHECK_EQ(p.my_discr, Solo::kMine);                 // C-09
  CHECK_EQ(p.your_discr, 0u);
  CHECK_EQ(p.desired_min_tx, 1000000u);              // C-10 (slow while not Up, V-05)
  CHECK_EQ(p.required_min_rx, 100000u);
  CHECK_EQ(p.required_min_echo_rx, 0u);
  x.bring_up();
  CHECK(x.last().p.state == State::Up);
  CHECK_EQ(x.last().p.your_discr, Solo::kPeer);      // C-09 after learning
  CHECK(!x.last().p.cpi);
}
