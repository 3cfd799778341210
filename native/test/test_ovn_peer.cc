// Interop with OVN 23.03's BFD (ovn-controller pinctrl), modelled from its source and checked
// against the real thing in test/e2e/vov-ovn.test.ts. What matters here is when OVN transmits:
// its thread re-arms the BFD timer only when it wakes *after* a session's next_tx, so in practice
// it sends a periodic packet only when a packet-in (ours) wakes it late enough (OVN-01, docs/lab-contract.md §3.4),
// while a Poll is answered at once from the packet-in handler itself.
#include "harness.h"

using namespace bfdtest;

namespace {

struct LazyOvn {
  static constexpr uint32_t kDisc = 0x0e0e0e0e;
  State state = State::Down;
  uint32_t remote_disc = 0;
  uint32_t remote_min_rx_ms = 1;
  Micros next_tx = 0;
  uint32_t min_tx_ms = 100;

  Packet make(bool final) const {
    Packet p = pkt(state, kDisc, remote_disc);
    p.final = final;
    return p;
  }

  // One of our packets arrives (a packet-in): what OVN sends back, in order.
  std::vector<Packet> packet_in(const Packet& p, Micros now) {
    std::vector<Packet> out;
    // pinctrl_check_bfd_msg + lookup by (source, Your Discriminator): anything else is dropped.
    const bool valid = p.my_discr != 0 && !(p.poll && p.final) && !(p.state >= State::Init && p.your_discr == 0);
    if (valid && p.your_discr == kDisc) {
      remote_disc = p.my_discr;
      remote_min_rx_ms = p.required_min_rx / 1000;
      if (p.state == State::AdminDown && state >= State::Init) state = State::Down;
      else if (state == State::Down && p.state == State::Down) state = State::Init;
      else if (state == State::Down && p.state == State::Init) state = State::Up;
      else if (state == State::Init && (p.state == State::Init || p.state == State::Up)) state = State::Up;
      else if (state == State::Up && p.state == State::Down) state = State::Down;
      if (p.poll) out.push_back(make(true));  // the Final goes out from the handler itself
    }
    // The wake-up: a periodic packet only if this session is overdue (strictly).
    if (next_tx < now) {
      out.push_back(make(false));
      next_tx = now + ms(std::max(min_tx_ms, remote_min_rx_ms));
    }
    return out;
  }
};

// Our session (100/100/3) against LazyOvn over a wire with `latency` each way. OVN has been
// running (and stalled) since before we start, so its next_tx is in the past.
struct WithOvn {
  Solo x;
  LazyOvn ovn;
  Micros latency = 200;
  std::deque<std::pair<Micros, Packet>> to_ovn, to_us;

  WithOvn() {
    x.out.on_send = [this](const Sent& s) { to_ovn.push_back({x.now + latency, s.p}); };
  }
  void run_for(Micros d) {
    const Micros end = x.now + d;
    for (;;) {
      Micros t = x.t.wake_time();
      if (!to_ovn.empty()) t = std::min(t, to_ovn.front().first);
      if (!to_us.empty()) t = std::min(t, to_us.front().first);
      if (t > end) break;
      x.now = std::max(x.now, t);
      while (!to_ovn.empty() && to_ovn.front().first <= x.now) {
        for (auto& r : ovn.packet_in(to_ovn.front().second, x.now)) to_us.push_back({x.now + latency, r});
        to_ovn.pop_front();
      }
      while (!to_us.empty() && to_us.front().first <= x.now) {
        x.inject(to_us.front().second);
        to_us.pop_front();
      }
      x.t.run(x.now, x.out);
    }
    x.now = end;
  }
  uint64_t init_timeouts() {
    uint64_t n = 0;
    for (auto& e : x.t.events()) n += e.from == State::Init && e.to == State::Down;
    return n;
  }
};

}  // namespace

TEST("OVN-01 N-10 entering Init starts a Poll, carried by the packet that announces Init") {
  Solo x;
  x.advance(ms(10));
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  CHECK(x.s().state() == State::Init);
  CHECK_EQ(x.last().at, x.now);
  CHECK(x.last().p.state == State::Init && x.last().p.poll && !x.last().p.final);
  CHECK_EQ(x.last().p.desired_min_tx, 1000000u);  // nothing else changes: still slow while not Up
  Packet f = pkt(State::Up, Solo::kPeer, Solo::kMine);
  f.final = true;
  x.inject(f);
  CHECK(x.s().state() == State::Up);
  CHECK_EQ(x.s().counters().finals_received, uint64_t(1));
  // Going Up polls again, for the faster DesiredMinTx.
  CHECK(x.s().poll_active());
  CHECK(x.last().p.state == State::Up && x.last().p.poll && x.last().p.desired_min_tx == 100000u);
}

TEST("OVN-01 N-10 a peer that never answers the Init Poll: P stays on the periodic packets only") {
  Solo x;
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  const size_t n = x.out.sent.size();
  x.keep_peer(ms(250), pkt(State::Down, Solo::kPeer, Solo::kMine));  // alive, stays Down
  x.advance(ms(2100));
  CHECK(x.s().state() == State::Init);
  CHECK_EQ(x.out.sent.size() - n, size_t(2));  // t = 1 s, 2 s: no extra packet for the Poll
  for (size_t i = n; i < x.out.sent.size(); i++) CHECK(x.out.sent[i].p.poll);
  for (auto g : x.gaps_since(n - 1)) CHECK_EQ(g, ms(1000));
}

TEST("OVN-02 against OVN's lazy pinctrl our session is Up within a round trip, with no Init timeout") {
  WithOvn w;
  w.run_for(ms(3000));
  CHECK(w.x.s().state() == State::Up);
  CHECK(w.ovn.state == State::Up);
  CHECK_EQ(w.init_timeouts(), uint64_t(0));
  const auto& ev = w.x.t.events();
  CHECK(!ev.empty());
  auto up = std::find_if(ev.begin(), ev.end(), [](const Event& e) { return e.to == State::Up; });
  CHECK(up != ev.end());
  // Our first Down at t0 wakes OVN, its Down makes us Init (+P); its Final brings its Up back.
  CHECK(up->at - kStart <= ms(2));
}

TEST("N-07 N-10 going Up on a packet without F during the Init Poll: the same Poll carries the new TX, one Final ends it") {
  Solo x;
  x.inject(pkt(State::Down, Solo::kPeer, 0));
  CHECK(x.s().poll_active());
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));  // its periodic Up came before its Final
  CHECK(x.s().state() == State::Up);
  CHECK(x.last().p.poll && x.last().p.desired_min_tx == 100000u);
  CHECK_EQ(x.s().tx_interval(), Micros(100000));  // a faster TX needs no Final (N-05)
  Packet f = pkt(State::Up, Solo::kPeer, Solo::kMine);
  f.final = true;
  x.inject(f);
  CHECK(!x.s().poll_active());
  x.inject(pkt(State::Up, Solo::kPeer, Solo::kMine));  // no Poll was queued behind it
  CHECK(!x.s().poll_active());
  x.advance(ms(100));
  CHECK(!x.last().p.poll);
}
