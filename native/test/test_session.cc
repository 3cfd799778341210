// Session state machine, timers, Poll/Final, detection, transmission, admin (RFC 5880 §6.8).
#include "harness.h"

using namespace bfdtest;

TEST("V-01 V-04 V-06 V-07 initial state variables") {
  Solo x;
  CHECK(x.s().state() == State::Down);
  CHECK(x.s().remote_state() == State::Down);
  CHECK(x.s().diag() == Diag::None);
  CHECK_EQ(x.s().remote_discr(), 0u);  // V-03 initial
  CHECK_EQ(x.s().remote_min_rx(), 1u);
  CHECK(!x.s().remote_demand());
}

TEST("V-05 N-04 slow 1 s DesiredMinTx while not Up; RequiredMinRx configured from the start (OVN profile)") {
  Solo x;
  x.advance(ms(3500));
  CHECK_EQ(x.out.sent.size(), size_t(4));  // t=0, 1, 2, 3 s
  for (auto g : x.gaps_since(0)) CHECK_EQ(g, ms(1000));
  for (auto& s : x.out.sent) {
    CHECK_EQ(s.p.desired_min_tx, 1000000u);
    CHECK_EQ(s.p.required_min_rx, 100000u);
  }
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  CHECK(x.s().state() == State::Init);
  CHECK_EQ(x.last().p.desired_min_tx, 1000000u);  // Init is not Up either
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));
  CHECK(x.s().state() == State::Up);
  CHECK_EQ(x.last().p.desired_min_tx, 100000u);   // configured value once Up
}

TEST("V-02 V-08 D-03 configuration checks: non-zero unique discriminator, multiplier, TTL, families, no sub-ms") {
  ScriptedRandom r;
  Table t(r);
  const Addr a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2), c = v4(10, 0, 0, 3);
  CHECK(t.add(config(a, b, 0), kStart) != nullptr);
  SessionConfig m = config(a, b, 1);
  m.mult = 0;
  CHECK(t.add(m, kStart) != nullptr);
  SessionConfig ttl = config(a, b, 1);
  ttl.min_ttl = 0;
  CHECK(t.add(ttl, kStart) != nullptr);
  CHECK(t.add(config(a, v6(2), 1), kStart) != nullptr);
  SessionConfig subms = config(a, b, 1);
  subms.min_rx_us = 999;  // OVN would truncate it to 0 ms = "don't send"
  CHECK(t.add(subms, kStart) != nullptr);
  CHECK(t.add(config(a, b, 1), kStart) == nullptr);
  CHECK(t.add(config(a, c, 1), kStart) != nullptr);  // discriminator taken
  CHECK(t.add(config(a, b, 2), kStart) != nullptr);  // pair taken
  CHECK(t.add(config(a, c, 2), kStart) == nullptr);
  CHECK_EQ(t.size(), size_t(2));
}

TEST("D-01 T-05 a passive session sends nothing until it has heard from the peer") {
  SessionConfig c = config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine);
  c.passive = true;
  Solo x(c);
  x.advance(ms(5000));
  CHECK(x.out.sent.empty());
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  CHECK(!x.out.sent.empty());
  CHECK(x.last().p.state == State::Init);
  x.advance(ms(300));  // the peer went quiet: detection, RemoteDiscr forgotten (V-03)
  CHECK(x.s().state() == State::Down);
  const size_t n = x.out.sent.size();
  x.advance(ms(5000));
  CHECK_EQ(x.out.sent.size(), n);  // passive and RemoteDiscr 0 again: silent
}

TEST("R-17 T-09 Down + Down -> Init, and the new state goes out at once") {
  Solo x;
  x.advance(ms(10));
  const size_t before = x.out.sent.size();
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  CHECK(x.s().state() == State::Init);
  CHECK_EQ(x.out.sent.size(), before + 1);
  CHECK_EQ(x.last().at, x.now);
  CHECK(x.last().p.state == State::Init);
  CHECK_EQ(x.last().p.your_discr, Solo::kPeer);
}

TEST("R-17 Down + Init -> Up; Down + Up -> no change") {
  Solo x;
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));
  CHECK(x.s().state() == State::Down);
  CHECK_EQ(x.s().remote_discr(), Solo::kPeer);  // R-11 still applies
  x.inject(pkt(State::Init, Solo::kPeer, Solo::kMine));
  CHECK(x.s().state() == State::Up);
  CHECK(x.s().diag() == Diag::None);
}

TEST("R-18 Init + Init -> Up, Init + Up -> Up, Init + Down -> stays Init") {
  for (State rx : {State::Init, State::Up}) {
    Solo x;
    x.inject(pkt(State::Down, Solo::kPeer, 0));
    CHECK(x.s().state() == State::Init);
    x.inject(pkt(rx, Solo::kPeer, Solo::kMine));
    CHECK(x.s().state() == State::Up);
  }
  Solo y;
  y.inject(pkt(State::Down, Solo::kPeer, 0));
  y.inject(pkt(State::Down, Solo::kPeer, 0));
  CHECK(y.s().state() == State::Init);
  CHECK_EQ(y.s().counters().transitions, uint64_t(1));
}

TEST("R-19 Up + Down -> Down with diag 3 (NeighborDown)") {
  Solo x;
  x.bring_up();
  x.inject(pkt(State::Down, Solo::kPeer, Solo::kMine));
  CHECK(x.s().state() == State::Down);
  CHECK(x.s().diag() == Diag::NeighborDown);
  CHECK_EQ(x.s().counters().flaps, uint64_t(1));
  CHECK(x.last().p.state == State::Down && x.last().p.diag == Diag::NeighborDown);
}

TEST("R-16 received AdminDown: Up/Init -> Down diag 3; Down stays Down") {
  Solo x;
  x.bring_up();
  x.inject(pkt(State::AdminDown, Solo::kPeer, Solo::kMine));
  CHECK(x.s().state() == State::Down);
  CHECK(x.s().diag() == Diag::NeighborDown);
  Solo y;
  y.inject(pkt(State::Down, Solo::kPeer, 0));
  y.inject(pkt(State::AdminDown, Solo::kPeer, Solo::kMine));
  CHECK(y.s().state() == State::Down);
  CHECK(y.s().diag() == Diag::NeighborDown);
  Solo z;
  z.inject(pkt(State::AdminDown, Solo::kPeer, 0));
  CHECK(z.s().state() == State::Down);
  CHECK_EQ(z.s().counters().transitions, uint64_t(0));
}

TEST("R-11 R-14 the remote view is learned from every accepted packet") {
  Solo x;
  Packet p = pkt(State::Down, Solo::kPeer, 0, 250000, 50000, 4);
  p.diag = Diag::PathDown;
  x.inject(p);
  CHECK_EQ(x.s().remote_discr(), Solo::kPeer);
  CHECK(x.s().remote_state() == State::Down);
  CHECK(x.s().remote_diag() == Diag::PathDown);
  CHECK_EQ(x.s().remote_min_rx(), 50000u);
  CHECK_EQ(x.s().remote_min_tx(), 250000u);
  CHECK_EQ(x.s().remote_mult(), uint8_t(4));
  CHECK_EQ(x.s().detect_time(), Micros(4 * 250000));
  CHECK_EQ(x.s().counters().packets_in, uint64_t(1));
}

TEST("R-15 A-01 while AdminDown received packets change nothing but are counted") {
  Solo x;
  x.t.admin_down(x.local, x.peer, Diag::AdminDown, x.now);
  x.inject(pkt(State::Init, Solo::kPeer, Solo::kMine));
  CHECK(x.s().state() == State::AdminDown);
  CHECK_EQ(x.s().counters().drops[size_t(Drop::LocalAdminDown)], uint64_t(1));
  CHECK_EQ(x.s().remote_discr(), Solo::kPeer);  // R-11 happens before R-15
  Packet poll = pkt(State::Up, Solo::kPeer, Solo::kMine);
  poll.poll = true;
  const size_t n = x.out.sent.size();
  x.inject(poll);
  CHECK_EQ(x.out.sent.size(), n);  // R-15 precedes R-21
}

TEST("A-01 admin down: AdminDown diag 7 at once, kept up at the slow rate; admin up -> Down -> Up") {
  Solo x;
  x.bring_up();
  x.advance(ms(30));
  CHECK(x.t.admin_down(x.local, x.peer, Diag::AdminDown, x.now));
  x.t.run(x.now, x.out);
  CHECK_EQ(x.last().at, x.now);
  CHECK(x.last().p.state == State::AdminDown && x.last().p.diag == Diag::AdminDown);
  CHECK_EQ(x.s().counters().flaps, uint64_t(1));
  const Micros t0 = x.now;
  x.advance(ms(3050));
  CHECK(x.out.count_since(t0 + 1) >= size_t(3));
  for (size_t i = x.out.sent.size() - 3; i < x.out.sent.size(); i++) {
    CHECK(x.out.sent[i].p.state == State::AdminDown);
    CHECK_EQ(x.out.sent[i].p.desired_min_tx, 1000000u);  // N-04 applies to AdminDown too
  }
  CHECK(x.t.admin_up(x.local, x.peer, x.now));
  CHECK(x.s().state() == State::Down);
  x.inject(pkt(State::Init, Solo::kPeer, Solo::kMine));
  CHECK(x.s().state() == State::Up);
}

TEST("R-21 T-08 a Poll is answered with a Final at once, outside the schedule") {
  Solo x;
  x.bring_up();
  x.advance(ms(20));
  Packet p = pkt(State::Up, Solo::kPeer, Solo::kMine);
  p.poll = true;
  x.inject(p);
  CHECK_EQ(x.last().at, x.now);
  CHECK(x.last().p.final);
  CHECK(!x.last().p.poll);
}

TEST("C-03 never P and F together: a Final sent during our own Poll has P clear") {
  Solo x;
  x.bring_up();
  x.advance(ms(250));  // the Up transition's own Poll: answer it
  Packet f = pkt(State::Up, Solo::kPeer, Solo::kMine);
  f.final = true;
  x.inject(f);
  CHECK(!x.s().poll_active());
  SessionConfig c = x.s().config();
  c.min_tx_us = 200000;
  x.t.change(c, x.now);
  CHECK(x.s().poll_active());
  Packet p = pkt(State::Up, Solo::kPeer, Solo::kMine);
  p.poll = true;
  x.inject(p);
  CHECK(x.last().p.final && !x.last().p.poll);
  x.advance(ms(101));
  CHECK(x.last().p.poll && !x.last().p.final);
  for (auto& s : x.out.sent) CHECK(!(s.p.poll && s.p.final));
}

TEST("N-01 N-08 R-13 a timer change while Up starts a Poll on the periodic packets only; the Final ends it") {
  Solo x;
  x.bring_up();
  Packet f = pkt(State::Up, Solo::kPeer, Solo::kMine);
  f.final = true;
  x.advance(ms(5));
  x.inject(f);  // end the Poll that going Up started
  x.keep_peer(ms(100));
  x.advance(ms(500));
  const size_t n = x.out.sent.size();
  const uint64_t polls = x.s().counters().polls_sent;
  SessionConfig c = x.s().config();
  c.min_rx_us = 200000;
  x.t.change(c, x.now);
  x.t.run(x.now, x.out);
  CHECK_EQ(x.out.sent.size(), n);  // no extra packet for the Poll
  x.advance(ms(1000));
  CHECK_EQ(x.out.sent.size() - n, size_t(10));  // still one per 100 ms
  for (size_t i = n; i < x.out.sent.size(); i++) CHECK(x.out.sent[i].p.poll);
  CHECK_EQ(x.s().counters().polls_sent - polls, uint64_t(10));
  x.inject(f);
  CHECK(!x.s().poll_active());
  CHECK_EQ(x.s().counters().finals_received, uint64_t(2));
  x.advance(ms(300));
  CHECK(!x.last().p.poll);
}

TEST("N-02 a slower DesiredMinTx while Up takes effect only after the Final") {
  Solo x;
  x.bring_up();
  x.keep_peer(ms(100));
  x.advance(ms(300));
  Packet f = pkt(State::Up, Solo::kPeer, Solo::kMine);
  f.final = true;
  x.inject(f);
  SessionConfig c = x.s().config();
  c.min_tx_us = 300000;
  x.t.change(c, x.now);
  CHECK_EQ(x.s().advertised_tx(), 300000u);  // advertised at once
  CHECK_EQ(x.s().tx_interval(), Micros(100000));  // used only after the Final
  size_t n = x.out.sent.size();
  x.advance(ms(1000));
  for (auto g : x.gaps_since(n - 1)) CHECK_EQ(g, ms(100));
  x.inject(f);
  CHECK_EQ(x.s().tx_interval(), Micros(300000));
  n = x.out.sent.size();
  x.advance(ms(1000));
  for (auto g : x.gaps_since(n - 1)) CHECK_EQ(g, ms(300));
}

TEST("N-03 a lower RequiredMinRx while Up is used for detection only after the Final") {
  Solo x(config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine, 100, 300));
  x.bring_up();
  Packet up = pkt(State::Up, Solo::kPeer, Solo::kMine);
  Packet f = up;
  f.final = true;
  x.inject(f);
  CHECK_EQ(x.s().detect_time(), ms(900));
  SessionConfig c = x.s().config();
  c.min_rx_us = 50000;
  x.t.change(c, x.now);
  x.inject(up);
  CHECK_EQ(x.s().detect_time(), ms(900));  // old RequiredMinRx until the Final
  CHECK_EQ(x.s().advertised_rx(), 50000u);
  x.inject(f);
  CHECK_EQ(x.s().detect_time(), ms(300));  // 3 x max(50, peer's 100)
}

TEST("N-06 a higher RequiredMinRx applies to detection at once") {
  Solo x;
  x.bring_up();
  SessionConfig c = x.s().config();
  c.min_rx_us = 500000;
  x.t.change(c, x.now);
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));
  CHECK_EQ(x.s().detect_time(), ms(1500));
}

TEST("N-05 T-04 the peer lowering its RequiredMinRx is honoured at once; raising it slows us") {
  Solo x;
  x.bring_up(100000, 1000000);  // peer wants 1 s
  x.advance(ms(5));
  CHECK_EQ(x.s().tx_interval(), Micros(1000000));
  const size_t n = x.out.sent.size();
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine, 100000, 100000));
  x.advance(ms(101));
  CHECK(x.out.sent.size() > n);  // well before the old 1 s deadline
  CHECK_EQ(x.s().tx_interval(), Micros(100000));
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine, 100000, 400000));
  x.keep_peer(ms(100), pkt(State::Up, Solo::kPeer, Solo::kMine, 100000, 400000));
  const size_t m = x.out.sent.size();
  x.advance(ms(1300));
  for (auto g : x.gaps_since(m - 1)) CHECK(g >= ms(300));  // T-01: never faster than RemoteMinRx less jitter
}

TEST("N-07 a second change during a Poll waits for the Final and a packet without F") {
  Solo x;
  x.bring_up();
  Packet up = pkt(State::Up, Solo::kPeer, Solo::kMine);
  Packet f = up;
  f.final = true;
  x.inject(f);
  SessionConfig c = x.s().config();
  c.min_tx_us = 200000;
  x.t.change(c, x.now);
  c.min_tx_us = 300000;
  x.t.change(c, x.now);
  x.inject(f);
  CHECK(!x.s().poll_active());
  // The Final may answer a packet that advertised 200 or 300 ms: only 200 ms is safe so far.
  CHECK_EQ(x.s().tx_interval(), Micros(200000));
  x.inject(up);  // F clear: now the queued Poll starts
  CHECK(x.s().poll_active());
  x.inject(f);
  CHECK(!x.s().poll_active());
  CHECK_EQ(x.s().tx_interval(), Micros(300000));
}

TEST("N-09 a multiplier change needs no Poll and shows in the next packet") {
  Solo x;
  x.bring_up();
  Packet f = pkt(State::Up, Solo::kPeer, Solo::kMine);
  f.final = true;
  x.inject(f);
  SessionConfig c = x.s().config();
  c.mult = 5;
  x.t.change(c, x.now);
  CHECK(!x.s().poll_active());
  x.advance(ms(101));
  CHECK_EQ(x.last().p.mult, uint8_t(5));
}

TEST("X-01 detection time = remote mult x max(RequiredMinRx, remote DesiredMinTx), recomputed on every packet") {
  Solo x;
  x.bring_up(200000, 100000, 4);
  CHECK_EQ(x.s().detect_time(), ms(800));
  // OVN changes its timers without a Poll (OVN-06): follow every packet.
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine, 50000, 100000, 4));
  CHECK_EQ(x.s().detect_time(), ms(400));
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine, 300000, 100000, 2));
  CHECK_EQ(x.s().detect_time(), ms(600));
}

TEST("X-02 V-10 no packet for a Detection Time while Up -> Down, diag 1, exactly at the deadline; state kept until then") {
  Solo x;
  x.bring_up();
  x.advance(ms(50));
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));
  const Micros last = x.now;
  x.advance(ms(300) - 1);
  CHECK(x.s().state() == State::Up);
  CHECK_EQ(x.s().remote_discr(), Solo::kPeer);  // V-10: everything kept for a Detection Time
  x.advance(1);
  CHECK(x.s().state() == State::Down);
  CHECK(x.s().diag() == Diag::DetectionTimeExpired);
  CHECK_EQ(x.s().last_state_change(), last + ms(300));
  CHECK(x.last().p.state == State::Down && x.last().at == last + ms(300));  // T-09
  auto& ev = x.t.events().back();
  CHECK(ev.from == State::Up && ev.to == State::Down && ev.diag == Diag::DetectionTimeExpired);
  CHECK_EQ(ev.at, last + ms(300));
}

TEST("X-02 detection also runs in Init") {
  Solo x;
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  CHECK(x.s().state() == State::Init);
  x.advance(ms(300));
  CHECK(x.s().state() == State::Down);
  CHECK(x.s().diag() == Diag::DetectionTimeExpired);
}

TEST("V-03 RemoteDiscr reset once a Detection Time passes without a packet, also while Down") {
  Solo x;
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));  // Down + Up: no change, discr learned
  CHECK_EQ(x.s().remote_discr(), Solo::kPeer);
  x.advance(ms(299));
  CHECK_EQ(x.s().remote_discr(), Solo::kPeer);
  x.advance(ms(1));
  CHECK_EQ(x.s().remote_discr(), 0u);
  CHECK_EQ(x.s().remote_min_rx(), 1u);
  CHECK(x.s().state() == State::Down);
  x.advance(ms(1000));
  CHECK_EQ(x.last().p.your_discr, 0u);
}

TEST("R-22 S-04 discarded packets (bad TTL) do not hold the session up") {
  Solo x(config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine));  // min TTL 254
  x.bring_up();
  const Micros t0 = x.now;
  for (int i = 0; i < 10; i++) {
    x.advance(ms(50));
    x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine), 253);
  }
  CHECK(x.s().state() == State::Down);
  CHECK_EQ(x.s().last_state_change(), t0 + ms(300));
  CHECK_EQ(x.s().counters().drops[size_t(Drop::BadTtl)], uint64_t(10));
}

TEST("S-04 TTL 255 required by default; 254 accepted when configured (OVN profile)") {
  SessionConfig strict = config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine);
  strict.min_ttl = 255;
  Solo x(strict);
  x.inject(pkt(State::Down, Solo::kPeer, 0), 254);
  CHECK(x.s().state() == State::Down);
  CHECK_EQ(x.s().counters().drops[size_t(Drop::BadTtl)], uint64_t(1));
  x.inject(pkt(State::Down, Solo::kPeer, 0), 255);
  CHECK(x.s().state() == State::Init);
  Solo y;  // min TTL 254
  y.inject(pkt(State::Down, Solo::kPeer, 0), 254);
  CHECK(y.s().state() == State::Init);
}

TEST("R-20 T-07 A-03 remote Demand: no periodic TX while both Up; resumes when it ends") {
  Solo x;
  x.bring_up();
  Packet f = pkt(State::Up, Solo::kPeer, Solo::kMine);
  f.final = true;
  x.inject(f);
  Packet d = pkt(State::Up, Solo::kPeer, Solo::kMine);
  d.demand = true;
  x.inject(d);
  CHECK(x.s().remote_demand());
  const size_t n = x.out.sent.size();
  x.advance(ms(250));  // the peer in Demand mode does not expect our packets
  CHECK_EQ(x.out.sent.size(), n);
  Packet p = d;
  p.poll = true;  // T-08: a Poll is still answered
  x.inject(p);
  CHECK_EQ(x.out.sent.size(), n + 1);
  CHECK(x.last().p.final);
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));
  CHECK_EQ(x.last().at, x.now);  // periodic transmission resumes at once
  x.advance(ms(200));
  CHECK(x.out.sent.size() >= n + 3);
}

TEST("T-06 RemoteMinRx 0: no periodic transmission, Finals still sent") {
  Solo x;
  x.bring_up();
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine, 100000, 0));
  const size_t n = x.out.sent.size();
  x.advance(ms(250));
  CHECK_EQ(x.out.sent.size(), n);
  Packet p = pkt(State::Up, Solo::kPeer, Solo::kMine, 100000, 0);
  p.poll = true;
  x.inject(p);
  CHECK_EQ(x.out.sent.size(), n + 1);
  CHECK(x.last().p.final);
}

TEST("R-12 C-10 no Echo: a peer offering Echo changes nothing, we advertise RequiredMinEchoRx 0") {
  Solo x;
  x.bring_up();
  Packet p = pkt(State::Up, Solo::kPeer, Solo::kMine);
  p.required_min_echo_rx = 50000;
  const size_t n = x.out.sent.size();
  x.inject(p);
  CHECK_EQ(x.out.sent.size(), n);  // nothing extra is sent
  CHECK(x.s().state() == State::Up);
  x.advance(ms(100));
  CHECK_EQ(x.last().p.required_min_echo_rx, 0u);
}

TEST("C-06 the Demand bit is never set, even when the peer uses Demand") {
  Net n;
  n.add_pair(50, 50);
  n.bring_up();
  n.run_for(ms(2000));
  for (auto* out : {&n.out_a, &n.out_b})
    for (auto& s : out->sent) CHECK(!s.p.demand);
}

// Runs a 100 ms pair with detect multiplier `mult` for 20 s once Up; every gap between A's packets
// must lie in [lo_bound, hi_bound]. Returns the smallest and largest gap seen.
static std::pair<Micros, Micros> established_gaps(uint8_t mult, Micros lo_bound, Micros hi_bound) {
  Net net;
  net.add_pair(100, 100, mult);
  net.bring_up();
  const size_t from = net.out_a.sent.size();
  net.run_for(ms(20000));
  Micros lo = kNever, hi = 0;
  for (size_t i = from + 1; i < net.out_a.sent.size(); i++) {
    const Micros g = net.out_a.sent[i].at - net.out_a.sent[i - 1].at;
    lo = std::min(lo, g);
    hi = std::max(hi, g);
    CHECK_BETWEEN(g, lo_bound, hi_bound);
  }
  return {lo, hi};
}

TEST("T-01 T-02 jitter reduces each interval by 0-25 %") {
  {
    Solo x;
    x.bring_up();
    x.advance(ms(5));
    x.inject([] { Packet f = pkt(State::Up, Solo::kPeer, Solo::kMine); f.final = true; return f; }());
    x.keep_peer(ms(100));
    x.rng.fixed_ = 2500;  // the largest reduction
    size_t n = x.out.sent.size();
    x.advance(ms(760));
    for (auto g : x.gaps_since(n)) CHECK_EQ(g, ms(75));
    x.rng.fixed_ = 0;  // none
    n = x.out.sent.size();
    x.advance(ms(1000));
    for (auto g : x.gaps_since(n)) CHECK_EQ(g, ms(100));
  }
  const auto [lo, hi] = established_gaps(3, ms(75), ms(100));
  CHECK(lo < ms(78) && hi > ms(97));  // the whole range is used
}

TEST("T-03 detect multiplier 1: intervals between 75 % and 90 %") {
  const auto [lo, hi] = established_gaps(1, ms(75), ms(90));
  CHECK(lo < ms(78) && hi > ms(87));
}

TEST("counters: late transmissions (> 1.5 x interval) and the largest gap while Up") {
  Solo x;
  x.bring_up();
  x.advance(ms(5));
  x.inject([] { Packet f = pkt(State::Up, Solo::kPeer, Solo::kMine); f.final = true; return f; }());
  x.keep_peer(ms(100));
  x.advance(ms(500));
  CHECK_EQ(x.s().counters().late_tx, uint64_t(0));
  CHECK(x.s().counters().max_tx_gap <= ms(100));
  CHECK_EQ(x.s().counters().max_tx_lateness, Micros(0));  // the virtual clock is never late
  const Micros due = x.s().wake_time();
  x.now = due + ms(70);  // the engine thread was held up for 70 ms
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));
  CHECK_EQ(x.s().counters().late_tx, uint64_t(1));
  CHECK(x.s().counters().max_tx_gap >= ms(170));
  CHECK_EQ(x.s().counters().max_tx_lateness, ms(70));
  x.advance(ms(500));
  CHECK_EQ(x.s().counters().late_tx, uint64_t(1));
}

TEST("counters and events over a real exchange: packets, transitions, polls, finals") {
  Net n;
  n.add_pair();
  n.bring_up();
  n.run_for(ms(1000));
  const Counters& a = n.sa().counters();
  CHECK(a.packets_in > 8 && a.packets_out > 8);
  CHECK_EQ(a.transitions, uint64_t(2));  // Down -> Init -> Up or Down -> Up
  CHECK(a.polls_sent >= 2);              // the start-up Poll, then going Up lowered DesiredMinTx: Poll
  CHECK_EQ(a.finals_received, uint64_t(2));
  CHECK_EQ(a.flaps, uint64_t(0));
  for (size_t d = 0; d < kDropCount; d++) CHECK_EQ(a.drops[d], uint64_t(0));
  CHECK(n.a.events().size() >= 1 && n.a.events().back().to == State::Up);
  n.cut_ba = true;
  n.run_for(ms(400));
  CHECK(n.sa().state() == State::Down);
  CHECK_EQ(n.sa().counters().flaps, uint64_t(1));
}

TEST("start-up Poll: P from the first packet; the peer's Final (its Init) brings us Up without waiting for its slow timer") {
  Solo x;
  x.t.run(x.now, x.out);
  CHECK(x.last().p.poll && x.last().p.state == State::Down && x.last().p.your_discr == 0u);
  x.advance(ms(2500));  // nobody answers: P stays on the slow periodic packets only (6.5: no extra packets)
  CHECK_EQ(x.out.sent.size(), size_t(3));
  for (const auto& s : x.out.sent) CHECK(s.p.poll);
  // The restarted peer (FRR, OVN after its detection) is Down; our Down moved it to Init and its
  // Final answers at once, carrying that Init (RFC 5880 6.8.7).
  Packet f = pkt(State::Init, Solo::kPeer, Solo::kMine, 1000000, 1000000);
  f.final = true;
  x.inject(f);
  CHECK(x.s().state() == State::Up);
  CHECK_EQ(x.last().at, x.now);  // the Up goes out at once (T-09), the peer's Init -> Up
  CHECK(x.last().p.state == State::Up);
  CHECK_EQ(x.s().counters().finals_received, uint64_t(1));
}

TEST("start-up Poll ends with the Final even when the peer stays Down; later Down packets carry no P") {
  Solo x;
  x.t.run(x.now, x.out);
  Packet f = pkt(State::AdminDown, Solo::kPeer, Solo::kMine);
  f.final = true;
  x.inject(f);
  CHECK(x.s().state() == State::Down);
  CHECK(!x.s().poll_active());
  x.advance(ms(1000));
  CHECK(!x.last().p.poll);
}

TEST("start-up Poll: a passive session polls nothing before it has heard from the peer, then polls from Init (N-10)") {
  SessionConfig c = config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine);
  c.passive = true;
  Solo x(c);
  CHECK(!x.s().poll_active());
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  CHECK(x.s().state() == State::Init && x.last().p.poll);
}
