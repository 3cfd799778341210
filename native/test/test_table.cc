// Demultiplexing (R-07..R-09, D-*), not-a-peer drops, the OVN stale-discriminator fallback,
// restarts, drain, removal, the deadline heap and the event log.
#include "harness.h"

using namespace bfdtest;

TEST("R-07 an unknown Your Discriminator is discarded") {
  Solo x;
  x.bring_up();
  x.inject(pkt(State::Up, Solo::kPeer, 0xDEAD));
  CHECK_EQ(x.s().counters().drops[size_t(Drop::UnknownDiscr)], uint64_t(1));
  CHECK(x.s().state() == State::Up);
}

TEST("R-08 Your Discriminator 0 with State Init or Up is discarded") {
  Solo x;
  x.inject(pkt(State::Init, Solo::kPeer, 0));
  x.inject(pkt(State::Up, Solo::kPeer, 0));
  CHECK_EQ(x.s().counters().drops[size_t(Drop::ZeroYourDiscr)], uint64_t(2));
  CHECK(x.s().state() == State::Down);
  CHECK_EQ(x.s().remote_discr(), 0u);
}

TEST("R-09 D-02 Your Discriminator 0 selects the session by (local, remote); none is created") {
  Solo x;
  CHECK(x.t.add(config(x.local, v4(10, 0, 0, 3), 0xA2), x.now) == nullptr);
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  CHECK(x.s().state() == State::Init);
  CHECK(x.t.find(x.local, v4(10, 0, 0, 3))->state() == State::Down);
  x.inject_raw(raw(pkt(State::Down, 0x99, 0)), 255, v4(10, 0, 0, 9));
  CHECK_EQ(x.t.global_drops()[size_t(Drop::NotAPeer)], uint64_t(1));
  CHECK_EQ(x.t.size(), size_t(2));
}

TEST("D-05 packets from a non-peer are dropped even with a valid discriminator") {
  Solo x;
  x.bring_up();
  x.inject_raw(raw(pkt(State::Down, Solo::kPeer, Solo::kMine)), 255, v4(10, 0, 0, 66));
  CHECK(x.s().state() == State::Up);
  CHECK_EQ(x.t.global_drops()[size_t(Drop::NotAPeer)], uint64_t(1));
  // A configured peer using another session's discriminator does not reach that session.
  const Addr other = v4(10, 0, 0, 3);
  CHECK(x.t.add(config(x.local, other, 0xA2), x.now) == nullptr);
  x.inject_raw(raw(pkt(State::Down, 0x55, Solo::kMine)), 255, other);
  CHECK(x.s().state() == State::Up);
  CHECK_EQ(x.s().counters().drops[size_t(Drop::NotAPeer)], uint64_t(1));
}

TEST("D-05 malformed packets are counted against the session of their address pair, else globally") {
  Solo x;
  auto bad = raw(pkt(State::Down, 1, 0));
  bad[0] = 0;
  x.inject_raw(bad, 255, x.peer);
  x.inject_raw(bad, 255, v4(10, 0, 0, 9));
  CHECK_EQ(x.s().counters().drops[size_t(Drop::BadVersion)], uint64_t(1));
  CHECK_EQ(x.t.global_drops()[size_t(Drop::BadVersion)], uint64_t(1));
}

TEST("S-05 IPv4 and IPv6 sessions to the same peer are separate sessions") {
  ScriptedRandom r;
  Table t(r);
  CaptureSink out(kStart);
  CHECK(t.add(config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), 1), kStart) == nullptr);
  CHECK(t.add(config(v6(1), v6(2), 2), kStart) == nullptr);
  auto b = raw(pkt(State::Down, 9, 0));
  t.receive(RxMeta{v6(1), v6(2), 255}, b.data(), b.size(), kStart);
  CHECK(t.find(v6(1), v6(2))->state() == State::Init);
  CHECK(t.find(v4(10, 0, 0, 1), v4(10, 0, 0, 2))->state() == State::Down);
}

TEST("OVN-04: a stale Your Discriminator in a Down packet from the peer of a Down session is accepted and counted") {
  Solo x;  // just (re)started: Down, RemoteDiscr unknown
  x.inject(pkt(State::Down, Solo::kPeer, 0x0BAD));
  CHECK(x.s().state() == State::Init);
  CHECK_EQ(x.s().counters().stale_discr_accepted, uint64_t(1));
  CHECK_EQ(x.last().p.your_discr, Solo::kPeer);
  // Not while Up, and never for Init/Up packets (they would be R-08 drops with Your Discr 0).
  x.inject(pkt(State::Init, Solo::kPeer, Solo::kMine));
  CHECK(x.s().state() == State::Up);
  x.inject(pkt(State::Down, Solo::kPeer, 0x0BAD));
  CHECK(x.s().state() == State::Up);
  CHECK_EQ(x.s().counters().drops[size_t(Drop::UnknownDiscr)], uint64_t(1));
  Solo y;
  y.inject(pkt(State::Up, Solo::kPeer, 0x0BAD));
  CHECK_EQ(y.s().counters().drops[size_t(Drop::UnknownDiscr)], uint64_t(1));
}

TEST("OVN-04: the fallback can be switched off (strict R-07)") {
  TableOptions strict;
  strict.stale_discr_fallback = false;
  Solo x(config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine), strict);
  x.inject(pkt(State::Down, Solo::kPeer, 0x0BAD));
  CHECK(x.s().state() == State::Down);
  CHECK_EQ(x.s().counters().drops[size_t(Drop::UnknownDiscr)], uint64_t(1));
}

TEST("OVN-04: the fallback ignores a different peer discriminator than the one known") {
  Solo x;
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));  // Down, learns the peer's 0x77
  x.inject(pkt(State::Down, 0x78, 0x0BAD));
  CHECK(x.s().state() == State::Down);
  CHECK_EQ(x.s().counters().drops[size_t(Drop::UnknownDiscr)], uint64_t(1));
}

TEST("agent restart (no AdminDown) while the peer is Up: Up again within 2 s with a stable discriminator") {
  Net n;
  n.add_pair();
  n.bring_up();
  n.run_for(ms(500));
  // SIGKILL: no farewell packet, a fresh session with the same discriminator.
  n.cut_ab = true;
  CHECK(n.a.remove(n.la, n.lb, n.out_a, n.now));
  n.cut_ab = false;
  n.run_for(ms(50));
  CHECK(n.a.add(config(n.la, n.lb, 0xA1), n.now) == nullptr);
  const Micros restarted = n.now;
  while (n.now < restarted + ms(2000) && !(n.sa().state() == State::Up && n.sb().state() == State::Up)) n.run_for(ms(1));
  CHECK(n.sa().state() == State::Up);
  CHECK(n.sb().state() == State::Up);
  CHECK(n.now - restarted < ms(2000));
}

TEST("agent restart with a new discriminator: our Down (Your Discr 0) resets the peer, Up within 2 s") {
  Net n;
  n.add_pair();
  n.bring_up();
  const uint64_t b_transitions = n.sb().counters().transitions;
  n.cut_ab = true;
  CHECK(n.a.remove(n.la, n.lb, n.out_a, n.now));
  n.cut_ab = false;
  CHECK(n.a.add(config(n.la, n.lb, 0xA9), n.now) == nullptr);
  const Micros restarted = n.now;
  while (n.now < restarted + ms(2000) && !(n.sa().state() == State::Up && n.sb().state() == State::Up)) n.run_for(ms(1));
  CHECK(n.sa().state() == State::Up);
  CHECK(n.sb().state() == State::Up);
  CHECK_EQ(n.sb().remote_discr(), 0xA9u);
  CHECK(n.sb().counters().transitions >= b_transitions + 2);  // B went Down (diag 3) and came back
}

TEST("drain: AdminDown diag 7 at once on every session; hold = the peer's Detection Time") {
  Net n;
  n.add_pair();
  n.bring_up();
  n.run_for(ms(500));
  const size_t sent = n.out_a.sent.size();
  const Micros hold = n.a.drain(n.now);
  CHECK_EQ(hold, ms(300));  // our mult 3 x max(our TX 100 ms, peer's RX 100 ms)
  n.a.run(n.now, n.out_a);
  CHECK_EQ(n.out_a.sent.size(), sent + 1);
  CHECK(n.out_a.sent.back().p.state == State::AdminDown);
  CHECK(n.out_a.sent.back().p.diag == Diag::AdminDown);
  n.run_for(ms(10));
  CHECK(n.sb().state() == State::Down);
  CHECK(n.sb().diag() == Diag::NeighborDown);
  CHECK(n.sb().remote_state() == State::AdminDown);
}

TEST("drain with no live peer has nothing to wait for") {
  Solo x;
  CHECK_EQ(x.t.drain(x.now), Micros(0));
  CHECK(x.s().state() == State::AdminDown);
}

TEST("removing a live session sends one AdminDown so the peer does not wait for detection") {
  Net n;
  n.add_pair();
  n.bring_up();
  CHECK(n.a.remove(n.la, n.lb, n.out_a, n.now));
  CHECK(n.out_a.sent.back().p.state == State::AdminDown);
  CHECK(n.a.find(n.la, n.lb) == nullptr);
  CHECK(n.a.find_discr(0xA1) == nullptr);
  n.run_for(ms(10));
  CHECK(n.sb().state() == State::Down);
  CHECK(n.sb().diag() == Diag::NeighborDown);
  CHECK(!n.a.remove(n.la, n.lb, n.out_a, n.now));
}

TEST("deadline heap: 200 sessions with different intervals each transmit on schedule, also after removals") {
  ScriptedRandom r;  // no jitter: exact schedules
  Table t(r);
  Micros now = kStart;
  CaptureSink out(now);
  for (int i = 0; i < 200; i++) {
    // Down sessions send at max(configured, 1 s): use intervals above 1 s so each differs.
    CHECK(t.add(config(v4(10, 0, 0, 1), v4(10, 1, uint8_t(i / 250), uint8_t(i % 250)), uint32_t(i + 1), uint32_t(1000 + 7 * i)), now) == nullptr);
  }
  auto run_to = [&](Micros end) {
    for (;;) {
      const Micros w = t.wake_time();
      if (w > end) break;
      now = std::max(now, w);
      t.run(now, out);
    }
    now = end;
  };
  run_to(kStart + ms(30000));
  for (int i = 0; i < 200; i++) {
    const Micros iv = ms(1000 + 7 * i);  // Down: max(DesiredMinTx, RemoteMinRx 1 us)
    const size_t want = size_t(ms(30000) / iv) + 1;
    const Addr peer = v4(10, 1, uint8_t(i / 250), uint8_t(i % 250));
    const size_t got = size_t(std::count_if(out.sent.begin(), out.sent.end(), [&](const Sent& s) { return s.dst == peer; }));
    CHECK_EQ(got, want);
    CHECK_EQ(t.find(v4(10, 0, 0, 1), peer)->counters().late_tx, uint64_t(0));
  }
  for (int i = 0; i < 200; i += 2) CHECK(t.remove(v4(10, 0, 0, 1), v4(10, 1, 0, uint8_t(i)), out, now));
  const size_t mark = out.sent.size();
  run_to(now + ms(10000));
  for (size_t k = mark; k < out.sent.size(); k++) CHECK(out.sent[k].dst.b[3] % 2 == 1);
  CHECK(out.sent.size() - mark >= size_t(100 * 4));
}

TEST("deadline heap: wake_time() is the earliest session deadline through random adds, removes, packets and admin changes") {
  // The heap keeps copies of the sessions' deadlines; any operation that moves one without
  // re-sifting would let a session wake late (or, after run(), leave a due session behind).
  XorShiftRandom r(7);
  Table t(r);
  Micros now = kStart;
  CaptureSink out(now);
  const Addr local = v4(10, 0, 0, 1);
  auto peer = [](int i) { return v4(10, 2, 0, uint8_t(i)); };
  std::vector<bool> live(64, false);
  auto check_min = [&] {
    Micros want = kNever;
    t.for_each([&want](const Session& s) { want = std::min(want, s.wake_time()); });
    CHECK_EQ(t.wake_time(), want);
  };
  for (int step = 0; step < 4000; step++) {
    const int i = int(r.next32() % 64);
    const uint32_t discr = uint32_t(0x100 + i), peer_discr = uint32_t(0x900 + i);
    switch (r.next32() % 6) {
      case 0:  // add, or remove a live session
        if (!live[i]) CHECK(t.add(config(local, peer(i), discr, 10 + r.next32() % 200, 10 + r.next32() % 200, uint8_t(1 + r.next32() % 3)), now) == nullptr);
        else CHECK(t.remove(local, peer(i), out, now));
        live[i] = !live[i];
        break;
      case 1:
      case 2: {  // a packet from the peer in a random state, with or without our discriminator
        const State st = State(r.next32() % 4);
        auto b = raw(pkt(st, peer_discr, st == State::Down ? 0 : discr, 10000, 10000));
        t.receive(RxMeta{local, peer(i), 255}, b.data(), b.size(), now);
        break;
      }
      case 3:
        if (r.next32() % 2) t.admin_down(local, peer(i), Diag::AdminDown, now);
        else t.admin_up(local, peer(i), now);
        break;
      case 4:
        if (live[i]) CHECK(t.change(config(local, peer(i), discr, 10 + r.next32() % 200, 10 + r.next32() % 200), now) == nullptr);
        break;
      default:  // time passes; everything due runs
        now += Micros(r.next32() % 30000);
        t.run(now, out);
        CHECK(t.wake_time() > now);
        break;
    }
    check_min();
  }
  CHECK(out.sent.size() > 1000);
}

TEST("event log: bounded; when full, changes coalesce per session and no session's last state is lost") {
  ScriptedRandom r;
  TableOptions opt;
  opt.event_capacity = 2;
  Table t(r, opt);
  const Addr l = v4(10, 0, 0, 1);
  for (int i = 0; i < 3; i++) CHECK(t.add(config(l, v4(10, 0, 0, uint8_t(2 + i)), uint32_t(1 + i)), kStart) == nullptr);
  for (int i = 0; i < 3; i++) t.admin_down(l, v4(10, 0, 0, uint8_t(2 + i)), Diag::AdminDown, kStart);
  CHECK_EQ(t.events().size(), size_t(3));  // full after two, but the third session still gets its entry
  CHECK_EQ(t.events_coalesced(), uint64_t(0));
  CHECK(t.events()[0].to == State::AdminDown && t.events()[0].diag == Diag::AdminDown);
  CHECK_EQ(t.events()[0].local_discr, 1u);
  t.admin_up(l, v4(10, 0, 0, 2), kStart + 1);  // AdminDown -> Down merges into Down -> AdminDown
  CHECK_EQ(t.events().size(), size_t(3));
  CHECK_EQ(t.events_coalesced(), uint64_t(1));
  CHECK(t.events()[0].from == State::Down && t.events()[0].to == State::Down && t.events()[0].at == kStart + 1);
  const std::vector<Event> taken = t.take_events();
  CHECK_EQ(taken.size(), size_t(3));
  CHECK(t.events().empty());
}

TEST("D-02 a packet from the peer's address on another interface is dropped and counted; the session stays Up") {
  SessionConfig c = config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine);
  c.ifindex = 2;  // the peer is reached through interface 2
  Solo x(c);
  x.ifindex = 2;
  x.bring_up();
  const uint64_t in = x.s().counters().packets_in;
  // The spoofed AdminDown of the issue (Your Discriminator 0, TTL 255) and one naming our
  // discriminator, both from the external interface (3), then one with no interface reported.
  Packet down = pkt(State::AdminDown, Solo::kPeer, 0);
  down.diag = Diag::AdminDown;
  x.ifindex = 3;
  x.inject(down);
  x.inject(pkt(State::Down, Solo::kPeer, Solo::kMine));
  x.ifindex = 0;
  x.inject(down);
  CHECK(x.s().state() == State::Up);
  CHECK_EQ(x.s().counters().drops[size_t(Drop::WrongInterface)], uint64_t(3));
  CHECK_EQ(x.s().counters().packets_in, in);
  CHECK_EQ(x.s().remote_discr(), Solo::kPeer);
  // The peer's own packets on its interface still keep the session Up.
  x.ifindex = 2;
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));
  CHECK_EQ(x.s().counters().packets_in, in + 1);
  CHECK(x.s().state() == State::Up);
}

TEST("D-02 the session's interface follows a route change (live, no restart)") {
  SessionConfig c = config(v4(10, 0, 0, 1), v4(10, 0, 0, 2), Solo::kMine);
  c.ifindex = 2;
  Solo x(c);
  x.ifindex = 2;
  x.bring_up();
  c.ifindex = 5;  // the route to the peer moved to interface 5
  CHECK(x.t.change(c, x.now) == nullptr);
  CHECK_EQ(x.s().config().ifindex, 5u);
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));  // still arriving on 2: no longer the peer's
  CHECK_EQ(x.s().counters().drops[size_t(Drop::WrongInterface)], uint64_t(1));
  x.ifindex = 5;
  Packet down = pkt(State::AdminDown, Solo::kPeer, Solo::kMine);
  down.diag = Diag::AdminDown;
  x.inject(down);  // the peer, now on 5, is heard
  CHECK(x.s().state() == State::Down);
  CHECK(x.s().diag() == Diag::NeighborDown);
}

TEST("D-02 a session without a known interface (ifindex 0) accepts packets from any interface") {
  Solo x;
  x.ifindex = 7;
  x.bring_up();
  CHECK_EQ(x.s().counters().drops[size_t(Drop::WrongInterface)], uint64_t(0));
}
