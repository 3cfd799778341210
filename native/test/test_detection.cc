// Detection exactness: the Detection Time runs from each packet's arrival, the
// table wakes exactly at the deadline however it moves, and the lateness counters say how late
// every expiry was handled.
#include "harness.h"

using namespace bfdtest;

namespace {
// The scripted peer's packet, received by the table at `arrival` while the table's clock already
// reads x.now (the owner read the socket late: a preempted thread, the polling period).
void inject_arrived(Solo& x, const Packet& p, Micros arrival) {
  const auto b = raw(p);
  x.t.receive(RxMeta{x.local, x.peer, 255}, b.data(), b.size(), arrival);
  x.t.run(x.now, x.out);
}
}  // namespace

TEST("X-02 the Detection Time runs from the packet's arrival, not from when it was read") {
  Solo x;
  x.bring_up();
  x.advance(ms(50));
  const Micros arrived = x.now;
  x.now += ms(40);  // read 40 ms after it arrived
  inject_arrived(x, pkt(State::Up, Solo::kPeer, Solo::kMine), arrived);
  CHECK_EQ(x.s().last_rx(), arrived);
  CHECK_EQ(x.t.wake_time() <= arrived + ms(300), true);
  x.advance(arrived + ms(300) - 1 - x.now);
  CHECK(x.s().state() == State::Up);
  x.advance(1);
  CHECK(x.s().state() == State::Down);
  CHECK_EQ(x.s().last_state_change(), arrived + ms(300));
  CHECK_EQ(x.s().counters().last_detect_lateness, Micros(0));
}

TEST("X-02 an arrival stamped earlier than one already received never moves the deadline back") {
  Solo x;
  x.bring_up();
  x.advance(ms(50));
  const Micros first = x.now;
  inject_arrived(x, pkt(State::Up, Solo::kPeer, Solo::kMine), first);
  inject_arrived(x, pkt(State::Up, Solo::kPeer, Solo::kMine), first - ms(30));  // out of order
  CHECK_EQ(x.s().last_rx(), first);
  x.advance(ms(299));
  CHECK(x.s().state() == State::Up);
  x.advance(ms(1));
  CHECK(x.s().state() == State::Down);
}

TEST("X-01 X-02 a Poll lowering the peer's DesiredMinTx pulls the deadline in; the table wakes for it, not for the next TX") {
  Solo x;
  // The peer comes up slow (FRR while not Up: 1 s DesiredMinTx) and asks us for 2 s: our TX
  // interval is 2 s, our Detection Time 3 x 1 s.
  x.inject(pkt(State::Down, Solo::kPeer, 0, 1000000, 2000000));
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine, 1000000, 2000000));
  CHECK(x.s().state() == State::Up);
  x.advance(ms(500));
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine, 1000000, 2000000));
  CHECK_EQ(x.s().detect_time(), ms(3000));
  CHECK_EQ(x.s().tx_interval(), ms(2000));
  x.advance(ms(200));
  // Its Poll switches to 100 ms: 3 x 100 ms from this packet, long before our next transmission.
  Packet poll = pkt(State::Up, Solo::kPeer, Solo::kMine, 100000, 2000000);
  poll.poll = true;
  x.inject(poll);
  const Micros last = x.now;
  CHECK(x.last().p.final);
  CHECK_EQ(x.s().detect_time(), ms(300));
  CHECK_EQ(x.t.wake_time(), last + ms(300));
  x.advance(ms(300));
  CHECK(x.s().state() == State::Down);
  CHECK_EQ(x.s().last_state_change(), last + ms(300));
  CHECK_EQ(x.s().counters().detect_expiries, uint64_t(1));
  CHECK_EQ(x.s().counters().max_detect_lateness, Micros(0));
}

TEST("detection lateness: every expiry counted with how late it was handled, in histogram buckets") {
  Solo x;
  x.bring_up();
  const Micros deadline = x.now + ms(300);
  x.now = deadline + ms(2);  // the owner woke 2 ms late
  x.t.run(x.now, x.out);
  CHECK(x.s().state() == State::Down);
  const Counters& c = x.s().counters();
  CHECK_EQ(c.detect_expiries, uint64_t(1));
  CHECK_EQ(c.last_detect_lateness, ms(2));
  CHECK_EQ(c.max_detect_lateness, ms(2));
  CHECK_EQ(c.detect_lateness_sum, ms(2));
  const uint64_t want[kDetectLatenessBuckets] = {0, 0, 1, 0, 0};  // (1 ms, 10 ms]
  for (size_t b = 0; b < kDetectLatenessBuckets; b++) CHECK_EQ(c.detect_lateness[b], want[b]);
  // Again Up, then an expiry handled on time: bucket [0, 100 µs], the maximum stays.
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));
  x.advance(ms(300));
  CHECK(x.s().state() == State::Down);
  CHECK_EQ(c.detect_expiries, uint64_t(2));
  CHECK_EQ(c.detect_lateness[0], uint64_t(1));
  CHECK_EQ(c.last_detect_lateness, Micros(0));
  CHECK_EQ(c.max_detect_lateness, ms(2));
}

// Property: whatever happens (Polls, timer changes on either side, the peer dying at any moment,
// coming back), a table driven exactly at its wake_time() handles every expiry at its deadline.
// A deadline that moved without the table's heap following would show as lateness here.
TEST("X-02 property: 300 random kills among Polls and timer changes, every expiry handled at its deadline") {
  XorShiftRandom dice(20261205);
  auto pick = [&dice](uint32_t lo, uint32_t hi) { return lo + dice.next32() % (hi - lo + 1); };
  const uint32_t intervals[] = {10, 50, 100, 300, 1000};
  uint64_t expiries = 0;
  for (int round = 0; round < 30; round++) {
    Net n;
    n.add_pair(intervals[pick(0, 4)], intervals[pick(0, 4)], uint8_t(pick(1, 5)));
    n.bring_up();
    for (int k = 0; k < 10; k++) {
      switch (pick(0, 3)) {
        case 0: {  // a timer change on one side: a Poll Sequence runs
          const bool on_a = pick(0, 1) == 0;
          SessionConfig c = on_a ? n.sa().config() : n.sb().config();
          c.min_tx_us = uint32_t(ms(intervals[pick(0, 4)]));
          c.min_rx_us = uint32_t(ms(intervals[pick(0, 4)]));
          CHECK((on_a ? n.a : n.b).change(c, n.now) == nullptr);
          break;
        }
        case 1: n.run_for(pick(0, 2000) * 1000); break;
        default: break;
      }
      // The peer dies at a random moment: during the Poll just started, right after it, or later.
      n.run_for(pick(0, 400) * 1000);
      n.cut_ba = pick(0, 1) == 0;
      n.cut_ab = !n.cut_ba || pick(0, 1) == 0;
      n.run_for(ms(4000));  // longer than any Detection Time here (5 x 1 s at most, 3 s slow)
      CHECK(n.sa().state() == State::Down || n.sb().state() == State::Down);
      n.cut_ab = n.cut_ba = false;
      n.bring_up(ms(20000));
    }
    for (Session* s : {&n.sa(), &n.sb()}) {
      CHECK_EQ(s->counters().max_detect_lateness, Micros(0));
      expiries += s->counters().detect_expiries;
    }
  }
  CHECK(expiries >= 300);
}
